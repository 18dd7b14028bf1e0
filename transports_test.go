package chat_test

// The same server-level rules over both transports: WebSocket and
// Server-Sent Events with POST (the widget's fallback). Raw HTTP on both
// sides, as in hardening_test.go.

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	ws "github.com/coder/websocket"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/protocol"
	"github.com/shopchat/chat/transport/sse"
)

// frameConn is a raw connection over either transport.
type frameConn interface {
	sendRaw(data string)
	sendBinary()
	next() protocol.ServerFrame
	closeCode() int // reads until the server closes; its close status
}

func (c *rawConn) sendBinary() {
	c.t.Helper()
	if err := c.ws.Write(testCtx(c.t), ws.MessageBinary, []byte(`{"type":"typing"}`)); err != nil {
		c.t.Fatal(err)
	}
}

func (c *rawConn) closeCode() int { return int(c.closeStatus()) }

// rawStream is an event stream and the POSTs that feed it.
type rawStream struct {
	t      testing.TB
	hc     *http.Client
	url    string
	header http.Header
	id     string
	sc     *bufio.Scanner
	cancel context.CancelFunc
}

// event reads the next event's name and data; ok false once the stream ends.
func (c *rawStream) event() (name, data string, ok bool) {
	for c.sc.Scan() {
		line := c.sc.Text()
		switch {
		case line == "" && (name != "" || data != ""):
			return name, data, true
		case strings.HasPrefix(line, "event: "):
			name = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			data += line[len("data: "):]
		}
	}
	return "", "", false
}

// post sends body as one frame and returns the HTTP status.
func (c *rawStream) post(body, contentType string, header http.Header) int {
	c.t.Helper()
	req, _ := http.NewRequestWithContext(testCtx(c.t), "POST", c.url, strings.NewReader(body))
	for k, v := range header {
		req.Header[k] = v
	}
	if req.Header.Get(sse.StreamHeader) == "" {
		req.Header.Set(sse.StreamHeader, c.id)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (c *rawStream) sendRaw(data string) {
	c.t.Helper()
	// 413: the frame was too large; the stream's close event says so, as
	// WebSocket's close does.
	if st := c.post(data, "text/plain", c.header); st != http.StatusNoContent && st != http.StatusRequestEntityTooLarge {
		c.t.Fatalf("POST frame: HTTP %d", st)
	}
}

func (c *rawStream) sendBinary() {
	c.t.Helper()
	if st := c.post(`{"type":"typing"}`, "application/octet-stream", c.header); st != http.StatusUnsupportedMediaType {
		c.t.Fatalf("POST binary frame: HTTP %d, want 415", st)
	}
}

func (c *rawStream) next() protocol.ServerFrame {
	c.t.Helper()
	for {
		name, data, ok := c.event()
		if !ok {
			c.t.Fatal("the stream ended")
		}
		if name == "" {
			f, err := protocol.DecodeServer([]byte(data))
			if err != nil {
				c.t.Fatal(err)
			}
			return f
		}
		if name == "close" {
			c.t.Fatalf("the stream closed: %s", data)
		}
	}
}

func (c *rawStream) closeCode() int {
	c.t.Helper()
	for {
		name, data, ok := c.event()
		if !ok {
			return -1
		}
		if name == "close" {
			var code struct{ Code int }
			if err := json.Unmarshal([]byte(data), &code); err != nil {
				c.t.Fatal(err)
			}
			return code.Code
		}
	}
}

// dialFrames opens path ("/chat/ws" or an operator's) over kind, "ws" or
// "sse"; on refusal it returns the HTTP status.
func dialFrames(t testing.TB, ts *testServer, kind string, hc *http.Client, path string, header http.Header) (frameConn, int) {
	t.Helper()
	if hc == nil {
		hc = &http.Client{}
	}
	if kind == "ws" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, resp, err := ws.Dial(ctx, ts.wsURL(path), &ws.DialOptions{HTTPClient: hc, HTTPHeader: header})
		if err != nil {
			if resp == nil {
				t.Fatal(err)
			}
			return nil, resp.StatusCode
		}
		c.SetReadLimit(1 << 20)
		t.Cleanup(func() { c.CloseNow() })
		return &rawConn{t: t, ws: c}, 0
	}
	url := ts.URL + strings.TrimSuffix(path, "ws") + "sse"
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := hc.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		cancel()
		return nil, resp.StatusCode
	}
	for _, h := range []string{"Cache-Control", "X-Accel-Buffering", "Content-Type"} {
		if want := map[string]string{"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Content-Type": "text/event-stream"}[h]; !strings.HasPrefix(resp.Header.Get(h), want) {
			t.Errorf("event stream's %s is %q, want %q", h, resp.Header.Get(h), want)
		}
	}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	c := &rawStream{t: t, hc: hc, url: url, header: header, sc: bufio.NewScanner(resp.Body), cancel: cancel}
	c.sc.Buffer(nil, 1<<20)
	name, id, ok := c.event()
	if !ok || name != "stream" || id == "" {
		t.Fatalf("first event %q %q, want the stream's id", name, id)
	}
	c.id = id
	return c, 0
}

