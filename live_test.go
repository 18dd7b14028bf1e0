package chat_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/client"
	"github.com/shopchat/chat/protocol"
)

// waitVisitorsGone waits until the server holds n visitor sockets or fewer
// (a closed client's socket is released asynchronously).
func waitVisitorsGone(t testing.TB, s *chat.Server, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for chat.ConnectedVisitors(s) > n {
		if time.Now().After(deadline) {
			t.Fatalf("%d visitors still connected, want %d", chat.ConnectedVisitors(s), n)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, not a timing assumption
	}
}

func liveLoad(t testing.TB, st chat.Store, now time.Time, op string) int {
	t.Helper()
	loads, err := st.OperatorLoads(context.Background(), now)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range loads {
		if l.Operator.ID == op {
			return l.Active
		}
	}
	return 0
}

// TestLiveVisitorsFirst is an operator's morning: overnight offline
// messages wait for a reply without taking her capacity, live visitors go
// to her at once, she may take more than her capacity by choice, a
// returning visitor's conversation is routed again (to the last operator
// first), and a visitor who left stops counting after the grace period.
func TestLiveVisitorsFirst(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 12, 3, 6, 0, 0, 0, time.UTC)}
	team := map[string]*chat.Operator{
		"dana":  {ID: "dana", Name: "Dana", Capacity: 4},
		"carol": {ID: "carol", Name: "Carol", Capacity: 2},
	}
	grace := 30 * time.Second
	ts := newTestServer(t, func(c *chat.Config) {
		c.Now = clock.Now
		c.PresenceTTL = grace // the grace period of a visitor who left
		c.Operators = func(r *http.Request) (*chat.Operator, error) {
			if op := team[r.Header.Get("X-Operator")]; op != nil {
				return op, nil
			}
			return nil, chat.ErrUnauthorized
		}
	})
	ctx := testCtx(t)
	sweep := chat.LiveSweeper(ts.Chat)

	// Overnight: five visitors leave messages while nobody is online, and go.
	var overnight []string
	var overnightHTTP []*http.Client
	for i := range 5 {
		hc := ts.visitorClient(t)
		v, err := client.DialVisitor(ctx, ts.URL, client.Options{HTTPClient: hc})
		if err != nil {
			t.Fatal(err)
		}
		m, err := v.Send(ctx, "", fmt.Sprintf("overnight question %d", i))
		if err != nil {
			t.Fatal(err)
		}
		overnight = append(overnight, m.Conv)
		overnightHTTP = append(overnightHTTP, hc)
		v.Close()
		clock.Advance(time.Minute)
	}
	waitVisitorsGone(t, ts.Chat, 0)
	clock.Advance(8 * time.Hour)
	sweep()

	// Dana logs in: nothing is assigned; five wait for a reply.
	dana := ts.operator(t, "dana", nil)
	waiting := func(c *client.Conn, n int) {
		t.Helper()
		if err := c.Wait(ctx, func(c *client.Conn) bool {
			q := c.Queue()
			if len(q) != n {
				return false
			}
			for _, x := range q {
				if x.Live {
					return false
				}
			}
			return true
		}); err != nil {
			t.Fatalf("waiting for %d conversations waiting for a reply: %v (queue %+v)", n, err, c.Queue())
		}
	}
	waiting(dana, 5)
	if got := dana.Queue(); got[0].ID != overnight[0] || got[4].ID != overnight[4] {
		t.Errorf("waiting list not oldest first: %v", got)
	}
	if n := liveLoad(t, ts.Store, clock.Now(), "dana"); n != 0 {
		t.Fatalf("dana's live load %d, want 0", n)
	}

	// Three visitors start live chats: all three go to her at once.
	startLive := func(text string) (*client.Conn, string) {
		t.Helper()
		v := ts.visitor(t, nil)
		m, err := v.Send(ctx, "", text)
		if err != nil {
			t.Fatal(err)
		}
		return v, m.Conv
	}
	assignedTo := func(v *client.Conn, conv, op string) {
		t.Helper()
		waitState(t, v, conv, "assigned to "+op, func(c protocol.Conversation) bool {
			return c.Status == protocol.StatusAssigned && c.Operator != nil && c.Operator.ID == op
		})
	}
	live := make([]*client.Conn, 5)
	liveConv := make([]string, 5)
	for i := range 3 {
		live[i], liveConv[i] = startLive(fmt.Sprintf("live question %d", i))
		assignedTo(live[i], liveConv[i], "dana")
	}
	waiting(dana, 5)
	if n := liveLoad(t, ts.Store, clock.Now(), "dana"); n != 3 {
		t.Fatalf("dana's live load %d, want 3", n)
	}

	// Answering a waiting conversation takes no live slot.
	if err := dana.Accept(ctx, overnight[0]); err != nil {
		t.Fatalf("accept a conversation waiting for a reply: %v", err)
	}
	waiting(dana, 4)
	if n := liveLoad(t, ts.Store, clock.Now(), "dana"); n != 3 {
		t.Fatalf("dana's live load after answering a waiting one: %d, want 3", n)
	}
	live[3], liveConv[3] = startLive("live question 3")
	assignedTo(live[3], liveConv[3], "dana")

	// Full: the next live visitor queues at position 1 (before every waiting
	// one); taking it is refused, unless she chooses to go over capacity.
	live[4], liveConv[4] = startLive("live question 4")
	waitState(t, live[4], liveConv[4], "position 1", func(c protocol.Conversation) bool {
		return c.Status == protocol.StatusQueued && c.Queue != nil && c.Queue.Position == 1
	})
	if err := dana.Wait(ctx, func(c *client.Conn) bool { q := c.Queue(); return len(q) == 5 && q[0].ID == liveConv[4] && q[0].Live }); err != nil {
		t.Fatalf("live visitor first in dana's queue: %v (%+v)", err, dana.Queue())
	}
	if err := dana.Accept(ctx, liveConv[4]); !isCode(err, protocol.CodeCapacity) {
		t.Fatalf("accept beyond capacity without choosing to: %v, want capacity", err)
	}
	if err := dana.AcceptOver(ctx, liveConv[4]); err != nil {
		t.Fatalf("accept beyond capacity by choice: %v", err)
	}
	assignedTo(live[4], liveConv[4], "dana")
	if n := liveLoad(t, ts.Store, clock.Now(), "dana"); n != 5 {
		t.Fatalf("dana's live load %d, want 5", n)
	}

	// Carol comes online: nothing live waits, so nothing moves to her.
	carol := ts.operator(t, "carol", nil)
	waiting(carol, 4)

	// The last operator is preferred: dana closes two chats; one of those
	// visitors writes again and goes back to dana, although carol is idle.
	for _, i := range []int{0, 1} {
		if err := dana.CloseConversation(ctx, liveConv[i]); err != nil {
			t.Fatal(err)
		}
	}
	m, err := live[0].Send(ctx, "", "one more thing")
	if err != nil {
		t.Fatal(err)
	}
	assignedTo(live[0], m.Conv, "dana")

	// A visitor who left a message overnight comes back: the conversation
	// is live again and routed (dana is full, so to carol).
	back, err := client.DialVisitor(ctx, ts.URL, client.Options{HTTPClient: overnightHTTP[1]})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { back.Close() })
	assignedTo(back, overnight[1], "carol")
	waiting(dana, 3)

	// A live visitor leaves: within the grace period they still count;
	// after it, dana's live load drops by one.
	before := liveLoad(t, ts.Store, clock.Now(), "dana")
	live[3].Close()
	waitVisitorsGone(t, ts.Chat, 5) // live[0], [1], [2], [4] and back
	clock.Advance(grace / 2)
	sweep()
	if n := liveLoad(t, ts.Store, clock.Now(), "dana"); n != before {
		t.Fatalf("within the grace period dana's load is %d, want %d", n, before)
	}
	clock.Advance(grace)
	sweep()
	if n := liveLoad(t, ts.Store, clock.Now(), "dana"); n != before-1 {
		t.Fatalf("after the grace period dana's load is %d, want %d", n, before-1)
	}
}

