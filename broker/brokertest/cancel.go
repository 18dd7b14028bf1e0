package brokertest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// cancelStopsDelivery: after cancel returns, payloads published to the
// topic, from either node, are not delivered to the cancelled
// subscription.
func cancelStopsDelivery(t testing.TB, open opener) {
	tp := topics()
	a, b := open(t), open(t)
	x := newSink("cancelled subscriber")
	cancel := subscribe(t, b, tp("t"), x.deliver)
	u := newSink("barrier subscriber")
	subscribe(t, b, tp("u"), u.deliver)

	publishString(t, a, tp("t"), "before cancel")
	x.expectString(t, "before cancel")
	cancel()
	x.after.Store(true)

	publishString(t, a, tp("t"), "after cancel, from the other node")
	publishString(t, a, tp("u"), "barrier 1")
	u.expectString(t, "barrier 1")
	publishString(t, b, tp("t"), "after cancel, from the same node")
	publishString(t, b, tp("u"), "barrier 2")
	u.expectString(t, "barrier 2")
	x.checkLate(t, "cancel")
}

// cancelPending: payloads that reached the node but were not yet
// delivered when cancel is called (queued behind a deliver call in
// progress) are not delivered after cancel returns.
func cancelPending(t testing.TB, open opener) {
	tp := topics()
	ctx := testCtx(t)
	a, b := open(t), open(t)
	g := newGate(t)
	entered := make(chan struct{}, 1)
	var calls atomic.Int64
	x := newSink("cancelled subscriber")
	cancel := subscribe(t, b, tp("t"), func(p []byte) {
		x.deliver(p)
		if calls.Add(1) == 1 {
			entered <- struct{}{}
			<-g.ch
		}
	})
	u := newSink("barrier subscriber")
	subscribe(t, b, tp("u"), u.deliver)

	// Publish from another goroutine: a broker that delivers from inside
	// Publish would block it here.
	const n = 20
	published := make(chan error, 1)
	go func() {
		for i := range n {
			if err := a.Publish(ctx, tp("t"), fmt.Appendf(nil, "payload %d", i)); err != nil {
				published <- err
				return
			}
		}
		published <- nil
	}()
	if !waitFor(entered) {
		t.Fatalf("the first payload was not delivered within %v", waitTimeout)
	}

	// deliver is blocked in its first call; the other payloads are on
	// their way or queued. Cancel from another goroutine.
	cancelled := make(chan struct{})
	go func() {
		cancel()
		x.after.Store(true)
		close(cancelled)
	}()
	// A broker's cancel may wait for the deliver call in progress (it need
	// not). Give a cancel that does not wait a moment to return before the
	// blocked call ends, so that payloads it left queued would be seen.
	select {
	case <-cancelled:
	case <-time.After(graceTimeout):
	}
	g.open()
	if !waitFor(cancelled) {
		t.Fatalf("cancel did not return within %v after the deliver call in progress returned", waitTimeout)
	}
	select {
	case err := <-published:
		if err != nil {
			t.Fatalf("Publish: %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatalf("Publish of %d payloads did not return within %v while a subscriber's deliver was blocked", n, waitTimeout)
	}

	publishString(t, a, tp("u"), "barrier 1")
	u.expectString(t, "barrier 1")
	publishString(t, a, tp("t"), "after cancel")
	publishString(t, a, tp("u"), "barrier 2")
	u.expectString(t, "barrier 2")
	x.checkLate(t, "cancel")
}

// cancelIdempotent: two subscriptions of one topic are independent:
// cancelling one, even twice, leaves the other working, on the same node
// and on another; and the topic can be subscribed again after all were
// cancelled.
func cancelIdempotent(t testing.TB, open opener) {
	tp := topics()
	a, b := open(t), open(t)
	x1, x2, x3 := newSink("cancelled subscriber on B"), newSink("second subscriber on B"), newSink("subscriber on A")
	c1 := subscribe(t, b, tp("t"), x1.deliver)
	c2 := subscribe(t, b, tp("t"), x2.deliver)
	subscribe(t, a, tp("t"), x3.deliver)

	c1()
	c1()
	x1.after.Store(true)
	publishString(t, a, tp("t"), "after one of two was cancelled twice")
	x2.expectString(t, "after one of two was cancelled twice")
	x3.expectString(t, "after one of two was cancelled twice")
	publishString(t, b, tp("t"), "from B")
	x2.expectString(t, "from B")
	x3.expectString(t, "from B")
	x1.checkLate(t, "cancel")

	c2()
	c2()
	x2.after.Store(true)
	publishString(t, b, tp("t"), "from B, with no subscriber left on B")
	x3.expectString(t, "from B, with no subscriber left on B")
	x2.checkLate(t, "cancel")

	x4 := newSink("new subscriber on B")
	subscribe(t, b, tp("t"), x4.deliver)
	publishString(t, a, tp("t"), "after subscribing again")
	x4.expectString(t, "after subscribing again")
	x3.expectString(t, "after subscribing again")
}

// cancelFromDeliver: deliver may cancel its own subscription; cancel then
// returns (no deadlock) and deliver is not called again.
func cancelFromDeliver(t testing.TB, open opener) {
	tp := topics()
	a, b := open(t), open(t)
	var (
		mu     sync.Mutex
		cancel func()
		calls  atomic.Int64
	)
	returned := make(chan struct{})
	c := subscribe(t, b, tp("t"), func([]byte) {
		if calls.Add(1) != 1 {
			return
		}
		mu.Lock()
		cancel := cancel
		mu.Unlock()
		cancel()
		close(returned)
	})
	mu.Lock()
	cancel = c
	mu.Unlock()
	u := newSink("barrier subscriber")
	subscribe(t, b, tp("u"), u.deliver)

	for i := range 3 {
		publishString(t, a, tp("t"), fmt.Sprintf("payload %d", i))
	}
	if !waitFor(returned) {
		t.Fatalf("cancel called from deliver did not return within %v (deadlock?)", waitTimeout)
	}
	publishString(t, a, tp("t"), "after cancel")
	publishString(t, a, tp("u"), "barrier")
	u.expectString(t, "barrier")
	settle() // the barrier went through another subscription; see checkLate
	if n := calls.Load(); n != 1 {
		t.Errorf("deliver was called %d times; want 1: it cancelled its subscription in the first call", n)
	}
}

// cancelResubscribe: cancelling a topic's only subscription and at once
// subscribing it again (before the backend caught up) leaves a working
// subscription, on the same node and from another.
func cancelResubscribe(t testing.TB, open opener) {
	tp := topics()
	a, b := open(t), open(t)
	var prev func()
	for i := range 10 {
		s := newSink(fmt.Sprintf("subscription #%d", i))
		ctx, stop := context.WithTimeout(context.Background(), waitTimeout)
		if prev != nil {
			prev()
		}
		cancel, err := b.Subscribe(ctx, tp("t"), s.deliver)
		stop()
		if err != nil {
			t.Fatalf("Subscribe #%d: %v", i, err)
		}
		t.Cleanup(cancel)
		from := a
		if i%2 == 1 {
			from = b
		}
		m := fmt.Sprintf("payload %d", i)
		publishString(t, from, tp("t"), m)
		s.expectString(t, m)
		prev = cancel
	}
}
