package brokertest

import (
	"bytes"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// slowOthersNotBlocked: a deliver that does not return holds up neither
// Publish nor the other subscriptions, of its topic or another, on its
// node or another. With a Dropped() uint64 method, the blocked
// subscription's buffer must also be bounded: payloads beyond it are
// dropped and counted. Once deliver returns, the subscription receives
// again.
func slowOthersNotBlocked(t testing.TB, open opener) {
	tp := topics()
	ctx := testCtx(t)
	a, b := open(t), open(t)
	g := newGate(t)
	entered := make(chan struct{}, 1)
	var calls atomic.Int64
	slow := newSink("blocked subscriber")
	subscribe(t, b, tp("t"), func(p []byte) {
		if calls.Add(1) == 1 {
			entered <- struct{}{}
			<-g.ch
			return
		}
		slow.deliver(p)
	})
	fastB, fastA, other := newSink("subscriber on the same node and topic"), newSink("subscriber on the other node"), newSink("subscriber of another topic on the same node")
	subscribe(t, b, tp("t"), fastB.deliver)
	subscribe(t, a, tp("t"), fastA.deliver)
	subscribe(t, b, tp("u"), other.deliver)

	d, counts := b.(dropper)
	var dropped0 uint64
	limit := 256
	if counts {
		dropped0 = d.Dropped()
		limit = 2048
	}
	const window = 8
	sent := 0
	for sent < limit {
		// Publish a window from another goroutine, so that a Publish that
		// blocks on the slow subscriber fails the case instead of hanging
		// it.
		done := make(chan error, 1)
		go func() {
			for i := range window {
				if err := a.Publish(ctx, tp("t"), fmt.Appendf(nil, "%05d", sent+i)); err != nil {
					done <- err
					return
				}
			}
			done <- a.Publish(ctx, tp("u"), fmt.Appendf(nil, "%05d", sent))
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Publish: %v", err)
			}
		case <-time.After(waitTimeout):
			t.Fatalf("Publish did not return within %v while a subscriber's deliver was blocked (after %d payloads)", waitTimeout, sent)
		}
		for i := range window {
			want := fmt.Appendf(nil, "%05d", sent+i)
			fastB.expect(t, want)
			fastA.expect(t, want)
		}
		other.expect(t, fmt.Appendf(nil, "%05d", sent))
		if sent == 0 && !waitFor(entered) {
			t.Fatalf("the blocked subscriber's first payload was not delivered within %v", waitTimeout)
		}
		sent += window
		if counts && d.Dropped() > dropped0 {
			break
		}
	}
	if counts && d.Dropped() == dropped0 {
		t.Errorf("%d payloads were queued behind a blocked deliver and Dropped() counted none: the subscription's buffer is not bounded (or holds more than %d)", sent, limit)
	}

	// Released, the subscription catches up with what it kept and then
	// receives new payloads. Its buffer may still be full when the first
	// of them arrives, so publish until one gets through.
	g.open()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for i := 0; ; i++ {
		publishString(t, a, tp("t"), fmt.Sprintf("after release %d", i))
	wait:
		for {
			select {
			case got := <-slow.ch:
				if bytes.HasPrefix(got, []byte("after release")) {
					return
				}
			case <-tick.C:
				break wait
			case <-deadline.C:
				t.Fatalf("%s: nothing published after deliver returned was delivered within %v", slow.name, waitTimeout)
			}
		}
	}
}
