package postgres

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shopchat/chat"
)

// Every role of chat.Store, one file each.
var (
	_ chat.Store            = (*Store)(nil)
	_ chat.TrackingStore    = (*Store)(nil)
	_ chat.OrderStore       = (*Store)(nil)
	_ chat.CannedStore      = (*Store)(nil)
	_ chat.TriggerStore     = (*Store)(nil)
	_ chat.ClaimStore       = (*Store)(nil)
	_ chat.Searcher         = (*Store)(nil)
	_ chat.PageViewVisitors = (*Store)(nil)
	_ chat.AssignedAppender = (*Store)(nil)
	_ chat.BatchAppender    = (*Store)(nil)
)

// Store is a chat.Store (and chat.Searcher) backed by PostgreSQL through a
// pgxpool connection pool. It is safe for concurrent use, and any number of
// Stores, in one process or many, may share one database and schema.
type Store struct {
	pool      *pgxpool.Pool
	epoch     int64 // chat_meta.epoch, read once by Open
	b         batcher
	closeOnce sync.Once
}

// DefaultApplicationName is the application_name the Store's connections
// report (in pg_stat_activity) unless the DSN or WithApplicationName sets
// one.
const DefaultApplicationName = "shopchat"

// DefaultConnectTimeout bounds Open's first connection to the server when
// WithConnectTimeout does not set another bound. The context passed to Open
// may end it sooner.
const DefaultConnectTimeout = 10 * time.Second

// Option configures Open.
type Option func(*options)

type options struct {
	schema         string
	maxConns       int32
	minConns       int32
	appName        string
	connectTimeout time.Duration
	configure      []func(*pgxpool.Config)
}

// WithSchema keeps the store's tables in the named schema, created by Open
// if it does not exist. Without it the tables go in the first existing
// schema on the connection's search_path: "public" on a default server, or
// the search_path the DSN sets (options=-csearch_path=...).
func WithSchema(name string) Option { return func(o *options) { o.schema = name } }

// WithMaxConns caps the pool's connections (default: the DSN's
// pool_max_conns, else pgxpool's default of max(4, GOMAXPROCS)).
func WithMaxConns(n int32) Option { return func(o *options) { o.maxConns = n } }

// WithMinConns keeps at least n connections open (default: the DSN's
// pool_min_conns, else 0).
func WithMinConns(n int32) Option { return func(o *options) { o.minConns = n } }

// WithApplicationName sets the application_name of the store's connections,
// which PostgreSQL shows in pg_stat_activity and its logs.
func WithApplicationName(name string) Option { return func(o *options) { o.appName = name } }

// WithConnectTimeout bounds Open's first connection (default
// DefaultConnectTimeout).
func WithConnectTimeout(d time.Duration) Option { return func(o *options) { o.connectTimeout = d } }

// WithPoolConfig lets f adjust the pgxpool configuration after the other
// options are applied and before the pool is created: TLS, tracing, health
// checks, connection lifetimes. f must not change search_path, which
// WithSchema owns.
func WithPoolConfig(f func(*pgxpool.Config)) Option {
	return func(o *options) { o.configure = append(o.configure, f) }
}

// Open connects to the PostgreSQL server named by dsn (a URL such as
// postgres://user:pass@host:5432/db?sslmode=disable, or key=value pairs;
// see pgxpool.ParseConfig for pool_* settings), checks that it is
// reachable, brings the schema up to date and returns the Store. Close it
// when done.
//
// Open fails if the server cannot be reached within the connect timeout (or
// before ctx ends), and refuses a database whose schema is newer than this
// build knows.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	o := options{connectTimeout: DefaultConnectTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: invalid DSN: %w", err)
	}
	rp := cfg.ConnConfig.RuntimeParams
	if o.appName != "" {
		rp["application_name"] = o.appName
	} else if rp["application_name"] == "" {
		rp["application_name"] = DefaultApplicationName
	}
	if o.schema != "" {
		rp["search_path"] = pgx.Identifier{o.schema}.Sanitize()
	}
	if o.maxConns > 0 {
		cfg.MaxConns = o.maxConns
	}
	if o.minConns > 0 {
		cfg.MinConns = min(o.minConns, cfg.MaxConns)
	}
	for _, f := range o.configure {
		f(cfg)
	}
	where := serverAddr(cfg.ConnConfig)

	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connecting to %s: %w", where, err)
	}
	pctx, cancel := context.WithTimeout(ctx, o.connectTimeout)
	err = pool.Ping(pctx)
	cancel()
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: cannot connect to %s: %w", where, err)
	}
	s := &Store{pool: pool}
	if err := s.migrate(ctx, o.schema); err != nil {
		pool.Close()
		return nil, err
	}
	s.startBatcher()
	return s, nil
}

