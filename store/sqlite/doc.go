// Package sqlite is the embedded default chat.Store: everything in one
// SQLite database file, through modernc.org/sqlite (pure Go, no cgo). It
// provides every role of chat.Store, one file each (visitors.go,
// operators.go, conversations.go, messages.go, tracking.go, orders.go,
// canned.go, triggers.go, claims.go, search.go with SQLite's FTS5
// full-text index), and leaves input checks and limit defaults to
// chat.Checked, through which the Server calls it.
//
//	store, err := sqlite.Open("chat.db")
//	if err != nil { ... }
//	defer store.Close()
//
// # The file
//
// Open creates the file if it is missing (mode 0600: it holds personal
// data) and runs in WAL (write-ahead log) mode, so path-wal and path-shm
// live beside it while it is open; the directory must be writable. Keep the
// three files together; to back up a live database use SQLite's backup API
// or VACUUM INTO, not a file copy. Foreign keys are on, and a busy timeout
// (WithBusyTimeout, 5s by default) covers other processes using the file.
//
// Open refuses, without changing the file, a path it cannot write (with the
// operating system's reason), a file that is not an SQLite database or is
// corrupt (ErrNotDatabase), and a database whose schema is newer than this
// build (ErrSchemaTooNew: "database schema version 7 is newer than this
// build supports (2); upgrade shopchat").
//
// # Durability
//
// By default the writer uses synchronous=NORMAL: a commit is in the WAL
// before AppendMessage returns, so it survives a crash of the process, but
// it is fsynced only at checkpoints, so a power failure or operating-system
// crash can lose the last moments of acknowledged writes (never corrupting
// the database; clients resume and the message ids they retry with make
// their resends safe). WithFullSync sets synchronous=FULL: every committed
// batch is fsynced before its callers return, which survives power loss at
// the cost of one fsync per batch (group commit shares it among concurrent
// writers).
//
// # Migrations
//
// The schema is a numbered list of SQL files embedded in the binary
// (migrations/0001_init.sql, 0002_search.sql, ...). Open applies the ones a
// database lacks, each in its own IMMEDIATE transaction together with its
// row in the schema_version table, so a failing migration rolls back
// entirely and the database stays at the previous version; two processes
// opening one file at once apply each migration once. The version this
// build supports is the number of files; never edit a released file, add
// the next one.
//
// # Concurrency and group commit
//
// All writes go through one writer goroutine that owns the only write
// connection. Each method hands it a small function and waits. The writer
// takes every write that is waiting (up to 512), runs them in one
// BEGIN IMMEDIATE transaction, each inside its own SAVEPOINT, so a failing
// write (a duplicate, a closed conversation) is rolled back alone and its
// caller alone gets the error, and commits once; then it answers every
// caller. While it commits, the next batch gathers, so under load hundreds
// of appends share one commit, and an idle store commits a lone write at
// once. Writes are therefore serialised: a read-then-write such as
// Assign's capacity check is atomic without further locking, and
// AppendMessage raises the conversation's last_seq (UPDATE ... RETURNING)
// and inserts the message in the same transaction. Prepared statements are
// kept for the life of the Store.
//
// New messages are added to the full-text index by the writer once per
// batch, in the same transaction, rather than by an insert trigger that
// would make FTS5 write an index segment per message. A background
// goroutine checkpoints the WAL on its own connection (PASSIVE, at most
// every 50ms), so the writer never stalls on a checkpoint's fsync.
//
// Reads use a separate pool of read-only connections (WithReadConns,
// default max(4, GOMAXPROCS)); under WAL they run concurrently with each
// other and with the writer, each seeing the last committed state.
//
// # Epoch
//
// A random non-zero int64 chosen when the database is created and kept in
// its meta table is the chat.Conversation.Epoch of every conversation, so
// it stays the same across restarts: the history is still there.
//
// # Search
//
// Search splits the text into words itself (letters, digits and marks;
// everything else separates), drops repeated words and words that are a
// prefix of another, and sends each as a quoted FTS5 string with a prefix
// star, bound as a parameter: "refund"* "ord"*. No character of the user's
// text reaches SQLite as query syntax. The index folds case and removes
// diacritics (unicode61); hits are ranked by bm25 and carry a plain-text
// snippet of at most 200 bytes.
//
// Times are stored as Unix microseconds and read back in UTC.
package sqlite
