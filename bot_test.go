package chat_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/bot/faq"
	"github.com/shopchat/chat/client"
	"github.com/shopchat/chat/protocol"
)

var faqCanned = []chat.CannedResponse{
	{Shortcut: "returns", Title: "Return policy", Text: "You can return anything within 30 days for a full refund."},
	{Shortcut: "shipping", Title: "Shipping times", Text: "We ship within 2 business days; delivery takes 3-5 days."},
}

func withFAQ(cfg *chat.Config) {
	cfg.Bot = faq.New(faq.Options{})
	cfg.CannedResponses = faqCanned
}

// lastOf returns the newest message of kind in conv that c holds.
func lastOf(c *client.Conn, conv, kind string) (protocol.Message, bool) {
	ms := c.Messages(conv)
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].Kind == kind {
			return ms[i], true
		}
	}
	return protocol.Message{}, false
}

// waitBotSays waits for a bot message in conv containing text.
func waitBotSays(t testing.TB, c *client.Conn, conv, text string) protocol.Message {
	t.Helper()
	var got protocol.Message
	err := c.Wait(testCtx(t), func(c *client.Conn) bool {
		for _, m := range c.Messages(conv) {
			if m.Kind == protocol.KindBot && strings.Contains(m.Text, text) {
				got = m
				return true
			}
		}
		return false
	})
	if err != nil {
		t.Fatalf("waiting for the bot to say %q: %v (have %+v)", text, err, c.Messages(conv))
	}
	return got
}

func historyHas(t testing.TB, op *client.Conn, conv, kind, text string) bool {
	t.Helper()
	ms, _, err := op.History(testCtx(t), conv, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Kind == kind && strings.Contains(m.Text, text) {
			return true
		}
	}
	return false
}

