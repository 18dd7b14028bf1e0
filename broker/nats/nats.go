package nats

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/broker/internal/fanout"
)

var _ chat.Broker = (*Broker)(nil)

// ErrClosed is returned by Publish and Subscribe after Close. It matches
// chat.ErrClosed with errors.Is.
var ErrClosed = fanout.ClosedError("nats broker")

// Defaults for the options.
const (
	DefaultPrefix = "shopchat"
	DefaultName   = "shopchat-broker"
	DefaultBuffer = fanout.DefaultBuffer
)

const (
	flushTimeout = 5 * time.Second        // confirming subscriptions with the server
	flushRetry   = 250 * time.Millisecond // after a failed confirmation
	inboxSize    = 8192                   // messages read but not yet handed to the subscriptions
	maxPlain     = 200                    // longest topic used as is in a subject
)

// Metric names, counted through WithMetrics.
const (
	metricDropped    = "broker_dropped_total"    // payloads dropped: a subscription's buffer was full
	metricReconnects = "broker_reconnects_total" // connection re-established
)

// Option configures New.
type Option func(*options)

type options struct {
	prefix  string
	buffer  int
	log     *slog.Logger
	metrics chat.Metrics
	nats    []natsgo.Option
}

// WithPrefix sets the first subject tokens of every topic's subject
// (default DefaultPrefix), so that several shops can share one NATS
// account: brokers reach each other only if they use the same prefix. It
// must be one or more dot-separated tokens of A-Z, a-z, 0-9, _ and -.
func WithPrefix(p string) Option { return func(o *options) { o.prefix = p } }

// WithBuffer sets how many payloads each subscription queues for its
// deliver function before dropping (default DefaultBuffer).
func WithBuffer(n int) Option { return func(o *options) { o.buffer = n } }

// WithLogger sets where the broker logs losing and regaining its
// connection (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithMetrics counts broker_dropped_total and broker_reconnects_total.
func WithMetrics(m chat.Metrics) Option { return func(o *options) { o.metrics = m } }

// WithNATSOptions adds nats.go connection options (credentials, TLS,
// reconnect timing), applied after New's defaults: name DefaultName,
// MaxReconnects(-1) and nats.go's reconnect buffer. Connection event
// handlers set here are called as well as the broker's own.
func WithNATSOptions(opts ...natsgo.Option) Option {
	return func(o *options) { o.nats = append(o.nats, opts...) }
}

var (
	validPrefix = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)
	plainTopic  = validPrefix
)

// Broker is a chat.Broker on NATS core publish/subscribe. It is safe for
// concurrent use. Close it when done.
type Broker struct {
	nc      *natsgo.Conn
	hub     *fanout.Hub
	prefix  string
	log     *slog.Logger
	metrics chat.Metrics

	ctx         context.Context // ends with Close
	stop        context.CancelFunc
	inbox       chan *natsgo.Msg // all subscriptions' messages, in arrival order
	wake        chan struct{}    // the wanted subjects changed
	reconnected chan struct{}
	wg          sync.WaitGroup
	closing     atomic.Bool

	mu          sync.Mutex
	subs        map[string]*natsgo.Subscription // owned by control; mu for Dropped
	lostDropped uint64                          // slow-consumer drops of ended subscriptions

	reconnects atomic.Uint64
}

// New connects to the NATS server(s) at url (comma-separated URLs are
// allowed; see nats.Connect) and returns a Broker. It fails if no server
// can be reached; once connected it reconnects for ever.
func New(url string, opts ...Option) (*Broker, error) {
	o := options{prefix: DefaultPrefix}
	for _, opt := range opts {
		opt(&o)
	}
	if !validPrefix.MatchString(o.prefix) {
		return nil, fmt.Errorf("nats broker: invalid prefix %q: want dot-separated tokens of A-Z, a-z, 0-9, _ and -", o.prefix)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	b := &Broker{
		prefix:      o.prefix,
		log:         o.log,
		metrics:     o.metrics,
		inbox:       make(chan *natsgo.Msg, inboxSize),
		wake:        make(chan struct{}, 1),
		reconnected: make(chan struct{}, 1),
		subs:        map[string]*natsgo.Subscription{},
	}
	b.hub = fanout.New(o.buffer, b.changed, func() { b.count(metricDropped) })

	nopts := natsgo.GetDefaultOptions()
	nopts.Url = url
	nopts.Name = DefaultName
	nopts.MaxReconnect = -1
	for _, opt := range o.nats {
		if err := opt(&nopts); err != nil {
			return nil, fmt.Errorf("nats broker: %w", err)
		}
	}
	userDisconnect, userReconnect := nopts.DisconnectedErrCB, nopts.ReconnectedCB
	nopts.DisconnectedErrCB = func(nc *natsgo.Conn, err error) {
		b.disconnected(err)
		if userDisconnect != nil {
			userDisconnect(nc, err)
		}
	}
	nopts.ReconnectedCB = func(nc *natsgo.Conn) {
		select {
		case b.reconnected <- struct{}{}:
		default:
		}
		if userReconnect != nil {
			userReconnect(nc)
		}
	}
	nc, err := nopts.Connect()
	if err != nil {
		return nil, fmt.Errorf("nats broker: connecting to %s: %w", url, err)
	}
	b.nc = nc
	b.ctx, b.stop = context.WithCancel(context.Background())
	b.wg.Add(2)
	go b.dispatch()
	go b.control()
	return b, nil
}

// Close stops delivery, waits for deliver calls in progress to return
// (except one that calls Close), stops the broker's goroutines and closes
// the connection, dropping what it had not yet sent. Publish and Subscribe
// fail with ErrClosed afterwards. Close is idempotent (a second call
// returns at once) and returns nil.
func (b *Broker) Close() error {
	if b.closing.Swap(true) {
		return nil
	}
	b.hub.Close()
	b.stop()
	b.wg.Wait()
	b.nc.Close()
	return nil
}

// Dropped returns how many payloads were dropped because a subscription's
// buffer, or the broker's inbox in front of them, was full.
func (b *Broker) Dropped() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := b.hub.Dropped() + b.lostDropped
	for _, s := range b.subs {
		if d, err := s.Dropped(); err == nil {
			n += uint64(d)
		}
	}
	return n
}

