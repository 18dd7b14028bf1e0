package chat_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/client"
	"github.com/shopchat/chat/protocol"
)

// frameLog records every frame a client receives.
type frameLog struct {
	mu     sync.Mutex
	frames []protocol.ServerFrame
}

func (l *frameLog) add(f protocol.ServerFrame) {
	l.mu.Lock()
	l.frames = append(l.frames, f)
	l.mu.Unlock()
}

func (l *frameLog) all() []protocol.ServerFrame {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.frames)
}

// contains reports whether any received frame mentions s anywhere.
func (l *frameLog) contains(s string) bool {
	for _, f := range l.all() {
		if strings.Contains(fmt.Sprintf("%+v", f), s) {
			return true
		}
		for _, m := range append(f.Messages, derefMessage(f.Message)...) {
			if strings.Contains(m.Text, s) {
				return true
			}
		}
	}
	return false
}

func derefMessage(m *protocol.Message) []protocol.Message {
	if m == nil {
		return nil
	}
	return []protocol.Message{*m}
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func (ts *testServer) visitor(t testing.TB, log *frameLog) *client.Conn {
	t.Helper()
	opts := client.Options{}
	if log != nil {
		opts.OnFrame = log.add
	}
	c, err := client.DialVisitor(testCtx(t), ts.URL, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (ts *testServer) operator(t testing.TB, id string, log *frameLog) *client.Conn {
	t.Helper()
	opts := client.Options{Header: http.Header{"X-Operator": {id}}}
	if log != nil {
		opts.OnFrame = log.add
	}
	c, err := client.DialOperator(testCtx(t), ts.URL, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func hasText(c *client.Conn, conv, text string) bool {
	for _, m := range c.Messages(conv) {
		if m.Text == text {
			return true
		}
	}
	return false
}

func waitText(t testing.TB, c *client.Conn, conv, text string) {
	t.Helper()
	if err := c.Wait(testCtx(t), func(c *client.Conn) bool { return hasText(c, conv, text) }); err != nil {
		t.Fatalf("waiting for %q: %v", text, err)
	}
}

func waitState(t testing.TB, c *client.Conn, conv, what string, cond func(protocol.Conversation) bool) protocol.Conversation {
	t.Helper()
	var got protocol.Conversation
	err := c.Wait(testCtx(t), func(c *client.Conn) bool {
		s, ok := c.Conversation(conv)
		got = s
		return ok && cond(s)
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v (last state %+v)", what, err, got)
	}
	return got
}

func TestConversationEndToEnd(t *testing.T) {
	ts := newTestServer(t)
	ctx := testCtx(t)
	var vlog, alog frameLog
	v := ts.visitor(t, &vlog)

	first, err := v.Send(ctx, "", "Hello, do you ship to Norway?")
	if err != nil {
		t.Fatal(err)
	}
	conv := first.Conv
	if first.Seq != 1 || first.Kind != protocol.KindVisitor {
		t.Fatalf("first message: %+v", first)
	}
	// Nobody is online: a place in line, but no wait estimate (nobody
	// could answer within it).
	waitState(t, v, conv, "queue position 1", func(c protocol.Conversation) bool {
		return c.Status == protocol.StatusQueued && c.Queue != nil && c.Queue.Position == 1 && c.Queue.WaitSeconds == 0
	})

	// An operator comes online and is assigned.
	alice := ts.operator(t, "alice", &alog)
	st := waitState(t, v, conv, "assignment to Alice", func(c protocol.Conversation) bool {
		return c.Status == protocol.StatusAssigned && c.Operator != nil && c.Operator.Name == "Alice"
	})
	if st.Operator.Avatar != "https://example.test/alice.png" {
		t.Errorf("visitor sees avatar %q", st.Operator.Avatar)
	}
	waitText(t, alice, conv, "Hello, do you ship to Norway?")

	// Messages flow both ways.
	if _, err := alice.Send(ctx, conv, "Yes, in 3-5 days."); err != nil {
		t.Fatal(err)
	}
	waitText(t, v, conv, "Yes, in 3-5 days.")
	for _, m := range v.Messages(conv) {
		if m.Text == "Yes, in 3-5 days." && (m.Author == nil || m.Author.Name != "Alice" || m.Kind != protocol.KindOperator) {
			t.Errorf("operator message as the visitor sees it: %+v", m)
		}
	}
	if _, err := v.Send(ctx, "", "Great, thanks"); err != nil {
		t.Fatal(err)
	}
	waitText(t, alice, conv, "Great, thanks")

	// Typing with a draft: the operator sees it masked; the visitor never sees drafts.
	if err := v.Typing(ctx, "", true, "my card is 4111 1111 1111 1111"); err != nil {
		t.Fatal(err)
	}
	err = alice.Wait(ctx, func(*client.Conn) bool {
		for _, f := range alog.all() {
			if f.Type == protocol.TypeTyping && f.From == protocol.RoleVisitor && f.Typing && f.Draft == "my card is •••• •••• •••• 1111" {
				return true
			}
		}
		return false
	})
	if err != nil {
		t.Fatalf("operator never saw the masked draft: %v", err)
	}
	if alog.contains("4111 1111 1111 1111") {
		t.Error("the unmasked card number reached the operator")
	}
	if err := alice.Typing(ctx, conv, true, "operator draft, private"); err != nil {
		t.Fatal(err)
	}
	// An internal note.
	if _, err := alice.Note(ctx, conv, "VIP customer, internal"); err != nil {
		t.Fatal(err)
	}
	waitText(t, alice, conv, "VIP customer, internal")

	// A second operator; transfer with a comment (an internal note too).
	var blog frameLog
	bob := ts.operator(t, "bob", &blog)
	if err := alice.Transfer(ctx, conv, client.TransferTo{Operator: "bob", Comment: "please take over, internal"}); err != nil {
		t.Fatal(err)
	}
	waitState(t, v, conv, "transfer to Bob", func(c protocol.Conversation) bool {
		return c.Status == protocol.StatusAssigned && c.Operator != nil && c.Operator.Name == "Bob"
	})
	waitText(t, bob, conv, "VIP customer, internal") // history moves with the conversation
	waitText(t, bob, conv, "please take over, internal")
	waitText(t, bob, conv, "Hello, do you ship to Norway?")
	waitState(t, alice, conv, "alice loses it", func(c protocol.Conversation) bool {
		return c.Operator != nil && c.Operator.ID == "bob"
	})
	if _, err := alice.Send(ctx, conv, "not mine anymore"); !isCode(err, protocol.CodeForbidden) {
		t.Errorf("former operator sending: %v, want forbidden", err)
	}

	// Barrier: the visitor has everything published before Bob's message.
	if _, err := bob.Send(ctx, conv, "Hi, Bob here."); err != nil {
		t.Fatal(err)
	}
	waitText(t, v, conv, "Hi, Bob here.")
	for _, secret := range []string{"VIP customer", "please take over", "operator draft", "4111"} {
		if vlog.contains(secret) || hasText(v, conv, secret) {
			t.Errorf("visitor received %q", secret)
		}
	}
	sawOperatorTyping := false
	for _, f := range vlog.all() {
		if f.Type == protocol.TypeTyping {
			sawOperatorTyping = sawOperatorTyping || (f.From == protocol.RoleOperator && f.Typing)
			if f.Draft != "" {
				t.Errorf("visitor received a draft: %+v", f)
			}
		}
		if f.Message != nil && f.Message.Kind == protocol.KindNote {
			t.Errorf("visitor received a note frame: %+v", f)
		}
	}
	if !sawOperatorTyping {
		t.Error("visitor never saw the operator typing")
	}
	// The visitor's messages arrive in sequence order, once each.
	assertOrderedOnce(t, v.Messages(conv))
	assertOrderedOnce(t, bob.Messages(conv))
}

func isCode(err error, code string) bool {
	var ce *client.Error
	return err != nil && asError(err, &ce) && ce.Code == code
}

func assertOrderedOnce(t testing.TB, ms []protocol.Message) {
	t.Helper()
	for i := 1; i < len(ms); i++ {
		if ms[i].Seq <= ms[i-1].Seq {
			t.Fatalf("messages out of order or repeated at %d: seq %d after %d", i, ms[i].Seq, ms[i-1].Seq)
		}
	}
}

func TestCapacityAndQueuePositions(t *testing.T) {
	ts := newTestServer(t)
	ctx := testCtx(t)
	const visitors = 20
	vs := make([]*client.Conn, visitors)
	convs := make([]string, visitors)
	for i := range vs {
		vs[i] = ts.visitor(t, nil)
		m, err := vs[i].Send(ctx, "", fmt.Sprintf("visitor %d needs help", i))
		if err != nil {
			t.Fatal(err)
		}
		convs[i] = m.Conv
	}
	// Nobody is online: everyone queues, in arrival order.
	for i, v := range vs {
		waitState(t, v, convs[i], fmt.Sprintf("visitor %d at position %d", i, i+1), func(c protocol.Conversation) bool {
			return c.Status == protocol.StatusQueued && c.Queue != nil && c.Queue.Position == i+1
		})
	}
	// Three operators with capacity 2 each come online.
	ops := map[string]*client.Conn{}
	for _, id := range []string{"alice", "bob", "carol"} {
		ops[id] = ts.operator(t, id, nil)
	}
	// The first six are assigned, the rest move up by six.
	for i, v := range vs {
		if i < 6 {
			waitState(t, v, convs[i], "assigned", func(c protocol.Conversation) bool { return c.Status == protocol.StatusAssigned })
			continue
		}
		waitState(t, v, convs[i], fmt.Sprintf("position %d", i-5), func(c protocol.Conversation) bool {
			return c.Status == protocol.StatusQueued && c.Queue != nil && c.Queue.Position == i-5
		})
	}
	assertCapacity(t, ts.Store, 2)

	// An operator closes one: the head of the queue takes the freed place,
	// and everyone behind moves up one.
	alice := ops["alice"]
	var mine string
	for _, c := range alice.Conversations() {
		if c.Status == protocol.StatusAssigned && c.Operator != nil && c.Operator.ID == "alice" {
			mine = c.ID
			break
		}
	}
	if mine == "" {
		t.Fatal("alice has no conversation")
	}
	if err := alice.CloseConversation(ctx, mine); err != nil {
		t.Fatal(err)
	}
	waitState(t, vs[6], convs[6], "the queue head assigned to alice", func(c protocol.Conversation) bool {
		return c.Status == protocol.StatusAssigned && c.Operator != nil && c.Operator.ID == "alice"
	})
	for i := 7; i < visitors; i++ {
		waitState(t, vs[i], convs[i], fmt.Sprintf("position %d", i-6), func(c protocol.Conversation) bool {
			return c.Queue != nil && c.Queue.Position == i-6
		})
	}
	assertCapacity(t, ts.Store, 2)

	// Accepting from the queue at capacity is refused; with room it works.
	if err := alice.Accept(ctx, convs[7]); !isCode(err, protocol.CodeCapacity) {
		t.Fatalf("accept at capacity: %v, want capacity", err)
	}
	if err := alice.CloseConversation(ctx, convs[6]); err != nil {
		t.Fatal(err)
	}
	waitState(t, vs[7], convs[7], "assigned after close", func(c protocol.Conversation) bool { return c.Status == protocol.StatusAssigned })
	assertCapacity(t, ts.Store, 2)
}

func assertCapacity(t testing.TB, st chat.Store, capacity int) {
	t.Helper()
	loads, err := st.OperatorLoads(context.Background(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range loads {
		if l.Active > capacity {
			t.Errorf("operator %s has %d conversations, capacity %d", l.Operator.ID, l.Active, capacity)
		}
	}
	assigned, err := st.Conversations(context.Background(), chat.ConversationFilter{Status: []chat.Status{chat.Assigned}, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, c := range assigned {
		if seen[c.ID] {
			t.Errorf("conversation %s listed twice", c.ID)
		}
		seen[c.ID] = true
	}
}

func TestLifecycleHistoryAndNewConversationAfterClose(t *testing.T) {
	ts := newTestServer(t)
	ctx := testCtx(t)
	v := ts.visitor(t, nil)
	alice := ts.operator(t, "alice", nil)
	m1, err := v.Send(ctx, "", "first chat")
	if err != nil {
		t.Fatal(err)
	}
	waitText(t, alice, m1.Conv, "first chat")
	if err := alice.CloseConversation(ctx, m1.Conv); err != nil {
		t.Fatal(err)
	}
	waitState(t, v, m1.Conv, "closed", func(c protocol.Conversation) bool { return c.Status == protocol.StatusClosed })
	m2, err := v.Send(ctx, "", "second chat")
	if err != nil {
		t.Fatal(err)
	}
	if m2.Conv == m1.Conv || m2.Seq != 1 {
		t.Fatalf("message after close went to %s seq %d, want a new conversation", m2.Conv, m2.Seq)
	}
	// The visitor still reads the closed conversation's history.
	hist, more, err := v.History(ctx, m1.Conv, 0, 50)
	if err != nil || more {
		t.Fatal(err, more)
	}
	if len(hist) == 0 || hist[0].Text != "first chat" {
		t.Fatalf("history of the closed conversation: %+v", hist)
	}
	// Reopening the old one while a new one is open conflicts.
	if err := alice.Reopen(ctx, m1.Conv); !isCode(err, protocol.CodeConflict) {
		t.Fatalf("reopen with another open: %v", err)
	}
	// A retried client id returns the original, never a duplicate.
	again, err := v.SendID(ctx, m2.Conv, m2.ClientID, "second chat")
	if err != nil || again.Seq != m2.Seq || again.ID != m2.ID {
		t.Fatalf("retry returned %+v, %v; want the original %+v", again, err, m2)
	}
}
