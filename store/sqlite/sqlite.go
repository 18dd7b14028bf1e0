package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

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

// Errors returned by Open, tested with errors.Is.
var (
	// ErrNotDatabase: the file exists but is not an SQLite database, or its
	// header is corrupt. Open leaves it as it is.
	ErrNotDatabase = errors.New("file is not a database, or is corrupt")
	// ErrSchemaTooNew: the database was written by a newer build of
	// shopchat, with schema versions this build does not know. Open refuses
	// it without writing anything.
	ErrSchemaTooNew = errors.New("database schema is newer than this build supports")
)

// errClosed is returned by every method once Close has been called.
var errClosed = fmt.Errorf("sqlite: store is closed: %w", chat.ErrClosed)

// Store is a chat.Store and chat.Searcher kept in one SQLite database file.
// It is safe for concurrent use. Open it with Open and release it with
// Close.
type Store struct {
	path  string
	epoch int64

	wdb   *sql.DB   // one connection, held by wconn
	wconn *sql.Conn // used only by the writer goroutine (and Open, Close)
	rdb   *sql.DB   // read-only pool (query_only), concurrent under WAL
	cdb   *sql.DB   // one connection for the background checkpointer
	w     writeStmts
	r     readStmts

	reqs    chan *request // unbuffered: a send succeeds only while the writer listens
	closing chan struct{} // closed by Close
	stopped chan struct{} // closed by the writer goroutine when it exits
	kick    chan struct{} // buffered 1: the writer committed; checkpoint soon
	cpDone  chan struct{} // closed by the checkpointer when it exits

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// Option configures Open.
type Option func(*options)

type options struct {
	fullSync    bool
	busyTimeout time.Duration
	readConns   int
}

// WithFullSync sets PRAGMA synchronous=FULL: every commit is fsynced to
// the write-ahead log before AppendMessage and the other writes return, so
// an acknowledged write survives a power failure or an operating-system
// crash, at the cost of one fsync per committed batch. The default,
// synchronous=NORMAL, survives a crash of the process but may lose the
// last commits (never corrupting the database) on power loss.
func WithFullSync() Option { return func(o *options) { o.fullSync = true } }

// WithBusyTimeout sets how long a connection waits for a lock held by
// another process using the same file before failing (default 5s). Within
// one Store, writers never wait on each other: they share one connection.
func WithBusyTimeout(d time.Duration) Option { return func(o *options) { o.busyTimeout = d } }

// WithReadConns sets the size of the read-connection pool (default
// max(4, GOMAXPROCS)).
func WithReadConns(n int) Option { return func(o *options) { o.readConns = n } }

// Open opens the SQLite database at path, creating the file if it does not
// exist, and creates or upgrades its schema. It returns a clear error,
// without changing the file, if path cannot be created or written
// (wrapping the fs error), if the file is not a database (ErrNotDatabase)
// or if its schema is newer than this build (ErrSchemaTooNew). Each schema
// migration is applied in its own transaction, so a failure leaves the
// database at the last complete version.
//
// The database runs in WAL mode (path-wal and path-shm appear beside it);
// see the package documentation for durability and concurrency.
func Open(path string, opts ...Option) (*Store, error) {
	return open(path, migrations, opts...)
}

func open(path string, migs []migration, opts ...Option) (*Store, error) {
	o := options{busyTimeout: 5 * time.Second, readConns: max(4, runtime.GOMAXPROCS(0))}
	for _, opt := range opts {
		opt(&o)
	}
	if o.readConns < 1 {
		o.readConns = 1
	}
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: open %q: need the path of a database file (for an in-memory store use store/memory)", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := checkWritable(abs); err != nil {
		return nil, err
	}

	ctx := context.Background()
	s := &Store{
		path:    abs,
		reqs:    make(chan *request),
		closing: make(chan struct{}),
		stopped: make(chan struct{}),
		kick:    make(chan struct{}, 1),
		cpDone:  make(chan struct{}),
	}
	ok := false
	defer func() {
		if !ok {
			_ = s.closeHandles()
		}
	}()

	busy := fmt.Sprintf("busy_timeout(%d)", o.busyTimeout.Milliseconds())
	if s.wdb, err = sql.Open("sqlite", dsn(abs, busy, "foreign_keys(1)")); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	s.wdb.SetMaxOpenConns(1)
	s.wdb.SetMaxIdleConns(1)
	s.wdb.SetConnMaxLifetime(0)
	s.wdb.SetConnMaxIdleTime(0)
	if s.wconn, err = s.wdb.Conn(ctx); err != nil {
		return nil, openErr(abs, err)
	}

	// Read before writing anything: a file that is not a database or has
	// a newer schema must be left exactly as it is.
	version, err := schemaVersion(ctx, s.wconn)
	if err != nil {
		return nil, openErr(abs, err)
	}
	if latest := len(migs); version > latest {
		return nil, &schemaTooNewError{path: abs, version: version, supported: latest}
	}

	var mode string
	if err := s.wconn.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
		return nil, openErr(abs, err)
	}
	if !strings.EqualFold(mode, "wal") {
		return nil, fmt.Errorf("sqlite: open %s: cannot enable WAL mode (journal mode is %q); is the file on a network file system?", abs, mode)
	}
	syncMode := "NORMAL"
	if o.fullSync {
		syncMode = "FULL"
	}
	for _, p := range []string{
		"PRAGMA synchronous = " + syncMode,
		"PRAGMA journal_size_limit = 67108864", // truncate the WAL to 64 MiB after checkpoints
		// The checkpointer goroutine copies the WAL into the database in
		// the background; the writer checkpoints itself only if the WAL
		// passes 32 MiB (4096-byte pages) all the same.
		"PRAGMA wal_autocheckpoint = 8192",
		"PRAGMA cache_size = -16384", // 16 MiB page cache for the writer
		"PRAGMA temp_store = MEMORY",
	} {
		if _, err := s.wconn.ExecContext(ctx, p); err != nil {
			return nil, openErr(abs, err)
		}
	}

	if err := migrate(ctx, s.wconn, abs, version, migs); err != nil {
		return nil, err
	}
	if s.epoch, err = loadEpoch(ctx, s.wconn); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: epoch: %w", abs, err)
	}

	if s.rdb, err = sql.Open("sqlite", dsn(abs, busy, "query_only(1)")); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	s.rdb.SetMaxOpenConns(o.readConns)
	s.rdb.SetMaxIdleConns(o.readConns)
	s.rdb.SetConnMaxLifetime(0)
	s.rdb.SetConnMaxIdleTime(0)

	if s.cdb, err = sql.Open("sqlite", dsn(abs, busy)); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	s.cdb.SetMaxOpenConns(1)
	s.cdb.SetMaxIdleConns(1)
	s.cdb.SetConnMaxLifetime(0)
	s.cdb.SetConnMaxIdleTime(0)

	if err := s.w.prepare(ctx, s.wconn); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: prepare: %w", abs, err)
	}
	if err := s.r.prepare(ctx, s.rdb); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: prepare: %w", abs, err)
	}
	go s.writer()
	go s.checkpointer()
	ok = true
	return s, nil
}

