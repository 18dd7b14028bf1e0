package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/broker/internal/fanout"
)

var (
	_ chat.Broker         = (*Broker)(nil)
	_ chat.BatchPublisher = (*Broker)(nil)
)

// ErrClosed is returned by Publish and Subscribe after Close. It matches
// chat.ErrClosed with errors.Is.
var ErrClosed = fanout.ClosedError("redis broker")

// Defaults for the options.
const (
	DefaultPrefix      = "shopchat:"
	DefaultClientName  = "shopchat-broker"
	DefaultHealthCheck = 15 * time.Second
	DefaultBuffer      = fanout.DefaultBuffer
)

const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = 5 * time.Second
	opTimeout  = 10 * time.Second // SUBSCRIBE, UNSUBSCRIBE, PING
)

// Metric names, counted through WithMetrics.
const (
	metricDropped    = "broker_dropped_total"    // payloads dropped: a subscription's buffer was full
	metricReconnects = "broker_reconnects_total" // pub/sub connection re-established
)

// Option configures New.
type Option func(*options)

type options struct {
	prefix    string
	buffer    int
	health    time.Duration
	log       *slog.Logger
	metrics   chat.Metrics
	configure []func(*goredis.Options)
}

// WithPrefix sets the string put before every topic to make its Redis
// channel name (default DefaultPrefix), so that several shops can share
// one Redis: brokers reach each other only if they use the same prefix.
func WithPrefix(p string) Option { return func(o *options) { o.prefix = p } }

// WithBuffer sets how many payloads each subscription queues for its
// deliver function before dropping (default DefaultBuffer).
func WithBuffer(n int) Option { return func(o *options) { o.buffer = n } }

// WithHealthCheck sets how often the broker pings Redis on its pub/sub
// connection (default DefaultHealthCheck). A connection that has been
// silent for three intervals is considered dead and replaced.
func WithHealthCheck(d time.Duration) Option { return func(o *options) { o.health = d } }

// WithLogger sets where the broker logs losing and regaining its pub/sub
// connection (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithMetrics counts broker_dropped_total and broker_reconnects_total.
func WithMetrics(m chat.Metrics) Option { return func(o *options) { o.metrics = m } }

// WithRedisOptions lets f adjust the go-redis client options (password,
// TLS, timeouts, pool size) after New has parsed addr and set its
// defaults: ClientName DefaultClientName and MaxRetries -1.
func WithRedisOptions(f func(*goredis.Options)) Option {
	return func(o *options) { o.configure = append(o.configure, f) }
}

// Broker is a chat.Broker on Redis pub/sub. It is safe for concurrent use.
// Close it when done.
type Broker struct {
	client  *goredis.Client
	ps      *goredis.PubSub
	hub     *fanout.Hub
	prefix  string
	health  time.Duration
	log     *slog.Logger
	metrics chat.Metrics

	ctx     context.Context // ends with Close
	stop    context.CancelFunc
	wake    chan struct{} // the wanted channels changed
	wg      sync.WaitGroup
	closing atomic.Bool

	reconnects atomic.Uint64
}

// New connects to Redis at addr, either host:port or a redis:// or
// rediss:// URL (see go-redis's ParseURL), checks it with a PING bounded
// by ctx, and returns a Broker.
func New(ctx context.Context, addr string, opts ...Option) (*Broker, error) {
	o := options{prefix: DefaultPrefix, health: DefaultHealthCheck}
	for _, opt := range opts {
		opt(&o)
	}
	if o.health <= 0 {
		o.health = DefaultHealthCheck
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	var ropts *goredis.Options
	if strings.Contains(addr, "://") {
		var err error
		if ropts, err = goredis.ParseURL(addr); err != nil {
			return nil, fmt.Errorf("redis broker: %w", err)
		}
	} else {
		ropts = &goredis.Options{Addr: addr}
	}
	if ropts.ClientName == "" {
		ropts.ClientName = DefaultClientName
	}
	// At most once: a PUBLISH whose reply was lost may have been done;
	// never send it again.
	ropts.MaxRetries = -1
	for _, f := range o.configure {
		f(ropts)
	}

	client := goredis.NewClient(ropts)
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("redis broker: cannot reach %s: %w", ropts.Addr, err)
	}
	b := &Broker{
		client:  client,
		prefix:  o.prefix,
		health:  o.health,
		log:     o.log,
		metrics: o.metrics,
		wake:    make(chan struct{}, 1),
	}
	b.hub = fanout.New(o.buffer, b.changed, func() { b.count(metricDropped) })
	b.ctx, b.stop = context.WithCancel(context.Background())
	b.ps = client.Subscribe(ctx)
	b.wg.Add(2)
	go b.read()
	go b.control()
	return b, nil
}

// Close stops delivery, waits for deliver calls in progress to return
// (except one that calls Close), stops the broker's goroutines and closes
// its connections. Publish and Subscribe fail with ErrClosed afterwards.
// Close is idempotent (a second call returns at once) and returns nil.
func (b *Broker) Close() error {
	if b.closing.Swap(true) {
		return nil
	}
	b.hub.Close()
	b.stop()
	_ = b.ps.Close() // ends the reader's Receive
	b.wg.Wait()
	_ = b.client.Close()
	return nil
}

