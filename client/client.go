package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/shopchat/chat/protocol"
)

const (
	// readLimit caps one server frame. History pages (up to 200 messages of
	// 4000 bytes, JSON-escaped) and operators' welcome frames can be large.
	readLimit = 8 << 20
	// writeTimeout bounds one frame write; a write that takes longer drops
	// the connection, which then reconnects and resumes.
	writeTimeout = 10 * time.Second
)

var (
	// ErrClosed is returned by every method once Close was called.
	ErrClosed = errors.New("client: connection closed")
	// ErrDisconnected is wrapped by errors of requests that were written to
	// a connection that then dropped before the answer arrived (requests
	// that are not safe to repeat are never resent), by Typing while no
	// connection is up, and by everything once the connection dropped with
	// Options.NoReconnect set.
	ErrDisconnected = errors.New("client: disconnected")
	// ErrUnauthorized is wrapped by Dial errors when the server refused
	// the socket with HTTP 401 or 403 (missing or bad visitor token,
	// operator auth refused, Origin refused).
	ErrUnauthorized = errors.New("client: unauthorized")
	// ErrTooLarge is wrapped by the error of a request whose frame made the
	// server close the connection with status 1009 (frame too large). It is
	// not resent.
	ErrTooLarge = errors.New("client: frame too large for the server")
)

// Error is an error frame the server answered a request with. Code is one
// of the protocol.Code constants; Message is meant for people.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return "client: " + e.Code + ": " + e.Message }

// Options configures a Conn. The zero value is usable.
type Options struct {
	// HTTPClient makes the visitor session request and the WebSocket
	// handshakes (so a test can inject a Transport that records or cuts
	// network connections). Its Jar keeps the visitor token; if it has no
	// Jar, a copy of it with a new cookie jar is used. Default: a new
	// client with its own Transport (a clone of http.DefaultTransport) and
	// a cookie jar, whose idle connections Close closes.
	HTTPClient *http.Client
	// Header holds extra headers for the WebSocket handshake, e.g. the
	// operator's credentials for the shop's auth hook. Default none.
	Header http.Header
	// Path is the chat server's mount path. Default "/chat/".
	Path string
	// Origin is the Origin header of every request. Default: the base URL's
	// scheme://host, which the server accepts as its own host.
	Origin string
	// Status is the presence an operator connects with, "online" or
	// "away"; SetPresence changes it for later reconnects. Default
	// "online". Ignored for visitors.
	Status string
	// Lang is the language a visitor's hello names, as the widget does
	// ("en", "es", "ru", "de"): conversations it opens keep it for their
	// mail. Default none. Ignored for operators.
	Lang string
	// SSE connects with Server-Sent Events down and POSTs up ({Path}sse)
	// instead of WebSocket, as the widget does where WebSocket cannot
	// connect. Default false.
	SSE bool
	// NoReconnect makes a dropped connection final: pending requests fail
	// with ErrDisconnected. Default false: reconnect and resume.
	NoReconnect bool
	// MinBackoff and MaxBackoff bound the delay before reconnect attempts:
	// it starts at MinBackoff, doubles after each failed attempt up to
	// MaxBackoff, and is jittered to between half and all of that.
	// Defaults 50ms and 2s.
	MinBackoff, MaxBackoff time.Duration
	// OnFrame, if set, is called with every frame received, in order, from
	// the Conn's reader goroutine, after the frame has been applied to the
	// Conn's state (so it may call Messages and the like). It must not
	// block, and must not call methods that wait for the server (Send,
	// History, Wait...): they would deadlock.
	OnFrame func(protocol.ServerFrame)
}

// Conn is a client connection for one visitor or operator. It reconnects
// and resumes after network failures until Close. All methods are safe for
// concurrent use.
type Conn struct {
	opts       Options
	role       string // protocol.RoleVisitor or protocol.RoleOperator
	hc         *http.Client
	ownHC      bool // hc was made here: Close closes its idle connections
	sessionURL string
	wsURL      string
	sseURL     string
	header     http.Header

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	done   chan struct{}  // closed when run has exited
	wg     sync.WaitGroup // flush goroutines

	wmu sync.Mutex // serialises writes; taken before mu

	mu         sync.Mutex
	ws         link   // current connection, nil while down
	gen        uint64 // number of connections made; names the current one
	synced     bool   // the current connection has synced and its resends are written: requests go out at once
	everSynced bool
	closed     bool
	err        error // why the Conn stopped, once closed
	status     string
	me         protocol.Person
	convs      map[string]*convState
	queue      []protocol.Conversation
	operators  []protocol.Operator
	reconnects int
	recovered  bool
	available  bool              // visitors: an operator is online
	canned     []protocol.Canned // operators: canned responses from welcome
	changed    chan struct{}     // closed and replaced on every change
	pending    map[string]*request
	nextOrder  uint64
}