// The FAQ bot answers what the canned responses cover, with quick replies,
// hands off what they do not (with a note for the operator), and "human"
// hands off at once. The report counts both.
func TestFAQBotAnswersAndHandsOff(t *testing.T) {
	ts := newTestServer(t, withFAQ)
	ctx := testCtx(t)
	alice := ts.operator(t, "alice", nil)
	v := ts.visitor(t, nil)

	q, err := v.Send(ctx, "", "What is your return policy?")
	if err != nil {
		t.Fatal(err)
	}
	conv := q.Conv
	a := waitBotSays(t, v, conv, "within 30 days")
	if a.Author == nil || !a.Author.Bot || a.Author.Name != "Assistant" || a.Author.ID != "bot:Assistant" {
		t.Fatalf("bot message author: %+v", a.Author)
	}
	if len(a.QuickReplies) != 2 || a.QuickReplies[1] != "Talk to a person" {
		t.Fatalf("quick replies: %q", a.QuickReplies)
	}
	st := waitState(t, v, conv, "with the bot", func(c protocol.Conversation) bool {
		return c.Status == protocol.StatusAssigned && c.Operator != nil && c.Operator.Bot
	})
	if st.Operator.Name != "Assistant" {
		t.Fatalf("conversation operator: %+v", st.Operator)
	}
	for _, o := range alice.Operators() {
		if chat.IsBotID(o.ID) {
			t.Fatalf("the bot is listed as a teammate: %+v", o)
		}
	}

	// A question it cannot answer: handed to the team, alice (online) gets it.
	if _, err := v.Send(ctx, conv, "Can I pay with a cheque by mail?"); err != nil {
		t.Fatal(err)
	}
	waitBotSays(t, v, conv, "someone from the team")
	waitState(t, v, conv, "assigned to alice", func(c protocol.Conversation) bool {
		return c.Status == protocol.StatusAssigned && c.Operator != nil && c.Operator.ID == "alice"
	})
	if !historyHas(t, alice, conv, protocol.KindNote, "no answer for \"Can I pay with a cheque by mail?\"") {
		t.Fatal("alice does not see the bot's note")
	}
	if _, ok := lastOf(v, conv, protocol.KindNote); ok {
		t.Fatal("the visitor received the bot's note")
	}
	// The bot no longer answers in a conversation it handed off.
	if _, err := v.Send(ctx, conv, "What is your return policy?"); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Send(ctx, conv, "Cheques are fine."); err != nil { // after the visitor's: the bot would have answered first
		t.Fatal(err)
	}
	waitText(t, v, conv, "Cheques are fine.")
	n := 0
	for _, m := range v.Messages(conv) {
		if m.Kind == protocol.KindBot && strings.Contains(m.Text, "30 days") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("the bot answered %d times in a conversation it handed off", n)
	}
	if err := alice.CloseConversation(ctx, conv); err != nil {
		t.Fatal(err)
	}

	// "human": handed off at once, without the bot's answer.
	v2 := ts.visitor(t, nil)
	h, err := v2.Send(ctx, "", "I want to talk to a human")
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, v2, h.Conv, "assigned to alice", func(c protocol.Conversation) bool {
		return c.Status == protocol.StatusAssigned && c.Operator != nil && c.Operator.ID == "alice"
	})
	if _, ok := lastOf(v2, h.Conv, protocol.KindBot); ok {
		t.Fatal("the bot answered a visitor who asked for a person")
	}
	if !historyHas(t, alice, h.Conv, protocol.KindNote, "asked for a person") {
		t.Fatal("alice does not see why the bot handed off")
	}

	// A third visitor is helped by the bot alone.
	v3 := ts.visitor(t, nil)
	s3, err := v3.Send(ctx, "", "How long does shipping take?")
	if err != nil {
		t.Fatal(err)
	}
	waitBotSays(t, v3, s3.Conv, "business days")
	if _, err := v3.Send(ctx, s3.Conv, "That answers it, thanks"); err != nil {
		t.Fatal(err)
	}
	waitState(t, v3, s3.Conv, "closed by the bot", func(c protocol.Conversation) bool { return c.Status == protocol.StatusClosed })

	rep, err := ts.Chat.Report(ctx, chat.ReportQuery{From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Bot.Conversations != 3 || rep.Bot.HandedOff != 2 || rep.Bot.Resolved != 1 {
		t.Fatalf("bot report: %+v", rep.Bot)
	}
	for _, o := range rep.Operators {
		if chat.IsBotID(o.ID) {
			t.Fatalf("the bot has an operator row: %+v", o)
		}
	}
	if rep.Team.Missed != 0 {
		t.Fatalf("missed %d: the bot's resolved conversation counts as missed", rep.Team.Missed)
	}
}

// routeOnCreate runs a round of the live loop (as another node's would)
// right after each conversation is created, before the Server goes on.
type routeOnCreate struct {
	chat.Store
	route func()
}

func (s *routeOnCreate) Unwrap() chat.Store { return s.Store }

func (s *routeOnCreate) CreateConversation(ctx context.Context, c *chat.Conversation) error {
	err := s.Store.CreateConversation(ctx, c)
	if err == nil && s.route != nil {
		s.route()
	}
	return err
}

// A new conversation is the bot's from the moment it exists: routing that
// runs between its creation and the bot's turn (the live loop's round, on
// this node or another) finds nothing to give an online operator.
func TestBotGetsNewConversationBeforeRouting(t *testing.T) {
	wrapped := &routeOnCreate{}
	ts := newTestServer(t, withFAQ, func(cfg *chat.Config) {
		wrapped.Store = cfg.Store
		cfg.Store = wrapped
	})
	wrapped.route = chat.LiveSweeper(ts.Chat)
	ctx := testCtx(t)
	ts.operator(t, "alice", nil) // online, with room
	v := ts.visitor(t, nil)
	q, err := v.Send(ctx, "", "What is your return policy?")
	if err != nil {
		t.Fatal(err)
	}
	waitBotSays(t, v, q.Conv, "within 30 days")
	c, err := ts.Chat.Conversation(ctx, q.Conv)
	if err != nil {
		t.Fatal(err)
	}
	if !chat.IsBotID(c.OperatorID) || c.Status != chat.Assigned {
		t.Fatalf("conversation %s with %q, want the bot's", c.Status, c.OperatorID)
	}
}

// llmDouble stands for a bot backed by a language model: it streams its
// answer in pieces, or hangs until cancelled.
type llmDouble struct {
	mu        sync.Mutex
	cancelled []error // the context errors of the turns it saw cancelled
	hang      func(text string) bool
	started   chan string
}

func (b *llmDouble) Reply(ctx context.Context, t *chat.BotTurn) (chat.BotReply, error) {
	q := t.Question().Text
	if b.started != nil {
		b.started <- q
	}
	if b.hang(q) {
		<-ctx.Done()
		b.mu.Lock()
		b.cancelled = append(b.cancelled, ctx.Err())
		b.mu.Unlock()
		return chat.BotReply{}, ctx.Err()
	}
	for _, piece := range []string{"You asked: ", q, "."} {
		if err := ctx.Err(); err != nil {
			return chat.BotReply{}, err
		}
		t.Stream(piece)
	}
	return chat.BotReply{QuickReplies: []string{"More"}}, nil
}

func (b *llmDouble) cancels() []error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]error(nil), b.cancelled...)
}

