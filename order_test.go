package chat_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/protocol"
)

// seedMsg is a message seedChat stores: who wrote it, how long after the
// conversation was created.
type seedMsg struct {
	kind  chat.MessageKind
	after time.Duration
}

func visitorSays(after time.Duration) seedMsg  { return seedMsg{chat.VisitorText, after} }
func operatorSays(after time.Duration) seedMsg { return seedMsg{chat.OperatorText, after} }

// seedChat stores, straight into st, a conversation of visitorID created
// at created, assigned then to operatorID (none if ""), with msgs, closed
// closeAfter later (open if 0).
func seedChat(t testing.TB, st chat.Store, visitorID, operatorID string, created time.Time, closeAfter time.Duration, msgs ...seedMsg) *chat.Conversation {
	t.Helper()
	ctx := testCtx(t)
	if err := st.CreateVisitor(ctx, &chat.Visitor{ID: visitorID, CreatedAt: created}); err != nil && !errors.Is(err, chat.ErrConflict) {
		t.Fatal(err)
	}
	c := &chat.Conversation{ID: uuid.NewString(), VisitorID: visitorID, CreatedAt: created, QueuedAt: created}
	if err := st.CreateConversation(ctx, c); err != nil {
		t.Fatal(err)
	}
	if operatorID != "" {
		if err := st.PutOperator(ctx, testTeam[operatorID]); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Assign(ctx, c.ID, "", operatorID, 0, created); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range msgs {
		msg := &chat.Message{ConversationID: c.ID, Kind: m.kind, Text: "hi", CreatedAt: created.Add(m.after)}
		if m.kind == chat.OperatorText {
			msg.AuthorID = operatorID
		}
		if _, err := st.AppendMessage(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	if closeAfter > 0 {
		if _, err := st.CloseConversation(ctx, c.ID, created.Add(closeAfter)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.Conversation(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// day0 is the fake clock's start in the reports' tests: a Tuesday morning.
var day0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func TestOrderAttributedToChatAndReported(t *testing.T) {
	clock := &fakeClock{now: day0}
	ts := newTestServer(t, func(c *chat.Config) { c.Now = clock.Now })
	ctx := testCtx(t)
	if err := ts.Store.PutTrigger(ctx, &chat.Trigger{ID: "product-help", Name: "Help on product pages", URL: "/product/*", Message: "Need help?"}); err != nil {
		t.Fatal(err)
	}
	alice := ts.operator(t, "alice", nil)
	v := ts.visitor(t, nil)
	m, err := v.Send(ctx, "", "Is the mug dishwasher-safe?")
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, alice, m.Conv, "assigned to alice", func(c protocol.Conversation) bool { return c.Status == "assigned" })
	// The trigger's message opened this conversation (the proactive code
	// records that).
	if err := ts.Store.AddActivities(ctx, []chat.Activity{
		{Kind: chat.TriggerShown, TriggerID: "product-help", VisitorID: v.Me().ID, At: clock.Now()},
		{Kind: chat.InvitationAccepted, TriggerID: "product-help", VisitorID: v.Me().ID, ConversationID: m.Conv, At: clock.Now()},
	}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(30 * time.Second)
	if _, err := alice.Send(ctx, m.Conv, "Yes, it is."); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)

	want := chat.Attribution{Channel: chat.ChannelChat, ConversationID: m.Conv, OperatorID: "alice", TriggerID: "product-help", TouchedAt: day0}
	a, err := ts.Chat.Attribution(ctx, v.Me().ID)
	if err != nil || !a.Chat() || !sameAttribution(a, want) {
		t.Fatalf("Attribution = %+v, %v; want %+v", a, err, want)
	}
	for range 2 { // the same order twice counts once
		o, err := ts.Chat.RecordOrder(ctx, chat.Order{ID: "A-1", VisitorID: v.Me().ID, Total: 4999, Currency: "EUR"})
		if err != nil {
			t.Fatal(err)
		}
		if !sameAttribution(o.Attribution, want) || o.Total != 4999 || !o.PlacedAt.Equal(day0.Add(time.Hour+30*time.Second)) {
			t.Fatalf("RecordOrder = %+v; want attribution %+v", o, want)
		}
	}
	// Eight days after the chat the window (7 days) is over.
	clock.Advance(8 * 24 * time.Hour)
	late, err := ts.Chat.RecordOrder(ctx, chat.Order{ID: "A-2", VisitorID: v.Me().ID, Total: 1000, Currency: "EUR"})
	if err != nil || late.Attribution.Chat() {
		t.Fatalf("order 8 days after the chat: %+v, %v; want no attribution", late, err)
	}

	rep, err := ts.Chat.Report(ctx, chat.ReportQuery{From: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 12, 11, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Currency != "EUR" || rep.Team.Orders != 1 || rep.Team.Revenue != 4999 || rep.Team.Conversations != 1 {
		t.Errorf("team: %s %+v; want 1 conversation, 1 order of 4999 EUR", rep.Currency, rep.Team)
	}
	if op := operatorRow(t, rep, "alice"); op.Orders != 1 || op.Revenue != 4999 || op.Name != "Alice" || op.FirstResponseMedian != 30 {
		t.Errorf("alice: %+v; want 1 order of 4999, first response 30s", op)
	}
	if len(rep.Periods) != 10 || rep.Periods[0].Revenue != 4999 || rep.Periods[0].Conversations != 1 || rep.Periods[9].Orders != 0 {
		t.Errorf("periods: %+v", rep.Periods)
	}
	wantTrigger := chat.TriggerReport{ID: "product-help", Name: "Help on product pages", Shown: 1, Accepted: 1, Orders: 1, Revenue: 4999}
	if len(rep.Triggers) != 1 || rep.Triggers[0] != wantTrigger {
		t.Errorf("triggers: %+v; want %+v", rep.Triggers, wantTrigger)
	}
	// The conversion's chat orders are the attributed ones, the team's
	// Orders: the order 8 days later is not from chat (issue 14: the two
	// figures agree by definition).
	if c := rep.Conversion; c.VisitorsChatted != 1 || c.OrdersChatted != rep.Team.Orders || c.OrdersChatted != 1 || c.RateChatted != 1 || c.OrdersNotChatted != 1 {
		t.Errorf("conversion: %+v; team orders %d", c, rep.Team.Orders)
	}
}

func sameAttribution(a, b chat.Attribution) bool {
	ta, tb := a.TouchedAt, b.TouchedAt
	a.TouchedAt, b.TouchedAt = time.Time{}, time.Time{}
	return a == b && ta.Equal(tb)
}

func operatorRow(t testing.TB, rep *chat.Report, id string) chat.OperatorReport {
	t.Helper()
	for _, op := range rep.Operators {
		if op.ID == id {
			return op
		}
	}
	t.Fatalf("no operator %q in report %+v", id, rep.Operators)
	return chat.OperatorReport{}
}

func TestOrderWithoutChatIsNotAttributed(t *testing.T) {
	clock := &fakeClock{now: day0}
	ts := newTestServer(t, func(c *chat.Config) { c.Now = clock.Now })
	ctx := testCtx(t)
	// A visitor who only browsed, and one who wrote but whom no operator
	// ever took.
	if err := ts.Store.CreateVisitor(ctx, &chat.Visitor{ID: "browser", CreatedAt: day0}); err != nil {
		t.Fatal(err)
	}
	seedChat(t, ts.Store, "unanswered", "", day0, time.Minute, visitorSays(0))
	// And one whose operator joined but who never wrote (an invitation
	// left unanswered).
	seedChat(t, ts.Store, "silent", "bob", day0, time.Minute, operatorSays(0))
	clock.Advance(time.Hour)
	for _, vid := range []string{"browser", "unanswered", "silent"} {
		o, err := ts.Chat.RecordOrder(ctx, chat.Order{ID: "order-" + vid, VisitorID: vid, Total: 100})
		if err != nil {
			t.Fatal(err)
		}
		if o.Attribution.Chat() || o.Attribution != (chat.Attribution{}) {
			t.Errorf("%s: attribution %+v, want none", vid, o.Attribution)
		}
	}
	rep, err := ts.Chat.Report(ctx, chat.ReportQuery{From: day0.Truncate(24 * time.Hour), To: day0.Truncate(24 * time.Hour).Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Team.Orders != 0 || rep.Team.Revenue != 0 {
		t.Errorf("team row counts unattributed orders: %+v", rep.Team)
	}
	// The unanswered visitor chatted, but their order is not from chat (no
	// attribution): it counts with the others, as "Orders from chat" does.
	if c := rep.Conversion; c.VisitorsChatted != 1 || c.OrdersChatted != 0 || c.VisitorsNotChatted != 2 || c.OrdersNotChatted != 3 || c.RateNotChatted != 1.5 {
		t.Errorf("conversion: %+v", c)
	}
}

func TestRecordOrderBadInput(t *testing.T) {
	ts := newTestServer(t)
	ctx := testCtx(t)
	seedChat(t, ts.Store, "v1", "", day0, 0)
	for _, tc := range []struct {
		name  string
		order chat.Order
		want  error
	}{
		{"unknown visitor", chat.Order{ID: "o1", VisitorID: "nobody", Total: 1}, chat.ErrNotFound},
		{"negative total", chat.Order{ID: "o1", VisitorID: "v1", Total: -1}, chat.ErrInvalid},
		{"missing ID", chat.Order{VisitorID: "v1", Total: 1}, chat.ErrInvalid},
		{"missing visitor", chat.Order{ID: "o1", Total: 1}, chat.ErrInvalid},
		{"bad currency", chat.Order{ID: "o1", VisitorID: "v1", Currency: "euro"}, chat.ErrInvalid},
		{"control characters in ID", chat.Order{ID: "o\x00", VisitorID: "v1"}, chat.ErrInvalid},
	} {
		o, err := ts.Chat.RecordOrder(ctx, tc.order)
		if !errors.Is(err, tc.want) || o != nil {
			t.Errorf("%s: %+v, %v; want %v", tc.name, o, err, tc.want)
		}
	}
	if _, err := ts.Chat.Attribution(ctx, "nobody"); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("Attribution of an unknown visitor: %v, want ErrNotFound", err)
	}
	orders, err := ts.Store.Orders(ctx, chat.OrderQuery{})
	if err != nil || len(orders) != 0 {
		t.Errorf("bad orders were stored: %+v, %v", orders, err)
	}
}

func TestAttributionFirstTouch(t *testing.T) {
	clock := &fakeClock{now: day0.Add(72 * time.Hour)}
	last := newTestServer(t, func(c *chat.Config) { c.Now = clock.Now })
	first := newTestServer(t, func(c *chat.Config) { c.Now = clock.Now; c.Store = last.Store; c.FirstTouch = true })
	ctx := testCtx(t)
	older := seedChat(t, last.Store, "v", "alice", day0, time.Hour, visitorSays(time.Minute), operatorSays(2*time.Minute), visitorSays(3*time.Minute))
	newer := seedChat(t, last.Store, "v", "bob", day0.Add(48*time.Hour), time.Hour, visitorSays(time.Minute), operatorSays(2*time.Minute))
	for _, tc := range []struct {
		srv  *testServer
		conv *chat.Conversation
		op   string
		at   time.Time
	}{
		{last, newer, "bob", newer.CreatedAt.Add(time.Minute)},
		{first, older, "alice", older.CreatedAt.Add(3 * time.Minute)},
	} {
		a, err := tc.srv.Chat.Attribution(ctx, "v")
		want := chat.Attribution{Channel: chat.ChannelChat, ConversationID: tc.conv.ID, OperatorID: tc.op, TouchedAt: tc.at}
		if err != nil || !sameAttribution(a, want) {
			t.Errorf("Attribution = %+v, %v; want %+v", a, err, want)
		}
	}
}
