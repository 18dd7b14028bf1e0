package chat

import (
	"context"
	"encoding/json"
)

// Live-visitor gossip ("visits" events) has a topic of its own,
// BrokerTopic+".visits", a queue of its own each way, and no numbers. It
// is best effort by design: every node re-announces each of its visits
// within a minute, so a lost announcement is repaired by the next. On the
// main topic its volume, which grows with visitors times nodes, overflowed
// the inbound queue, and every drop there heals every session from the
// Store: at five nodes and 55,000 visitors 85% of the events were dropped
// and each node re-read a visitor per session over and over (the fleet
// bench's profile: session.heal -> Store.Visitor, 28% of a node's CPU).
// Here a dropped announcement is counted (bridge_visits_dropped_total) and
// nothing else happens; messages, states and kicks keep their queue.

// visitsQueue bounds each direction's queue of "visits" events.
const visitsQueue = 1024

func (b *bridge) visitsTopic() string { return b.topic + ".visits" }

// subscribeVisits subscribes to the other nodes' announcements; when
// visitsIn is full they are dropped and counted.
func (b *bridge) subscribeVisits(ctx context.Context) (func(), error) {
	return b.broker.Subscribe(ctx, b.visitsTopic(), func(p []byte) {
		select {
		case b.visitsIn <- p:
		default:
			b.s.add("bridge_visits_dropped_total", 1)
		}
	})
}

// sendVisits queues a "visits" event without blocking.
func (b *bridge) sendVisits(ev wireEvent) {
	if b == nil {
		return
	}
	select {
	case b.visitsOut <- ev:
	default:
		b.s.add("bridge_visits_dropped_total", 1)
	}
}

// visitsPublishLoop publishes this node's announcements, what queued
// meanwhile in one round trip. A failure is counted as drops: the next
// re-announcement repairs it.
func (b *bridge) visitsPublishLoop() {
	defer b.s.wg.Done()
	batch := make([]wireEvent, 0, publishBatch)
	payloads := make([][]byte, 0, publishBatch)
	for {
		payloads = payloads[:0]
		if batch = b.nextBatch(b.visitsOut, batch[:0]); batch == nil {
			return
		}
		for _, ev := range batch {
			ev.Node = b.node
			if data, err := json.Marshal(ev); err == nil {
				payloads = append(payloads, data)
			}
		}
		if n, _ := b.publish(b.visitsTopic(), payloads); n > 0 && b.s.ctx.Err() == nil {
			b.s.add("bridge_visits_dropped_total", float64(n))
		}
	}
}

// visitsApplyLoop applies the other nodes' announcements in arrival order.
func (b *bridge) visitsApplyLoop() {
	defer b.s.wg.Done()
	for {
		select {
		case <-b.s.ctx.Done():
			return
		case p := <-b.visitsIn:
			var ev wireEvent
			if json.Unmarshal(p, &ev) == nil && ev.Node != b.node && ev.Kind == "visits" {
				b.s.applyVisits(ev)
			}
		}
	}
}
