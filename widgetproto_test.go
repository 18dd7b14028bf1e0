package chat_test

import (
	"context"
	"strings"
	"testing"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/client"
	"github.com/shopchat/chat/protocol"
)

func TestAvailabilityReachesVisitors(t *testing.T) {
	ts := newTestServer(t)
	ctx := testCtx(t)
	v := ts.visitor(t, nil)
	if v.Available() {
		t.Fatal("available with nobody online")
	}
	op := ts.operator(t, "alice", nil)
	if err := v.Wait(ctx, func(c *client.Conn) bool { return c.Available() }); err != nil {
		t.Fatalf("operator online, visitor never told: %v", err)
	}
	if err := op.SetPresence(ctx, "away"); err != nil {
		t.Fatal(err)
	}
	if err := v.Wait(ctx, func(c *client.Conn) bool { return !c.Available() }); err != nil {
		t.Fatalf("operator away, visitor never told: %v", err)
	}
	// A new visitor's welcome says so too.
	if ts.visitor(t, nil).Available() {
		t.Fatal("welcome says available while the only operator is away")
	}
}

func TestProfilePreChatAndVisitorDetails(t *testing.T) {
	ts := newTestServer(t, func(c *chat.Config) {
		c.CannedResponses = []chat.CannedResponse{{Shortcut: "ship", Title: "Shipping", Text: "We ship in 3-5 days."}}
		c.VisitorInfo = func(_ context.Context, v *chat.Visitor) (*chat.VisitorInfo, error) {
			return &chat.VisitorInfo{CartValue: 4999, Currency: "EUR", Labels: []string{"returning"}, Sections: []chat.InfoSection{{
				Title: "Cart",
				Rows: []chat.InfoRow{
					{Label: "Blue mug", Value: "2 x 12.50", URL: "https://shop.test/product/mug"},
					{Label: "Sneaky", URL: "javascript:alert(1)"},
				},
			}}}, nil
		}
	})
	ctx := testCtx(t)
	v := ts.visitor(t, nil)
	m, err := v.Send(ctx, "", "Hello")
	if err != nil {
		t.Fatal(err)
	}
	if err := v.SetProfile(ctx, client.Profile{Name: "Ann", Email: "ann@example.com", Fields: map[string]string{"order": "A-123"}}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []client.Profile{{Email: "not an email"}, {Email: "a@b.c\r\nBcc: x@y.z"}, {Name: strings.Repeat("n", 101)}, {Name: "bell\a"}} {
		if err := v.SetProfile(ctx, bad); !isCode(err, protocol.CodeInvalid) {
			t.Errorf("profile %+v: %v, want invalid", bad, err)
		}
	}
	op := ts.operator(t, "alice", nil)
	if got := op.Canned(); len(got) != 1 || got[0].Shortcut != "ship" {
		t.Fatalf("canned responses in welcome: %+v", got)
	}
	waitText(t, op, m.Conv, "Pre-chat form:\norder: A-123")
	d, err := op.VisitorDetails(ctx, m.Conv)
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "Ann" || d.Email != "ann@example.com" || d.CartValue != 4999 || d.Currency != "EUR" || len(d.Sections) != 1 {
		t.Fatalf("details: %+v", d)
	}
	if rows := d.Sections[0].Rows; rows[0].URL != "https://shop.test/product/mug" || rows[1].URL != "" {
		t.Fatalf("section rows: %+v (a javascript: URL must be dropped)", rows)
	}
	// The pre-chat answers are a note: the visitor never sees them.
	if hasText(v, m.Conv, "Pre-chat form:\norder: A-123") {
		t.Fatal("visitor received the pre-chat note")
	}
	// The visitor is not an operator.
	if _, err := v.VisitorDetails(ctx, m.Conv); !isCode(err, protocol.CodeForbidden) {
		t.Fatalf("visitor asking for details: %v", err)
	}
}

func TestPreChatDepartmentRoutes(t *testing.T) {
	ts := newTestServer(t, func(c *chat.Config) { c.Router = chat.Departments(nil) })
	ctx := testCtx(t)
	alice := ts.operator(t, "alice", nil) // sales
	bob := ts.operator(t, "bob", nil)     // support
	_ = alice
	v := ts.visitor(t, nil)
	m, err := v.SendWith(ctx, client.Outgoing{Text: "my order is broken", Department: "support"})
	if err != nil {
		t.Fatal(err)
	}
	st := waitState(t, v, m.Conv, "assigned", func(c protocol.Conversation) bool { return c.Status == protocol.StatusAssigned })
	if st.Operator.ID != "bob" || st.Department != "support" {
		t.Fatalf("support conversation went to %+v", st)
	}
	waitText(t, bob, m.Conv, "my order is broken")
}
