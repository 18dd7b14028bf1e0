package chat_test

import (
	"testing"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/protocol"
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
