package brokertest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// contextDone: Publish and Subscribe with a context that is already done
// fail with an error that wraps the context's, and the failed Subscribe
// leaves no subscription behind.
func contextDone(t testing.TB, open opener) {
	tp := topics()
	b := open(t)
	done, cancel := context.WithCancel(context.Background())
	cancel()

	if err := b.Publish(done, tp("t"), []byte("x")); err == nil {
		t.Errorf("Publish with a cancelled context: no error")
	} else if !errors.Is(err, context.Canceled) {
		t.Errorf("Publish with a cancelled context: error %v does not wrap context.Canceled", err)
	}

	x := newSink("subscriber whose Subscribe failed")
	stop, err := b.Subscribe(done, tp("t"), x.deliver)
	if err == nil {
		t.Errorf("Subscribe with a cancelled context: no error")
		if stop != nil {
			t.Cleanup(stop)
		}
	} else if !errors.Is(err, context.Canceled) {
		t.Errorf("Subscribe with a cancelled context: error %v does not wrap context.Canceled", err)
	}
	y := newSink("subscriber")
	subscribe(t, b, tp("t"), y.deliver)
	publishString(t, b, tp("t"), "m")
	y.expectString(t, "m")
	publishString(t, b, tp("t"), "barrier")
	y.expectString(t, "barrier")
	settle()
	select {
	case p := <-x.ch:
		t.Errorf("the failed Subscribe's deliver was called with %s", show(p))
	default:
	}
}

