package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/broker/internal/fanout"
)

var (
	_ chat.Broker         = (*Broker)(nil)
	_ chat.BatchPublisher = (*Broker)(nil)
)

// ErrClosed is returned by Publish and Subscribe after Close. It matches
// chat.ErrClosed with errors.Is.
var ErrClosed = fanout.ClosedError("postgres broker")

// MaxEncodedPayload is the largest NOTIFY payload PostgreSQL accepts (in a
// default build: it must be shorter than 8000 bytes). Publish refuses a
// payload whose encoding (see the package documentation) is longer.
const MaxEncodedPayload = 7999

// Defaults for the options.
const (
	DefaultPrefix          = "shopchat"
	DefaultApplicationName = "shopchat-broker"
	DefaultHealthCheck     = 30 * time.Second
	DefaultBuffer          = fanout.DefaultBuffer
)

// Reconnect backoff of the listening connection: doubling from the first
// to the last, with jitter.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
	opTimeout  = 10 * time.Second // LISTEN, ping, connect
)

// Metric names, counted through WithMetrics.
const (
	metricDropped    = "broker_dropped_total"    // payloads dropped: a subscription's buffer was full
	metricReconnects = "broker_reconnects_total" // listening connection re-established
)

// Option configures New.
type Option func(*options)

type options struct {
	prefix    string
	buffer    int
	health    time.Duration
	log       *slog.Logger
	metrics   chat.Metrics
	configure []func(*pgxpool.Config)
}

// WithPrefix sets the prefix of the notification channel names (default
// DefaultPrefix), so that several shops can share one database: brokers
// reach each other only if they use the same prefix. It must be 1 to 22
// characters of a-z, 0-9 and _, starting with a letter or _.
func WithPrefix(p string) Option { return func(o *options) { o.prefix = p } }

// WithBuffer sets how many payloads each subscription queues for its
// deliver function before dropping (default DefaultBuffer).
func WithBuffer(n int) Option { return func(o *options) { o.buffer = n } }

// WithHealthCheck sets how long the listening connection may stay silent
// before the broker pings the server to check it (default
// DefaultHealthCheck).
func WithHealthCheck(d time.Duration) Option { return func(o *options) { o.health = d } }

// WithLogger sets where the broker logs losing and regaining its
// connection (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithMetrics counts broker_dropped_total and broker_reconnects_total.
func WithMetrics(m chat.Metrics) Option { return func(o *options) { o.metrics = m } }

// WithPoolConfig lets f adjust the pgxpool configuration (TLS, pool size,
// tracing) before the pool and the listening connection, which uses
// cfg.ConnConfig, are created.
func WithPoolConfig(f func(*pgxpool.Config)) Option {
	return func(o *options) { o.configure = append(o.configure, f) }
}

