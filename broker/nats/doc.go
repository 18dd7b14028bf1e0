// Package nats is a chat.Broker on NATS core publish/subscribe (not
// JetStream: the chat.Broker contract is at most once), through
// github.com/nats-io/nats.go, for shops that run several processes and
// already run NATS:
//
//	b, err := nats.New("nats://127.0.0.1:4222")
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
// Pick this one (or broker/redis) where the shop already runs NATS: it
// takes the fan-out load off the database. Where it runs neither,
// broker/postgres needs nothing new. A single process needs no broker.
//
// # Connection
//
// Each Broker has one NATS connection, named "shopchat-broker", that
// reconnects for ever (MaxReconnects -1) and buffers what is published
// while it reconnects (nats.go's reconnect buffer, 8MB by default);
// WithNATSOptions adds credentials, TLS or other reconnect timing. nats.go
// subscribes again after a reconnect; the broker confirms that with a
// flush. Payloads published by other nodes meanwhile are lost: delivery is
// at most once. Subscribe waits until the server has confirmed the
// subscription, so it blocks, until its context ends, while no server is
// reachable. Payloads one goroutine publishes arrive in that order.
//
// # Subjects
//
// A topic made of dot-separated tokens of A-Z, a-z, 0-9, _ and - (at most
// 200 bytes) travels on the subject <prefix>.t.<topic>; any other topic
// (with spaces, wildcards, other characters, empty tokens) on
// <prefix>.h.<40 hex digits of its SHA-256>. The prefix is WithPrefix,
// default "shopchat". So no topic acts as a wildcard, and a plain NATS
// client can follow the readable topics (nats sub 'shopchat.t.>').
// Payloads are bytes, carried unchanged, up to the server's max_payload
// (1MB by default).
//
// # Delivery
//
// Every subscription's messages reach the broker through one channel, in
// the order the connection read them. Each subscription has a queue of
// WithBuffer payloads (default 256) and its own goroutine, started while
// the queue is not empty, that calls deliver for one payload at a time,
// in order. The reader never waits for a deliver function: when a
// subscription's queue is full the payload is dropped for that
// subscription and counted (Dropped, and broker_dropped_total through
// WithMetrics). cancel is idempotent; when it returns, deliver is not
// running (unless cancel was called from deliver) and will not be called
// again. Two Subscribe calls for one topic are two independent
// subscriptions on one NATS subscription.
package nats
