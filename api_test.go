package chat_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/client"
	"github.com/shopchat/chat/protocol"
	"github.com/shopchat/chat/store/memory"
)

// frameCounter counts the message frames a client receives, per seq.
type frameCounter struct {
	mu   sync.Mutex
	seqs map[int64]int
}

func (fc *frameCounter) onFrame(f protocol.ServerFrame) {
	if f.Type != protocol.TypeMessage || f.Message == nil {
		return
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if fc.seqs == nil {
		fc.seqs = map[int64]int{}
	}
	fc.seqs[f.Message.Seq]++
}

func (fc *frameCounter) count(seq int64) int {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return fc.seqs[seq]
}

// The shop's Go code posts into a conversation while its visitor is
// connected to node A and its operator to node B: posts made on either
// node (as the operator, as a bot, as a system line) reach both live,
// each exactly once; an internal note reaches the operator only.
func TestPostFromGoReachesBothNodesOnce(t *testing.T) {
	ctx := testCtx(t)
	bus, store := &lossyBus{}, memory.New()
	if err := store.PutOperator(ctx, testTeam["bob"]); err != nil { // known, not connected
		t.Fatal(err)
	}
	var nodes [2]*testServer
	for i := range nodes {
		nodes[i] = newTestServer(t, func(c *chat.Config) { c.Store, c.Broker = store, bus })
	}
	var vFrames, opFrames frameCounter
	op, err := client.DialOperator(ctx, nodes[1].URL, client.Options{Header: http.Header{"X-Operator": {"alice"}}, OnFrame: opFrames.onFrame})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { op.Close() })
	v, err := client.DialVisitor(ctx, nodes[0].URL, client.Options{OnFrame: vFrames.onFrame})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	first, err := v.Send(ctx, "", "Where is my parcel?")
	if err != nil {
		t.Fatal(err)
	}
	conv := first.Conv
	waitOwnedBy(t, store, conv, "alice")

	a, b := nodes[0].Chat, nodes[1].Chat
	posts := []struct {
		on   *chat.Server
		post chat.Post
	}{
		{a, chat.Post{Conversation: conv, As: chat.Author{Operator: "alice"}, Text: "Checking, one moment", ClientID: "shop-1"}},
		{b, chat.Post{Conversation: conv, As: chat.Author{Bot: "Tracker"}, Text: "Parcel 1042 is out for delivery"}},
		{a, chat.Post{Conversation: conv, As: chat.Author{System: true}, Text: "Order 1042 was updated"}},
		{b, chat.Post{Conversation: conv, As: chat.Author{Operator: "alice"}, Text: "Checking, one moment", ClientID: "shop-1"}}, // a retry
	}
	var seqs []int64
	for _, p := range posts {
		m, err := p.on.PostMessage(ctx, p.post)
		if err != nil {
			t.Fatalf("post %+v: %v", p.post, err)
		}
		seqs = append(seqs, m.Seq)
	}
	if seqs[3] != seqs[0] {
		t.Fatalf("the retry got seq %d, want the original's %d", seqs[3], seqs[0])
	}
	note, err := a.AddNote(ctx, conv, "bob", "Refund if it is late")
	if err != nil {
		t.Fatal(err)
	}
	// Bob is not the assignee: the API refuses him as the console does.
	if _, err := b.PostMessage(ctx, chat.Post{Conversation: conv, As: chat.Author{Operator: "bob"}, Text: "hi"}); !errors.Is(err, chat.ErrForbidden) {
		t.Fatalf("bob posting into alice's conversation: %v, want ErrForbidden", err)
	}
	// The last post marks the end: each connection gets a conversation's
	// messages in order, so once it has this one, a duplicate of an
	// earlier one would have come before it.
	last, err := b.PostMessage(ctx, chat.Post{Conversation: conv, As: chat.Author{System: true}, Text: "end"})
	if err != nil {
		t.Fatal(err)
	}
	for who, c := range map[string]*client.Conn{"visitor": v, "operator": op} {
		if err := c.Wait(ctx, func(c *client.Conn) bool { return containsSeq(c.Messages(conv), last.Seq) }); err != nil {
			t.Fatalf("the %s never saw the last post: %v", who, err)
		}
	}
	for _, seq := range seqs[:3] {
		if n := vFrames.count(seq); n != 1 {
			t.Errorf("the visitor got seq %d %d times, want once", seq, n)
		}
		if n := opFrames.count(seq); n != 1 {
			t.Errorf("the operator got seq %d %d times, want once", seq, n)
		}
	}
	if n := vFrames.count(note.Seq); n != 0 {
		t.Errorf("the visitor got the internal note %d times", n)
	}
	if n := opFrames.count(note.Seq); n != 1 {
		t.Errorf("the operator got the note %d times, want once", n)
	}
	ms := v.Messages(conv)
	for _, m := range ms {
		if m.Seq == seqs[1] && (m.Kind != string(chat.BotText) || m.Author == nil || m.Author.Name != "Tracker") {
			t.Errorf("the bot's message reached the visitor as %+v", m)
		}
	}
}

