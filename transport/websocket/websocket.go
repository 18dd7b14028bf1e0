// Package websocket is the default chat transport, on github.com/coder/websocket.
//
// It checks the Origin against an allow-list (the request's own host by
// default; "*" is refused), limits frame size (32 KiB by default, closing
// with status 1009 beyond it), and keeps connections alive with pings from
// one shared sweeper goroutine, so an idle connection costs exactly the one
// goroutine that reads it. After the handshake it reads and writes through
// small buffers of its own (Options.ReadBufferSize, WriteBufferSize) instead
// of the 4 KB ones net/http hands over on Hijack, which coder/websocket would
// keep for the connection's life.
package websocket

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	ws "github.com/coder/websocket"

	"github.com/shopchat/chat/internal/origin"
	"github.com/shopchat/chat/transport"
)

// Options configures a Transport. The zero value is usable.
type Options struct {
	// OriginPatterns lists extra origins allowed to connect, as host
	// patterns matched with path.Match ("shop.example.com",
	// "*.example.com"); with "://" they match "scheme://host". The request's
	// own host is always allowed. "*" is refused by New: it would let any
	// site drive your visitors' chats.
	OriginPatterns []string
	// ReadLimit is the largest frame accepted, in bytes. Default 32768.
	ReadLimit int64
	// PingInterval is how long a connection may be silent before the server
	// pings it. Default 30s.
	PingInterval time.Duration
	// PingTimeout is how long a ping waits for its pong before the
	// connection is dropped. Default 15s.
	PingTimeout time.Duration
	// Compression enables per-message deflate (context takeover off).
	// Default off: it costs memory per connection and chat frames are small.
	Compression bool
	// ReadBufferSize is the size of each connection's read buffer, in
	// bytes, kept for the connection's life. Default 512: a frame up to
	// about that size is read in one read from the socket, a larger one in
	// two (the rest goes straight into the frame). Values below 16 count as
	// 16. Negative keeps the 4 KB buffer net/http hands over on Hijack, as
	// does a connection whose client sent more than this many bytes after
	// the upgrade request before the response (they are in that buffer).
	ReadBufferSize int
	// WriteBufferSize is the size of each connection's write buffer, in
	// bytes, kept for the connection's life. Default 512: a frame up to
	// about that size (an ack, a typing signal, a message of a few
	// sentences) goes out in one write to the socket, a larger one in two.
	// Negative keeps the 4 KB buffer net/http hands over on Hijack.
	WriteBufferSize int
}

// Transport accepts WebSocket connections.
type Transport struct {
	opts Options

	mu      sync.Mutex
	conns   map[*Conn]struct{}
	running bool // the sweeper goroutine is running
}

var _ transport.Transport = (*Transport)(nil)

// New returns a Transport. It fails if an origin pattern is "*" or malformed.
func New(opts Options) (*Transport, error) {
	if err := origin.Validate(opts.OriginPatterns); err != nil {
		return nil, fmt.Errorf("websocket: %w", err)
	}
	if opts.ReadLimit <= 0 {
		opts.ReadLimit = 32768
	}
	if opts.PingInterval <= 0 {
		opts.PingInterval = 30 * time.Second
	}
	if opts.PingTimeout <= 0 {
		opts.PingTimeout = 15 * time.Second
	}
	if opts.ReadBufferSize == 0 {
		opts.ReadBufferSize = 512
	}
	if opts.WriteBufferSize == 0 {
		opts.WriteBufferSize = 512
	}
	return &Transport{opts: opts, conns: make(map[*Conn]struct{})}, nil
}

// Accept upgrades the request. A refused Origin gets 403.
func (t *Transport) Accept(w http.ResponseWriter, r *http.Request) (transport.Conn, error) {
	c := &Conn{t: t}
	ao := &ws.AcceptOptions{
		OriginPatterns: t.opts.OriginPatterns,
		OnPongReceived: func(context.Context, []byte) { c.touch() },
	}
	if t.opts.Compression {
		ao.CompressionMode = ws.CompressionNoContextTakeover
	}
	if t.opts.ReadBufferSize > 0 || t.opts.WriteBufferSize > 0 {
		if _, ok := hijacker(w); ok { // else Accept answers 501 as before
			w = &smallBuffers{ResponseWriter: w, rsize: t.opts.ReadBufferSize, wsize: t.opts.WriteBufferSize}
		}
	}
	wc, err := ws.Accept(w, r, ao)
	if err != nil {
		return nil, err
	}
	wc.SetReadLimit(t.opts.ReadLimit)
	c.ws = wc
	c.touch()
	t.track(c)
	return c, nil
}

// smallBuffers hands coder/websocket, on Hijack, the connection with
// buffers of its own sizes instead of net/http's 4 KB ones. Bytes the client
// sent after the handshake request that net/http has already read into its
// buffer are moved into the new one, so they are read first.
type smallBuffers struct {
	http.ResponseWriter
	rsize, wsize int // <= 0: keep net/http's
}

