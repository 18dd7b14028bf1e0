package brokertest

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"github.com/shopchat/chat"
)

// concurrencyPublishSubscribe: many goroutines publish, subscribe and
// cancel at once on two nodes (run it with -race). Steady subscribers get
// every payload exactly once, and each churning goroutine's fresh
// subscription gets the payload published right after it was made.
func concurrencyPublishSubscribe(t testing.TB, open opener) {
	tp := topics()
	ctx := testCtx(t)
	a, b := open(t), open(t)
	nodes := [2]chat.Broker{a, b}
	sa, sb := newSink("steady subscriber on A"), newSink("steady subscriber on B")
	subscribe(t, a, tp("shared"), sa.deliver)
	subscribe(t, b, tp("shared"), sb.deliver)

	var errs errorsFrom
	stop := make(chan struct{})
	var churners, first sync.WaitGroup
	firstRound := make(chan struct{})
	first.Add(8)
	go func() { first.Wait(); close(firstRound) }()
	for i := range 8 {
		churners.Add(1)
		go func() {
			defer churners.Done()
			node, other := nodes[i%2], nodes[(i+1)%2]
			own := tp(fmt.Sprintf("own-%d", i))
			for j := 0; ; j++ {
				select {
				case <-stop:
					if j == 0 {
						first.Done()
					}
					return
				default:
				}
				s := newSink(fmt.Sprintf("churner %d", i))
				cancel, err := node.Subscribe(ctx, own, s.deliver)
				if err != nil {
					errs.add("churner %d: Subscribe: %v", i, err)
					if j == 0 {
						first.Done()
					}
					return
				}
				cancelShared, err := node.Subscribe(ctx, tp("shared"), func([]byte) {})
				if err != nil {
					cancel()
					errs.add("churner %d: Subscribe to the shared topic: %v", i, err)
					if j == 0 {
						first.Done()
					}
					return
				}
				want := fmt.Appendf(nil, "churn %d-%d", i, j)
				if err := other.Publish(ctx, own, want); err != nil {
					errs.add("churner %d: Publish: %v", i, err)
				} else if got, ok := s.next(); !ok {
					errs.add("churner %d: payload %q published right after Subscribe returned was not delivered within %v", i, want, waitTimeout)
				} else if !bytes.Equal(got, want) {
					errs.add("churner %d: got %s, want %q", i, show(got), want)
				}
				cancelShared()
				cancel()
				if j == 0 {
					first.Done()
				}
			}
		}()
	}

	const publishers, rounds = 8, 25
	for r := range rounds {
		var pubs sync.WaitGroup
		for p := range publishers {
			pubs.Add(1)
			go func() {
				defer pubs.Done()
				if err := nodes[p%2].Publish(ctx, tp("shared"), fmt.Appendf(nil, "p%d-r%03d", p, r)); err != nil {
					errs.add("publisher %d: Publish: %v", p, err)
				}
			}()
		}
		pubs.Wait()
		for _, s := range []*sink{sa, sb} {
			seen := map[string]bool{}
			for range publishers {
				got, ok := s.next()
				if !ok {
					close(stop)
					churners.Wait()
					errs.report(t)
					t.Fatalf("%s: round %d: only %d of %d payloads delivered within %v", s.name, r, len(seen), publishers, waitTimeout)
				}
				var p, rr int
				if _, err := fmt.Sscanf(string(got), "p%d-r%03d", &p, &rr); err != nil || rr != r || seen[string(got)] {
					t.Errorf("%s: round %d: unexpected payload %s (a duplicate, or one from another round)", s.name, r, show(got))
				}
				seen[string(got)] = true
			}
		}
	}
	// Let every churner complete at least one round trip.
	if !waitFor(firstRound) {
		t.Errorf("not every churner completed a Subscribe, Publish, deliver round within %v", waitTimeout)
	}
	close(stop)
	churners.Wait()
	errs.report(t)
	// Nothing more: the next payload is the barrier.
	publishString(t, a, tp("shared"), "barrier")
	sa.expectString(t, "barrier")
	sb.expectString(t, "barrier")
}
