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
type Broker interface {
	// Publish sends payload to every subscriber of topic on every node,
	// including this one.
	Publish(ctx context.Context, topic string, payload []byte) error
	// Subscribe calls deliver for each payload published to topic until
	// cancel is called. deliver must not block.
	Subscribe(ctx context.Context, topic string, deliver func(payload []byte)) (cancel func(), err error)
}
