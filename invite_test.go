package chat_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/protocol"
	"github.com/shopchat/chat/store/memory"
)

// firstMessages returns a conversation's stored messages.
func firstMessages(t *testing.T, ts *testServer, conv string) []*chat.Message {
	t.Helper()
	ms, err := ts.Store.Messages(testCtx(t), chat.MessageQuery{ConversationID: conv})
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func TestOperatorInvitationOpensConversationWithThatOperator(t *testing.T) {
	ts := newTestServer(t)
	shop := newShop(t, ts)
	operatorRaw(t, ts, "bob") // online too: without the invitation, either could take it
	alice := operatorRaw(t, ts, "alice")
	hc := newBrowser()
	vid := browse(t, hc, shop, "/product/mug", "")
	v := visitorRaw(t, ts, hc)

	text := "Hi, I'm Alice. The blue mug is back in stock; shall I reserve one?"
	if reply, _ := alice.call(protocol.ClientFrame{Type: protocol.TypeInvite, ID: "i1", Visitor: vid, Text: text}, ""); reply.Type != protocol.TypeAck {
		t.Fatalf("invite: %+v", reply)
	}
	inv := v.until(protocol.TypeInvite).Invite
	if inv == nil || inv.Text != text || inv.Operator == nil || inv.Operator.Name != "Alice" || inv.Operator.Avatar != "https://example.test/alice.png" {
		t.Fatalf("invite frame: %+v", inv)
	}

	reply, _ := v.call(protocol.ClientFrame{Type: protocol.TypeMessage, ID: "m1", Text: "Yes please!"}, "")
	if reply.Type != protocol.TypeAck {
		t.Fatalf("answer: %+v", reply)
	}
	conv := reply.Conv
	c, err := ts.Store.Conversation(testCtx(t), conv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != chat.Assigned || c.OperatorID != "alice" {
		t.Fatalf("conversation: %+v, want assigned to alice", c)
	}
	ms := firstMessages(t, ts, conv)
	if len(ms) < 2 || ms[0].Kind != chat.OperatorText || ms[0].AuthorID != "alice" || ms[0].Text != text || ms[len(ms)-1].Text != "Yes please!" {
		t.Fatalf("messages: %+v", ms)
	}
	acc, err := ts.Store.Activities(testCtx(t), chat.ActivityQuery{Kinds: []chat.ActivityKind{chat.InvitationSent, chat.InvitationAccepted}, VisitorID: vid})
	if err != nil {
		t.Fatal(err)
	}
	if len(acc) != 2 || acc[0].Kind != chat.InvitationSent || acc[1].Kind != chat.InvitationAccepted || acc[1].ConversationID != conv || acc[1].OperatorID != "alice" {
		t.Fatalf("activities: %+v", acc)
	}
	// Alice's console gets the conversation with the invitation first.
	for {
		f := alice.next()
		if f.Type == protocol.TypeMessage && f.Conv == conv && f.Message.Seq == 1 {
			if f.Message.Text != text {
				t.Fatalf("alice's first message: %+v", f.Message)
			}
			break
		}
	}
}

// The conversation that answers an operator's invitation is theirs from
// the moment it exists: a routing round between its creation and the
// invitation's acceptance (the live loop's, on any node), with a Router
// that would pick someone else, does not take it.
func TestInvitationGoesToInviterBeforeRouting(t *testing.T) {
	wrapped := &routeOnCreate{}
	ts := newTestServer(t, func(c *chat.Config) {
		wrapped.Store = c.Store
		c.Store = wrapped
		c.Router = chat.RouterFunc(func(_ context.Context, _ *chat.Conversation, cs []chat.Candidate) []string {
			for _, c := range cs {
				if c.Operator.ID == "bob" {
					return []string{"bob"}
				}
			}
			return nil
		})
	})
	wrapped.route = chat.LiveSweeper(ts.Chat)
	shop := newShop(t, ts)
	operatorRaw(t, ts, "bob")
	alice := operatorRaw(t, ts, "alice")
	hc := newBrowser()
	vid := browse(t, hc, shop, "/product/mug", "")
	v := visitorRaw(t, ts, hc)
	if reply, _ := alice.call(protocol.ClientFrame{Type: protocol.TypeInvite, ID: "i1", Visitor: vid, Text: "Can I help?"}, ""); reply.Type != protocol.TypeAck {
		t.Fatalf("invite: %+v", reply)
	}
	v.until(protocol.TypeInvite)
	reply, _ := v.call(protocol.ClientFrame{Type: protocol.TypeMessage, ID: "m1", Text: "Yes please!"}, "")
	if reply.Type != protocol.TypeAck {
		t.Fatalf("answer: %+v", reply)
	}
	c, err := ts.Store.Conversation(testCtx(t), reply.Conv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != chat.Assigned || c.OperatorID != "alice" {
		t.Fatalf("conversation %s with %q, want alice's", c.Status, c.OperatorID)
	}
	var texts []string
	for _, m := range firstMessages(t, ts, reply.Conv) {
		texts = append(texts, m.Text)
	}
	if want := []string{"Can I help?", "Alice joined the conversation", "Yes please!"}; !slices.Equal(texts, want) {
		t.Fatalf("messages %q, want %q", texts, want)
	}
}

func TestServerInviteFromCode(t *testing.T) {
	ts := newTestServer(t)
	shop := newShop(t, ts)
	hc := newBrowser()
	vid := browse(t, hc, shop, "/checkout/failed", "")
	v := visitorRaw(t, ts, hc)
	text := "Payment did not go through? We can help."
	if err := ts.Chat.Invite(testCtx(t), vid, text, ""); err != nil {
		t.Fatal(err)
	}
	inv := v.until(protocol.TypeInvite).Invite
	if inv == nil || inv.Text != text || inv.Operator != nil {
		t.Fatalf("invite frame: %+v", inv)
	}
	// The visitor reloads (a new connection): the invitation is still
	// theirs to answer.
	v.ws.CloseNow()
	v = visitorRaw(t, ts, hc)
	reply, _ := v.call(protocol.ClientFrame{Type: protocol.TypeMessage, ID: "m1", Text: "My card was declined"}, "")
	if reply.Type != protocol.TypeAck {
		t.Fatalf("answer: %+v", reply)
	}
	ms := firstMessages(t, ts, reply.Conv)
	if len(ms) != 2 || ms[0].Kind != chat.SystemEvent || ms[0].Text != text || ms[1].Text != "My card was declined" {
		t.Fatalf("messages: %+v", ms)
	}
	// Chatting now: no more invitations.
	if err := ts.Chat.Invite(testCtx(t), vid, "Anything else?", ""); err == nil {
		t.Fatal("invited a visitor who is chatting")
	}
}

// activitiesOf returns the visitor's activities of the given kinds, read
// through chat.Checked as the Server reads them.
func activitiesOf(t *testing.T, st chat.Store, vid string, kinds ...chat.ActivityKind) []chat.Activity {
	t.Helper()
	as, err := chat.Checked(st).(chat.TrackingStore).Activities(testCtx(t), chat.ActivityQuery{Kinds: kinds, VisitorID: vid})
	if err != nil {
		t.Fatal(err)
	}
	return as
}

// dismiss sends the widget's dismiss of invitation id.
func dismiss(v *rawConn, id string) protocol.ServerFrame {
	reply, _ := v.call(protocol.ClientFrame{Type: protocol.TypeInvite, ID: "dismiss-" + id, Action: protocol.ActionDismiss, Invite: &protocol.Invite{ID: id}}, "")
	return reply
}

// startChat sends the visitor's first message and returns the conversation's
// stored messages.
func startChat(t *testing.T, ts *testServer, v *rawConn, text string) []*chat.Message {
	t.Helper()
	reply, _ := v.call(protocol.ClientFrame{Type: protocol.TypeMessage, ID: "m-" + text, Text: text}, "")
	if reply.Type != protocol.TypeAck {
		t.Fatalf("message: %+v", reply)
	}
	return firstMessages(t, ts, reply.Conv)
}

func TestInvitationDismissedDoesNotOpenTheChat(t *testing.T) {
	ts := newTestServer(t)
	shop := newShop(t, ts)
	hc := newBrowser()
	vid := browse(t, hc, shop, "/product/mug", "")
	v := visitorRaw(t, ts, hc)
	operatorRaw(t, ts, "alice")
	if err := ts.Chat.Invite(testCtx(t), vid, "Hi, I'm Alice. Need help?", "alice"); err != nil {
		t.Fatal(err)
	}
	inv := v.until(protocol.TypeInvite).Invite
	// Visitors may dismiss, not invite.
	if reply, _ := v.call(protocol.ClientFrame{Type: protocol.TypeInvite, ID: "i", Visitor: vid, Text: "Hi"}, ""); reply.Code != protocol.CodeForbidden {
		t.Fatalf("visitor's invitation: %+v", reply)
	}
	if reply, _ := v.call(protocol.ClientFrame{Type: protocol.TypeInvite, ID: "d0", Action: protocol.ActionDismiss}, ""); reply.Code != protocol.CodeInvalid {
		t.Fatalf("dismiss without id: %+v", reply)
	}
	// A late dismiss of some other invitation changes nothing.
	if reply := dismiss(v, "not-"+inv.ID); reply.Type != protocol.TypeAck {
		t.Fatalf("dismiss of another id: %+v", reply)
	}
	if got := activitiesOf(t, ts.Store, vid, chat.InvitationDismissed); len(got) != 0 {
		t.Fatalf("dismissed by another id: %+v", got)
	}
	if reply := dismiss(v, inv.ID); reply.Type != protocol.TypeAck {
		t.Fatalf("dismiss: %+v", reply)
	}
	if ms := startChat(t, ts, v, "Where is my order?"); ms[0].Text != "Where is my order?" {
		t.Fatalf("first message: %+v, want the visitor's", ms[0])
	}
	if got := activitiesOf(t, ts.Store, vid, chat.InvitationAccepted); len(got) != 0 {
		t.Fatalf("dismissed invitation accepted: %+v", got)
	}
	if got := activitiesOf(t, ts.Store, vid, chat.InvitationDismissed); len(got) != 1 || got[0].OperatorID != "alice" || got[0].Text != inv.ID {
		t.Fatalf("dismissal: %+v", got)
	}
}

// The invitation is pending on node A, which sent it; the widget on node B
// dismisses it; the visitor then chats through node A.
func TestInvitationDismissedOnAnotherNode(t *testing.T) {
	bus, st := &testBus{}, memory.New()
	nodes := make([]*testServer, 2)
	for i := range nodes {
		nodes[i] = newTestServer(t, func(c *chat.Config) { c.Store, c.Broker = st, bus })
	}
	hc := newBrowser()
	vid := browse(t, hc, newShop(t, nodes[0]), "/product/mug", "")
	onB := visitorRaw(t, nodes[1], hc)
	operatorRaw(t, nodes[0], "alice")
	if err := nodes[0].Chat.Invite(testCtx(t), vid, "Questions about the mug?", "alice"); err != nil {
		t.Fatal(err)
	}
	inv := onB.until(protocol.TypeInvite).Invite
	if reply := dismiss(onB, inv.ID); reply.Type != protocol.TypeAck {
		t.Fatalf("dismiss on B: %+v", reply)
	}
	onA := visitorRaw(t, nodes[0], hc)
	if ms := startChat(t, nodes[0], onA, "Just browsing"); ms[0].Text != "Just browsing" {
		t.Fatalf("first message: %+v, want the visitor's", ms[0])
	}
	if got := activitiesOf(t, st, vid, chat.InvitationAccepted); len(got) != 0 {
		t.Fatalf("dismissed invitation accepted: %+v", got)
	}
}

// An invitation answered already (InvitationAccepted, recorded by another
// node) is not used again by the node that remembers it.
func TestInvitationAnsweredElsewhereNotReused(t *testing.T) {
	clock := &fakeClock{now: day0}
	ts := newTestServer(t, func(c *chat.Config) { c.Now = clock.Now })
	hc := newBrowser()
	vid := browse(t, hc, newShop(t, ts), "/product/mug", "")
	v := visitorRaw(t, ts, hc)
	operatorRaw(t, ts, "alice")
	if err := ts.Chat.Invite(testCtx(t), vid, "Hi, I'm Alice.", "alice"); err != nil {
		t.Fatal(err)
	}
	v.until(protocol.TypeInvite)
	clock.Advance(time.Minute)
	elsewhere := chat.Activity{Kind: chat.InvitationAccepted, VisitorID: vid, ConversationID: "c-elsewhere", OperatorID: "alice", At: clock.Now()}
	if err := ts.Store.AddActivities(testCtx(t), []chat.Activity{elsewhere}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	if ms := startChat(t, ts, v, "Another question"); ms[0].Text != "Another question" {
		t.Fatalf("first message: %+v, want the visitor's", ms[0])
	}
	if got := activitiesOf(t, ts.Store, vid, chat.InvitationAccepted); len(got) != 1 {
		t.Fatalf("accepted twice: %+v", got)
	}
}

// gatedStore holds the first invitation's write until released, and fails
// invitation writes while failing is set.
type gatedStore struct {
	*memory.Store    // every role: AddActivities is its own
	entered, release chan struct{}
	mu               sync.Mutex
	failing, held    bool
}

func (g *gatedStore) AddActivities(ctx context.Context, as []chat.Activity) error {
	if len(as) == 1 && as[0].Kind == chat.InvitationSent {
		g.mu.Lock()
		failing, hold := g.failing, !g.failing && !g.held
		g.held = g.held || hold
		g.mu.Unlock()
		if failing {
			return errors.New("store down")
		}
		if hold {
			close(g.entered)
			<-g.release
		}
	}
	return g.Store.AddActivities(ctx, as)
}

func TestInviteCapHoldsForConcurrentInvites(t *testing.T) {
	g := &gatedStore{Store: memory.New(), entered: make(chan struct{}), release: make(chan struct{}), failing: true}
	ts := newTestServer(t, func(c *chat.Config) { c.Store, c.MaxProactivePerVisit = g, 1 })
	ctx := testCtx(t)
	vid := browse(t, newBrowser(), newShop(t, ts), "/", "")
	// An invitation that could not be sent does not count.
	if err := ts.Chat.Invite(ctx, vid, "Hi", ""); err == nil || errors.Is(err, chat.ErrConflict) {
		t.Fatalf("invite with the store down: %v", err)
	}
	g.mu.Lock()
	g.failing = false
	g.mu.Unlock()
	first := make(chan error, 1)
	go func() { first <- ts.Chat.Invite(ctx, vid, "Hi", "") }()
	<-g.entered // the first is being sent
	err := ts.Chat.Invite(ctx, vid, "Hello?", "")
	close(g.release)
	if !errors.Is(err, chat.ErrConflict) {
		t.Fatalf("second invitation while the first is sent: %v, want ErrConflict", err)
	}
	if err := <-first; err != nil {
		t.Fatalf("first invitation: %v", err)
	}
}

// Two nodes take the visitor's answer to one invitation, each before it
// sees the other's InvitationAccepted (hidden here): the invitation's
// claim lets the first open its conversation with it, and the second opens
// a plain one.
func TestInvitationAcceptedOnceAcrossNodes(t *testing.T) {
	bus, mem := &testBus{}, memory.New()
	st := staleActivities{Store: mem, hide: chat.InvitationAccepted}
	nodes := make([]*testServer, 2)
	for i := range nodes {
		nodes[i] = newTestServer(t, func(c *chat.Config) { c.Store, c.Broker = st, bus })
	}
	hc := newBrowser()
	vid := browse(t, hc, newShop(t, nodes[0]), "/product/mug", "")
	onA, onB := visitorRaw(t, nodes[0], hc), visitorRaw(t, nodes[1], hc)
	if err := nodes[0].Chat.Invite(testCtx(t), vid, "Questions about the mug?", ""); err != nil {
		t.Fatal(err)
	}
	onA.until(protocol.TypeInvite)
	onB.until(protocol.TypeInvite)
	first := startChat(t, nodes[0], onA, "Yes please")
	if len(first) != 2 || first[0].Text != "Questions about the mug?" {
		t.Fatalf("node A's conversation: %+v, want the invitation first", first)
	}
	if _, err := mem.CloseConversation(testCtx(t), first[0].ConversationID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if ms := startChat(t, nodes[1], onB, "Another question"); ms[0].Text != "Another question" {
		t.Fatalf("node B's conversation: %+v, want the visitor's message first", ms)
	}
	if got := activitiesOf(t, mem, vid, chat.InvitationAccepted); len(got) != 1 || got[0].ConversationID != first[0].ConversationID {
		t.Fatalf("InvitationAccepted: %+v, want one for %s", got, first[0].ConversationID)
	}
}
