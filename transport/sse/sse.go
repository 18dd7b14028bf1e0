// Package sse is the chat transport for networks that break WebSocket (some
// corporate proxies and middleboxes): Server-Sent Events carry the server's
// frames down one long GET response, and the client POSTs each of its
// frames up, one request per frame. Both directions are plain HTTP, which
// every proxy passes.
//
// Why SSE and POST rather than long-polling: the down stream is one request
// for the connection's whole life, so frames reach the client as soon as
// they are written (no poll interval, no request per batch, no
// re-authentication per batch), ordering and the per-connection queue stay
// the server's as over WebSocket, and browsers parse it natively
// (EventSource). Up frames are few (what a person types), so a request each
// costs little.
//
// The stream: the first event, named "stream", carries the connection's id,
// which the client sends in the X-Shopchat-Stream header of each POST;
// every frame is then a default ("message") event whose data is the frame;
// a "close" event ({"code":1009,"reason":"..."}, WebSocket's close codes)
// ends it. After HeartbeatInterval without an event the server writes a
// comment line, so proxies keep an idle stream open; responses carry
// Cache-Control: no-cache and X-Accel-Buffering: no, and every event is
// flushed as it is written.
//
// The same rules as transport/websocket: an Origin allow-list ("*" refused)
// on both requests, a frame size limit (a larger POST closes the stream with
// status 1009), text only (a POST whose Content-Type is neither text/* nor
// application/json, WebSocket's binary frame, closes it with 1003),
// and writes bounded by the caller's context (the server's write timeout).
// A POST names its stream and must come from the stream's owner (the
// principal the Server authenticated: transport.WithOwner), else it is
// refused with 404 and transport.ErrUnknownConn; at most MaxPending POSTs
// per stream are held at once, so a stream holds at most 2*MaxPending
// frames of at most ReadLimit bytes from its client. A POST's body must
// arrive within PostTimeout (else 408); one over ReadLimit is refused from
// its Content-Length before it is read; a refused POST's body is not read
// on (see Post).
//
// With several nodes behind a load balancer, a POST must reach the node
// that holds its stream: route a client's requests to one node (session
// affinity). A POST that reaches another node is refused as unknown, and
// the client reconnects.
package sse

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shopchat/chat/internal/origin"
	"github.com/shopchat/chat/internal/refuse"
	"github.com/shopchat/chat/transport"
)

// StreamHeader is the request header of a POST that names its stream.
const StreamHeader = "X-Shopchat-Stream"

// Options configures a Transport. The zero value is usable.
type Options struct {
	// OriginPatterns lists extra origins allowed to connect, as in
	// transport/websocket: host patterns matched with path.Match, with
	// "://" matched against "scheme://host". The request's own host is
	// always allowed; "*" is refused by New.
	OriginPatterns []string
	// ReadLimit is the largest frame (POST body) accepted, in bytes.
	// Default 32768.
	ReadLimit int64
	// HeartbeatInterval is how long a stream may be silent before the
	// server writes a comment line to it. Default 15s: below the idle
	// timeouts of common proxies (nginx: 60s).
	HeartbeatInterval time.Duration
	// HeartbeatTimeout bounds the write of one heartbeat; a client that
	// does not take it in time is dropped (it reconnects and resumes).
	// Default 10s.
	HeartbeatTimeout time.Duration
	// MaxPending is how many POSTs one stream handles at once; more get
	// 429 and transport.ErrBusy. As many frames again may wait, read, for
	// the session. Default 8.
	MaxPending int
	// PostTimeout bounds the reading of one POST's body, so that a client
	// that sends its headers and then stalls does not hold one of its
	// stream's MaxPending turns; it gets 408. It replaces the shop server's
	// ReadTimeout for the body. Default 10s: a frame is at most ReadLimit.
	PostTimeout time.Duration
}

// Transport accepts Server-Sent Events streams and the POSTs that feed them.
type Transport struct {
	opts Options

	mu      sync.Mutex
	streams map[string]*Conn
	running bool // the heartbeat goroutine is running
}