// A streaming bot's pieces arrive as one message after a typing frame; a
// newer visitor message cancels the turn it supersedes; a turn past its
// deadline is cancelled and handed off.
func TestBotStreamsAndIsCancelled(t *testing.T) {
	llm := &llmDouble{hang: func(q string) bool { return strings.HasPrefix(q, "slow") }, started: make(chan string, 10)}
	ts := newTestServer(t, func(cfg *chat.Config) {
		cfg.Bot = llm
		cfg.BotOptions = chat.BotOptions{Name: "Robo", TurnTimeout: time.Second}
	})
	ctx := testCtx(t)
	var vlog frameLog
	v := ts.visitor(t, &vlog)
	m, err := v.Send(ctx, "", "hello there")
	if err != nil {
		t.Fatal(err)
	}
	conv := m.Conv
	<-llm.started
	got := waitBotSays(t, v, conv, "You asked: hello there.")
	if got.Author == nil || got.Author.Name != "Robo" || len(got.QuickReplies) != 1 {
		t.Fatalf("streamed message: %+v", got)
	}
	typing := false
	for _, f := range vlog.all() {
		typing = typing || (f.Type == protocol.TypeTyping && f.Typing && f.Conv == conv)
	}
	if !typing {
		t.Fatal("the visitor did not see the bot typing while it streamed")
	}

	// A slow turn superseded by a newer message is cancelled; the newer
	// one is answered.
	if _, err := v.Send(ctx, conv, "slow question"); err != nil {
		t.Fatal(err)
	}
	<-llm.started
	if _, err := v.Send(ctx, conv, "quick one"); err != nil {
		t.Fatal(err)
	}
	<-llm.started
	waitBotSays(t, v, conv, "You asked: quick one.")
	if c := llm.cancels(); len(c) != 1 || !errors.Is(c[0], context.Canceled) {
		t.Fatalf("superseded turn: cancellations %v", c)
	}
	if st, _ := v.Conversation(conv); st.Operator == nil || !st.Operator.Bot {
		t.Fatalf("a superseded turn handed off: %+v", st)
	}

	// A turn past its deadline: cancelled, handed off.
	if _, err := v.Send(ctx, conv, "slow again"); err != nil {
		t.Fatal(err)
	}
	waitState(t, v, conv, "queued after the timeout", func(c protocol.Conversation) bool { return c.Status == protocol.StatusQueued })
	if c := llm.cancels(); len(c) != 2 || !errors.Is(c[1], context.DeadlineExceeded) {
		t.Fatalf("timed-out turn: cancellations %v", c)
	}
}

// A bot that fails or panics hands off; it never leaves the visitor
// waiting for nobody.
func TestBotFailureHandsOff(t *testing.T) {
	for name, bot := range map[string]chat.BotFunc{
		"error": func(context.Context, *chat.BotTurn) (chat.BotReply, error) {
			return chat.BotReply{}, errors.New("model unavailable")
		},
		"panic": func(context.Context, *chat.BotTurn) (chat.BotReply, error) { panic("bug") },
	} {
		t.Run(name, func(t *testing.T) {
			ts := newTestServer(t, func(cfg *chat.Config) { cfg.Bot = bot })
			ctx := testCtx(t)
			v := ts.visitor(t, nil)
			m, err := v.Send(ctx, "", "where is my parcel?")
			if err != nil {
				t.Fatal(err)
			}
			waitState(t, v, m.Conv, "queued", func(c protocol.Conversation) bool { return c.Status == protocol.StatusQueued })
			bob := ts.operator(t, "bob", nil)
			if !historyHas(t, bob, m.Conv, protocol.KindNote, "could not answer") {
				t.Fatal("no note saying the bot failed")
			}
		})
	}
}

