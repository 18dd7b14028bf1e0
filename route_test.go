package chat_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/store/memory"
)

// These tests drive routing by hand: PresenceTTL is an hour, so neither the
// live loop nor the presence heartbeat ticks during a test, and a routing
// round happens only where the test calls for one.
const routeTestTTL = time.Hour

// routeTeam authenticates "X-Operator: id" against ops.
func routeTeam(ops ...*chat.Operator) chat.OperatorAuthFunc {
	return func(r *http.Request) (*chat.Operator, error) {
		for _, op := range ops {
			if op.ID == r.Header.Get("X-Operator") {
				return op, nil
			}
		}
		return nil, chat.ErrUnauthorized
	}
}

// flakyAssignStore fails Assign while fail is set, as a Store under load
// times out.
type flakyAssignStore struct {
	chat.Store
	fail *atomic.Bool
}

func (s flakyAssignStore) Assign(ctx context.Context, id, from, to string, capacity int, at time.Time) (*chat.Conversation, error) {
	if s.fail.Load() {
		return nil, errors.New("flaky: connection reset")
	}
	return s.Store.Assign(ctx, id, from, to, capacity, at)
}

func (s flakyAssignStore) Unwrap() chat.Store { return s.Store }

// storedConv returns conversation id as the store has it.
func storedConv(t testing.TB, st chat.Store, id string) *chat.Conversation {
	t.Helper()
	c, err := st.Conversation(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitRounds waits until s has run at least n routing rounds in all.
func waitRounds(t testing.TB, s *chat.Server, n int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for chat.DispatchRounds(s) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d routing rounds, want %d", chat.DispatchRounds(s), n)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, not a timing assumption
	}
}

// TestDispatchRetriedAfterFailure: a routing round that fails, or that
// leaves a live conversation queued beside an operator with room, is
// retried by the live loop even when nothing else changes: the
// conversation does not wait for an unrelated event. Store failures are
// counted.
func TestDispatchRetriedAfterFailure(t *testing.T) {
	t.Run("store error", func(t *testing.T) {
		var fail atomic.Bool
		metrics := &countingMetrics{}
		ts := newTestServer(t, func(c *chat.Config) {
			c.Store = flakyAssignStore{memory.New(), &fail}
			c.PresenceTTL = routeTestTTL
			c.Metrics = metrics
		})
		ctx := testCtx(t)
		sweep := chat.LiveSweeper(ts.Chat)
		ts.operator(t, "alice", nil)
		sweep()

		fail.Store(true)
		m, err := ts.visitor(t, nil).Send(ctx, "", "Is the blue one in stock?")
		if err != nil {
			t.Fatal(err)
		}
		<-metrics.await("dispatch_failures_total", 1) // the new conversation's round
		sweep()                                       // a new queue: routed again, and fails again
		if n := metrics.get("dispatch_failures_total"); n != 2 {
			t.Fatalf("dispatch_failures_total %v, want 2", n)
		}
		fail.Store(false)
		sweep() // nothing changed, but the last round failed
		if c := storedConv(t, ts.Store, m.Conv); c.Status != chat.Assigned || c.OperatorID != "alice" {
			t.Fatalf("after the store recovered: %s with %q, want assigned to alice", c.Status, c.OperatorID)
		}
	})

	t.Run("router passed over", func(t *testing.T) {
		var refuse atomic.Bool
		var ranks atomic.Int64
		ts := newTestServer(t, func(c *chat.Config) {
			c.PresenceTTL = routeTestTTL
			c.Router = chat.RouterFunc(func(ctx context.Context, conv *chat.Conversation, cs []chat.Candidate) []string {
				ranks.Add(1)
				if refuse.Load() { // an outside system timed out
					return nil
				}
				return chat.LeastBusy().Rank(ctx, conv, cs)
			})
		})
		ctx := testCtx(t)
		sweep := chat.LiveSweeper(ts.Chat)
		ts.operator(t, "alice", nil)
		sweep()

		refuse.Store(true)
		rounds := chat.DispatchRounds(ts.Chat)
		m, err := ts.visitor(t, nil).Send(ctx, "", "Do you ship to Iceland?")
		if err != nil {
			t.Fatal(err)
		}
		waitRounds(t, ts.Chat, rounds+1) // the new conversation's round
		sweep()
		if ranks.Load() < 2 {
			t.Fatalf("the Router was asked %d times, want 2", ranks.Load())
		}
		refuse.Store(false)
		sweep() // nothing changed, but the last round left alice idle
		if c := storedConv(t, ts.Store, m.Conv); c.Status != chat.Assigned || c.OperatorID != "alice" {
			t.Fatalf("after the Router answered again: %s with %q, want assigned to alice", c.Status, c.OperatorID)
		}
	})
}

// TestRouteFingerprintSeesPresenceAndCapacity: the live loop routes when
// an operator's presence comes back (their heartbeat renewed it after it
// had lapsed) or their capacity grows, though the queue and the loads are
// as they were: both are in the fingerprint that skips redundant rounds.
func TestRouteFingerprintSeesPresenceAndCapacity(t *testing.T) {
	t.Run("presence renewed", func(t *testing.T) {
		clock := &fakeClock{now: time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)}
		ts := newTestServer(t, func(c *chat.Config) {
			c.Now = clock.Now
			c.PresenceTTL = routeTestTTL
		})
		ctx := testCtx(t)
		sweep := chat.LiveSweeper(ts.Chat)
		ts.operator(t, "alice", nil)
		sweep()
		clock.Advance(2 * routeTestTTL) // alice's node missed its heartbeats: she reads offline
		sweep()

		rounds := chat.DispatchRounds(ts.Chat)
		m, err := ts.visitor(t, nil).Send(ctx, "", "Can I change my order?")
		if err != nil {
			t.Fatal(err)
		}
		waitRounds(t, ts.Chat, rounds+1) // the new conversation's round: nobody online
		sweep()
		if c := storedConv(t, ts.Store, m.Conv); c.Status != chat.Queued {
			t.Fatalf("with nobody online: %s, want queued", c.Status)
		}
		// The heartbeat renews her presence: a Store write, no event.
		if err := ts.Store.SetPresence(ctx, "alice", chat.Online, clock.Now().Add(routeTestTTL)); err != nil {
			t.Fatal(err)
		}
		sweep()
		if c := storedConv(t, ts.Store, m.Conv); c.Status != chat.Assigned || c.OperatorID != "alice" {
			t.Fatalf("after alice's presence was renewed: %s with %q, want assigned to alice", c.Status, c.OperatorID)
		}
	})

	t.Run("capacity raised", func(t *testing.T) {
		dana := &chat.Operator{ID: "dana", Name: "Dana", Capacity: 1}
		ts := newTestServer(t, func(c *chat.Config) {
			c.PresenceTTL = routeTestTTL
			c.Operators = routeTeam(dana)
		})
		ctx := testCtx(t)
		sweep := chat.LiveSweeper(ts.Chat)
		ts.operator(t, "dana", nil)
		_, second := queueBehindDana(t, ts)
		sweep()
		if c := storedConv(t, ts.Store, second); c.Status != chat.Queued {
			t.Fatalf("while dana is full, after a tick: %s, want queued", c.Status)
		}
		// Her profile gains a slot (stored by the shop, or by her login on
		// another node).
		if err := ts.Store.PutOperator(ctx, &chat.Operator{ID: "dana", Name: "Dana", Capacity: 2}); err != nil {
			t.Fatal(err)
		}
		sweep()
		if c := storedConv(t, ts.Store, second); c.Status != chat.Assigned || c.OperatorID != "dana" {
			t.Fatalf("after dana's capacity grew: %s with %q, want assigned to dana", c.Status, c.OperatorID)
		}
	})
}