func hello(t testing.TB, c frameConn) {
	t.Helper()
	c.sendRaw(`{"v":1,"type":"hello"}`)
	for c.next().Type != protocol.TypeSynced {
	}
}

func until(c frameConn, typ string) protocol.ServerFrame {
	for {
		if f := c.next(); f.Type == typ {
			return f
		}
	}
}

func TestTransportsKeepTheSameRules(t *testing.T) {
	for _, kind := range []string{"ws", "sse"} {
		t.Run(kind, func(t *testing.T) {
			ts := newTestServer(t)
			ctx := testCtx(t)
			if _, st := dialFrames(t, ts, kind, nil, "/chat/ws", nil); st != http.StatusUnauthorized {
				t.Errorf("visitor without a token: HTTP %d, want 401", st)
			}
			if _, st := dialFrames(t, ts, kind, nil, "/chat/operator/ws", http.Header{"X-Operator": {"mallory"}}); st != http.StatusUnauthorized {
				t.Errorf("unknown operator: HTTP %d, want 401", st)
			}
			if _, st := dialFrames(t, ts, kind, ts.visitorClient(t), "/chat/operator/ws", nil); st != http.StatusUnauthorized {
				t.Errorf("a visitor on the operator endpoint: HTTP %d, want 401", st)
			}
			evil := http.Header{"Origin": {"https://evil.example"}}
			if _, st := dialFrames(t, ts, kind, ts.visitorClient(t), "/chat/ws", evil); st != http.StatusForbidden {
				t.Errorf("cross-site origin: HTTP %d, want 403", st)
			}

			// Bad frames get error frames and the connection stays usable.
			c, _ := dialFrames(t, ts, kind, ts.visitorClient(t), "/chat/ws", nil)
			c.sendRaw(`{"type":"message","id":"m","text":"early"}`)
			if f := until(c, protocol.TypeError); f.Code != protocol.CodeInvalid {
				t.Errorf("a frame before hello: %+v", f)
			}
			hello(t, c)
			c.sendRaw(`{"type":"message",`)
			if f := until(c, protocol.TypeError); f.Code != protocol.CodeBadFrame {
				t.Errorf("malformed JSON: %+v", f)
			}
			c.sendRaw("{\"type\":\"message\",\"id\":\"bad\",\"text\":\"caf\xe9\"}")
			if f := until(c, protocol.TypeError); f.Code != protocol.CodeInvalid {
				t.Errorf("text that is not UTF-8: %+v", f)
			}
			c.sendRaw(`{"type":"message","id":"ok","text":"still here"}`)
			ack := until(c, protocol.TypeAck)
			if ack.ID != "ok" || ack.Seq != 1 {
				t.Errorf("after bad frames: %+v", ack)
			}

			// An oversized frame closes with 1009 and stores nothing.
			big := `{"type":"message","id":"big","text":"` + strings.Repeat("a", 32769)
			c.sendRaw(big[:32769])
			if code := c.closeCode(); code != 1009 {
				t.Errorf("oversized frame: closed with %d, want 1009", code)
			}
			if ms, err := ts.Store.Messages(ctx, chat.MessageQuery{ConversationID: ack.Conv}); err != nil || len(ms) != 1 {
				t.Errorf("after the oversized frame the conversation holds %d messages (%v), want 1", len(ms), err)
			}

			// A binary frame closes with 1003.
			b, _ := dialFrames(t, ts, kind, ts.visitorClient(t), "/chat/ws", nil)
			hello(t, b)
			b.sendBinary()
			if code := b.closeCode(); code != 1003 {
				t.Errorf("binary frame: closed with %d, want 1003", code)
			}

			// No hello in time: closed with 1008.
			hasty := newTestServer(t, func(c *chat.Config) { c.HelloTimeout = 100 * time.Millisecond })
			s, _ := dialFrames(t, hasty, kind, hasty.visitorClient(t), "/chat/ws", nil)
			if code := s.closeCode(); code != 1008 {
				t.Errorf("no hello: closed with %d, want 1008", code)
			}

			// The per-address connection cap counts both transports.
			capped := newTestServer(t, func(c *chat.Config) { c.MaxConnsPerIP = 1 })
			dialFrames(t, capped, "ws", capped.visitorClient(t), "/chat/ws", nil)
			if _, st := dialFrames(t, capped, kind, capped.visitorClient(t), "/chat/ws", nil); st != http.StatusTooManyRequests {
				t.Errorf("past the per-address cap: HTTP %d, want 429", st)
			}
		})
	}
}