// The console's suggestions come from past operator answers ranked by
// search; marked answers go first and are the only ones a MarkedOnly
// query (the FAQ bot's) uses.
func TestAnswersFromPastChats(t *testing.T) {
	ts := newTestServer(t)
	ctx := testCtx(t)
	alice := ts.operator(t, "alice", nil)
	past := ts.visitor(t, nil)
	q, err := past.Send(ctx, "", "Do you offer gift wrapping for presents?")
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, alice, q.Conv, "assigned", func(c protocol.Conversation) bool { return c.Status == protocol.StatusAssigned })
	ans, err := alice.Send(ctx, q.Conv, "Yes, gift wrapping is free: tick the box at checkout.")
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.CloseConversation(ctx, q.Conv); err != nil {
		t.Fatal(err)
	}

	got, err := ts.Chat.Answers(ctx, chat.AnswerQuery{Question: "gift wrapping for my presents?"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || got[0].Text != ans.Text || got[0].Question != q.Text || got[0].Marked || got[0].Score < 0.99 {
		t.Fatalf("answers: %+v", got)
	}
	if got, _ := ts.Chat.Answers(ctx, chat.AnswerQuery{Question: "gift wrapping for my presents?", MarkedOnly: true}); len(got) != 0 {
		t.Fatalf("unmarked answers in a MarkedOnly query: %+v", got)
	}
	if err := ts.Chat.MarkAnswer(ctx, q.Conv, q.Seq, "alice", true); !errors.Is(err, chat.ErrInvalid) {
		t.Fatalf("marking the visitor's message: %v", err)
	}
	for name, c := range map[string]struct {
		conv     string
		seq      int64
		operator string
		want     error
	}{
		"seq 0":            {q.Conv, 0, "alice", chat.ErrInvalid},
		"no conversation":  {"", ans.Seq, "alice", chat.ErrInvalid},
		"unknown conv":     {"no-such-conversation", ans.Seq, "alice", chat.ErrNotFound},
		"unknown message":  {q.Conv, ans.Seq + 100, "alice", chat.ErrNotFound},
		"unknown operator": {q.Conv, ans.Seq, "mallory", chat.ErrNotFound},
	} {
		if err := ts.Chat.MarkAnswer(ctx, c.conv, c.seq, c.operator, true); !errors.Is(err, c.want) {
			t.Errorf("MarkAnswer, %s: %v, want %v", name, err, c.want)
		}
	}
	if err := ts.Chat.MarkAnswer(ctx, q.Conv, ans.Seq, "alice", true); err != nil {
		t.Fatal(err)
	}
	got, err = ts.Chat.Answers(ctx, chat.AnswerQuery{Question: "gift wrapping?", MarkedOnly: true})
	if err != nil || len(got) != 1 || !got[0].Marked || got[0].Seq != ans.Seq {
		t.Fatalf("marked answers: %+v, %v", got, err)
	}
	if err := ts.Chat.MarkAnswer(ctx, q.Conv, ans.Seq, "alice", false); err != nil {
		t.Fatal(err)
	}
	if got, _ := ts.Chat.Answers(ctx, chat.AnswerQuery{Question: "gift wrapping?", MarkedOnly: true}); len(got) != 0 {
		t.Fatalf("unmarked answer still marked: %+v", got)
	}
}

// The console's answers frame: suggestions for the open question, marking
// by seq; visitors may not ask.
func TestAnswersFrame(t *testing.T) {
	ts := newTestServer(t, func(cfg *chat.Config) { cfg.CannedResponses = faqCanned })
	ctx := testCtx(t)
	alice := ts.operator(t, "alice", nil)
	v := ts.visitor(t, nil)
	q, err := v.Send(ctx, "", "How long does shipping take to Spain?")
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, alice, q.Conv, "assigned", func(c protocol.Conversation) bool { return c.Status == protocol.StatusAssigned })
	a, err := alice.Send(ctx, q.Conv, "Three days.")
	if err != nil {
		t.Fatal(err)
	}

	op := operatorRaw(t, ts, "bob")
	op.send(protocol.ClientFrame{Type: protocol.TypeAnswers, ID: "a1", Conv: q.Conv, Text: "shipping time?"})
	f := op.until(protocol.TypeAnswers)
	if f.ID != "a1" || len(f.Answers) == 0 || f.Answers[0].Shortcut != "shipping" || f.Answers[0].Score != 1 {
		t.Fatalf("answers: %+v", f)
	}
	op.send(protocol.ClientFrame{Type: protocol.TypeAnswers, ID: "m1", Conv: q.Conv, Action: protocol.ActionMark, Seq: a.Seq})
	if f := op.until(protocol.TypeAck); f.ID != "m1" {
		t.Fatalf("mark: %+v", f)
	}
	got, err := ts.Chat.Answers(ctx, chat.AnswerQuery{Question: "shipping to Spain", MarkedOnly: true})
	if err != nil || len(got) == 0 || !slicesContainsMarked(got, a.Seq) {
		t.Fatalf("after marking by frame: %+v %v", got, err)
	}
	op.send(protocol.ClientFrame{Type: protocol.TypeAnswers, ID: "m2", Conv: q.Conv, Action: protocol.ActionMark, Seq: q.Seq})
	if f := op.until(protocol.TypeError); f.ID != "m2" || f.Code != "invalid" {
		t.Fatalf("marking a visitor's message: %+v", f)
	}

	vr := ts.dialRaw(t, ts.visitorClient(t), "/chat/ws", nil)
	vr.hello()
	vr.send(protocol.ClientFrame{Type: protocol.TypeAnswers, ID: "x", Conv: q.Conv})
	if f := vr.until(protocol.TypeError); f.Code != "forbidden" {
		t.Fatalf("a visitor's answers frame: %+v", f)
	}
}

func slicesContainsMarked(as []chat.Answer, seq int64) bool {
	for _, a := range as {
		if a.Marked && a.Seq == seq {
			return true
		}
	}
	return false
}