// serverAddr names the server(s) a config dials, for error messages. It
// never includes credentials.
func serverAddr(c *pgx.ConnConfig) string {
	addr := func(host string, port uint16) string {
		if strings.HasPrefix(host, "/") { // Unix socket directory
			return fmt.Sprintf("%s/.s.PGSQL.%d", host, port)
		}
		return net.JoinHostPort(host, strconv.Itoa(int(port)))
	}
	hosts := []string{addr(c.Host, c.Port)}
	for _, fb := range c.Fallbacks {
		if a := addr(fb.Host, fb.Port); !slices.Contains(hosts, a) {
			hosts = append(hosts, a)
		}
	}
	return strings.Join(hosts, ", ")
}

// Close waits for the appends being committed, fails those still queued
// and closes the pool's connections. The Store must not be used after.
func (s *Store) Close() {
	s.stopBatcher()
	s.pool.Close()
}

// Migrations.

//go:embed migrations/*.sql
var migrationFS embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in version order. Their file
// names are NNN_name.sql with versions 1, 2, 3... without gaps.
func migrations() ([]migration, error) {
	files, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, f := range files {
		base := path.Base(f)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("postgres: migration %s: name is not NNN_name.sql", base)
		}
		b, err := migrationFS.ReadFile(f)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{v, strings.TrimSuffix(base, ".sql"), string(b)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("postgres: migration %s: want version %d", m.name, i+1)
		}
	}
	return ms, nil
}

// migrationLock is the pg_advisory_lock key every shopchat process takes
// while it migrates: the bytes of "shopchat" as a big-endian int64. It is
// one key for the whole database (all schemas), so concurrent Opens
// migrate one after another.
const migrationLock int64 = 0x73686f7063686174

// migrate creates the schema if needed and applies the migrations the
// database lacks, under a session-level advisory lock so that processes
// starting together apply each migration exactly once. Each migration runs
// in its own transaction together with its row in chat_schema_migrations.
// Then it makes sure the store has an epoch and reads it.
func (s *Store) migrate(ctx context.Context, schema string) (err error) {
	ms, err := migrations()
	if err != nil {
		return err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationLock); err != nil {
		return fmt.Errorf("postgres: migrate: taking the migration lock: %w", err)
	}
	defer func() {
		// A session-level lock outlives transactions: release it, or close
		// the connection (which releases it) if that fails.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, uerr := conn.Exec(uctx, "SELECT pg_advisory_unlock($1)", migrationLock); uerr != nil {
			_ = conn.Conn().Close(uctx)
		}
	}()

	if schema != "" {
		// CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege even when
		// the schema exists, so look first.
		var exists bool
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", schema).Scan(&exists); err != nil {
			return fmt.Errorf("postgres: migrate: %w", err)
		}
		if !exists {
			if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
				return fmt.Errorf("postgres: creating schema %q: %w", schema, err)
			}
		}
	}
	var current *string
	if err := conn.QueryRow(ctx, "SELECT current_schema()").Scan(&current); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	if current == nil {
		return errors.New("postgres: the search_path names no existing schema; create one or use WithSchema")
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS chat_schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("postgres: migrate: in schema %q: %w", *current, err)
	}
	var have int
	if err := conn.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM chat_schema_migrations").Scan(&have); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	if have > len(ms) {
		return fmt.Errorf("postgres: database schema version %d is newer than this build supports (%d); upgrade shopchat", have, len(ms))
	}
	for _, m := range ms[have:] {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO chat_schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name)
			return err
		})
		if err != nil {
			return fmt.Errorf("postgres: migration %s in schema %q: %w", m.name, *current, err)
		}
	}
	if _, err := conn.Exec(ctx, "INSERT INTO chat_meta (epoch) VALUES ($1) ON CONFLICT DO NOTHING", newEpoch()); err != nil {
		return fmt.Errorf("postgres: migrate: storing the epoch: %w", err)
	}
	if err := conn.QueryRow(ctx, "SELECT epoch FROM chat_meta").Scan(&s.epoch); err != nil {
		return fmt.Errorf("postgres: migrate: reading the epoch: %w", err)
	}
	return nil
}

