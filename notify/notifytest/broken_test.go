package notifytest_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/google/uuid"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/internal/tbrecord"
	"github.com/shopchat/chat/notify/notifytest"
)

// Deliberately broken Notifiers, each wrong in one way, for
// TestSuiteCatchesBrokenNotifiers. They are made from direct and queued,
// which pass the whole suite (TestReferences).

// keyedByConversation names deliveries by conversation, so a receiver
// dropping duplicates drops every second notification about one.
func keyedByConversation(d *dest) chat.Notifier {
	x := newDirect(d)
	x.key = func(n chat.Notification, _ int) string { return n.Conversation.ID }
	return x
}

// keyPerCall names each call afresh: the same notification handed over
// twice is two events to the receiver.
func keyPerCall(d *dest) chat.Notifier {
	return chat.NotifierFunc(func(ctx context.Context, n chat.Notification) error {
		x := newDirect(d)
		key := uuid.NewString()
		x.key = func(chat.Notification, int) string { return key }
		return x.Notify(ctx, n)
	})
}

// keyPerAttempt names each attempt afresh: the receiver cannot tell a
// retry from a new event.
func keyPerAttempt(d *dest) chat.Notifier {
	x := newDirect(d)
	x.key = func(n chat.Notification, attempt int) string { return fmt.Sprintf("%s#%d", n.ID, attempt) }
	return x
}

// swapsPairs batches two notifications and sends the newer first.
type swapsPairs struct {
	mu   sync.Mutex
	held *chat.Notification
	x    *direct
}

func (s *swapsPairs) Notify(ctx context.Context, n chat.Notification) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held == nil {
		s.held = &n
		return nil
	}
	first := *s.held
	s.held = nil
	if err := s.x.Notify(ctx, n); err != nil {
		return err
	}
	return s.x.Notify(ctx, first)
}

// debounces drops a notification that arrives while another is being
// handed over, as a "debounce" meant for one conversation would. Calls
// meet at a rendezvous, so two overlapping calls always collide, as they
// can by chance in production.
type debounces struct {
	mu      sync.Mutex
	waiting chan struct{}
	x       *direct
}

func (b *debounces) Notify(ctx context.Context, n chat.Notification) error {
	b.mu.Lock()
	if partner := b.waiting; partner != nil {
		b.waiting = nil
		close(partner)
		b.mu.Unlock()
		return nil // dropped: the partner is "the same burst"
	}
	partner := make(chan struct{})
	b.waiting = partner
	b.mu.Unlock()
	select {
	case <-partner:
	case <-time.After(20 * time.Millisecond):
		b.mu.Lock()
		if b.waiting == partner {
			b.waiting = nil
		}
		b.mu.Unlock()
	}
	return b.x.Notify(ctx, n)
}

// ignoresContext retries until the destination accepts, whatever ctx says.
func ignoresContext(d *dest) chat.Notifier {
	x := newDirect(d)
	return chat.NotifierFunc(func(_ context.Context, n chat.Notification) error {
		return x.Notify(context.Background(), n)
	})
}

// redacts masks digits (card and phone numbers) in the messages, in
// place, before delivery: the next Notifier of a Multi, and the Server,
// see the masked text.
func redacts(d *dest) chat.Notifier {
	x := newDirect(d)
	return chat.NotifierFunc(func(ctx context.Context, n chat.Notification) error {
		for _, m := range n.Messages {
			m.Text = strings.Map(func(r rune) rune {
				if unicode.IsDigit(r) {
					return '#'
				}
				return r
			}, m.Text)
		}
		return x.Notify(ctx, n)
	})
}

// panicsAfterClose forgets that it was closed and sends on its closed
// queue.
type panicsAfterClose struct{ *queued }

func (p panicsAfterClose) Notify(_ context.Context, n chat.Notification) error {
	p.queue <- n
	return nil
}

// TestSuiteCatchesBrokenNotifiers runs the suite against Notifiers that
// are each wrong in one way and checks that the case for that rule fails.
func TestSuiteCatchesBrokenNotifiers(t *testing.T) {
	defer notifytest.SetTimeouts(300*time.Millisecond, 50*time.Millisecond)()
	broken := []struct {
		name  string
		open  func(t testing.TB, d *dest) chat.Notifier
		fails string
	}{
		{"keyedByConversation", func(_ testing.TB, d *dest) chat.Notifier { return keyedByConversation(d) }, "Deliver/Each"},
		{"swapsPairs", func(_ testing.TB, d *dest) chat.Notifier { return &swapsPairs{x: newDirect(d)} }, "Order/Sequential"},
		{"keyPerCall", func(_ testing.TB, d *dest) chat.Notifier { return keyPerCall(d) }, "Key/SameID"},
		{"keyPerAttempt", func(_ testing.TB, d *dest) chat.Notifier { return keyPerAttempt(d) }, "Retry/SameKey"},
		{"debounces", func(_ testing.TB, d *dest) chat.Notifier { return &debounces{x: newDirect(d)} }, "Concurrency/Parallel"},
		{"ignoresContext", func(_ testing.TB, d *dest) chat.Notifier { return ignoresContext(d) }, "Context/Done"},
		{"redacts", func(_ testing.TB, d *dest) chat.Notifier { return redacts(d) }, "Input/Unmodified"},
		{"panicsAfterClose", func(t testing.TB, d *dest) chat.Notifier {
			q := newQueued(d)
			t.Cleanup(func() { q.Close(context.Background()) })
			return panicsAfterClose{q}
		}, "Close/Drains"},
	}
	cases := map[string]notifytest.Case{}
	for _, c := range notifytest.Cases() {
		cases[c.Name] = c
	}
	for _, b := range broken {
		t.Run(b.name, func(t *testing.T) {
			c, ok := cases[b.fails]
			if !ok {
				t.Fatalf("no case %s", b.fails)
			}
			failed, skipped, log := tbrecord.Run(t, func(tb testing.TB) {
				c.Fn(tb, func(tb testing.TB) notifytest.Target { d := newDest(); return d.target(b.open(tb, d)) })
			})
			switch {
			case skipped:
				t.Errorf("%s skipped %s:\n%s", b.name, b.fails, log)
			case !failed:
				t.Errorf("%s passed %s", b.name, b.fails)
			default:
				t.Logf("%s fails %s as it should:\n%s", b.name, b.fails, log)
			}
		})
	}
}