// Dropped returns how many payloads were dropped because a subscription's
// buffer was full.
func (b *Broker) Dropped() uint64 { return b.hub.Dropped() }

// Publish sends payload to topic's subscribers on every node with one
// PUBLISH. It is never retried: if the reply is lost, the error is
// returned even though the payload may have been delivered.
func (b *Broker) Publish(ctx context.Context, topic string, payload []byte) error {
	if b.hub.Closed() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redis broker: publish: %w", err)
	}
	if payload == nil {
		payload = []byte{}
	}
	if err := b.client.Publish(ctx, b.prefix+topic, payload).Err(); err != nil {
		if b.hub.Closed() {
			return ErrClosed
		}
		return fmt.Errorf("redis broker: publish: %w", err)
	}
	return nil
}

// PublishBatch publishes payloads to topic in order with one pipeline of
// PUBLISH commands: one round trip. Like Publish it is never retried.
func (b *Broker) PublishBatch(ctx context.Context, topic string, payloads [][]byte) error {
	if b.hub.Closed() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redis broker: publish: %w", err)
	}
	channel := b.prefix + topic
	_, err := b.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, payload := range payloads {
			if payload == nil {
				payload = []byte{}
			}
			p.Publish(ctx, channel, payload)
		}
		return nil
	})
	if err != nil {
		if b.hub.Closed() {
			return ErrClosed
		}
		return fmt.Errorf("redis broker: publish: %w", err)
	}
	return nil
}

// Subscribe calls deliver for each payload published to topic until cancel
// is called (or the broker is closed); ctx bounds only the call itself. It returns once Redis has confirmed the subscription, so
// everything published after it returns is delivered; while Redis is
// unreachable it waits, until ctx ends.
func (b *Broker) Subscribe(ctx context.Context, topic string, deliver func(payload []byte)) (cancel func(), err error) {
	return b.hub.Subscribe(ctx, b.prefix+topic, deliver, "redis broker", "waiting for Redis to confirm", ErrClosed)
}

func (b *Broker) changed() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

func (b *Broker) count(name string) {
	if b.metrics != nil {
		b.metrics.Add(name, 1)
	}
}

// control sends SUBSCRIBE and UNSUBSCRIBE as subscriptions come and go,
// and PINGs on the pub/sub connection. go-redis remembers the channels and
// subscribes them again on every new connection.
func (b *Broker) control() {
	defer b.wg.Done()
	tick := time.NewTicker(b.health)
	defer tick.Stop()
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-b.wake:
			subscribe, unsubscribe := b.hub.Sync()
			ctx, cancel := context.WithTimeout(b.ctx, opTimeout)
			if len(unsubscribe) > 0 {
				if err := b.ps.Unsubscribe(ctx, unsubscribe...); err != nil && b.ctx.Err() == nil {
					b.log.Debug("redis broker: UNSUBSCRIBE", "err", err)
				}
			}
			if len(subscribe) > 0 {
				if err := b.ps.Subscribe(ctx, subscribe...); err != nil && b.ctx.Err() == nil {
					// go-redis keeps the channels and subscribes them on
					// its next connection; the subscribers wait for that.
					b.log.Debug("redis broker: SUBSCRIBE", "err", err)
				}
			}
			cancel()
		case <-tick.C:
			ctx, cancel := context.WithTimeout(b.ctx, opTimeout)
			_ = b.ps.Ping(ctx)
			cancel()
		}
	}
}

// read receives from the pub/sub connection: payloads go to the hub,
// subscription confirmations mark channels ready. A read that fails (or
// sees nothing for three health-check intervals) makes go-redis replace
// the connection and subscribe again.
func (b *Broker) read() {
	defer b.wg.Done()
	failed := false
	backoff := minBackoff
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 3*b.health)
		msg, err := b.ps.Receive(ctx)
		cancel()
		if err != nil {
			if b.ctx.Err() != nil || errors.Is(err, goredis.ErrClosed) {
				return
			}
			var reply goredis.Error
			if errors.As(err, &reply) {
				// An error reply: the connection and its subscriptions
				// are fine.
				b.log.Warn("redis broker: error reply on the pub/sub connection", "err", err)
				continue
			}
			if !failed {
				failed = true
				b.hub.Unready()
				b.log.Warn("redis broker: lost the pub/sub connection", "err", err)
			}
			if !b.sleep(backoff) {
				return
			}
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		if failed {
			failed, backoff = false, minBackoff
			b.reconnects.Add(1)
			b.count(metricReconnects)
			b.log.Info("redis broker: reconnected")
		}
		switch m := msg.(type) {
		case *goredis.Message:
			b.hub.Dispatch(m.Channel, []byte(m.Payload))
		case *goredis.Subscription:
			if m.Kind == "subscribe" {
				b.hub.MarkReady(m.Channel)
			}
		}
	}
}

// sleep waits d with ±20% jitter; it reports false if the broker closed
// meanwhile.
func (b *Broker) sleep(d time.Duration) bool {
	d = time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-b.ctx.Done():
		return false
	}
}
