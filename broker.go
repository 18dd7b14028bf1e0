package chat

import "context"

// Broker carries events between the nodes of a shop that runs several
// processes: broker/postgres (LISTEN/NOTIFY), broker/redis and broker/nats.
// A single process needs none: the Server fans out in-process.
//
// Delivery is at most once. Payloads carry ids and sequence numbers, not
// message bodies, so a receiving node that sees a gap in a conversation's
// sequence fills it from the Store; a lost event delays, never loses, a
// message.
//
// The shop owns its Broker: it opens it, passes it in Config.Broker, and
// closes it after (*Server).Close. broker/brokertest is the conformance
// suite every implementation passes.
type Broker interface {
	// Publish sends payload to every subscriber of topic on every node,
	// including this one. Payloads are arbitrary bytes; every broker here
	// carries at least 5,000 bytes (the Server sends far less). Payloads one
	// goroutine publishes to a topic arrive in that order. Publish does not
	// keep the caller's slice. After the broker is closed it returns an
	// error matching ErrClosed.
	Publish(ctx context.Context, topic string, payload []byte) error
	// Subscribe calls deliver for each payload published to topic until
	// cancel is called. It returns once the subscription is live; ctx
	// bounds only the call. deliver must not block, and owns its slice.
	// cancel is idempotent and may be called from deliver; once it returns,
	// deliver is not running and is not called again. Two subscriptions to
	// one topic are independent.
	Subscribe(ctx context.Context, topic string, deliver func(payload []byte)) (cancel func(), err error)
}

// BatchPublisher is an optional capability of a Broker: publishing several
// payloads to one topic in one round trip. The Server detects it on
// Config.Broker and publishes the events that queued while its previous
// publish was on its way in one PublishBatch instead of one Publish each
// (broker/postgres and broker/redis have it; broker/nats buffers every
// Publish already). broker/brokertest checks it when a broker has it.
type BatchPublisher interface {
	// PublishBatch is Publish of each payload in turn, as one goroutine
	// would call it: they arrive in this order, after what was published
	// before and before what is published after. It does not keep the
	// slices. On an error, any of the payloads may have been delivered, or
	// none (at most once, as Publish).
	PublishBatch(ctx context.Context, topic string, payloads [][]byte) error
}
