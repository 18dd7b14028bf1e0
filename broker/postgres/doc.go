// Package postgres is a chat.Broker on PostgreSQL LISTEN/NOTIFY, for
// shops that run several processes on one database:
//
//	b, err := postgres.New(ctx, os.Getenv("DATABASE_URL"))
//	if err != nil {
//		return err
//	}
//	defer b.Close()
//	c, err := chat.New(chat.Config{
//		Store:  store, // store/postgres on the same database
//		Broker: b,
//		// ...
//	})
//
// # Which broker
//
// Pick this one when the shop already runs PostgreSQL (it needs
// store/postgres to run several processes anyway): there is nothing new
// to operate. Pick broker/redis or broker/nats where the shop already runs
// one of those; they carry more traffic with less load on the database.
// A single process needs no broker at all.
//
// # Connections
//
// Each Broker holds one dedicated connection that LISTENs for all of the
// node's subscriptions, and a pgxpool pool on which Publish runs
// SELECT pg_notify($1, $2) (so NOTIFY is its own transaction, and
// payloads one goroutine publishes arrive in that order). PublishBatch
// (chat.BatchPublisher, which the chat server uses for the events that
// queue while a publish is on its way) sends its NOTIFYs as one pgx batch:
// one round trip, one transaction. The pool's sessions set
// synchronous_commit to off unless the DSN or WithPoolConfig sets it: a
// NOTIFY's transaction has an XID, so with synchronous commit every
// publish would wait for a WAL flush, on the database the store shares,
// for a notification that is at most once anyway. The listening
// connection is checked with a ping after WithHealthCheck of silence;
// when it fails the broker reconnects with backoff (100ms doubling to 5s,
// with jitter) and LISTENs again to every channel that has a subscription.
// Payloads published while it is down are lost: delivery is at most once.
// Subscribe waits until LISTEN has executed, so it blocks, until its
// context ends, while the server is unreachable.
//
// # Channels and payloads
//
// A topic's channel is the prefix (WithPrefix, default "shopchat"), "_"
// and the first 40 hex digits of the topic's SHA-256: a valid identifier
// of at most 63 bytes whatever the topic's length, case or characters.
//
// NOTIFY payloads are text, shorter than 8000 bytes. A payload without NUL
// bytes that is ASCII (or valid UTF-8, on a server whose encoding is UTF8
// or SQL_ASCII) is sent as "t" followed by itself; any other payload as
// "b" followed by its base64. So 7998 bytes of text fit, and 5997 bytes of
// arbitrary binary; Publish refuses a payload whose encoding is longer
// than MaxEncodedPayload with an error wrapping chat.ErrInvalid.
// Notifications on a broker's channel in another format (sent by
// something else) are ignored.
//
// # Delivery
//
// Each subscription has a queue of WithBuffer payloads (default 256) and
// its own goroutine, started while the queue is not empty, that calls
// deliver for one payload at a time, in order. The listening connection
// never waits for a deliver function: when a subscription's queue is full
// the payload is dropped for that subscription and counted (Dropped, and
// broker_dropped_total through WithMetrics). cancel is idempotent; when it
// returns, deliver is not running (unless cancel was called from deliver)
// and will not be called again. Two Subscribe calls for one topic are two
// independent subscriptions on one LISTEN.
package postgres