// DialVisitor connects to the chat server at baseURL (e.g.
// "https://shop.example.com") as a visitor. It first POSTs {Path}session
// unless the cookie jar already holds a token for the server, then opens
// the socket, says hello and returns once the server has sent synced: the
// visitor's conversations and the messages of the open ones are then in the
// Conn's state.
func DialVisitor(ctx context.Context, baseURL string, opts Options) (*Conn, error) {
	return dial(ctx, protocol.RoleVisitor, baseURL, opts)
}

// DialOperator connects to the chat server at baseURL as an operator,
// authenticated by opts.Header and the cookie jar as the shop's auth hook
// requires. It returns once synced: the operator's assigned conversations
// and their messages, the queue and the team are then in the Conn's state.
func DialOperator(ctx context.Context, baseURL string, opts Options) (*Conn, error) {
	return dial(ctx, protocol.RoleOperator, baseURL, opts)
}

func dial(ctx context.Context, role, baseURL string, opts Options) (*Conn, error) {
	c, err := newConn(role, baseURL, opts)
	if err != nil {
		return nil, err
	}
	first := make(chan error, 1)
	go c.run(ctx, first)
	select {
	case err = <-first:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func newConn(role, baseURL string, opts Options) (*Conn, error) {
	base, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("client: base URL: %w", err)
	}
	switch base.Scheme {
	case "http", "https":
	case "ws":
		base.Scheme = "http"
	case "wss":
		base.Scheme = "https"
	default:
		return nil, fmt.Errorf("client: base URL %q: scheme must be http or https", baseURL)
	}
	if base.Host == "" {
		return nil, fmt.Errorf("client: base URL %q has no host", baseURL)
	}
	if opts.Path == "" {
		opts.Path = "/chat/"
	}
	if !strings.HasPrefix(opts.Path, "/") {
		opts.Path = "/" + opts.Path
	}
	if !strings.HasSuffix(opts.Path, "/") {
		opts.Path += "/"
	}
	if opts.Origin == "" {
		opts.Origin = base.Scheme + "://" + base.Host
	}
	if opts.Status == "" {
		opts.Status = protocol.PresenceOnline
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 50 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 2 * time.Second
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = opts.MinBackoff
	}
	c := &Conn{
		opts:    opts,
		role:    role,
		status:  opts.Status,
		done:    make(chan struct{}),
		convs:   make(map[string]*convState),
		changed: make(chan struct{}),
		pending: make(map[string]*request),
	}
	switch {
	case opts.HTTPClient == nil:
		jar, _ := cookiejar.New(nil)
		c.hc = &http.Client{Jar: jar, Transport: http.DefaultTransport.(*http.Transport).Clone()}
		c.ownHC = true
	case opts.HTTPClient.Jar == nil:
		hc := *opts.HTTPClient
		hc.Jar, _ = cookiejar.New(nil)
		c.hc = &hc
	default:
		c.hc = opts.HTTPClient
	}
	root := base.Scheme + "://" + base.Host + strings.TrimSuffix(base.Path, "/") + opts.Path
	c.sessionURL = root + "session"
	if role == protocol.RoleVisitor {
		c.wsURL, c.sseURL = root+"ws", root+"sse"
	} else {
		c.wsURL, c.sseURL = root+"operator/ws", root+"operator/sse"
	}
	c.header = opts.Header.Clone()
	if c.header == nil {
		c.header = make(http.Header)
	}
	c.header.Set("Origin", opts.Origin)
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

// Close stops reconnecting and closes the connection. Requests still
// waiting fail with ErrClosed. When Close returns, every goroutine the Conn
// started has exited. Close is idempotent and always returns nil.
func (c *Conn) Close() error {
	c.mu.Lock()
	ws := c.ws
	if !c.closed {
		c.closed, c.err = true, ErrClosed
	} else {
		ws = nil // already stopped by itself, or closing
	}
	c.mu.Unlock()
	if ws != nil {
		// Close politely, but do not wait long for a peer that is gone:
		// cancelling the context unblocks the close handshake.
		t := time.AfterFunc(time.Second, c.cancel)
		ws.close()
		t.Stop()
	}
	c.cancel()
	<-c.done
	c.wg.Wait()
	if c.ownHC {
		c.hc.CloseIdleConnections()
	}
	return nil
}

// run is the Conn's reader goroutine: it connects, reads until the
// connection drops, and reconnects with backoff until Close. The first
// connection's outcome goes to first: nil once synced, or why it failed.
func (c *Conn) run(dialCtx context.Context, first chan<- error) {
	defer close(c.done)
	ws, err := c.connect(dialCtx)
	if err == nil {
		var synced bool
		synced, err = c.session(ws, first)
		if !synced {
			first <- err
			c.stop(err)
			return
		}
	} else {
		first <- err
		c.stop(err)
		return
	}
	attempt := 0
	for {
		c.mu.Lock()
		closed := c.closed
		c.mu.Unlock()
		if closed {
			c.stop(ErrClosed)
			return
		}
		var e *Error
		if errors.As(err, &e) && e.Code == protocol.CodeVersion {
			c.stop(err) // the server will never take us
			return
		}
		if c.opts.NoReconnect {
			c.stop(fmt.Errorf("%w: %v", ErrDisconnected, err))
			return
		}
		if !c.sleep(c.backoff(attempt)) {
			c.stop(ErrClosed)
			return
		}
		attempt++
		ws, err = c.connect(c.ctx)
		if err != nil {
			if c.ctx.Err() != nil {
				c.stop(ErrClosed)
				return
			}
			continue
		}
		if synced, _ := c.session(ws, nil); synced {
			attempt = 0
		}
		if c.ctx.Err() != nil {
			c.stop(ErrClosed)
			return
		}
	}
}

func (c *Conn) backoff(attempt int) time.Duration {
	d := c.opts.MinBackoff << min(attempt, 30)
	if d <= 0 || d > c.opts.MaxBackoff {
		d = c.opts.MaxBackoff
	}
	return d/2 + rand.N(d/2+1)
}

// sleep waits d, or reports false when the Conn is closed first.
func (c *Conn) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.ctx.Done():
		return false
	}
}