const closers = 8

// Closes racing on one node (the visitor's, the operator's, the shop's
// code) close once: one succeeds, the others get ErrConflict, and the
// conversation carries one close line.
func TestConcurrentClosesCloseOnce(t *testing.T) {
	store := &closeHolder{Store: memory.New(), allRead: make(chan struct{})}
	ts := newTestServer(t, func(c *chat.Config) { c.Store = store })
	conv := raceCloses(t, store, ts)
	if n := closeLines(t, ts, conv); n != 1 {
		t.Errorf("%d close lines, want 1", n)
	}
}

// Closes racing on two nodes sharing a store close once and write one
// close line: the first node's close is held after its line is written,
// while the other node reads the conversation still open and closes it.
func TestConcurrentClosesAcrossNodesOneLine(t *testing.T) {
	store := &closeHolder{Store: memory.New(), allRead: make(chan struct{})}
	nodeA := newTestServer(t, func(c *chat.Config) { c.Store = store })
	nodeB := newTestServer(t, func(c *chat.Config) { c.Store = store })
	conv := raceCloses(t, store, nodeA, nodeB)
	if n := closeLines(t, nodeB, conv); n != 1 {
		t.Errorf("%d close lines, want 1", n)
	}

	// Reopened and closed again: a second line, for the second close.
	ctx := testCtx(t)
	if err := nodeB.Chat.ReopenConversation(ctx, conv, ""); err != nil {
		t.Fatal(err)
	}
	if err := nodeA.Chat.CloseConversation(ctx, conv, ""); err != nil {
		t.Fatal(err)
	}
	if n := closeLines(t, nodeA, conv); n != 2 {
		t.Errorf("%d close lines after a reopen and a close, want 2", n)
	}
}

// raceCloses starts a conversation on nodes[0] and closes it from
// closers goroutines at once, spread over nodes, with store holding the
// first close; it checks that exactly one close succeeded and the others
// got ErrConflict, and returns the conversation.
func raceCloses(t *testing.T, store *closeHolder, nodes ...*testServer) string {
	t.Helper()
	ctx := testCtx(t)
	q, err := nodes[0].visitor(t, nil).Send(ctx, "", "Please close this.")
	if err != nil {
		t.Fatal(err)
	}
	store.hold.Store(true)
	errs := make(chan error, closers)
	var start sync.WaitGroup
	start.Add(1)
	for i := range closers {
		node := nodes[i%len(nodes)]
		go func() {
			start.Wait()
			errs <- node.Chat.CloseConversation(ctx, q.Conv, "")
		}()
	}
	start.Done()
	var closed int
	for range closers {
		switch err := <-errs; {
		case err == nil:
			closed++
		case !errors.Is(err, chat.ErrConflict):
			t.Errorf("close: %v, want nil or ErrConflict", err)
		}
	}
	if closed != 1 {
		t.Errorf("%d closes succeeded, want 1", closed)
	}
	return q.Conv
}

func closeLines(t testing.TB, ts *testServer, conv string) int {
	t.Helper()
	page, err := ts.Chat.Messages(testCtx(t), chat.MessageQuery{ConversationID: conv, Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	lines := 0
	for _, m := range page.Messages {
		if m.Kind == chat.SystemEvent && strings.Contains(m.Text, "closed the conversation") {
			lines++
		}
	}
	return lines
}

// closeHolder holds the first close until every closer could have read
// the conversation (each reads it twice), or a moment has passed:
// without serialisation the other closers then see it still open.
type closeHolder struct {
	chat.Store
	hold    atomic.Bool
	reads   atomic.Int32
	allRead chan struct{}
}

func (s *closeHolder) Conversation(ctx context.Context, id string) (*chat.Conversation, error) {
	if s.hold.Load() && s.reads.Add(1) == 2*closers {
		close(s.allRead)
	}
	return s.Store.Conversation(ctx, id)
}

func (s *closeHolder) CloseConversation(ctx context.Context, id string, at time.Time) (*chat.Conversation, error) {
	if s.hold.CompareAndSwap(true, false) {
		select {
		case <-s.allRead:
		case <-time.After(500 * time.Millisecond): // serialised: the others wait for this close
		}
	}
	return s.Store.CloseConversation(ctx, id, at)
}