// TestTransferAndErasureFreeCapacity: a transfer to another operator and
// a visitor's erasure each free a slot, and the queue moves into it at
// once (on one node no other event would route it).
func TestTransferAndErasureFreeCapacity(t *testing.T) {
	dana := &chat.Operator{ID: "dana", Name: "Dana", Capacity: 1}
	erin := &chat.Operator{ID: "erin", Name: "Erin", Capacity: 1}

	t.Run("transfer", func(t *testing.T) {
		ts := newTestServer(t, func(c *chat.Config) {
			c.PresenceTTL = routeTestTTL
			c.Operators = routeTeam(dana, erin)
		})
		ctx := testCtx(t)
		ts.operator(t, "dana", nil)
		e := ts.operator(t, "erin", nil)
		if err := e.SetPresence(ctx, "away"); err != nil { // takes transfers, not the queue
			t.Fatal(err)
		}
		first, second := queueBehindDana(t, ts)
		if err := ts.Chat.Transfer(ctx, chat.Transfer{Conversation: first, By: "dana", To: "erin"}); err != nil {
			t.Fatal(err)
		}
		if c := storedConv(t, ts.Store, second); c.Status != chat.Assigned || c.OperatorID != "dana" {
			t.Fatalf("after dana handed her chat to erin: %s with %q, want assigned to dana", c.Status, c.OperatorID)
		}
	})

	t.Run("erasure", func(t *testing.T) {
		ts := newTestServer(t, func(c *chat.Config) {
			c.PresenceTTL = routeTestTTL
			c.Operators = routeTeam(dana)
		})
		ctx := testCtx(t)
		ts.operator(t, "dana", nil)
		first, second := queueBehindDana(t, ts)
		if err := ts.Chat.DeleteVisitor(ctx, storedConv(t, ts.Store, first).VisitorID); err != nil {
			t.Fatal(err)
		}
		if c := storedConv(t, ts.Store, second); c.Status != chat.Assigned || c.OperatorID != "dana" {
			t.Fatalf("after the first visitor was erased: %s with %q, want assigned to dana", c.Status, c.OperatorID)
		}
	})
}