var _ transport.Poster = (*Transport)(nil)

// New returns a Transport. It fails if an origin pattern is "*" or empty.
func New(opts Options) (*Transport, error) {
	if err := origin.Validate(opts.OriginPatterns); err != nil {
		return nil, fmt.Errorf("sse: %w", err)
	}
	if opts.ReadLimit <= 0 {
		opts.ReadLimit = 32768
	}
	if opts.HeartbeatInterval <= 0 {
		opts.HeartbeatInterval = 15 * time.Second
	}
	if opts.HeartbeatTimeout <= 0 {
		opts.HeartbeatTimeout = 10 * time.Second
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = 8
	}
	if opts.PostTimeout <= 0 {
		opts.PostTimeout = 10 * time.Second
	}
	return &Transport{opts: opts, streams: make(map[string]*Conn)}, nil
}

// Accept starts the event stream. A refused Origin gets 403; a
// ResponseWriter that cannot flush, 500.
func (t *Transport) Accept(w http.ResponseWriter, r *http.Request) (transport.Conn, error) {
	if !origin.Allowed(r, t.opts.OriginPatterns) {
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return nil, fmt.Errorf("sse: origin %q not allowed", r.Header.Get("Origin"))
	}
	rc := http.NewResponseController(w)
	// The shop's http.Server ReadTimeout would end the stream's request
	// (its connection's background read fails, which cancels the request):
	// the stream has no body to read, and dead clients are found by the
	// writes' deadlines instead. Its WriteTimeout is replaced by a deadline
	// per write (write).
	rc.SetReadDeadline(time.Time{}) // ErrNotSupported (HTTP/2, a recorder): nothing to clear
	var id [16]byte
	rand.Read(id[:])
	c := &Conn{
		t:       t,
		id:      base64.RawURLEncoding.EncodeToString(id[:]),
		owner:   transport.Owner(r.Context()),
		w:       w,
		rc:      rc,
		reqDone: r.Context().Done(),
		inbox:   make(chan []byte, t.opts.MaxPending),
		done:    make(chan struct{}),
		ended:   make(chan struct{}),
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	t.track(c) // before the client learns the id, so its first POST finds it
	ctx, cancel := context.WithTimeout(context.Background(), t.opts.HeartbeatTimeout)
	defer cancel()
	if err := c.send(ctx, "event: stream\ndata: "+c.id+"\n\n"); err != nil {
		c.fail(transport.ErrClosed, transport.StatusGoingAway, "")
		return nil, err
	}
	return c, nil
}

// Post hands one frame to the stream the request names. A body over
// ReadLimit is refused with 413, from its Content-Length before any of it
// is read, or as soon as reading passes the limit (a chunked body); at most
// ReadLimit bytes are read either way. Every refusal closes the HTTP
// connection, so the rest of a body is never read.
func (t *Transport) Post(w http.ResponseWriter, r *http.Request) error {
	if !origin.Allowed(r, t.opts.OriginPatterns) {
		refuse.Error(w, r, "origin not allowed", http.StatusForbidden)
		return fmt.Errorf("sse: origin %q not allowed", r.Header.Get("Origin"))
	}
	t.mu.Lock()
	c := t.streams[r.Header.Get(StreamHeader)]
	t.mu.Unlock()
	owner := transport.Owner(r.Context())
	if c == nil || owner == "" || c.owner != owner {
		// One answer for both: a stream id says nothing about whose it is.
		refuse.Error(w, r, "unknown stream: open a new one", http.StatusNotFound)
		return transport.ErrUnknownConn
	}
	if r.ContentLength > t.opts.ReadLimit {
		return c.tooLarge(w, r)
	}
	if c.posting.Add(1) > int32(t.opts.MaxPending) {
		c.posting.Add(-1)
		w.Header().Set("Retry-After", "1")
		refuse.Error(w, r, "too many frames pending", http.StatusTooManyRequests)
		return transport.ErrBusy
	}
	defer c.posting.Add(-1)
	http.NewResponseController(w).SetReadDeadline(time.Now().Add(t.opts.PostTimeout)) // ErrNotSupported: the server's own timeouts
	// MaxBytesReader, not a LimitReader: past the limit it also tells the
	// server not to read on after the handler (Connection: close).
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, t.opts.ReadLimit))
	if _, over := errors.AsType[*http.MaxBytesError](err); over {
		return c.tooLarge(w, r)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		refuse.Error(w, r, "the frame took too long", http.StatusRequestTimeout)
		return fmt.Errorf("sse: read frame: %w", err)
	}
	if err != nil {
		refuse.Error(w, r, "could not read the frame", http.StatusBadRequest)
		return fmt.Errorf("sse: read frame: %w", err)
	}
	if !textual(r.Header.Get("Content-Type")) {
		// WebSocket's binary frame: the protocol is text. (Text that is
		// not UTF-8 goes on, to be refused as the session refuses it over
		// WebSocket, with an error frame.)
		refuse.Error(w, r, "text frames only", http.StatusUnsupportedMediaType)
		c.fail(transport.ErrUnsupported, transport.StatusUnsupported, "text frames only")
		return transport.ErrUnsupported
	}
	select {
	case c.inbox <- body:
		w.WriteHeader(http.StatusNoContent)
		return nil
	case <-c.done:
		refuse.Error(w, r, "unknown stream: open a new one", http.StatusNotFound)
		return transport.ErrUnknownConn
	case <-r.Context().Done():
		return fmt.Errorf("sse: %w", r.Context().Err())
	}
}

