package chat_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/protocol"
)

func (ts *testServer) rawOperator(t testing.TB, id string) (*rawConn, protocol.ServerFrame) {
	t.Helper()
	c := ts.dialRaw(t, nil, "/chat/operator/ws", http.Header{"X-Operator": {id}})
	return c, c.hello()
}

// canned sends a canned frame and returns the answer: the list or an error.
func (c *rawConn) canned(id, action string, item *protocol.Canned) protocol.ServerFrame {
	c.t.Helper()
	c.send(protocol.ClientFrame{Type: protocol.TypeCanned, ID: id, Action: action, Canned: item})
	for {
		f := c.next()
		if f.ID == id && (f.Type == protocol.TypeCanned || f.Type == protocol.TypeError) {
			return f
		}
	}
}

func findCanned(list []protocol.Canned, shortcut string, personal bool) *protocol.Canned {
	for i := range list {
		if list[i].Shortcut == shortcut && list[i].Personal == personal {
			return &list[i]
		}
	}
	return nil
}

func TestCannedResponses(t *testing.T) {
	ts := newTestServer(t, func(c *chat.Config) {
		c.CannedResponses = []chat.CannedResponse{{Shortcut: "ship", Title: "Shipping", Text: "We ship in 3-5 days."}}
	})
	alice, welcome := ts.rawOperator(t, "alice")
	bob, _ := ts.rawOperator(t, "bob")
	ship := findCanned(welcome.Canned, "ship", false)
	if ship == nil || ship.ID == "" || len(welcome.Canned) != 1 {
		t.Fatalf("welcome canned = %+v; want the configured team response with an id", welcome.Canned)
	}

	// A personal response is alice's alone.
	f := alice.canned("s1", protocol.ActionSave, &protocol.Canned{Shortcut: "hi", Text: "Hi {visitor.name}!", Personal: true})
	mine := findCanned(f.Canned, "hi", true)
	if f.Type != protocol.TypeCanned || mine == nil || mine.ID == "" || findCanned(f.Canned, "ship", false) == nil {
		t.Fatalf("save personal: %+v", f)
	}
	if f := bob.canned("l1", "", nil); findCanned(f.Canned, "hi", true) != nil || len(f.Canned) != 1 {
		t.Fatalf("bob sees %+v; want only the team's", f.Canned)
	}
	// Bob may neither edit nor delete it.
	if f := bob.canned("e1", protocol.ActionSave, &protocol.Canned{ID: mine.ID, Shortcut: "hi", Text: "hijacked"}); f.Code != protocol.CodeForbidden {
		t.Fatalf("bob edits alice's personal response: %+v; want forbidden", f)
	}
	if f := bob.canned("d1", protocol.ActionDelete, &protocol.Canned{ID: mine.ID}); f.Code != protocol.CodeForbidden {
		t.Fatalf("bob deletes alice's personal response: %+v; want forbidden", f)
	}
	// A second team response with a taken shortcut is a conflict; a
	// personal one with the team's shortcut is not.
	if f := bob.canned("c1", protocol.ActionSave, &protocol.Canned{Shortcut: "ship", Text: "again"}); f.Code != protocol.CodeConflict {
		t.Fatalf("duplicate shortcut: %+v; want conflict", f)
	}
	if f := bob.canned("c2", protocol.ActionSave, &protocol.Canned{Shortcut: "ship", Text: "my way", Personal: true}); f.Type != protocol.TypeCanned {
		t.Fatalf("personal response with the team's shortcut: %+v", f)
	}
	for i, bad := range []protocol.Canned{{Shortcut: "a b", Text: "x"}, {Shortcut: strings.Repeat("s", 33), Text: "x"}, {Shortcut: "ok", Text: " "}, {Shortcut: "ok", Text: strings.Repeat("x", 4001)}} {
		if f := alice.canned("bad"+string(rune('0'+i)), protocol.ActionSave, &bad); f.Code != protocol.CodeInvalid {
			t.Errorf("save %+v: %+v; want invalid", bad, f)
		}
	}

	// Bob edits the team's response: alice's session is told.
	bob.canned("e2", protocol.ActionSave, &protocol.Canned{ID: ship.ID, Shortcut: "ship", Title: "Shipping", Text: "We ship in 1-2 days."})
	for {
		f := alice.next()
		if f.Type == protocol.TypeCanned && f.ID == "" && f.Status == "team" {
			if got := findCanned(f.Canned, "ship", false); got == nil || got.Text != "We ship in 1-2 days." || findCanned(f.Canned, "hi", true) != nil {
				t.Fatalf("team update: %+v", f.Canned)
			}
			break
		}
	}
	// Alice deletes her personal response.
	f = alice.canned("d2", protocol.ActionDelete, &protocol.Canned{ID: mine.ID})
	if f.Type != protocol.TypeCanned || findCanned(f.Canned, "hi", true) != nil || findCanned(f.Canned, "ship", false) == nil {
		t.Fatalf("after delete: %+v", f)
	}
	// A restart keeps the edited team response rather than the configured one.
	srv, err := chat.New(chat.Config{Store: ts.Store, Secret: testSecret, Operators: testOperators,
		CannedResponses: []chat.CannedResponse{{Shortcut: "ship", Text: "We ship in 3-5 days."}}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(testCtx(t))
	team, err := ts.Store.CannedResponses(testCtx(t), "")
	if err != nil || len(team) != 1 || team[0].Text != "We ship in 1-2 days." {
		t.Fatalf("team responses after restart: %+v, %v", team, err)
	}
}

func TestCannedConfigRefused(t *testing.T) {
	for _, bad := range [][]chat.CannedResponse{
		{{Shortcut: "with space", Text: "x"}},
		{{Shortcut: "ok", Text: ""}},
		{{Shortcut: "ok", Text: "a"}, {Shortcut: "ok", Text: "b"}},
	} {
		_, err := chat.New(chat.Config{Store: newTestServer(t).Store, Secret: testSecret, Operators: testOperators, CannedResponses: bad})
		if err == nil {
			t.Errorf("New accepted canned responses %+v", bad)
		}
	}
}

func TestCannedVariablesInVisitorDetails(t *testing.T) {
	ts := newTestServer(t, func(c *chat.Config) {
		c.CannedVariables = func(_ context.Context, v *chat.Visitor) map[string]string {
			return map[string]string{"coupon": "XMAS10", "shop.phone": "+49 30 1234", "bad name": "x", "bell": "\a"}
		}
	})
	ctx := testCtx(t)
	op := ts.operator(t, "alice", nil)
	v := ts.visitor(t, nil)
	m, err := v.Send(ctx, "", "Hello")
	if err != nil {
		t.Fatal(err)
	}
	d, err := op.VisitorDetails(ctx, m.Conv)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Variables) != 2 || d.Variables["coupon"] != "XMAS10" || d.Variables["shop.phone"] != "+49 30 1234" {
		t.Fatalf("variables: %+v; want coupon and shop.phone only", d.Variables)
	}
}