// TestLiveAcrossNodesOnPostgres: the visitor's node keeps their
// conversation live in the shared store; another node routes by it. When a
// visitor on node A leaves, node B's operator gets her slot back for the
// next live visitor on A.
func TestLiveAcrossNodesOnPostgres(t *testing.T) {
	stores := freshPostgres(t, 2)
	clock := &fakeClock{now: time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)}
	auth := func(r *http.Request) (*chat.Operator, error) {
		if r.Header.Get("X-Operator") == "dana" {
			return &chat.Operator{ID: "dana", Name: "Dana", Capacity: 1}, nil
		}
		return nil, chat.ErrUnauthorized
	}
	a := newTestServer(t, func(c *chat.Config) { c.Store, c.Operators, c.Now = stores[0], auth, clock.Now })
	b := newTestServer(t, func(c *chat.Config) { c.Store, c.Operators, c.Now = stores[1], auth, clock.Now })
	ctx := testCtx(t)
	dana := b.operator(t, "dana", nil)
	v1 := a.visitor(t, nil)
	m1, err := v1.Send(ctx, "", "first live visitor")
	if err != nil {
		t.Fatal(err)
	}
	waitOwnedBy(t, stores[1], m1.Conv, "dana")
	v2 := a.visitor(t, nil)
	m2, err := v2.Send(ctx, "", "second live visitor")
	if err != nil {
		t.Fatal(err)
	}
	if c, err := stores[1].Conversation(ctx, m2.Conv); err != nil || c.Status != chat.Queued || !c.Live(clock.Now()) {
		t.Fatalf("second visitor while dana is full: %+v, %v; want queued and live", c, err)
	}
	v1.Close()
	waitVisitorsGone(t, a.Chat, 1)
	clock.Advance(31 * time.Second) // past the grace period (PresenceTTL)
	// Dana's presence lasts the same PresenceTTL; her heartbeat runs on the
	// real clock, so renew it as the fake one jumps.
	if err := dana.SetPresence(ctx, "online"); err != nil {
		t.Fatal(err)
	}
	chat.LiveSweeper(a.Chat)() // node A renews the visitor it still holds
	chat.LiveSweeper(b.Chat)() // node B sees dana's slot free and routes
	waitOwnedBy(t, stores[0], m2.Conv, "dana")
	if n := liveLoad(t, stores[0], clock.Now(), "dana"); n != 1 {
		t.Fatalf("dana's live load %d, want 1 (the visitor who left does not count)", n)
	}
}