// closeAfterClose: after Close, Publish and Subscribe fail without
// panicking, cancel and a second Close do not panic, deliver is not called
// again, and another node goes on working.
func closeAfterClose(t testing.TB, open opener) {
	tp := topics()
	ctx := testCtx(t)
	b := open(t)
	c, ok := b.(closer)
	if !ok {
		t.Skipf("the broker (%T) has no Close() error method", b)
	}
	a := open(t)
	xb, xa := newSink("subscriber on the closed node"), newSink("subscriber on the open node")
	cancelB := subscribe(t, b, tp("t"), xb.deliver)
	subscribe(t, a, tp("t"), xa.deliver)
	publishString(t, a, tp("t"), "before Close")
	xb.expectString(t, "before Close")
	xa.expectString(t, "before Close")

	safely(t, "Close", func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	xb.after.Store(true)

	safely(t, "Publish after Close", func() {
		if err := b.Publish(ctx, tp("t"), []byte("after Close")); err == nil {
			t.Errorf("Publish after Close: no error")
		}
	})
	safely(t, "Subscribe after Close", func() {
		stop, err := b.Subscribe(ctx, tp("t"), xb.deliver)
		if err == nil {
			t.Errorf("Subscribe after Close: no error")
			if stop != nil {
				stop()
			}
		}
	})
	safely(t, "cancel after Close", cancelB)
	safely(t, "a second Close", func() { _ = c.Close() })

	publishString(t, a, tp("t"), "from the open node")
	xa.expectString(t, "from the open node")
	publishString(t, a, tp("t"), "barrier")
	xa.expectString(t, "barrier")
	xb.checkLate(t, "Close")
}

// closeWhileBusy: Close while other goroutines publish, subscribe and
// receive on the node: nothing panics, calls made after Close fail, and
// deliver is not called after Close returned.
func closeWhileBusy(t testing.TB, open opener) {
	tp := topics()
	ctx := testCtx(t)
	b := open(t)
	c, ok := b.(closer)
	if !ok {
		t.Skipf("the broker (%T) has no Close() error method", b)
	}
	a := open(t)
	// closing is set before Close is called, closed after it returned.
	var closing, closed atomic.Bool
	var late atomic.Int64
	deliver := func([]byte) {
		if closed.Load() {
			late.Add(1)
		}
	}
	first := newSink("subscriber on the closing node")
	subscribe(t, b, tp("t"), func(p []byte) { deliver(p); first.deliver(p) })

	var errs errorsFrom
	var wg sync.WaitGroup
	stop := make(chan struct{})
	guard := func(name string, f func()) {
		defer wg.Done()
		defer func() {
			if r := recover(); r != nil {
				errs.add("%s panicked: %v", name, r)
			}
		}()
		f()
	}
	for i := range 4 {
		wg.Add(3)
		go guard("Publish on the closing node", func() {
			for j := 0; ; j++ {
				after := closed.Load()
				err := b.Publish(ctx, tp("t"), fmt.Appendf(nil, "b %d-%d", i, j))
				switch {
				case after:
					if err == nil {
						errs.add("Publish after Close returned no error")
					}
					return
				case err != nil && !closing.Load():
					errs.add("Publish before Close: %v", err)
					return
				}
			}
		})
		go guard("Publish on the other node", func() {
			for j := 0; ; j++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := a.Publish(ctx, tp("t"), fmt.Appendf(nil, "a %d-%d", i, j)); err != nil {
					errs.add("Publish on the open node: %v", err)
					return
				}
			}
		})
		go guard("Subscribe on the closing node", func() {
			for {
				after := closed.Load()
				cancel, err := b.Subscribe(ctx, tp(fmt.Sprintf("t%d", i)), deliver)
				switch {
				case err == nil:
					cancel()
					if after {
						errs.add("Subscribe after Close returned no error")
						return
					}
				case !closing.Load():
					errs.add("Subscribe before Close: %v", err)
					return
				case after:
					return
				}
			}
		})
	}
	if _, ok := first.next(); !ok {
		t.Errorf("nothing was delivered within %v", waitTimeout)
	}
	closing.Store(true)
	safely(t, "Close", func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	closed.Store(true)
	close(stop)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	if !waitFor(done) {
		t.Fatalf("Publish or Subscribe on the closed node did not return within %v of Close", waitTimeout)
	}
	errs.report(t)
	// Whatever the other node still had in flight must not reach the
	// closed node's subscriber.
	x := newSink("subscriber on the open node")
	subscribe(t, a, tp("t"), x.deliver)
	publishString(t, a, tp("t"), "barrier")
	x.expectSkipping(t, []byte("barrier"), "a ")
	settle()
	if n := late.Load(); n > 0 {
		t.Errorf("deliver was called %d time(s) after Close returned", n)
	}
}

// reconnectDisrupt: after the broker's connection is broken (Disrupter),
// it reconnects by itself: subscriptions made before receive again,
// Publish works again, new subscriptions work, and order holds again.
func reconnectDisrupt(t testing.TB, open opener) {
	tp := topics()
	b := open(t)
	d, ok := b.(Disrupter)
	if !ok {
		t.Skipf("the broker (%T) does not implement brokertest.Disrupter", b)
	}
	a := open(t)
	xb, xa := newSink("subscriber on the disrupted node"), newSink("subscriber on the other node")
	subscribe(t, b, tp("t"), xb.deliver)
	subscribe(t, a, tp("t"), xa.deliver)
	publishString(t, a, tp("t"), "before")
	xb.expectString(t, "before")
	xa.expectString(t, "before")

	d.Disrupt(t)

	// Payloads published while the node reconnects may be lost: probe
	// until one gets through.
	probe(t, a, tp("t"), xb, "probe from the other node: ")
	probe(t, b, tp("t"), xa, "probe from the disrupted node: ")

	ys := newSink("new subscriber on the disrupted node")
	subscribe(t, b, tp("u"), ys.deliver)
	publishString(t, a, tp("u"), "to the new subscription")
	ys.expectString(t, "to the new subscription")

	for i := range 20 {
		publishString(t, a, tp("t"), fmt.Sprintf("after %02d", i))
	}
	for i := range 20 {
		want := []byte(fmt.Sprintf("after %02d", i))
		xb.expectSkipping(t, want, "probe ")
		xa.expectSkipping(t, want, "probe ")
	}
}

// probe publishes numbered payloads from pub every 50ms until s gets one,
// for at most recoverTimeout. Publish may fail meanwhile. Other probes
// that s gets are skipped.
func probe(t testing.TB, pub interface {
	Publish(context.Context, string, []byte) error
}, topic string, s *sink, prefix string) {
	t.Helper()
	deadline := time.NewTimer(recoverTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for i := 0; ; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if err := pub.Publish(ctx, topic, fmt.Appendf(nil, "%s%d", prefix, i)); err != nil {
			lastErr = err
		}
		cancel()
	wait:
		for {
			select {
			case p := <-s.ch:
				switch {
				case strings.HasPrefix(string(p), prefix):
					return
				case strings.HasPrefix(string(p), "probe "):
					continue // another probe
				default:
					t.Fatalf("%s: got %s while probing", s.name, show(p))
				}
			case <-tick.C:
				break wait
			case <-deadline.C:
				t.Fatalf("%s: none of %d probes was delivered within %v of the disruption (last Publish error: %v)", s.name, i+1, recoverTimeout, lastErr)
			}
		}
	}
}
