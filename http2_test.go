package chat_test

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/blob/file"
	"github.com/shopchat/chat/store/memory"
	"github.com/shopchat/chat/transport/sse"
)

// Over HTTP/2 a browser sends its event stream, its frames and its uploads
// on one connection. A refused upload (413) must end only its own request:
// the stream goes on, and a frame posted after it is answered on it.
func TestHTTP2RefusalKeepsTheEventStream(t *testing.T) {
	blobs, err := file.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := chat.New(chat.Config{
		Store:                   memory.New(),
		Secret:                  testSecret,
		Operators:               testOperators,
		Attachments:             chat.AttachmentConfig{Blobs: blobs, MaxFileSize: 1024},
		MaxConnsPerIP:           -1,
		MaxFramesPerSecondPerIP: -1,
		NewVisitorsPerMinute:    -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(srv.Handler())
	var conns atomic.Int32
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	ts.EnableHTTP2 = true
	ts.StartTLS()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Close(ctx)
		ts.Close()
	})
	hc := ts.Client()
	hc.Jar, _ = cookiejar.New(nil)
	do := func(method, path, header string, body []byte) *http.Response {
		t.Helper()
		req, _ := http.NewRequestWithContext(testCtx(t), method, ts.URL+path, bytes.NewReader(body))
		if header != "" {
			req.Header.Set(sse.StreamHeader, header)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		if resp.ProtoMajor != 2 {
			t.Fatalf("%s %s over %s, want HTTP/2", method, path, resp.Proto)
		}
		return resp
	}
	do(http.MethodPost, "/chat/session", "", nil).Body.Close()

	stream := do(http.MethodGet, "/chat/sse", "", nil)
	defer stream.Body.Close()
	lines := bufio.NewScanner(stream.Body)
	next := func() string {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("the event stream ended: %v", lines.Err())
		}
		return lines.Text()
	}
	if l := next(); l != "event: stream" {
		t.Fatalf("first line %q", l)
	}
	id := strings.TrimPrefix(next(), "data: ")

	refused := do(http.MethodPost, "/chat/attachments?name=big.txt", "", bytes.Repeat([]byte("x"), 4096))
	refused.Body.Close()
	if refused.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized upload: HTTP %d, want 413", refused.StatusCode)
	}
	hello := do(http.MethodPost, "/chat/sse", id, []byte(`{"v":1,"type":"hello"}`))
	hello.Body.Close()
	if hello.StatusCode != http.StatusNoContent {
		t.Fatalf("a frame after the refusal: HTTP %d, want 204", hello.StatusCode)
	}
	for l := next(); !strings.Contains(l, `"type":"welcome"`); l = next() {
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections, want the one HTTP/2 connection for everything", n)
	}
}
