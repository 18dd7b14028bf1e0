package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/shopchat/chat"
)

// Header names of a delivery.
const (
	HeaderEvent     = "X-Shopchat-Event"     // the event type, Event.Type
	HeaderDelivery  = "X-Shopchat-Delivery"  // the event id, Event.ID, the same on every retry
	HeaderTimestamp = "X-Shopchat-Timestamp" // Unix seconds when this attempt was signed
	HeaderSignature = "X-Shopchat-Signature" // "sha256=" + hex HMAC-SHA256(secret, timestamp + "." + body)
)

// MaxBodySize is the largest body Notify sends and Verify accepts.
const MaxBodySize = 1 << 20

// UserAgent is the User-Agent of every delivery.
const UserAgent = "shopchat-webhook/1"

var (
	// ErrQueueFull is wrapped by Notify's error when the delivery queue is
	// full (the endpoint is down or slow): the event is dropped.
	ErrQueueFull = errors.New("webhook: delivery queue full")
	// ErrClosed is returned by Notify after Close.
	ErrClosed = errors.New("webhook: notifier closed")
)

// Metric names, counted through Config.Metrics.
const (
	metricDelivered = "webhook_delivered_total" // events the endpoint accepted (2xx)
	metricRetries   = "webhook_retries_total"   // attempts after the first
	metricFailed    = "webhook_failed_total"    // events given up: refused (4xx but 408, 429) or out of retries
	metricDropped   = "webhook_dropped_total"   // events never delivered: queue full, too large, or Close's deadline
)

// Config configures a Notifier. URL and Secret are required.
type Config struct {
	// URL is the endpoint events are POSTed to, http or https. Required.
	URL string
	// Secret keys the HMAC-SHA256 signature of every delivery; the receiver
	// passes the same bytes to Verify. Required, at least 16 bytes (32
	// random bytes recommended).
	Secret []byte
	// Kinds lists the notification kinds to deliver. Default: all.
	Kinds []chat.NotificationKind
	// Client sends the requests. Default: a client with a 10 s timeout and
	// its own connection pool, which does not follow redirects (a 3xx
	// counts as a refusal).
	Client *http.Client
	// QueueSize bounds the events waiting for delivery. Default 1000.
	QueueSize int
	// MaxRetries is how many times a failed delivery is retried. Default 8;
	// negative: never.
	MaxRetries int
	// MinBackoff and MaxBackoff bound the wait before a retry: MinBackoff
	// doubling with each retry up to MaxBackoff, jittered to between half
	// and all of that. A Retry-After header (seconds or a date) replaces
	// it, within the same bounds. Defaults 1 s and 10 min.
	MinBackoff, MaxBackoff time.Duration
	// Logger receives delivery failures (Warn) and retries (Debug). Default:
	// discard.
	Logger *slog.Logger
	// Metrics receives the counters webhook_delivered_total,
	// webhook_retries_total, webhook_failed_total and
	// webhook_dropped_total. Default: none.
	Metrics chat.Metrics
}

// Notifier delivers notifications as signed JSON POSTs. Create it with New
// and Close it on shutdown. It is safe for concurrent use.
type Notifier struct {
	url        string
	endpoint   string // scheme://host, for logs (the URL may hold a token)
	secret     []byte
	kinds      map[chat.NotificationKind]bool // nil: all
	client     *http.Client
	ownClient  bool
	maxRetries int
	minBackoff time.Duration
	maxBackoff time.Duration
	log        *slog.Logger
	metrics    chat.Metrics
	now        func() time.Time
	sleep      func(ctx context.Context, d time.Duration) bool

	queue  chan delivery
	ctx    context.Context // cancelled when Close gives up draining
	cancel context.CancelFunc
	stop   chan struct{} // closed by Close: drain and exit
	done   chan struct{} // closed when the worker has exited

	mu        sync.RWMutex
	closed    bool
	closeOnce sync.Once
	lost      int // events Close gave up on; written by the worker before done
}

var _ chat.Notifier = (*Notifier)(nil)

// delivery is one queued event, encoded once so every retry sends the
// same body.
type delivery struct {
	id   string
	kind chat.NotificationKind
	conv string
	body []byte
}

// New validates cfg, fills in defaults and starts the delivery goroutine.
func New(cfg Config) (*Notifier, error) {
	return newNotifier(cfg, sleepCtx)
}

