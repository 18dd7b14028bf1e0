// Package redis is a chat.Broker on Redis pub/sub (PUBLISH and
// SUBSCRIBE, through github.com/redis/go-redis/v9), for shops that run
// several processes and already run Redis:
//
//	b, err := redis.New(ctx, "127.0.0.1:6379") // or "redis://user:pass@host:6379/0"
//	if err != nil {
//		return err
//	}
//	defer b.Close()
//	c, err := chat.New(chat.Config{
//		Store:  store, // store/postgres
//		Broker: b,
//		// ...
//	})
//
// # Which broker
//
// Pick this one (or broker/nats) where the shop already runs Redis: it
// takes the fan-out load off the database. Where it runs neither,
// broker/postgres needs nothing new. A single process needs no broker.
//
// # Connections
//
// Each Broker has a go-redis client whose pool carries PUBLISH, and one
// pub/sub connection that holds all of the node's subscriptions, one Redis
// channel per topic: the prefix (WithPrefix, default "shopchat:") followed
// by the topic. Redis channels are binary-safe, so any topic and any
// payload bytes go through unchanged; payloads one goroutine publishes
// arrive in that order. PublishBatch (chat.BatchPublisher, which the chat
// server uses for the events that queue while a publish is on its way)
// sends its PUBLISHes as one pipeline: one round trip.
//
// The broker PINGs on the pub/sub connection every WithHealthCheck (15s);
// a connection silent for three intervals, or one that fails, is replaced
// by go-redis, which subscribes to every channel again. Payloads published
// meanwhile are lost: delivery is at most once, and PUBLISH is never
// retried (New sets MaxRetries to -1; WithRedisOptions could undo it).
// Subscribe waits until Redis has confirmed the subscription, so it
// blocks, until its context ends, while Redis is unreachable.
//
// # Delivery
//
// Each subscription has a queue of WithBuffer payloads (default 256) and
// its own goroutine, started while the queue is not empty, that calls
// deliver for one payload at a time, in order. The connection reader never
// waits for a deliver function: when a subscription's queue is full the
// payload is dropped for that subscription and counted (Dropped, and
// broker_dropped_total through WithMetrics). cancel is idempotent; when it
// returns, deliver is not running (unless cancel was called from deliver)
// and will not be called again. Two Subscribe calls for one topic are two
// independent subscriptions on one SUBSCRIBE.
package redis