var validPrefix = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,21}$`)

// Broker is a chat.Broker on PostgreSQL LISTEN/NOTIFY. It is safe for
// concurrent use. Close it when done.
type Broker struct {
	pool    *pgxpool.Pool
	connCfg *pgx.ConnConfig
	hub     *fanout.Hub
	prefix  string
	rawUTF8 bool // the server stores UTF-8 text unchanged
	health  time.Duration
	log     *slog.Logger
	metrics chat.Metrics
	ctx     context.Context // ends with Close
	stop    context.CancelFunc
	done    chan struct{} // closed when the listener has ended
	closing atomic.Bool

	mu        sync.Mutex
	changed   bool               // the wanted channels changed since the listener last looked
	interrupt context.CancelFunc // ends the listener's current wait

	reconnects atomic.Uint64
	malformed  atomic.Uint64
	pid        atomic.Uint32 // backend pid of the listening connection
}

// New connects to the PostgreSQL server named by dsn (a URL such as
// postgres://user:pass@host:5432/db?sslmode=disable, or key=value pairs;
// see pgxpool.ParseConfig) and returns a Broker. It opens the listening
// connection before it returns, so it fails if the server cannot be
// reached before ctx ends.
func New(ctx context.Context, dsn string, opts ...Option) (*Broker, error) {
	o := options{prefix: DefaultPrefix, health: DefaultHealthCheck}
	for _, opt := range opts {
		opt(&o)
	}
	if !validPrefix.MatchString(o.prefix) {
		return nil, fmt.Errorf("postgres broker: invalid prefix %q: want 1 to 22 of a-z, 0-9, _, not starting with a digit", o.prefix)
	}
	if o.health <= 0 {
		o.health = DefaultHealthCheck
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres broker: invalid DSN: %w", err)
	}
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = DefaultApplicationName
	}
	if cfg.ConnConfig.RuntimeParams["synchronous_commit"] == "" {
		// A NOTIFY commits a transaction of its own, with an XID: with
		// synchronous commit, every Publish waited for a WAL flush, on the
		// server the shop's store shares. Delivery is at most once, so a
		// notification needs no durability; listeners get it at commit.
		cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
	}
	for _, f := range o.configure {
		f(cfg)
	}

	b := &Broker{
		connCfg: cfg.ConnConfig.Copy(),
		prefix:  o.prefix,
		health:  o.health,
		log:     o.log,
		metrics: o.metrics,
		done:    make(chan struct{}),
	}
	b.hub = fanout.New(o.buffer, b.wake, func() { b.count(metricDropped) })

	b.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres broker: %w", err)
	}
	conn, err := b.connect(ctx)
	if err != nil {
		b.pool.Close()
		return nil, err
	}
	switch conn.PgConn().ParameterStatus("server_encoding") {
	case "UTF8", "SQL_ASCII":
		b.rawUTF8 = true
	}
	b.ctx, b.stop = context.WithCancel(context.Background())
	go b.listen(conn)
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
	<-b.done
	b.pool.Close()
	return nil
}

// Dropped returns how many payloads were dropped because a subscription's
// buffer was full.
func (b *Broker) Dropped() uint64 { return b.hub.Dropped() }

// Publish sends payload to topic's subscribers on every node, with
// SELECT pg_notify on a pooled connection. It fails if the encoded payload
// is longer than MaxEncodedPayload.
func (b *Broker) Publish(ctx context.Context, topic string, payload []byte) error {
	if b.hub.Closed() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("postgres broker: publish: %w", err)
	}
	enc := b.encode(payload)
	if len(enc) > MaxEncodedPayload {
		return fmt.Errorf("%w: postgres broker: payload of %d bytes encodes to %d, over NOTIFY's limit of %d", chat.ErrInvalid, len(payload), len(enc), MaxEncodedPayload)
	}
	if _, err := b.pool.Exec(ctx, "SELECT pg_notify($1, $2)", b.channel(topic), enc); err != nil {
		if b.hub.Closed() {
			return ErrClosed
		}
		return fmt.Errorf("postgres broker: publish: %w", err)
	}
	return nil
}

// PublishBatch publishes payloads to topic in order, in one round trip:
// their NOTIFYs run in one transaction (or more, one per run of payloads
// that does not repeat one: PostgreSQL folds identical notifications of a
// transaction into one). If a payload is too large, none is sent.
func (b *Broker) PublishBatch(ctx context.Context, topic string, payloads [][]byte) error {
	if b.hub.Closed() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("postgres broker: publish: %w", err)
	}
	encoded := make([]string, len(payloads))
	for i, p := range payloads {
		encoded[i] = b.encode(p)
		if len(encoded[i]) > MaxEncodedPayload {
			return fmt.Errorf("%w: postgres broker: payload of %d bytes encodes to %d, over NOTIFY's limit of %d", chat.ErrInvalid, len(p), len(encoded[i]), MaxEncodedPayload)
		}
	}
	channel := b.channel(topic)
	for len(encoded) > 0 {
		var batch pgx.Batch
		seen := make(map[string]bool)
		for len(encoded) > 0 && !seen[encoded[0]] {
			seen[encoded[0]] = true
			batch.Queue("SELECT pg_notify($1, $2)", channel, encoded[0])
			encoded = encoded[1:]
		}
		if err := b.pool.SendBatch(ctx, &batch).Close(); err != nil {
			if b.hub.Closed() {
				return ErrClosed
			}
			return fmt.Errorf("postgres broker: publish: %w", err)
		}
	}
	return nil
}

// Subscribe calls deliver for each payload published to topic until cancel
// is called (or the broker is closed); ctx bounds only the call itself. It returns once the listening connection has executed LISTEN
// for the topic's channel, so everything published after it returns is
// delivered; while the server is unreachable it waits, until ctx ends.
func (b *Broker) Subscribe(ctx context.Context, topic string, deliver func(payload []byte)) (cancel func(), err error) {
	return b.hub.Subscribe(ctx, b.channel(topic), deliver, "postgres broker", "waiting for LISTEN", ErrClosed)
}

// channel returns the notification channel of topic: the prefix, "_" and
// 40 hex digits of the topic's SHA-256, a valid identifier of at most 63
// bytes whatever the topic.
func (b *Broker) channel(topic string) string {
	sum := sha256.Sum256([]byte(topic))
	return b.prefix + "_" + hex.EncodeToString(sum[:20])
}

// encode turns a payload into NOTIFY text: "t" and the payload itself if
// the server can carry it as text, else "b" and its standard base64.
func (b *Broker) encode(p []byte) string {
	if b.textSafe(p) {
		return "t" + string(p)
	}
	return "b" + base64.StdEncoding.EncodeToString(p)
}

// textSafe reports whether p travels unchanged as NOTIFY text: no NUL,
// and ASCII, or valid UTF-8 on a server that stores UTF-8 as is.
func (b *Broker) textSafe(p []byte) bool {
	ascii := true
	for _, c := range p {
		if c == 0 {
			return false
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	return ascii || (b.rawUTF8 && utf8.Valid(p))
}

func decode(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("empty")
	}
	switch s[0] {
	case 't':
		return []byte(s[1:]), nil
	case 'b':
		return base64.StdEncoding.DecodeString(s[1:])
	}
	return nil, fmt.Errorf("unknown encoding %q", s[0])
}

func (b *Broker) count(name string) {
	if b.metrics != nil {
		b.metrics.Add(name, 1)
	}
}

// wake tells the listener that the wanted channels changed.
func (b *Broker) wake() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.changed = true
	if b.interrupt != nil {
		b.interrupt()
	}
}

func (b *Broker) connect(ctx context.Context) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, b.connCfg)
	if err != nil {
		return nil, fmt.Errorf("postgres broker: connecting to %s:%d: %w", b.connCfg.Host, b.connCfg.Port, err)
	}
	b.pid.Store(conn.PgConn().PID())
	return conn, nil
}

// listen owns the listening connection: it LISTENs and UNLISTENs as
// subscriptions come and go, hands notifications to the hub, and
// reconnects with backoff when the connection fails, LISTENing to every
// wanted channel again.
func (b *Broker) listen(conn *pgx.Conn) {
	defer close(b.done)
	defer func() {
		if conn != nil {
			closeConn(conn)
		}
	}()
	backoff := minBackoff
	reconnected := func() {}
	for {
		if conn == nil {
			c, err := b.connect(b.ctx)
			if err != nil {
				if b.ctx.Err() != nil {
					return
				}
				b.log.Warn("postgres broker: reconnecting", "err", err, "retry_in", backoff)
				if !b.sleep(backoff) {
					return
				}
				backoff = min(2*backoff, maxBackoff)
				continue
			}
			conn, backoff = c, minBackoff
			reconnected = func() {
				b.reconnects.Add(1)
				b.count(metricReconnects)
				b.log.Info("postgres broker: reconnected")
			}
		}
		err := b.serve(conn, reconnected)
		reconnected = func() {}
		if b.ctx.Err() != nil {
			return
		}
		b.log.Warn("postgres broker: lost the listening connection", "err", err)
		closeConn(conn)
		conn = nil
		// The next session LISTENs to nothing; subscribers wait for it.
		b.hub.Reset()
	}
}

// serve runs the listening connection until it fails or the broker
// closes. It calls listening once it has LISTENed to every wanted
// channel.
func (b *Broker) serve(conn *pgx.Conn, listening func()) error {
	for {
		b.mu.Lock()
		b.changed = false
		b.mu.Unlock()
		if err := b.sync(conn); err != nil {
			return err
		}
		if listening != nil {
			listening()
			listening = nil
		}

		b.mu.Lock()
		if b.changed {
			b.mu.Unlock()
			continue
		}
		ctx, cancel := context.WithTimeout(b.ctx, b.health)
		b.interrupt = cancel
		b.mu.Unlock()

		n, err := conn.WaitForNotification(ctx)

		b.mu.Lock()
		b.interrupt = nil
		b.mu.Unlock()
		idle := errors.Is(ctx.Err(), context.DeadlineExceeded)
		woken := ctx.Err() != nil
		cancel()

		if n != nil {
			b.dispatch(n.Channel, n.Payload)
		}
		switch {
		case err == nil:
		case b.ctx.Err() != nil:
			return b.ctx.Err()
		case idle:
			pctx, cancel := context.WithTimeout(b.ctx, opTimeout)
			err := conn.Ping(pctx)
			cancel()
			if err != nil {
				return fmt.Errorf("health check: %w", err)
			}
		case woken && !conn.IsClosed():
		default:
			return err
		}
	}
}

// sync LISTENs to the channels that gained a subscription and UNLISTENs
// those that lost their last.
func (b *Broker) sync(conn *pgx.Conn) error {
	listen, unlisten := b.hub.Sync()
	for len(listen) > 0 || len(unlisten) > 0 {
		var sql strings.Builder
		var batch []string
		for n := 0; n < 500 && len(unlisten) > 0; n++ {
			sql.WriteString("UNLISTEN " + pgx.Identifier{unlisten[0]}.Sanitize() + ";")
			unlisten = unlisten[1:]
		}
		for n := 0; n < 500 && len(listen) > 0; n++ {
			sql.WriteString("LISTEN " + pgx.Identifier{listen[0]}.Sanitize() + ";")
			batch = append(batch, listen[0])
			listen = listen[1:]
		}
		ctx, cancel := context.WithTimeout(b.ctx, opTimeout)
		_, err := conn.Exec(ctx, sql.String())
		cancel()
		if err != nil {
			return fmt.Errorf("LISTEN: %w", err)
		}
		b.hub.MarkReady(batch...)
	}
	return nil
}

func (b *Broker) dispatch(channel, payload string) {
	p, err := decode(payload)
	if err != nil {
		if b.malformed.Add(1) == 1 {
			b.log.Warn("postgres broker: ignoring a notification not sent by a shopchat broker", "channel", channel, "err", err)
		}
		return
	}
	b.hub.Dispatch(channel, p)
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

func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}