// TestRemoteOpsDispatchedByOneNode: every node hears another node's
// "ops" event (each assignment anywhere sends one), but only one of them,
// the live node with the smallest id, routes on it; the sender routed for
// its own change already.
func TestRemoteOpsDispatchedByOneNode(t *testing.T) {
	bus, store := &testBus{}, memory.New()
	nodes := make([]*testServer, 3)
	for i := range nodes {
		nodes[i] = newTestServer(t, func(c *chat.Config) {
			c.Store, c.Broker = store, bus
			c.PresenceTTL = routeTestTTL // no live loop round meanwhile
		})
	}
	// Every node hears every node's heartbeat within a SyncInterval.
	deadline := time.Now().Add(60 * time.Second)
	for {
		heard, designated := 0, 0
		for _, n := range nodes {
			if chat.HeardNodes(n.Chat) == len(nodes) {
				heard++
			}
			if chat.RemoteDispatcher(n.Chat) {
				designated++
			}
		}
		if heard == len(nodes) && designated == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d nodes heard all, %d designated; want %d and 1", heard, designated, len(nodes))
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, not a timing assumption
	}
	for i, n := range nodes {
		before := chat.DispatchRounds(n.Chat)
		chat.ApplyRemoteOps(n.Chat)
		got := chat.DispatchRounds(n.Chat) - before
		want := int64(0)
		if chat.RemoteDispatcher(n.Chat) {
			want = 1
		}
		if got != want {
			t.Errorf("node %d (designated %v) routed %d times on a remote ops event, want %d", i, want == 1, got, want)
		}
	}
}

// queueBehindDana has dana (online, capacity 1) take one live
// conversation and a second one queue behind it; it returns both.
func queueBehindDana(t *testing.T, ts *testServer) (first, second string) {
	t.Helper()
	ctx := testCtx(t)
	m1, err := ts.visitor(t, nil).Send(ctx, "", "first")
	if err != nil {
		t.Fatal(err)
	}
	waitOwnedBy(t, ts.Store, m1.Conv, "dana")
	rounds := chat.DispatchRounds(ts.Chat)
	m2, err := ts.visitor(t, nil).Send(ctx, "", "second")
	if err != nil {
		t.Fatal(err)
	}
	waitRounds(t, ts.Chat, rounds+1) // its round: dana is full
	if c := storedConv(t, ts.Store, m2.Conv); c.Status != chat.Queued {
		t.Fatalf("while dana is full: %s, want queued", c.Status)
	}
	return m1.Conv, m2.Conv
}
