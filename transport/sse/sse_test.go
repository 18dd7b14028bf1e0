package sse_test

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopchat/chat/transport"
	"github.com/shopchat/chat/transport/sse"
)

// server serves a Transport as the chat Server does: GET opens a stream
// for the owner the X-Owner header names and echoes each frame read back
// down it; POST hands a frame to a stream.
type server struct {
	t     *testing.T
	tr    *sse.Transport
	ts    *httptest.Server
	mu    sync.Mutex
	conns []transport.Conn
	errs  chan error // Post's errors
	hold  chan struct{}
	once  sync.Once
}

func (s *server) release() { s.once.Do(func() { close(s.hold) }) }

func newServer(t *testing.T, opts sse.Options) *server { return newTimedServer(t, opts, 0) }

// newTimedServer's http.Server has ReadTimeout and WriteTimeout timeout.
func newTimedServer(t *testing.T, opts sse.Options, timeout time.Duration) *server {
	tr, err := sse.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, tr: tr, errs: make(chan error, 100), hold: make(chan struct{})}
	s.ts = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(transport.WithOwner(r.Context(), r.Header.Get("X-Owner")))
		if r.Method == http.MethodPost {
			if err := tr.Post(w, r); err != nil {
				s.errs <- err
			}
			return
		}
		c, err := tr.Accept(w, r)
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		if r.URL.Query().Has("hold") { // a reader that does not read
			<-s.hold
		}
		for {
			f, err := c.Read(context.Background())
			if err != nil {
				return
			}
			if err := c.Write(context.Background(), f); err != nil {
				return
			}
		}
	}))
	s.ts.Config.ReadTimeout, s.ts.Config.WriteTimeout = timeout, timeout
	s.ts.Start()
	t.Cleanup(func() {
		s.release()
		s.ts.Close()
	})
	return s
}

type stream struct {
	t      *testing.T
	s      *server
	id     string
	owner  string
	sc     *bufio.Scanner
	cancel context.CancelFunc
}

func (s *server) open(owner, query string) *stream {
	s.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s.t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", s.ts.URL+"/sse"+query, nil)
	req.Header.Set("X-Owner", owner)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		s.t.Fatalf("GET: %s", resp.Status)
	}
	st := &stream{t: s.t, s: s, owner: owner, sc: bufio.NewScanner(resp.Body), cancel: cancel}
	if l := st.line(); l != "event: stream" {
		s.t.Fatalf("first line %q", l)
	}
	st.id = strings.TrimPrefix(st.line(), "data: ")
	st.line()
	return st
}

func (st *stream) line() string {
	st.t.Helper()
	if !st.sc.Scan() {
		st.t.Fatalf("the stream ended: %v", st.sc.Err())
	}
	return st.sc.Text()
}

func (st *stream) post(owner, id, body, ct string) int {
	st.t.Helper()
	req, _ := http.NewRequest("POST", st.s.ts.URL+"/sse", strings.NewReader(body))
	req.Header.Set("X-Owner", owner)
	req.Header.Set(sse.StreamHeader, id)
	req.Header.Set("Content-Type", ct)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		st.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestNewRefusesEveryOrigin(t *testing.T) {
	for _, p := range []string{"*", "https://*"} {
		if _, err := sse.New(sse.Options{OriginPatterns: []string{p}}); err == nil {
			t.Errorf("New accepted origin pattern %q", p)
		}
	}
}

func TestFramesBothWaysInOrder(t *testing.T) {
	s := newServer(t, sse.Options{})
	st := s.open("v:1", "")
	for _, f := range []string{`{"n":1}`, `{"n":2}`, "two\nlines"} {
		if code := st.post("v:1", st.id, f, "text/plain"); code != http.StatusNoContent {
			t.Fatalf("POST: HTTP %d", code)
		}
	}
	for _, want := range []string{"data: {\"n\":1}", "", "data: {\"n\":2}", "", "data: two", "data: lines", ""} {
		if got := st.line(); got != want {
			t.Fatalf("stream line %q, want %q", got, want)
		}
	}
}

func TestPostRefusals(t *testing.T) {
	s := newServer(t, sse.Options{ReadLimit: 64})
	st := s.open("v:1", "")
	cases := []struct {
		name, owner, id, body, ct string
		status                    int
		err                       error
	}{
		{"unknown stream", "v:1", "nope", "{}", "text/plain", 404, transport.ErrUnknownConn},
		{"another owner", "v:2", st.id, "{}", "text/plain", 404, transport.ErrUnknownConn},
		{"no owner", "", st.id, "{}", "text/plain", 404, transport.ErrUnknownConn},
	}
	for _, tc := range cases {
		if code := st.post(tc.owner, tc.id, tc.body, tc.ct); code != tc.status {
			t.Errorf("%s: HTTP %d, want %d", tc.name, code, tc.status)
		}
		if err := <-s.errs; !errors.Is(err, tc.err) {
			t.Errorf("%s: Post returned %v, want %v", tc.name, err, tc.err)
		}
	}
	// Too large: 413, and the stream closes with 1009.
	if code := st.post("v:1", st.id, strings.Repeat("x", 65), "text/plain"); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized: HTTP %d", code)
	}
	if l := st.line(); l != "event: close" {
		t.Fatalf("after an oversized frame: %q, want the close event", l)
	}
	if l := st.line(); l != `data: {"code":1009,"reason":"frame too large"}` {
		t.Fatalf("close event data %q", l)
	}
	// Binary: 415, and the stream closes with 1003.
	b := s.open("v:1", "")
	if code := b.post("v:1", b.id, "{}", "application/octet-stream"); code != http.StatusUnsupportedMediaType {
		t.Fatalf("binary: HTTP %d", code)
	}
	b.line()
	if l := b.line(); !strings.Contains(l, `"code":1003`) {
		t.Fatalf("after a binary frame: %q", l)
	}
	// Cross-site: 403 on both requests.
	req, _ := http.NewRequest("GET", s.ts.URL+"/sse", nil)
	req.Header.Set("Origin", "https://evil.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site stream: HTTP %d, want 403", resp.StatusCode)
	}
}