// stop ends the Conn (if Close has not already) with err and fails every
// waiting request with it.
func (c *Conn) stop(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.closed, c.err = true, err
	}
	for _, r := range c.pending {
		c.finish(r, protocol.ServerFrame{}, c.err)
	}
	c.ws, c.synced = nil, false
	c.broadcast()
}

// connect makes the HTTP requests for a new connection: the visitor
// session if needed, and the WebSocket handshake.
func (c *Conn) connect(ctx context.Context) (link, error) {
	visitor := c.role == protocol.RoleVisitor
	if visitor && !c.hasToken() {
		if err := c.postSession(ctx); err != nil {
			return nil, err
		}
	}
	ws, err := c.dialSocket(ctx)
	var se *statusError
	if visitor && errors.As(err, &se) && se.code == http.StatusUnauthorized {
		// The token expired or the server forgot it: get a new one.
		if err := c.postSession(ctx); err != nil {
			return nil, err
		}
		ws, err = c.dialSocket(ctx)
	}
	if err != nil {
		return nil, err
	}
	return ws, nil
}

func (c *Conn) hasToken() bool {
	u, err := url.Parse(c.wsURL)
	return err == nil && len(c.hc.Jar.Cookies(u)) > 0
}

func (c *Conn) postSession(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.sessionURL, nil)
	if err != nil {
		return fmt.Errorf("client: session: %w", err)
	}
	req.Header.Set("Origin", c.opts.Origin)
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("client: session: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("client: POST %s: HTTP %d: %s", c.sessionURL, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}

// statusError is a WebSocket handshake refused with an HTTP status.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string {
	if e.Unwrap() != nil {
		return ErrUnauthorized.Error() + ": " + e.msg
	}
	return "client: " + e.msg
}

// Unwrap makes 401 and 403 match ErrUnauthorized.
func (e *statusError) Unwrap() error {
	if e.code == http.StatusUnauthorized || e.code == http.StatusForbidden {
		return ErrUnauthorized
	}
	return nil
}