// dsn builds a modernc.org/sqlite data source name for the file abs with
// the given pragmas. The path is URI-escaped, so '?' or '#' in it are safe.
func dsn(abs string, pragmas ...string) string {
	q := url.Values{}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	return "file:" + (&url.URL{Path: filepath.ToSlash(abs)}).EscapedPath() + "?" + q.Encode()
}

// checkWritable reports, with the operating system's reason, a path whose
// directory is missing or is not a directory, or that cannot be opened for
// writing. It creates an empty file (an empty database) if there is none.
func checkWritable(abs string) error {
	dir := filepath.Dir(abs)
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("sqlite: cannot create database %s: directory: %w", abs, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("sqlite: cannot create database %s: %s is not a directory", abs, dir)
	}
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("sqlite: cannot open database %s for writing: %w", abs, err)
	}
	return f.Close()
}

// openErr describes an error from the first statements on a file.
func openErr(abs string, err error) error {
	switch code(err) & 0xff {
	case sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT:
		return fmt.Errorf("sqlite: open %s: %w (%w)", abs, ErrNotDatabase, err)
	case sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM:
		return fmt.Errorf("sqlite: open %s: cannot write the database or its directory (WAL mode creates %s-wal and %s-shm beside it): %w",
			abs, filepath.Base(abs), filepath.Base(abs), err)
	case sqlite3.SQLITE_BUSY:
		return fmt.Errorf("sqlite: open %s: database is locked by another process: %w", abs, err)
	}
	return fmt.Errorf("sqlite: open %s: %w", abs, err)
}

// schemaTooNewError wraps ErrSchemaTooNew with the versions found.
type schemaTooNewError struct {
	path               string
	version, supported int
}

func (e *schemaTooNewError) Error() string {
	return fmt.Sprintf("sqlite: open %s: database schema version %d is newer than this build supports (%d); upgrade shopchat",
		e.path, e.version, e.supported)
}

func (e *schemaTooNewError) Unwrap() error { return ErrSchemaTooNew }

// loadEpoch returns the database's epoch, creating one if it is missing
// (history that lost its epoch may have lost more, so it gets a new one).
func loadEpoch(ctx context.Context, c *sql.Conn) (int64, error) {
	var epoch int64
	err := c.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = 'epoch'").Scan(&epoch)
	if err == nil && epoch != 0 {
		return epoch, nil
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	for epoch == 0 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		epoch = int64(binary.LittleEndian.Uint64(b[:]))
	}
	_, err = c.ExecContext(ctx, "INSERT INTO meta (key, value) VALUES ('epoch', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", epoch)
	return epoch, err
}

// code returns the extended SQLite result code of err, or 0.
func code(err error) int {
	var e *msqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

// Close stops the writer, waits for the batch it is committing, and closes
// the database. Calls in flight or made afterwards fail with an error
// wrapping chat.ErrClosed. Close is idempotent.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		close(s.closing)
		<-s.stopped
		<-s.cpDone
		if s.wconn != nil {
			// Keep the query planner's statistics fresh; cheap when nothing changed.
			_, _ = s.wconn.ExecContext(context.Background(), "PRAGMA optimize")
		}
		s.closeErr = s.closeHandles()
	})
	return s.closeErr
}

// closeHandles releases statements and connections; the last connection to
// close checkpoints the WAL into the database file.
func (s *Store) closeHandles() error {
	var errs []error
	errs = append(errs, s.r.close()...)
	errs = append(errs, s.w.close()...)
	if s.rdb != nil {
		errs = append(errs, s.rdb.Close())
	}
	if s.cdb != nil {
		errs = append(errs, s.cdb.Close())
	}
	if s.wconn != nil {
		errs = append(errs, s.wconn.Close())
	}
	if s.wdb != nil {
		errs = append(errs, s.wdb.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlite: close %s: %w", s.path, err)
	}
	return nil
}

// Path returns the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// Epoch returns the database's epoch, the chat.Conversation.Epoch of every
// conversation it holds. It is chosen once, when the file is created.
func (s *Store) Epoch() int64 { return s.epoch }