// newEpoch returns a random non-zero int64.
func newEpoch() int64 {
	var b [8]byte
	for {
		_, _ = rand.Read(b[:]) // never fails
		if e := int64(binary.LittleEndian.Uint64(b[:])); e != 0 {
			return e
		}
	}
}

// Errors.

// PostgreSQL error codes the store maps to chat errors.
const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503"
	codeProgramLimit        = "54000" // e.g. a text too long for a tsvector
)

func notFound(what, id string) error {
	return fmt.Errorf("postgres: %s %q: %w", what, id, chat.ErrNotFound)
}

func conflict(what, id, why string) error {
	return fmt.Errorf("postgres: %s %q: %s: %w", what, id, why, chat.ErrConflict)
}

// mapErr turns an error of operation op into the store's error. The
// package's sentinel errors pass through; constraint violations and bad
// input become chat.ErrConflict, chat.ErrNotFound and chat.ErrInvalid
// without the server's message (which names tables and values); anything
// else (the server or the network failing) is wrapped as it is. A lost
// connection also resets the pool, so the next call starts afresh instead
// of meeting the other connections the server dropped.
func (s *Store) mapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	for _, e := range []error{chat.ErrNotFound, chat.ErrConflict, chat.ErrInvalid, chat.ErrCapacity} {
		if errors.Is(err, e) {
			return err
		}
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("postgres: %s: %w", op, chat.ErrNotFound)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == codeUniqueViolation:
			return fmt.Errorf("postgres: %s: already exists: %w", op, chat.ErrConflict)
		case pe.Code == codeForeignKeyViolation:
			return fmt.Errorf("postgres: %s: refers to an unknown record: %w", op, chat.ErrNotFound)
		case strings.HasPrefix(pe.Code, "22"): // data exception: NUL bytes, bad UTF-8, out of range
			return fmt.Errorf("postgres: %s: value not storable (%s): %w", op, pe.Code, chat.ErrInvalid)
		case pe.Code == codeProgramLimit:
			return fmt.Errorf("postgres: %s: value too large: %w", op, chat.ErrInvalid)
		}
	}
	if connLost(err) {
		s.pool.Reset()
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// connLost reports whether err means the connection (and probably every
// connection of the pool) is gone: the server shut down or terminated the
// backend, or the network failed.
func connLost(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// 08: connection exception; 57P01..57P03: admin/crash shutdown,
		// cannot connect now.
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	var ne net.Error
	return pgconn.SafeToRetry(err) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, pgconn.ErrConnClosed) || errors.As(err, &ne)
}

// read runs a read-only operation, retrying it once if the connection was
// lost (the pool has been reset by then), and maps its error. Writes are
// not retried: a write whose connection died may have committed.
func (s *Store) read(ctx context.Context, op string, fn func() error) error {
	err := fn()
	if err != nil && ctx.Err() == nil && connLost(err) {
		s.pool.Reset()
		err = fn()
	}
	return s.mapErr(op, err)
}

// write runs a write and maps its error. It retries only when the failure
// happened before anything reached the server.
func (s *Store) write(ctx context.Context, op string, fn func() error) error {
	err := fn()
	if err != nil && ctx.Err() == nil && pgconn.SafeToRetry(err) {
		err = fn()
	}
	return s.mapErr(op, err)
}

// inTx runs fn in a READ COMMITTED transaction (the server default),
// committing if fn returns nil and rolling back otherwise.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}

// Times. Go's zero time is NULL in optional columns.

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func timeOf(p *time.Time) time.Time {
	if p == nil {
		return time.Time{}
	}
	return p.UTC()
}

// isCode reports whether err is a PostgreSQL error whose SQLSTATE starts
// with code (a full code or a class such as "22").
func isCode(err error, code string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && strings.HasPrefix(pe.Code, code)
}

// isConstraint reports whether err violates the named constraint or unique
// index.
func isConstraint(err error, name string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.ConstraintName == name
}
