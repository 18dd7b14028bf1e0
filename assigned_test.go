package chat_test

import (
	"path/filepath"
	"testing"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/client"
	"github.com/shopchat/chat/protocol"
	"github.com/shopchat/chat/store/memory"
	"github.com/shopchat/chat/store/sqlite"
)

// TestOperatorMessageNeedsAssignment: only the assigned operator may post,
// whether the store checks the assignment in its append
// (chat.AssignedAppender: memory, sqlite) or the server reads the
// conversation first (a store without the capability).
func TestOperatorMessageNeedsAssignment(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) chat.Store{
		"memory": func(*testing.T) chat.Store { return memory.New() },
		"sqlite": func(t *testing.T) chat.Store {
			s, err := sqlite.Open(filepath.Join(t.TempDir(), "chat.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
		// Embedding only the interface hides AppendAssigned.
		"without capability": func(*testing.T) chat.Store { return struct{ chat.Store }{memory.New()} },
	} {
		t.Run(name, func(t *testing.T) {
			store := open(t)
			_, capable := store.(chat.AssignedAppender)
			if capable == (name == "without capability") {
				t.Fatalf("%s: AssignedAppender %v", name, capable)
			}
			ts := newTestServer(t, func(c *chat.Config) { c.Store = store })
			ctx := testCtx(t)
			v := ts.visitor(t, nil)
			sent, err := v.Send(ctx, "", "Hello?")
			if err != nil {
				t.Fatal(err)
			}
			conv := sent.Conv
			alice := ts.operator(t, "alice", nil)
			waitState(t, alice, conv, "assigned to alice", func(c protocol.Conversation) bool {
				return c.Status == protocol.StatusAssigned && c.Operator != nil && c.Operator.ID == "alice"
			})
			bob := operatorRaw(t, ts, "bob")
			send := func(id, conv, text string) protocol.ServerFrame {
				t.Helper()
				f, _ := bob.call(protocol.ClientFrame{Type: protocol.TypeMessage, ID: id, Conv: conv, Text: text}, "")
				return f
			}
			for _, c := range []struct{ id, conv, code string }{
				{"b1", conv, protocol.CodeForbidden},   // alice's
				{"b2", "ghost", protocol.CodeNotFound}, // unknown
				{"b3", "", protocol.CodeInvalid},       // no conversation named
			} {
				if f := send(c.id, c.conv, "not mine"); f.Code != c.code {
					t.Errorf("bob posts to %q: %+v; want %s", c.conv, f, c.code)
				}
			}
			if _, err := alice.Send(ctx, conv, "Alice here."); err != nil {
				t.Fatal(err)
			}
			if err := alice.Transfer(ctx, conv, client.TransferTo{Operator: "bob"}); err != nil {
				t.Fatal(err)
			}
			if _, err := alice.Send(ctx, conv, "still mine?"); !isCode(err, protocol.CodeForbidden) {
				t.Errorf("former operator posts: %v; want forbidden", err)
			}
			if f := send("b4", conv, "Bob here."); f.Type != protocol.TypeAck || f.Seq == 0 {
				t.Errorf("assignee posts: %+v; want an ack", f)
			}
			ms, err := ts.Store.Messages(ctx, chat.MessageQuery{ConversationID: conv})
			if err != nil {
				t.Fatal(err)
			}
			var texts []string
			for _, m := range ms {
				if m.Kind == chat.OperatorText {
					texts = append(texts, m.AuthorID+": "+m.Text)
				}
			}
			if len(texts) != 2 || texts[0] != "alice: Alice here." || texts[1] != "bob: Bob here." {
				t.Errorf("stored operator messages: %q", texts)
			}
		})
	}
}
