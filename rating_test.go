package chat_test

import (
	"strings"
	"testing"
	"time"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/protocol"
)

// rate sends a rate frame and returns the answer: an ack or an error.
func (c *rawConn) rate(id, conv string, rating int, comment string) protocol.ServerFrame {
	c.t.Helper()
	c.send(protocol.ClientFrame{Type: protocol.TypeRate, ID: id, Conv: conv, Rating: rating, Text: comment})
	for {
		f := c.next()
		if f.ID == id && (f.Type == protocol.TypeAck || f.Type == protocol.TypeError) {
			return f
		}
	}
}

func TestRatings(t *testing.T) {
	clock := &fakeClock{now: day0}
	ts := newTestServer(t, func(c *chat.Config) { c.Now = clock.Now })
	ctx := testCtx(t)
	v := ts.dialRaw(t, ts.visitorClient(t), "/chat/ws", nil)
	v.hello()
	// Nobody online: the conversation waits without an operator.
	v.send(protocol.ClientFrame{Type: protocol.TypeMessage, ID: "m1", Text: "Where is my parcel?"})
	conv := v.until(protocol.TypeAck).Conv
	if f := v.rate("r0", conv, 5, ""); f.Code != protocol.CodeConflict {
		t.Fatalf("rating a conversation no operator had: %+v; want conflict", f)
	}
	alice := ts.operator(t, "alice", nil)
	waitState(t, alice, conv, "assigned to alice", func(c protocol.Conversation) bool { return c.Status == "assigned" })

	for _, bad := range []struct {
		rating  int
		comment string
	}{{0, ""}, {6, ""}, {-1, ""}, {3, strings.Repeat("x", 1001)}, {3, "\x1b[31m"}} {
		if f := v.rate("bad", conv, bad.rating, bad.comment); f.Code != protocol.CodeInvalid {
			t.Errorf("rating %d %q: %+v; want invalid", bad.rating, bad.comment, f)
		}
	}
	other := ts.dialRaw(t, ts.visitorClient(t), "/chat/ws", nil)
	other.hello()
	if f := other.rate("r1", conv, 1, ""); f.Code != protocol.CodeNotFound {
		t.Errorf("rating another visitor's conversation: %+v; want not_found", f)
	}
	if f := v.rate("r2", conv, 2, "slow"); f.Type != protocol.TypeAck {
		t.Fatalf("rate: %+v", f)
	}
	clock.Advance(time.Minute)
	if f := v.rate("r3", conv, 5, "<b>great</b> after all"); f.Type != protocol.TypeAck {
		t.Fatalf("rate again: %+v", f)
	}
	rated, err := ts.Store.Activities(ctx, chat.ActivityQuery{Kinds: []chat.ActivityKind{chat.Rated}, ConversationID: conv})
	if err != nil || len(rated) != 2 || rated[1].Value != 5 || rated[1].OperatorID != "alice" || rated[1].Text != "<b>great</b> after all" {
		t.Fatalf("stored ratings: %+v, %v", rated, err)
	}
	// The report counts the latest rating only.
	rep, err := ts.Chat.Report(ctx, chat.ReportQuery{From: day0.Truncate(24 * time.Hour), To: day0.Truncate(24*time.Hour).AddDate(0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if op := operatorRow(t, rep, "alice"); op.Ratings != 1 || op.RatingAverage != 5 || op.CSAT != 1 {
		t.Errorf("alice's ratings: %+v; want one 5", op.ReportRow)
	}
	// Operators do not rate.
	op := ts.dialRaw(t, nil, "/chat/operator/ws", map[string][]string{"X-Operator": {"bob"}})
	op.hello()
	if f := op.rate("r4", conv, 5, ""); f.Code != protocol.CodeForbidden {
		t.Errorf("operator rates: %+v; want forbidden", f)
	}
}
