// Package postgres is a chat.Store with every optional role, one file
// each (visitors.go, operators.go, conversations.go, messages.go,
// tracking.go, orders.go, canned.go, triggers.go, claims.go, search.go),
// on PostgreSQL, for
// shops that run more than one process: any number of shop processes may
// share one database, and assignment, capacity, queue order and message
// sequence numbers stay correct across them.
//
//	store, err := postgres.Open(ctx, os.Getenv("DATABASE_URL"), postgres.WithSchema("shopchat"))
//	if err != nil {
//		return err
//	}
//	defer store.Close()
//
// It uses github.com/jackc/pgx/v5 through a pgxpool connection pool.
//
// # DSN
//
// Open takes a libpq-style connection string, either a URL
// (postgres://user:password@host:5432/dbname?sslmode=require) or key=value
// pairs (host=... dbname=... sslmode=...), plus pgxpool's pool_max_conns
// and related settings; see pgxpool.ParseConfig. The PG* environment
// variables fill in what it leaves out. Open pings the server before it
// returns, bounded by WithConnectTimeout (default 10s) and by its context,
// and names the host and port it could not reach. Connections identify
// themselves as application_name "shopchat" unless the DSN or
// WithApplicationName says otherwise.
//
// # Schema
//
// The tables are chat_visitors, chat_operators, chat_conversations,
// chat_messages, chat_page_views, chat_activities, chat_orders,
// chat_canned, chat_triggers, chat_meta and chat_schema_migrations; the
// chat_ prefix lets them live beside the shop's own tables. With WithSchema they are
// kept in that schema (created if missing, and put first and alone on the
// connections' search_path); without it they go in the first existing
// schema on the search_path: public by default, or whatever the DSN sets
// (options=-csearch_path=myschema). The role needs CREATE on the schema the
// first time, and on the database if Open must create the schema.
//
// # Migrations
//
// The schema is created and upgraded by numbered SQL migrations embedded in
// the binary (migrations/NNN_name.sql). Open applies the ones the database
// lacks, each in its own transaction together with its row in
// chat_schema_migrations, while holding a session-level advisory lock
// (pg_advisory_lock on one fixed key, the bytes of "shopchat"). So when
// several processes start at once, one migrates and the others wait for
// the lock, then find nothing left to do: every migration runs exactly
// once. A database whose schema is newer than the build (after a rollback
// of the binary) is refused rather than written with stale assumptions.
//
// The first Open also stores the store's epoch (chat.Conversation.Epoch),
// a random non-zero int64, in chat_meta; every Store reads it once when it
// opens. It never changes by itself. After restoring a backup that lost
// recent history, set a new one (UPDATE chat_meta SET epoch = <random
// non-zero>) and restart the processes, so that resuming clients reload
// instead of trusting what they hold.
//
// The migration lock is a session lock, so Open needs a real session: point
// it at the server or at a pooler in session mode, not at PgBouncer in
// transaction mode.
//
// # Several processes, one database
//
// Every method is one statement or one READ COMMITTED transaction, so the
// database, not the process, decides races:
//
//   - Appends are committed in groups: each Store has one batcher that
//     stores the appends queued meanwhile (from any session, up to 256)
//     with one call of the SQL function chat_append_batch, one round trip
//     and one commit. Per item it locks the conversation row (a batch
//     takes its rows in conversation id order, so batches of different
//     processes cannot deadlock), looks up the client id after the lock
//     (so a retry racing its original sees it, and returns it as a
//     duplicate without consuming a number), then increments last_seq and
//     inserts the message in one statement: sequence numbers are 1, 2,
//     3... without gaps or repeats. An item that is refused (closed, not
//     assigned, unknown) returns a code rather than failing the batch; if
//     the batch fails anyway, its items are stored one by one.
//   - Assign locks the receiving operator's row before counting their
//     conversations and updates the conversation only if its operator is
//     still the expected one (see Store.Assign), so no conversation goes to
//     two operators and no operator goes over capacity.
//   - A partial unique index allows one open conversation per visitor.
//
// Messages are searched with PostgreSQL full-text search over a GIN index
// (see Store.Search). If the server drops connections (a restart, a
// failover, pg_terminate_backend), the call that meets the dead
// connection fails (reads are retried once), the pool discards its
// connections, and the next calls reconnect.
package postgres