func newNotifier(cfg Config, sleep func(context.Context, time.Duration) bool) (*Notifier, error) {
	if cfg.URL == "" {
		return nil, errors.New("webhook: Config.URL required")
	}
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("webhook: Config.URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("webhook: Config.URL %q is not an http or https URL", u.Redacted())
	}
	if len(cfg.Secret) < 16 {
		return nil, fmt.Errorf("webhook: Config.Secret is %d bytes; use at least 16 (32 random bytes recommended)", len(cfg.Secret))
	}
	if cfg.QueueSize < 0 {
		return nil, errors.New("webhook: Config.QueueSize is negative")
	}
	if cfg.MinBackoff < 0 || cfg.MaxBackoff < 0 {
		return nil, errors.New("webhook: Config.MinBackoff or MaxBackoff is negative")
	}
	if cfg.QueueSize == 0 {
		cfg.QueueSize = 1000
	}
	switch {
	case cfg.MaxRetries == 0:
		cfg.MaxRetries = 8
	case cfg.MaxRetries < 0:
		cfg.MaxRetries = 0
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff = time.Second
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = max(10*time.Minute, cfg.MinBackoff)
	}
	if cfg.MinBackoff > cfg.MaxBackoff {
		return nil, fmt.Errorf("webhook: Config.MinBackoff %v exceeds MaxBackoff %v", cfg.MinBackoff, cfg.MaxBackoff)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	n := &Notifier{
		url:        cfg.URL,
		endpoint:   u.Scheme + "://" + u.Host,
		secret:     bytes.Clone(cfg.Secret),
		client:     cfg.Client,
		maxRetries: cfg.MaxRetries,
		minBackoff: cfg.MinBackoff,
		maxBackoff: cfg.MaxBackoff,
		log:        cfg.Logger,
		metrics:    cfg.Metrics,
		now:        time.Now,
		sleep:      sleep,
		queue:      make(chan delivery, cfg.QueueSize),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
	}
	if len(cfg.Kinds) > 0 {
		n.kinds = make(map[chat.NotificationKind]bool, len(cfg.Kinds))
		for _, k := range cfg.Kinds {
			n.kinds[k] = true
		}
	}
	if n.client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		n.client = &http.Client{
			Transport:     tr,
			Timeout:       10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
		n.ownClient = true
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	go n.run()
	return n, nil
}

// Notify queues n for delivery and returns at once; it never waits for the
// network. A kind not in Config.Kinds is ignored. When the queue is full
// the event is dropped and the error wraps ErrQueueFull; after Close it is
// ErrClosed. Delivery failures are logged and counted, not returned.
func (n *Notifier) Notify(_ context.Context, note chat.Notification) error {
	if n.kinds != nil && !n.kinds[note.Kind] {
		return nil
	}
	ev := newEvent(note)
	body, err := encode(ev, MaxBodySize)
	if err != nil {
		n.add(metricDropped)
		return err
	}
	d := delivery{id: ev.ID, kind: ev.Type, body: body}
	if ev.Conversation != nil {
		d.conv = ev.Conversation.ID
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.closed {
		return ErrClosed
	}
	select {
	case n.queue <- d:
		return nil
	default:
		n.add(metricDropped)
		return fmt.Errorf("%w: %s event %s dropped", ErrQueueFull, d.kind, d.id)
	}
}

// Close stops accepting events and delivers those queued, with their
// retries, until ctx ends; then it abandons the rest (counted as dropped)
// and returns an error wrapping ctx.Err(). When Close returns, the
// delivery goroutine has exited. Later calls return nil at once.
func (n *Notifier) Close(ctx context.Context) error {
	first := false
	n.closeOnce.Do(func() {
		first = true
		n.mu.Lock()
		n.closed = true
		n.mu.Unlock()
		close(n.stop)
	})
	if !first {
		<-n.done
		return nil
	}
	var err error
	select {
	case <-n.done:
	case <-ctx.Done():
		n.cancel()
		<-n.done // prompt: every wait of the worker watches n.ctx
		if n.lost > 0 {
			err = fmt.Errorf("webhook: close: %d events not delivered: %w", n.lost, ctx.Err())
		}
	}
	n.cancel()
	if n.ownClient {
		n.client.CloseIdleConnections()
	}
	return err
}

// run is the delivery goroutine: one event at a time, in order.
func (n *Notifier) run() {
	defer close(n.done)
	for {
		select {
		case d := <-n.queue:
			n.deliver(d)
		case <-n.stop:
			for {
				select {
				case d := <-n.queue:
					if n.ctx.Err() != nil {
						n.abandon(d)
						continue
					}
					n.deliver(d)
				default:
					return // Notify adds nothing after stop
				}
			}
		}
	}
}

func (n *Notifier) abandon(d delivery) {
	n.lost++
	n.add(metricDropped)
	n.log.Warn("webhook: closed before delivery", "event", d.kind, "delivery", d.id, "conversation", d.conv)
}

// deliver posts d until it is accepted, refused, out of retries, or the
// Notifier is closed.
func (n *Notifier) deliver(d delivery) {
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			n.add(metricRetries)
		}
		status, retryAfter, detail, err := n.post(d)
		if err == nil && status >= 200 && status < 300 {
			n.add(metricDelivered)
			n.log.Debug("webhook: delivered", "event", d.kind, "delivery", d.id, "status", status, "attempts", attempt+1)
			return
		}
		if n.ctx.Err() != nil {
			n.abandon(d)
			return
		}
		attrs := []any{"event", d.kind, "delivery", d.id, "conversation", d.conv, "endpoint", n.endpoint, "attempts", attempt + 1}
		if err != nil {
			attrs = append(attrs, "err", err)
		} else {
			attrs = append(attrs, "status", status, "response", detail)
		}
		if err == nil && !retryable(status) {
			n.add(metricFailed)
			n.log.Warn("webhook: refused by the endpoint; not retried", attrs...)
			return
		}
		if attempt >= n.maxRetries {
			n.add(metricFailed)
			n.log.Warn("webhook: delivery failed; out of retries", attrs...)
			return
		}
		wait := n.backoff(attempt)
		if retryAfter >= 0 {
			wait = min(max(retryAfter, n.minBackoff), n.maxBackoff)
		}
		n.log.Debug("webhook: delivery failed; retrying", append(attrs, "wait", wait)...)
		if !n.sleep(n.ctx, wait) {
			n.abandon(d)
			return
		}
	}
}

func retryable(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

// post makes one attempt. It returns the response status, its Retry-After
// (-1 if none), the start of its body for logs, or the network error.
func (n *Notifier) post(d delivery) (status int, retryAfter time.Duration, detail string, err error) {
	req, err := http.NewRequestWithContext(n.ctx, http.MethodPost, n.url, bytes.NewReader(d.body))
	if err != nil {
		return 0, -1, "", err
	}
	ts := strconv.FormatInt(n.now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set(HeaderEvent, string(d.kind))
	req.Header.Set(HeaderDelivery, d.id)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, signature(n.secret, ts, d.body))
	resp, err := n.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message holds the URL, which may hold a token
		}
		return 0, -1, "", err
	}
	defer resp.Body.Close()
	var head []byte
	if resp.StatusCode >= 300 {
		head, _ = io.ReadAll(io.LimitReader(resp.Body, 256))
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	return resp.StatusCode, parseRetryAfter(resp.Header.Get("Retry-After"), n.now()), string(head), nil
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP
// date. It returns -1 if there is none or it is malformed.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return -1
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return -1
		}
		return time.Duration(min(secs, int64(24*time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return -1
}

// backoff returns the jittered wait before retry attempt+1.
func (n *Notifier) backoff(attempt int) time.Duration {
	d := n.minBackoff
	for range attempt {
		if d > n.maxBackoff/2 {
			d = n.maxBackoff
			break
		}
		d *= 2
	}
	d = min(d, n.maxBackoff)
	return d/2 + rand.N(d/2+1)
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (n *Notifier) add(name string) {
	if n.metrics != nil {
		n.metrics.Add(name, 1)
	}
}

// signature returns the X-Shopchat-Signature value for body sent at
// timestamp ts (Unix seconds, decimal).
func signature(secret []byte, ts string, body []byte) string {
	return "sha256=" + hex.EncodeToString(sum(secret, ts, body))
}

// sum is HMAC-SHA256(secret, ts + "." + body).
func sum(secret []byte, ts string, body []byte) []byte {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return mac.Sum(nil)
}