// handshake is what the reader tracks about one connection.
type handshake struct {
	gen      uint64
	welcomed bool
	synced   bool
	err      error            // an error frame before welcome: hello failed
	resume   map[string]int64 // seq sent in hello per conversation
	listed   map[string]bool  // conversations in welcome
	checked  map[string]bool  // resumed conversations absent from welcome whose replay was checked
}

// session says hello on ws and reads it until it drops. It reports whether
// the connection got as far as synced.
func (c *Conn) session(ws link, first chan<- error) (synced bool, err error) {
	h := &handshake{resume: make(map[string]int64), listed: make(map[string]bool), checked: make(map[string]bool)}
	hello := protocol.ClientFrame{V: protocol.Version, Type: protocol.TypeHello, Lang: c.opts.Lang}
	c.wmu.Lock()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		c.wmu.Unlock()
		ws.closeNow()
		return false, ErrClosed
	}
	c.gen++
	h.gen = c.gen
	c.ws, c.synced = ws, false
	if c.role == protocol.RoleOperator {
		hello.Status = c.status
	}
	for id, cs := range c.convs {
		if seq := cs.highest(); seq > 0 {
			hello.Resume = append(hello.Resume, protocol.ResumePoint{Conv: id, Seq: seq, Epoch: cs.epoch})
			h.resume[id] = seq
		}
	}
	c.mu.Unlock()
	sort.Slice(hello.Resume, func(i, j int) bool { return hello.Resume[i].Conv < hello.Resume[j].Conv })
	data, _ := json.Marshal(hello)
	err = c.write(ws, data)
	c.wmu.Unlock()

	defer func() {
		ws.closeNow()
		c.disconnected(h.gen, err)
	}()
	if err != nil {
		return false, err
	}
	for {
		data, err := ws.read(c.ctx)
		if err != nil {
			return h.synced, err
		}
		f, err := protocol.DecodeServer(data)
		if err != nil {
			return h.synced, fmt.Errorf("client: bad frame from server: %w", err)
		}
		c.apply(h, &f)
		if c.opts.OnFrame != nil {
			c.opts.OnFrame(f)
		}
		if h.err != nil {
			return false, h.err
		}
		if f.Type == protocol.TypeSynced {
			if first != nil {
				first <- nil
				first = nil
			}
			c.wg.Add(1)
			go c.flush(h.gen)
		}
	}
}

// disconnected cleans up after connection gen dropped with err: requests
// written to it that are not safe to repeat fail with ErrDisconnected, and
// after a 1009 close the largest unanswered frame fails with ErrTooLarge.
func (c *Conn) disconnected(gen uint64, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen {
		c.ws, c.synced = nil, false
	}
	fail := fmt.Errorf("%w: %v", ErrDisconnected, err)
	if c.closed {
		fail = c.err
	}
	var largest *request
	for _, r := range c.pending {
		if r.sentGen != gen {
			continue
		}
		if !r.resend {
			c.finish(r, protocol.ServerFrame{}, fail)
		} else if largest == nil || len(r.frame) > len(largest.frame) {
			largest = r
		}
	}
	if largest != nil && closeStatus(err) == int(websocket.StatusMessageTooBig) {
		c.finish(largest, protocol.ServerFrame{}, fmt.Errorf("%w: the server closed the connection with 1009 after this %d-byte frame", ErrTooLarge, len(largest.frame)))
	}
	c.broadcast()
}

// flush writes, in their original order, the requests of connection gen
// that have not been written to it: resends after a resume, and requests
// made while no connection was up.
func (c *Conn) flush(gen uint64) {
	defer c.wg.Done()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.mu.Lock()
	ws := c.ws
	if c.gen != gen || ws == nil {
		c.mu.Unlock()
		return
	}
	var reqs []*request
	for _, r := range c.pending {
		if r.sentGen != gen {
			r.sentGen = gen
			reqs = append(reqs, r)
		}
	}
	// From now on requests are written as they are made, after these.
	c.synced = true
	c.mu.Unlock()
	sort.Slice(reqs, func(i, j int) bool { return reqs[i].order < reqs[j].order })
	for _, r := range reqs {
		if err := c.write(ws, r.frame); err != nil {
			ws.closeNow() // the reader notices and reconnects
			return
		}
	}
}

// write sends one frame. Callers hold wmu. The caller's context is not
// used: cancelling a write midway would close the connection for everyone.
func (c *Conn) write(ws link, data []byte) error {
	ctx, cancel := context.WithTimeout(c.ctx, writeTimeout)
	defer cancel()
	return ws.write(ctx, data)
}