func (s *smallBuffers) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *smallBuffers) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := hijacker(s.ResponseWriter)
	if !ok {
		return nil, nil, http.ErrNotSupported
	}
	nc, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	br, bw := brw.Reader, brw.Writer
	if s.wsize > 0 {
		if bw.Buffered() > 0 { // net/http flushes before Hijack; never seen
			if err := bw.Flush(); err != nil {
				nc.Close()
				return nil, nil, err
			}
		}
		bw = bufio.NewWriterSize(nc, s.wsize)
	}
	// coder/websocket keeps only what is in the reader's buffer (it resets
	// the reader onto the net.Conn), so bytes the client pipelined after the
	// request must sit in the new reader's buffer: when they do not fit,
	// net/http's reader is kept.
	if n := br.Buffered(); s.rsize > 0 && n <= max(s.rsize, 16) {
		var r io.Reader = nc
		if n > 0 {
			b, _ := br.Peek(n)
			r = io.MultiReader(bytes.NewReader(b), nc)
		}
		nbr := bufio.NewReaderSize(r, s.rsize)
		if _, err := nbr.Peek(n); err != nil { // reads b only
			nc.Close()
			return nil, nil, err
		}
		br = nbr
	}
	return nc, bufio.NewReadWriter(br, bw), nil
}

// hijacker finds the http.Hijacker in w or what w unwraps to, as
// http.ResponseController and coder/websocket do.
func hijacker(w http.ResponseWriter) (http.Hijacker, bool) {
	for {
		switch v := w.(type) {
		case http.Hijacker:
			return v, true
		case interface{ Unwrap() http.ResponseWriter }:
			w = v.Unwrap()
		default:
			return nil, false
		}
	}
}

func (t *Transport) track(c *Conn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.conns[c] = struct{}{}
	if !t.running {
		t.running = true
		go t.sweep()
	}
}

func (t *Transport) untrack(c *Conn) {
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
}

// sweep pings silent connections. It exits when no connection is left, so
// an idle server keeps no goroutine of ours.
func (t *Transport) sweep() {
	tick := time.NewTicker(t.opts.PingInterval / 2)
	defer tick.Stop()
	for range tick.C {
		t.mu.Lock()
		if len(t.conns) == 0 {
			t.running = false
			t.mu.Unlock()
			return
		}
		silentSince := time.Now().Add(-t.opts.PingInterval).UnixNano()
		var due []*Conn
		for c := range t.conns {
			if c.lastActive.Load() < silentSince && c.pinging.CompareAndSwap(false, true) {
				due = append(due, c)
			}
		}
		t.mu.Unlock()
		for _, c := range due {
			go c.ping(t.opts.PingTimeout)
		}
	}
}

// Conn is one WebSocket connection.
type Conn struct {
	t          *Transport
	ws         *ws.Conn
	lastActive atomic.Int64 // unix nanos of the last frame or pong received
	pinging    atomic.Bool
	closed     atomic.Bool
}

func (c *Conn) touch() { c.lastActive.Store(time.Now().UnixNano()) }

func (c *Conn) ping(timeout time.Duration) {
	defer c.pinging.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := c.ws.Ping(ctx); err != nil {
		c.drop()
	}
}

// drop closes the connection at once, without a close handshake.
func (c *Conn) drop() {
	c.gone()
	c.ws.CloseNow()
}

// Read returns the next frame. A binary frame closes the connection with
// StatusUnsupported: the protocol is JSON text.
func (c *Conn) Read(ctx context.Context) ([]byte, error) {
	typ, data, err := c.ws.Read(ctx)
	if err == nil && typ != ws.MessageText {
		c.gone()
		c.ws.Close(ws.StatusUnsupportedData, "text frames only")
		return nil, fmt.Errorf("%w: %w", transport.ErrUnsupported, transport.ErrClosed)
	}
	if err != nil {
		c.gone()
		if errors.Is(err, ws.ErrMessageTooBig) {
			return nil, fmt.Errorf("%w: %w", transport.ErrTooLarge, err)
		}
		return nil, fmt.Errorf("%w: %w", transport.ErrClosed, err)
	}
	c.touch()
	return data, nil
}

// Write sends one text frame; with ctx already ended it sends nothing.
// ctx's end during the write (a timeout, a cancel) closes the connection,
// as coder/websocket's own handling of it would. The frame is written with a
// context of no deadline, because coder/websocket keeps the last write's
// context for the connection's life: a timeout context, its Done channel
// and timer would stay behind on every idle connection (~280 B each).
func (c *Conn) Write(ctx context.Context, frame []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", transport.ErrClosed, err)
	}
	stop := context.AfterFunc(ctx, c.drop)
	err := c.ws.Write(context.Background(), ws.MessageText, frame)
	if !stop() && ctx.Err() != nil {
		err = errors.Join(ctx.Err(), err)
	}
	if err != nil {
		c.gone()
		return fmt.Errorf("%w: %w", transport.ErrClosed, err)
	}
	return nil
}

// Close closes the connection with a status and reason, waiting briefly
// for the peer's close frame.
func (c *Conn) Close(code transport.StatusCode, reason string) error {
	c.gone()
	if len(reason) > 120 { // control frames carry at most 125 bytes
		reason = reason[:120]
	}
	return c.ws.Close(ws.StatusCode(code), reason)
}

func (c *Conn) gone() {
	if c.closed.CompareAndSwap(false, true) {
		c.t.untrack(c)
	}
}
