package websocket_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
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
	return serveOpts(t, websocket.Options{}, readTimeout, writeTimeout)
}

func serveOpts(t *testing.T, opts websocket.Options, readTimeout, writeTimeout time.Duration) (string, <-chan error) {
	t.Helper()
	tr, err := websocket.New(opts)
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

// clientFrame is a masked text frame, as a client sends it.
func clientFrame(payload string) []byte {
	var f bytes.Buffer
	f.WriteByte(0x81) // FIN, text
	switch n := len(payload); {
	case n < 126:
		f.WriteByte(0x80 | byte(n))
	default: // < 64 KiB here
		f.Write([]byte{0x80 | 126, byte(n >> 8), byte(n)})
	}
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	f.Write(key[:])
	for i := 0; i < len(payload); i++ {
		f.WriteByte(payload[i] ^ key[i%4])
	}
	return f.Bytes()
}

// readServerFrame reads one unmasked text frame of up to 64 KiB.
func readServerFrame(r *bufio.Reader) (string, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return "", err
	}
	if h[0] != 0x81 || h[1]&0x80 != 0 {
		return "", fmt.Errorf("frame header %x, want an unmasked final text frame", h)
	}
	n := int(h[1] & 0x7f)
	if n == 126 {
		var l [2]byte
		if _, err := io.ReadFull(r, l[:]); err != nil {
			return "", err
		}
		n = int(l[0])<<8 | int(l[1])
	} else if n == 127 {
		return "", errors.New("64-bit frame length")
	}
	p := make([]byte, n)
	_, err := io.ReadFull(r, p)
	return string(p), err
}

// A client may send its first frames in the same TCP write as the upgrade
// request, so they arrive in net/http's read buffer with the request; the
// transport swaps that buffer for a smaller one and must deliver them first
// and in order: when they fit in the new buffer and when they do not, with
// frames larger than the buffer among them.
func TestFramesPipelinedWithHandshake(t *testing.T) {
	batches := map[string][]string{
		"one tiny":   {"hi"},
		"a few":      {"first", "second", "third"},
		"large ones": {"first", strings.Repeat("x", 700), "third", strings.Repeat("y", 2000), "last"},
	}
	for name, opts := range map[string]websocket.Options{
		"defaults":           {},
		"16-byte buffers":    {ReadBufferSize: 16, WriteBufferSize: 16},
		"net/http's buffers": {ReadBufferSize: -1, WriteBufferSize: -1},
		"small reader only":  {ReadBufferSize: 16, WriteBufferSize: -1},
	} {
		url, _ := serveOpts(t, opts, 0, 0)
		host := strings.TrimPrefix(url, "ws://")
		for bname, msgs := range batches {
			t.Run(name+"/"+bname, func(t *testing.T) {
				nc, err := net.Dial("tcp", host)
				if err != nil {
					t.Fatal(err)
				}
				defer nc.Close()
				nc.SetDeadline(time.Now().Add(10 * time.Second))
				var out bytes.Buffer
				fmt.Fprintf(&out, "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
					"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", host)
				for _, m := range msgs {
					out.Write(clientFrame(m))
				}
				if _, err := nc.Write(out.Bytes()); err != nil { // one write: request and frames
					t.Fatal(err)
				}
				br := bufio.NewReader(nc)
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != http.StatusSwitchingProtocols {
					t.Fatalf("handshake: %s", resp.Status)
				}
				for i, want := range msgs {
					got, err := readServerFrame(br)
					if err != nil {
						t.Fatalf("echo of frame %d: %v", i, err)
					}
					if got != want {
						t.Fatalf("echo of frame %d: %d bytes %.10q..., want %d bytes %.10q...", i, len(got), got, len(want), want)
					}
				}
			})
		}
	}
}

// A ResponseWriter that cannot hijack still gets coder/websocket's 501,
// not a 101 followed by a failure.
func TestAcceptWithoutHijackerIs501(t *testing.T) {
	tr, err := websocket.New(websocket.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "http://example.com/", nil)
	r.Header.Set("Connection", "Upgrade")
	r.Header.Set("Upgrade", "websocket")
	r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	r.Header.Set("Sec-WebSocket-Version", "13")
	w := httptest.NewRecorder()
	if _, err := tr.Accept(w, r); err == nil {
		t.Fatal("Accept without a Hijacker succeeded")
	}
	if w.Code != http.StatusNotImplemented {
		t.Fatalf("status %d, want 501", w.Code)
	}
}

// Frames larger than the small buffers, compressed or not, echo whole.
func TestLargeFramesThroughSmallBuffers(t *testing.T) {
	for _, compression := range []bool{false, true} {
		url, _ := serveOpts(t, websocket.Options{Compression: compression, ReadBufferSize: 16, WriteBufferSize: 16}, 0, 0)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		mode := ws.CompressionDisabled
		if compression {
			mode = ws.CompressionNoContextTakeover
		}
		c, _, err := ws.Dial(ctx, url, &ws.DialOptions{CompressionMode: mode})
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		for _, msg := range []string{"a", strings.Repeat("chat ", 4000), "b"} {
			if err := c.Write(ctx, ws.MessageText, []byte(msg)); err != nil {
				t.Fatalf("compression %v: write %d bytes: %v", compression, len(msg), err)
			}
			if _, got, err := c.Read(ctx); err != nil || string(got) != msg {
				t.Fatalf("compression %v: echo of %d bytes: %d bytes, %v", compression, len(msg), len(got), err)
			}
		}
	}
}

// A write to a peer that stopped reading ends when its context does: the
// error wraps transport.ErrClosed and the context's error, and the
// connection is closed (the next Read fails), as a session's writer
// relies on. A write with an ended context sends nothing.
func TestWriteEndsWithItsContext(t *testing.T) {
	tr, err := websocket.New(websocket.Options{})
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan transport.Conn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := tr.Accept(w, r); err == nil {
			conns <- c
		}
	}))
	t.Cleanup(srv.Close)
	dial(t, "ws"+strings.TrimPrefix(srv.URL, "http")) // a peer that never reads
	c := <-conns

	done, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Write(done, []byte(`{}`)); !errors.Is(err, transport.ErrClosed) || !errors.Is(err, context.Canceled) {
		t.Fatalf("write with an ended context: %v, want ErrClosed and context.Canceled", err)
	}

	frame := bytes.Repeat([]byte("x"), 64<<10)
	for i := 0; ; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Write(ctx, frame)
		cancel()
		if err == nil {
			if i > 10000 { // 640 MB into a peer that reads nothing
				t.Fatal("writes to a peer that reads nothing never blocked")
			}
			continue
		}
		if !errors.Is(err, transport.ErrClosed) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("stalled write: %v, want ErrClosed and context.DeadlineExceeded", err)
		}
		break
	}
	if _, err := c.Read(context.Background()); !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("read after a timed-out write: %v, want ErrClosed", err)
	}
}