// tooLarge refuses an oversized frame and closes its stream with
// StatusTooLarge, as WebSocket closes a connection on one.
func (c *Conn) tooLarge(w http.ResponseWriter, r *http.Request) error {
	refuse.Error(w, r, "frame too large", http.StatusRequestEntityTooLarge)
	c.fail(transport.ErrTooLarge, transport.StatusTooLarge, "frame too large")
	return transport.ErrTooLarge
}

// textual reports whether a POST's Content-Type is text: text/*,
// application/json, or none.
func textual(ct string) bool {
	if ct == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (strings.HasPrefix(mt, "text/") || mt == "application/json")
}

func (t *Transport) track(c *Conn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.streams[c.id] = c
	if !t.running {
		t.running = true
		go t.heartbeats()
	}
}

func (t *Transport) untrack(c *Conn) {
	t.mu.Lock()
	delete(t.streams, c.id)
	t.mu.Unlock()
}

// heartbeats writes a comment to silent streams. It exits when no stream is
// left, so an idle server keeps no goroutine of ours.
func (t *Transport) heartbeats() {
	tick := time.NewTicker(t.opts.HeartbeatInterval / 2)
	defer tick.Stop()
	for range tick.C {
		t.mu.Lock()
		if len(t.streams) == 0 {
			t.running = false
			t.mu.Unlock()
			return
		}
		silentSince := time.Now().Add(-t.opts.HeartbeatInterval).UnixNano()
		var due []*Conn
		for _, c := range t.streams {
			if c.lastWrite.Load() < silentSince && c.beating.CompareAndSwap(false, true) {
				due = append(due, c)
			}
		}
		t.mu.Unlock()
		for _, c := range due {
			go c.heartbeat()
		}
	}
}

// Conn is one event stream and the frames posted to it.
type Conn struct {
	t       *Transport
	id      string
	owner   string
	w       http.ResponseWriter
	rc      *http.ResponseController
	reqDone <-chan struct{} // the stream's request ended (the client went)
	inbox   chan []byte     // posted frames, not read yet
	posting atomic.Int32    // POSTs being handled
	beating atomic.Bool     // a heartbeat is being written

	lastWrite atomic.Int64 // unix nanos of the last event written

	once    sync.Once
	done    chan struct{} // closed by the first close or failure
	readErr error         // what Read returns once done; set in once
	code    transport.StatusCode
	reason  string

	wmu   sync.Mutex    // serialises writes to w
	ended chan struct{} // closed, under wmu, once the close event is written: w is not touched again
}

