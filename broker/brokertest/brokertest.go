// Package brokertest is the conformance suite for chat.Broker
// implementations. Every broker in this module passes it against a real
// server, and a plugin author proves a custom broker with one call:
//
//	package mybroker_test
//
//	import (
//		"testing"
//
//		"github.com/shopchat/chat"
//		"github.com/shopchat/chat/broker/brokertest"
//		"example.com/mybroker"
//	)
//
//	func TestConformance(t *testing.T) {
//		brokertest.Run(t, func(t testing.TB) chat.Broker {
//			b, err := mybroker.New(addr)
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { b.Close() })
//			return b
//		})
//	}
//
// open is called once per "node": a case that needs two nodes calls it
// twice, and the two brokers must reach each other through the shared
// backend, as two shop processes would. Cases use topic names with a random
// prefix of their own, so the backend need not be empty and cases never
// see each other's traffic.
//
// # What the suite checks
//
// Beyond the chat.Broker documentation, it holds a broker to these rules,
// which the chat server relies on:
//
//   - Live on return: a payload published (on any node) after Subscribe
//     has returned reaches the subscription. Subscribe's context bounds
//     only the call: the suite cancels it as soon as Subscribe returns. (The server subscribes, then
//     replays from the store; a subscription that becomes live later would
//     lose events silently until the next one.)
//   - Every subscription of a topic on every node gets each payload once;
//     subscriptions of other topics get nothing. Topics are arbitrary
//     strings: case, dots, wildcard characters, spaces, NUL and length do
//     not make two topics one.
//   - Two Subscribe calls for one topic are independent subscriptions.
//     cancel is idempotent, and after it returns deliver is not called
//     again, not even for payloads that had already arrived; cancel may be
//     called from within deliver.
//   - Order: payloads one node publishes to one topic, one Publish after
//     the other, arrive in that order.
//   - If the broker is a chat.BatchPublisher: a PublishBatch arrives whole
//     and in order between the node's publishes before and after it,
//     identical payloads included.
//   - Payloads are bytes: all 256 byte values round-trip, as do 7000 bytes
//     of text and 5000 of random binary. deliver gets its own copy, and the
//     caller may reuse the buffer it passed to Publish once Publish returns.
//   - A deliver that does not return holds up only its own subscription:
//     Publish and the other subscriptions carry on. If the broker has a
//     Dropped() uint64 method, the suite also checks that the blocked
//     subscription's buffer is bounded: within 2048 payloads some are
//     dropped and counted (at-most-once: a full buffer drops, it never
//     blocks).
//   - Publish and Subscribe with a context that is already done fail, and a
//     failed Subscribe leaves no subscription behind.
//   - If the broker has a Close() error method: after Close, Publish and
//     Subscribe return errors (never panic), deliver is not called again,
//     and the other nodes work on.
//   - If the value open returns implements Disrupter: after the connection
//     is broken, existing subscriptions receive again, Publish works again
//     and new subscriptions work; payloads published meanwhile may be lost.
//
// The checks that something is not delivered publish a barrier payload
// after the one that must not arrive, from the same node, and wait for
// it. They rely on payloads that one node publishes one after another
// reaching a node in that order across topics, as they do over the single
// connection per node that Redis pub/sub, NATS and LISTEN/NOTIFY brokers
// use. The suite never sleeps to synchronise; it waits on channels, for at
// most 10 seconds per expected payload and 30 after a disruption (a check
// that something did not happen gives it 50ms more to show). Where a case
// needs every payload, no more than 64 are ever in flight to one
// subscription, so a broker's per-subscription buffer may be that small.
//
// Run one area or one case with -run, e.g.
// go test -run 'TestConformance/Cancel/FromDeliver'.
package brokertest

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/shopchat/chat"
	goroutines "github.com/shopchat/chat/broker/internal/settle"
	"github.com/shopchat/chat/internal/suite"
)

// Case is one conformance check. Name is "Area/Check", e.g.
// "Cancel/FromDeliver". Fn gets open, which returns a new node connected
// to the shared backend each time it is called, and reports through t
// only, from its own goroutine, so it can be driven by any testing.TB (for
// example one that records failures).
type Case struct {
	Name string
	Fn   func(t testing.TB, open func(testing.TB) chat.Broker)
}

// Disrupter is implemented by a broker under test (typically by a wrapper
// in the broker's own test file) that can break its connection to the
// backend: kill the server-side session, close the socket, or restart the
// server. Disrupt returns once the connection is broken; it may wait for
// the broker to notice. The broker must then reconnect by itself.
type Disrupter interface {
	Disrupt(t testing.TB)
}

