package websocket_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	ws "github.com/coder/websocket"

	"github.com/shopchat/chat/transport"
	"github.com/shopchat/chat/transport/websocket"
)

// serve runs an http.Server with the given timeouts whose handler echoes
// frames through the Transport, and returns its ws:// URL and the error of
// each connection's Read loop.
func serve(t *testing.T, readTimeout, writeTimeout time.Duration) (string, <-chan error) {
	t.Helper()
	tr, err := websocket.New(websocket.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ended := make(chan error, 8)
	hs := &http.Server{ReadTimeout: readTimeout, WriteTimeout: writeTimeout, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := tr.Accept(w, r)
		if err != nil {
			return
		}
		go func() {
			for {
				data, err := c.Read(context.Background())
				if err != nil {
					ended <- err
					return
				}
				if err := c.Write(context.Background(), data); err != nil {
					ended <- err
					return
				}
			}
		}()
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return "ws://" + ln.Addr().String(), ended
}

func dial(t *testing.T, url string) *ws.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := ws.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func echo(t *testing.T, c *ws.Conn, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Write(ctx, ws.MessageText, []byte(msg)); err != nil {
		t.Fatalf("write after the server's timeouts: %v", err)
	}
	_, got, err := c.Read(ctx)
	if err != nil || string(got) != msg {
		t.Fatalf("echo after the server's timeouts: %q, %v", got, err)
	}
}

// The shop's http.Server timeouts guard its own requests; a hijacked chat
// socket outlives them (net/http clears the deadlines on hijack; this keeps
// docs/security.md's promise checked).
func TestSocketOutlivesServerTimeouts(t *testing.T) {
	const timeout = 200 * time.Millisecond
	url, _ := serve(t, timeout, timeout)
	c := dial(t, url)
	echo(t, c, "first")
	<-time.After(3 * timeout) // the property itself: past both deadlines
	echo(t, c, "after the deadlines")
}

// The protocol is text: a binary frame closes the connection with 1003.
func TestBinaryFrameRefused(t *testing.T) {
	url, ended := serve(t, 0, 0)
	c := dial(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Write(ctx, ws.MessageBinary, []byte{0, 1, 2}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Read(ctx); ws.CloseStatus(err) != ws.StatusUnsupportedData {
		t.Fatalf("after a binary frame: %v, want close 1003", err)
	}
	if err := <-ended; !errors.Is(err, transport.ErrUnsupported) {
		t.Fatalf("server's Read: %v, want ErrUnsupported", err)
	}
}
