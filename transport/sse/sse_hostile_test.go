package sse_test

// Hostile input to the event-stream transport, sent from outside as an
// attacker would: raw HTTP against the real chat Server's Handler.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/store/memory"
	"github.com/shopchat/chat/transport/sse"
)

const hostileReadLimit = 1024

type hostileEnv struct {
	t    *testing.T
	ts   *httptest.Server
	chat *chat.Server
}

// newHostileServer serves a chat Server whose fallback transport takes
// frames of at most hostileReadLimit bytes. Its mux also has /login, which
// binds the request's visitor to customer "cust-1" (the shop's login).
func newHostileServer(t *testing.T, edit ...func(*chat.Config)) *hostileEnv {
	t.Helper()
	return newHostileServerWith(t, sse.Options{ReadLimit: hostileReadLimit}, edit...)
}

func newHostileServerWith(t *testing.T, opts sse.Options, edit ...func(*chat.Config)) *hostileEnv {
	t.Helper()
	tr, err := sse.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	cfg := chat.Config{
		Store:  memory.New(),
		Secret: []byte("0123456789abcdef0123456789abcdef-sse-hostile"),
		Operators: func(r *http.Request) (*chat.Operator, error) {
			if r.Header.Get("X-Operator") == "alice" {
				return &chat.Operator{ID: "alice", Name: "Alice", Capacity: 2}, nil
			}
			return nil, chat.ErrUnauthorized
		},
		Fallback:                tr,
		MaxConnsPerIP:           -1,
		MaxFramesPerSecondPerIP: -1,
		NewVisitorsPerMinute:    -1,
	}
	for _, e := range edit {
		e(&cfg)
	}
	srv, err := chat.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/chat/", srv.Handler())
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if _, err := srv.Identify(w, r, chat.Customer{ID: "cust-1"}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Close(ctx)
		ts.Close()
	})
	return &hostileEnv{t: t, ts: ts, chat: srv}
}

// cookieFrom returns the visitor cookie ("name=value") resp sets.
func (e *hostileEnv) cookieFrom(resp *http.Response) string {
	e.t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == "shopchat_visitor" && c.Value != "" {
			return c.Name + "=" + c.Value
		}
	}
	e.t.Fatalf("%s: no visitor cookie", resp.Request.URL.Path)
	return ""
}

// session returns a new visitor's cookie.
func (e *hostileEnv) session() string {
	e.t.Helper()
	resp, err := http.Post(e.ts.URL+"/chat/session", "application/json", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return e.cookieFrom(resp)
}

// login binds cookie's visitor to a customer and returns the new cookie.
func (e *hostileEnv) login(cookie string) string {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/login", nil)
	req.Header.Set("Cookie", cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("login: %s", resp.Status)
	}
	return e.cookieFrom(resp)
}

type hostileStream struct {
	t  *testing.T
	id string
	sc *bufio.Scanner
}

// open opens an event stream with cookie and reads its id.
func (e *hostileEnv) open(cookie string) *hostileStream {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e.t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.ts.URL+"/chat/sse", nil)
	req.Header.Set("Cookie", cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		e.t.Fatalf("GET /chat/sse: %s", resp.Status)
	}
	st := &hostileStream{t: e.t, sc: bufio.NewScanner(resp.Body)}
	if l := st.line(); l != "event: stream" {
		e.t.Fatalf("first line %q", l)
	}
	st.id = strings.TrimPrefix(st.line(), "data: ")
	st.line()
	return st
}

func (st *hostileStream) line() string {
	st.t.Helper()
	if !st.sc.Scan() {
		st.t.Fatalf("the stream ended: %v", st.sc.Err())
	}
	return st.sc.Text()
}

// until reads the stream until a line containing s, returning it.
func (st *hostileStream) until(s string) string {
	st.t.Helper()
	for {
		if l := st.line(); strings.Contains(l, s) {
			return l
		}
	}
}

// raw is one client TCP connection speaking HTTP/1.1 by hand.
type raw struct {
	t    *testing.T
	conn net.Conn
	br   *bufio.Reader
}

func (e *hostileEnv) dial() *raw {
	e.t.Helper()
	conn, err := net.Dial("tcp", e.ts.Listener.Addr().String())
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { conn.Close() })
	// A guard so a server that waits for a body we never send fails the
	// test instead of hanging it; nothing is timed.
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	return &raw{t: e.t, conn: conn, br: bufio.NewReader(conn)}
}

