package notifytest_test

import (
	"context"
	"testing"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/notify/notifytest"
)

// TestMulti runs the suite against chat.Multi around a Notifier that
// delivers in Notify and one that drops everything. (notify/email and
// notify/webhook run it in their own packages.)
func TestMulti(t *testing.T) {
	notifytest.Run(t, func(testing.TB) notifytest.Target {
		d := newDest()
		return d.target(chat.Multi(discard{}, newDirect(d)))
	})
}

// TestReferences runs the suite against the in-memory Notifiers the
// broken ones are made from, so a failure of a broken one is its own.
func TestReferences(t *testing.T) {
	t.Run("direct", func(t *testing.T) {
		notifytest.Run(t, func(testing.TB) notifytest.Target { d := newDest(); return d.target(newDirect(d)) })
	})
	t.Run("queued", func(t *testing.T) {
		notifytest.Run(t, func(t testing.TB) notifytest.Target {
			d := newDest()
			q := newQueued(d)
			t.Cleanup(func() { q.Close(context.Background()) })
			return d.target(q)
		})
	})
}