// dropper is the optional counter of payloads a broker dropped because a
// subscription's buffer was full.
type dropper interface {
	Dropped() uint64
}

// closer is the optional Close of a broker.
type closer interface {
	Close() error
}

// Timeouts; tests of the suite itself shorten them.
var (
	waitTimeout    = 10 * time.Second // for one expected payload or call
	recoverTimeout = 30 * time.Second // for delivery after a Disrupt
	graceTimeout   = 50 * time.Millisecond
)

// Cases returns the suite's cases in a stable order. Run runs them all;
// Cases is for harnesses that need to run or select cases themselves.
func Cases() []Case {
	return []Case{
		{"Delivery/SameNode", deliverySameNode},
		{"Delivery/OtherNode", deliveryOtherNode},
		{"Delivery/EverySubscriber", deliveryEverySubscriber},
		{"Delivery/TopicNames", deliveryTopicNames},
		{"Cancel/StopsDelivery", cancelStopsDelivery},
		{"Cancel/Pending", cancelPending},
		{"Cancel/Idempotent", cancelIdempotent},
		{"Cancel/FromDeliver", cancelFromDeliver},
		{"Cancel/Resubscribe", cancelResubscribe},
		{"Order/OnePublisher", orderOnePublisher},
		{"Order/Batch", orderBatch},
		{"Payload/Binary", payloadBinary},
		{"Payload/Large", payloadLarge},
		{"Payload/Copies", payloadCopies},
		{"Concurrency/PublishSubscribe", concurrencyPublishSubscribe},
		{"Slow/OthersNotBlocked", slowOthersNotBlocked},
		{"Context/Done", contextDone},
		{"Close/AfterClose", closeAfterClose},
		{"Close/WhileBusy", closeWhileBusy},
		{"Reconnect/Disrupt", reconnectDisrupt},
	}
}

// Run runs every case as a subtest named by its Name (so "Delivery" then
// "SameNode"). Cases run one after another; open may register cleanups
// with the t it gets (typically closing the broker).
func Run(t *testing.T, open func(t testing.TB) chat.Broker) {
	t.Helper()
	cases := Cases()
	names := make([]string, len(cases))
	for i, c := range cases {
		names[i] = c.Name
	}
	suite.Run(t, names, func(t *testing.T, i int) { cases[i].Fn(t, open) }, nil)
}

// CloseLeavesNoGoroutines opens two brokers, delivers between them,
// disrupts one (if it is a Disrupter) and closes both, then checks that
// the goroutine count returns to where it was. open's brokers must have a
// Close method.
func CloseLeavesNoGoroutines(t *testing.T, open func(testing.TB) chat.Broker) {
	baseline := runtime.NumGoroutine()
	a, b := open(t), open(t)
	topic := topics()("leak")
	got := make(chan struct{}, 2)
	for _, x := range []chat.Broker{a, b} {
		subscribe(t, x, topic, func([]byte) { got <- struct{}{} })
	}
	publishString(t, a, topic, "x")
	for range 2 {
		if !waitFor(got) {
			t.Fatal("not delivered")
		}
	}
	if d, ok := b.(Disrupter); ok {
		d.Disrupt(t)
	}
	for _, x := range []chat.Broker{a, b} {
		c, ok := x.(interface{ Close() error })
		if !ok {
			t.Fatalf("%T has no Close method", x)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	goroutines.Goroutines(t, baseline)
}

// ResubscribesAfterDisrupt subscribes a to four topics, cancels the first,
// disrupts a (which must be a Disrupter) and checks that c's publishes on
// the other three reach a again. It returns those three topics for
// backend-specific checks (what the server sees subscribed).
func ResubscribesAfterDisrupt(t *testing.T, a, c chat.Broker) (live []string) {
	d, ok := a.(Disrupter)
	if !ok {
		t.Fatalf("%T is not a Disrupter", a)
	}
	name := topics()
	got := make(chan string, 10)
	for i := range 4 {
		topic := name(fmt.Sprintf("resubscribe-%d", i))
		cancel := subscribe(t, a, topic, func(p []byte) { got <- string(p) })
		if i == 0 {
			cancel()
		} else {
			live = append(live, topic)
		}
	}
	d.Disrupt(t)
	for _, topic := range live {
		publishString(t, c, topic, topic)
		select {
		case p := <-got:
			if p != topic {
				t.Errorf("got %q, want %q", p, topic)
			}
		case <-time.After(waitTimeout):
			t.Fatalf("nothing delivered on %s after the reconnect", topic)
		}
	}
	return live
}