func (c *raw) write(s string) {
	c.t.Helper()
	if _, err := c.conn.Write([]byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

// response reads one response to a request with method.
func (c *raw) response(method string) *http.Response {
	c.t.Helper()
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		c.t.Fatalf("read response: %v", err)
	}
	io.Copy(io.Discard, resp.Body) // Close alone leaves it in br
	resp.Body.Close()
	return resp
}

// closedByServer reports whether the server closed the connection: the
// next read ends with EOF (or a reset), not with our guard deadline.
func (c *raw) closedByServer() bool {
	c.t.Helper()
	_, err := c.br.ReadByte()
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return err != nil
}

// postHead is the head of a frame POST to stream id with cookie; extra
// header lines end with "\r\n".
func postHead(id, cookie, extra string) string {
	return "POST /chat/sse HTTP/1.1\r\nHost: shop.test\r\nCookie: " + cookie +
		"\r\n" + sse.StreamHeader + ": " + id + "\r\nContent-Type: application/json\r\n" + extra + "\r\n"
}

func TestHostileMethodsGet405WithAllow(t *testing.T) {
	e := newHostileServer(t)
	cookie := e.session()
	for _, path := range []string{"/chat/sse", "/chat/operator/sse", "/chat/ws", "/chat/operator/ws"} {
		want := "GET, POST"
		if strings.HasSuffix(path, "ws") {
			want = "GET"
		}
		for _, method := range []string{http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions, "BREW"} {
			req, _ := http.NewRequest(method, e.ts.URL+path, strings.NewReader("{}"))
			req.Header.Set("Cookie", cookie)
			req.Header.Set("X-Operator", "alice")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("%s %s: HTTP %d, want 405", method, path, resp.StatusCode)
			}
			if got := resp.Header.Get("Allow"); got != want {
				t.Errorf("%s %s: Allow %q, want %q", method, path, got, want)
			}
		}
	}
}

// A HEAD on the stream's path was served as a GET: admitted as a session
// and, its body discarded, held open for as long as the client kept the
// connection. With one connection allowed per visitor, a HEAD left open
// must not stop the visitor's real stream.
func TestHostileHeadHoldsNoConnectionSlot(t *testing.T) {
	e := newHostileServer(t, func(c *chat.Config) { c.MaxVisitorConns = 1 })
	cookie := e.session()
	for _, path := range []string{"/chat/sse", "/chat/ws"} {
		c := e.dial()
		c.write("HEAD " + path + " HTTP/1.1\r\nHost: shop.test\r\nCookie: " + cookie + "\r\n\r\n")
		if resp := c.response(http.MethodHead); resp.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("HEAD %s: HTTP %d, want 405", path, resp.StatusCode)
		}
		// c stays open: the HEAD's connection is still there.
	}
	st := e.open(cookie) // fails with 429 if a HEAD holds the visitor's one slot
	if st.id == "" {
		t.Fatal("no stream id")
	}
}

// A Content-Length over the limit is refused before any of the body is
// read: the 413 arrives though the body is never sent, the connection is
// closed, and the stream ends with 1009 as over WebSocket.
func TestHostileOversizedFrameRefusedFromContentLength(t *testing.T) {
	e := newHostileServer(t)
	cookie := e.session()
	st := e.open(cookie)
	c := e.dial()
	c.write(postHead(st.id, cookie, fmt.Sprintf("Content-Length: %d\r\n", 100<<20)))
	expectTooLarge(t, c, st)
}

// A chunked body has no Content-Length: it is refused once reading passes
// the limit, and the rest is not read.
func TestHostileChunkedFrameOverLimit(t *testing.T) {
	e := newHostileServer(t)
	cookie := e.session()
	st := e.open(cookie)
	c := e.dial()
	c.write(postHead(st.id, cookie, "Transfer-Encoding: chunked\r\n"))
	chunk := strings.Repeat("x", 256)
	// More than the limit, and never the last chunk: a server that read to
	// the end would wait for it forever.
	go func() {
		for range 4*hostileReadLimit/len(chunk) + 1 {
			if _, err := fmt.Fprintf(c.conn, "%x\r\n%s\r\n", len(chunk), chunk); err != nil {
				return
			}
		}
	}()
	expectTooLarge(t, c, st)
}