// Read returns the next posted frame.
func (c *Conn) Read(ctx context.Context) ([]byte, error) {
	select {
	case f := <-c.inbox: // frames posted before a close are still read
		return f, nil
	default:
	}
	select {
	case f := <-c.inbox:
		return f, nil
	case <-c.done:
		<-c.ended // the close event is out: the handler may return
		return nil, c.readErr
	case <-c.reqDone:
		c.fail(transport.ErrClosed, transport.StatusGoingAway, "")
		return nil, c.readErr
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", transport.ErrClosed, ctx.Err())
	}
}

// Write sends one frame as one event, flushed.
func (c *Conn) Write(ctx context.Context, frame []byte) error {
	var b strings.Builder
	b.Grow(len(frame) + 16)
	for line := range strings.Lines(string(frame)) { // JSON has none, but a frame is any text
		b.WriteString("data: ")
		b.WriteString(strings.TrimRight(line, "\r\n"))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	if err := c.send(ctx, b.String()); err != nil {
		c.fail(transport.ErrClosed, transport.StatusGoingAway, "")
		return err
	}
	return nil
}

// Close sends the close event with code and reason and ends the stream;
// the handler that accepted it may then return.
func (c *Conn) Close(code transport.StatusCode, reason string) error {
	c.fail(transport.ErrClosed, code, reason)
	return nil
}

// fail ends the connection: Read returns err (wrapped with ErrClosed) and
// the client gets the close event of the first failure or Close.
func (c *Conn) fail(err error, code transport.StatusCode, reason string) {
	c.once.Do(func() {
		c.code, c.reason = code, reason
		c.readErr = err
		if err != transport.ErrClosed {
			c.readErr = fmt.Errorf("%w: %w", err, transport.ErrClosed)
		}
		close(c.done)
		c.t.untrack(c)
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	ev, _ := json.Marshal(struct {
		Code   transport.StatusCode `json:"code"`
		Reason string               `json:"reason,omitempty"`
	}{c.code, c.reason})
	c.wmu.Lock()
	defer c.wmu.Unlock()
	select {
	case <-c.ended:
		return
	default:
	}
	select {
	case <-c.reqDone: // nobody to tell
	default:
		c.write(ctx, "event: close\ndata: "+string(ev)+"\n\n")
	}
	close(c.ended)
}

func (c *Conn) heartbeat() {
	defer c.beating.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), c.t.opts.HeartbeatTimeout)
	defer cancel()
	if err := c.send(ctx, ": heartbeat\n\n"); err != nil {
		c.fail(transport.ErrClosed, transport.StatusGoingAway, "")
	}
}

// send writes and flushes ev unless the stream has ended.
func (c *Conn) send(ctx context.Context, ev string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	select {
	case <-c.ended:
		return transport.ErrClosed
	default:
	}
	return c.write(ctx, ev)
}

// write writes and flushes ev within ctx. Callers hold wmu. The deadline
// is the connection's write deadline, so a client that does not read
// fails the write instead of holding it, and a cancelled ctx (the server
// dropping a slow consumer) ends a write in flight at once.
func (c *Conn) write(ctx context.Context, ev string) error {
	if d, ok := ctx.Deadline(); ok {
		c.rc.SetWriteDeadline(d) // ErrNotSupported (a test recorder): no deadline needed
	}
	stop := context.AfterFunc(ctx, func() { c.rc.SetWriteDeadline(time.Now()) })
	defer stop()
	_, err := io.WriteString(c.w, ev)
	if err == nil {
		err = c.rc.Flush()
	}
	if err != nil {
		return fmt.Errorf("%w: %w", transport.ErrClosed, err)
	}
	c.lastWrite.Store(time.Now().UnixNano())
	return nil
}