// Publish sends payload to topic's subscribers on every node. Like
// nats.Conn.Publish it returns once the payload is in the connection's
// buffer; while reconnecting, payloads wait in nats.go's reconnect buffer
// (and are lost if it fills or the broker closes).
func (b *Broker) Publish(ctx context.Context, topic string, payload []byte) error {
	if b.hub.Closed() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("nats broker: publish: %w", err)
	}
	if err := b.nc.Publish(b.subject(topic), payload); err != nil {
		if b.hub.Closed() {
			return ErrClosed
		}
		return fmt.Errorf("nats broker: publish: %w", err)
	}
	return nil
}

// Subscribe calls deliver for each payload published to topic until cancel
// is called (or the broker is closed); ctx bounds only the call itself. It returns once the server has confirmed the subscription (a
// PING/PONG after the SUB), so everything published after it returns is
// delivered; while no server is reachable it waits, until ctx ends.
func (b *Broker) Subscribe(ctx context.Context, topic string, deliver func(payload []byte)) (cancel func(), err error) {
	return b.hub.Subscribe(ctx, b.subject(topic), deliver, "nats broker", "waiting for the server to confirm", ErrClosed)
}

// subject returns topic's subject: prefix.t.topic for a topic made of
// dot-separated tokens of A-Z, a-z, 0-9, _ and - (at most 200 bytes), else
// prefix.h. and 40 hex digits of the topic's SHA-256. No topic can act as
// a wildcard.
func (b *Broker) subject(topic string) string {
	if len(topic) <= maxPlain && plainTopic.MatchString(topic) {
		return b.prefix + ".t." + topic
	}
	sum := sha256.Sum256([]byte(topic))
	return b.prefix + ".h." + hex.EncodeToString(sum[:20])
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

func (b *Broker) disconnected(err error) {
	if b.closing.Load() {
		return
	}
	b.hub.Unready()
	b.log.Warn("nats broker: disconnected", "err", err)
}

// dispatch hands every message to the hub, in the order nats.go read
// them.
func (b *Broker) dispatch() {
	defer b.wg.Done()
	for {
		select {
		case m := <-b.inbox:
			b.hub.Dispatch(m.Subject, m.Data)
		case <-b.ctx.Done():
			return
		}
	}
}

// control subscribes and unsubscribes as subscriptions come and go, and
// marks subjects ready once a flush (PING/PONG) shows the server has their
// SUB, also after every reconnect (nats.go sends the SUBs again).
func (b *Broker) control() {
	defer b.wg.Done()
	var pending []string // subscribed, not yet confirmed
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	reconnect := false // a reconnect is to be confirmed
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-b.wake:
			pending = append(pending, b.sync()...)
		case <-b.reconnected:
			reconnect = true
		case <-retry.C:
		}
		if len(pending) == 0 && !reconnect {
			continue
		}
		ctx, cancel := context.WithTimeout(b.ctx, flushTimeout)
		err := b.nc.FlushWithContext(ctx)
		cancel()
		if err != nil {
			if b.ctx.Err() == nil {
				retry.Reset(flushRetry)
			}
			continue
		}
		if reconnect {
			reconnect = false
			b.hub.MarkAllReady()
			b.reconnects.Add(1)
			b.count(metricReconnects)
			b.log.Info("nats broker: reconnected")
		} else {
			b.hub.MarkReady(pending...)
		}
		pending = nil
	}
}

// sync subscribes the subjects that gained a subscription and
// unsubscribes those that lost their last; it returns the new ones.
func (b *Broker) sync() []string {
	subscribe, unsubscribe := b.hub.Sync()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, subj := range unsubscribe {
		if s := b.subs[subj]; s != nil {
			if d, err := s.Dropped(); err == nil {
				b.lostDropped += uint64(d)
			}
			_ = s.Unsubscribe()
			delete(b.subs, subj)
		}
	}
	var added []string
	for _, subj := range subscribe {
		s, err := b.nc.ChanSubscribe(subj, b.inbox)
		if err != nil {
			b.log.Error("nats broker: subscribe", "subject", subj, "err", err)
			continue
		}
		// The inbox bounds what waits; nats.go's own limits do not apply
		// to channel subscriptions.
		b.subs[subj] = s
		added = append(added, subj)
	}
	return added
}