// A Content-Length smaller than what is sent frames the body: the frame is
// exactly the declared bytes (a hello, answered), and what follows is never
// part of a frame (it is no valid request either).
func TestHostileContentLengthLieReadsNoFurther(t *testing.T) {
	e := newHostileServer(t)
	cookie := e.session()
	st := e.open(cookie)
	c := e.dial()
	hello := `{"v":1,"type":"hello"}`
	junk := strings.Repeat(`{"type":"message","id":"smuggled","text":"x"}`, 4*hostileReadLimit/40)
	c.write(postHead(st.id, cookie, fmt.Sprintf("Content-Length: %d\r\n", len(hello))) + hello + junk + "\r\n\r\n")
	if resp := c.response(http.MethodPost); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("the declared frame: HTTP %d, want 204", resp.StatusCode)
	}
	// The junk is read as the next request's head, and refused as one.
	if resp := c.response(http.MethodPost); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("the bytes past Content-Length: HTTP %d, want 400", resp.StatusCode)
	}
	st.until(`"type":"welcome"`)
	st.until(`"type":"synced"`)
	// The stream is alive and took nothing of the junk: no conversation
	// was opened by a smuggled message, and a real frame still goes.
	req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/chat/sse", strings.NewReader(`{"type":"message","id":"real","text":"hi"}`))
	req.Header.Set("Cookie", cookie)
	req.Header.Set(sse.StreamHeader, st.id)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("a frame after the lie: HTTP %d, want 204", resp.StatusCode)
	}
	ack := st.until(`"type":"ack"`)
	if !strings.Contains(ack, `"id":"real"`) {
		t.Fatalf("the first ack is %s, want the real message's", ack)
	}
}

// A token revoked by a login (or logout) posts nothing, even into a stream
// of the same visitor opened with the new token whose id it learned: the
// POST is checked against the stored visitor, as the stream's GET is.
func TestHostileRevokedTokenCannotPost(t *testing.T) {
	e := newHostileServer(t)
	old := e.session()
	first := e.open(old) // stores the visitor
	fresh := e.login(old)
	first.until("event: close") // the login closed the old token's stream
	st := e.open(fresh)
	for _, tc := range []struct {
		name, cookie string
		want         int
	}{
		{"revoked token", old, http.StatusUnauthorized},
		{"forged token", fresh + "x", http.StatusUnauthorized},
		{"no token", "", http.StatusUnauthorized},
		{"valid token", fresh, http.StatusNoContent},
	} {
		req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/chat/sse", strings.NewReader(`{"v":1,"type":"hello"}`))
		if tc.cookie != "" {
			req.Header.Set("Cookie", tc.cookie)
		}
		req.Header.Set(sse.StreamHeader, st.id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: HTTP %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
		if tc.want != http.StatusNoContent && !resp.Close {
			t.Errorf("%s: a refusal keeps the connection", tc.name)
		}
	}
}

// A POST whose body stalls (a Content-Length larger than what comes) is
// ended at PostTimeout with 408 and gives its turn back; nothing here
// depends on how long that takes.
func TestHostileStalledFramePostTimesOut(t *testing.T) {
	e := newHostileServerWith(t, sse.Options{ReadLimit: hostileReadLimit, MaxPending: 1, PostTimeout: 50 * time.Millisecond})
	cookie := e.session()
	st := e.open(cookie)
	c := e.dial()
	c.write(postHead(st.id, cookie, "Content-Length: 100\r\n") + `{"v":1,`)
	resp := c.response(http.MethodPost)
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("a stalled frame: HTTP %d, want 408", resp.StatusCode)
	}
	if !c.closedByServer() {
		t.Error("the server kept the stalled connection open")
	}
	// The stream's one turn is back: a whole frame goes.
	d := e.dial()
	hello := `{"v":1,"type":"hello"}`
	d.write(postHead(st.id, cookie, fmt.Sprintf("Content-Length: %d\r\n", len(hello))) + hello)
	if resp := d.response(http.MethodPost); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("a frame after the stalled one: HTTP %d, want 204", resp.StatusCode)
	}
	st.until(`"type":"welcome"`)
}

// expectTooLarge asserts that the frame POST on c was refused with 413,
// its connection closed, and the stream st ended with 1009.
func expectTooLarge(t *testing.T, c *raw, st *hostileStream) {
	t.Helper()
	resp := c.response(http.MethodPost)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("HTTP %d, want 413", resp.StatusCode)
	}
	if !resp.Close { // ReadResponse takes "Connection: close" into Close
		t.Error("a refusal does not say Connection: close")
	}
	if !c.closedByServer() {
		t.Error("the server kept the connection open after refusing its body")
	}
	st.until("event: close")
	if l := st.line(); !strings.Contains(l, `"code":1009`) {
		t.Fatalf("close event %q, want 1009", l)
	}
}
