// Package notifytest is the conformance suite for chat.Notifier
// implementations. notify/email, notify/webhook and chat.Multi pass it,
// and a plugin author proves a custom Notifier by wiring it to a
// destination the suite can watch:
//
//	func TestConformance(t *testing.T) {
//		notifytest.Run(t, func(t testing.TB) notifytest.Target {
//			dest := startTestEndpoint(t) // records every attempt
//			n := mynotifier.New(dest.URL)
//			t.Cleanup(func() { n.Close(context.Background()) })
//			return notifytest.Target{
//				Notifier:   n,
//				Kinds:      []chat.NotificationKind{chat.OfflineMessage},
//				Deliveries: dest.Deliveries,
//				Refuse:     dest.Refuse, // nil if n never retries
//			}
//		})
//	}
//
// It checks the calling rules documented on chat.Notifier:
//
//   - Every notification is delivered, each under a key (the webhook's
//     event id, the mail's Message-ID) that a receiver can drop
//     duplicates by: the same Notification.ID always gives the same key,
//     on a retry as on a second call, and different IDs give different
//     keys, also for one conversation.
//   - Notifications passed one after another are delivered in that order.
//   - Notify is safe to call from many goroutines at once, and loses
//     nothing when it is.
//   - Notify returns promptly when its context is done, also while the
//     destination refuses (if the Target can make it refuse).
//   - Notify leaves the Notification, and what it points to, unmodified:
//     Multi hands the same one to every Notifier.
//   - If the Notifier has a Close(context.Context) error method: Close
//     delivers what was accepted before it returns, and Notify after Close
//     returns an error (never panics) and delivers nothing.
//
// The suite's notifications are complete (a conversation, a visitor with
// a valid email address, an operator, messages and a reply token) and
// use only the Target's Kinds. It never sleeps to synchronise; it waits
// for deliveries for at most 10 seconds each.
//
// Run one area or one case with -run, e.g.
// go test -run 'TestConformance/Retry/SameKey'.
package notifytest

import (
	"testing"
	"time"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/internal/suite"
)

// Target is a Notifier under test wired to a destination the suite
// watches.
type Target struct {
	Notifier chat.Notifier
	// Kinds are the notification kinds Notifier delivers; the suite sends
	// only these. At least one.
	Kinds []chat.NotificationKind
	// Deliveries receives one Delivery for every attempt that reaches the
	// destination, refused ones included. It must be buffered enough for
	// the suite's bursts (100 deliveries) or read by the destination's own
	// goroutine without blocking it.
	Deliveries <-chan Delivery
	// Refuse, if not nil, makes the destination refuse the next n
	// attempts as a temporary failure (0 stops refusing). Nil for a
	// Notifier that never retries: the Retry cases then skip.
	Refuse func(n int)
}

// Delivery is one attempt that reached the destination.
type Delivery struct {
	// Conversation is the ID of the notification's conversation, as the
	// destination received it.
	Conversation string
	// Key is what a receiver drops duplicates by: for a webhook the event
	// id, for mail the Message-ID.
	Key string
	// Refused is set when the destination refused this attempt (see
	// Target.Refuse).
	Refused bool
}

// Case is one conformance check. Name is "Area/Check". Fn gets open,
// which returns a new Target (with a fresh destination) each time, and
// reports through t only, from its own goroutine, so it can be driven by
// any testing.TB (for example one that records failures).
type Case struct {
	Name string
	Fn   func(t testing.TB, open func(testing.TB) Target)
}

// Timeouts; tests of the suite itself shorten them.
var (
	waitTimeout  = 10 * time.Second      // for one expected delivery or call
	graceTimeout = 50 * time.Millisecond // for a delivery that must not come
)

// Cases returns the suite's cases in a stable order. Run runs them all;
// Cases is for harnesses that need to run or select cases themselves.
func Cases() []Case {
	return []Case{
		{"Deliver/Each", deliverEach},
		{"Order/Sequential", orderSequential},
		{"Key/SameID", keySameID},
		{"Retry/SameKey", retrySameKey},
		{"Concurrency/Parallel", concurrencyParallel},
		{"Context/Done", contextDone},
		{"Input/Unmodified", inputUnmodified},
		{"Close/Drains", closeDrains},
	}
}

// Run runs every case as a subtest named by its Name (so "Retry" then
// "SameKey"), calling open once per case.
func Run(t *testing.T, open func(t testing.TB) Target) {
	t.Helper()
	cases := Cases()
	names := make([]string, len(cases))
	for i, c := range cases {
		names[i] = c.Name
	}
	suite.Run(t, names, func(t *testing.T, i int) { cases[i].Fn(t, open) }, nil)
}