// A stream whose reader does not read holds at most MaxPending frames and
// handles at most MaxPending POSTs at once; more get 429 and ErrBusy.
func TestPendingFramesBounded(t *testing.T) {
	s := newServer(t, sse.Options{MaxPending: 2})
	st := s.open("v:1", "?hold")
	for i := range 2 { // these wait in the stream's inbox
		if code := st.post("v:1", st.id, "{}", "text/plain"); code != http.StatusNoContent {
			t.Fatalf("frame %d: HTTP %d", i, code)
		}
	}
	// Of five more at once, two are held waiting for room and three refused.
	codes := make(chan int, 5)
	for range 5 {
		go func() { codes <- st.post("v:1", st.id, "{}", "text/plain") }()
	}
	for range 3 {
		if code := <-codes; code != http.StatusTooManyRequests {
			t.Fatalf("past the pending bound: HTTP %d, want 429", code)
		}
		if err := <-s.errs; !errors.Is(err, transport.ErrBusy) {
			t.Fatalf("Post returned %v, want ErrBusy", err)
		}
	}
	s.release() // the reader reads: the held two go through
	for range 2 {
		if code := <-codes; code != http.StatusNoContent {
			t.Fatalf("a held frame: HTTP %d, want 204", code)
		}
	}
}

func TestHeartbeatAndClose(t *testing.T) {
	s := newServer(t, sse.Options{HeartbeatInterval: 20 * time.Millisecond})
	st := s.open("v:1", "")
	if l := st.line(); !strings.HasPrefix(l, ":") {
		t.Fatalf("idle stream wrote %q, want a heartbeat comment", l)
	}
	s.mu.Lock()
	c := s.conns[0]
	s.mu.Unlock()
	c.Close(transport.StatusPolicy, "logged out")
	for {
		if l := st.line(); l == "event: close" {
			break
		}
	}
	if l := st.line(); l != `data: {"code":1008,"reason":"logged out"}` {
		t.Fatalf("close event data %q", l)
	}
	if err := c.Write(context.Background(), []byte("{}")); !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("Write after Close: %v, want ErrClosed", err)
	}
	if code := st.post("v:1", st.id, "{}", "text/plain"); code != http.StatusNotFound {
		t.Fatalf("POST to a closed stream: HTTP %d, want 404", code)
	}
}

// A stream outlives the shop server's ReadTimeout and WriteTimeout.
func TestStreamOutlivesServerTimeouts(t *testing.T) {
	const timeout = 200 * time.Millisecond
	s := newTimedServer(t, sse.Options{}, timeout)
	st := s.open("v:1", "")
	<-time.After(3 * timeout) // the property itself: past both deadlines
	if code := st.post("v:1", st.id, "after", "text/plain"); code != http.StatusNoContent {
		t.Fatalf("POST after the deadlines: HTTP %d", code)
	}
	if l := st.line(); l != "data: after" {
		t.Fatalf("after the deadlines the stream says %q", l)
	}
}