// A frame POSTed to a stream that does not exist, or that belongs to
// another visitor or operator, is refused and reaches nobody.
func TestSSEPostsOnlyToOwnStream(t *testing.T) {
	ts := newTestServer(t)
	aliceHC := ts.visitorClient(t)
	alice, _ := dialFrames(t, ts, "sse", aliceHC, "/chat/ws", nil)
	hello(t, alice)
	as := alice.(*rawStream)
	frame := `{"type":"message","id":"m1","text":"not yours"}`

	bob := ts.visitorClient(t)
	as.hc = bob // Bob, knowing Alice's stream id
	if st := as.post(frame, "text/plain", nil); st != http.StatusNotFound {
		t.Errorf("POST to another visitor's stream: HTTP %d, want 404", st)
	}
	as.hc = &http.Client{} // no token at all
	if st := as.post(frame, "text/plain", nil); st != http.StatusUnauthorized {
		t.Errorf("POST without a visitor token: HTTP %d, want 401", st)
	}
	as.hc = aliceHC
	if st := as.post(frame, "text/plain", http.Header{sse.StreamHeader: {"no-such-stream"}}); st != http.StatusNotFound {
		t.Errorf("POST to a stream that does not exist: HTTP %d, want 404", st)
	}
	if st := as.post(frame, "text/plain", http.Header{"Origin": {"https://evil.example"}}); st != http.StatusForbidden {
		t.Errorf("cross-site POST: HTTP %d, want 403", st)
	}
	opURL := as.url
	as.url = ts.URL + "/chat/operator/sse"
	if st := as.post(frame, "text/plain", http.Header{"X-Operator": {"alice"}}); st != http.StatusNotFound {
		t.Errorf("an operator POSTing to a visitor's stream: HTTP %d, want 404", st)
	}
	as.url = opURL
	// Alice's own frame goes through, and is the first message stored.
	as.sendRaw(`{"type":"message","id":"m2","text":"mine"}`)
	if ack := until(alice, protocol.TypeAck); ack.ID != "m2" || ack.Seq != 1 {
		t.Fatalf("Alice's own frame: %+v, want the first message", ack)
	}
}

// TestNoFallbackMountsWebSocketOnly: with NoFallback the event stream is
// not there, and WebSocket still is.
func TestNoFallbackMountsWebSocketOnly(t *testing.T) {
	ts := newTestServer(t, func(c *chat.Config) { c.NoFallback = true })
	if _, st := dialFrames(t, ts, "sse", ts.visitorClient(t), "/chat/ws", nil); st != http.StatusNotFound {
		t.Errorf("event stream with NoFallback: HTTP %d, want 404", st)
	}
	c, _ := dialFrames(t, ts, "ws", ts.visitorClient(t), "/chat/ws", nil)
	hello(t, c)
}
