package chat_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/store/memory"
	"github.com/shopchat/chat/store/storetest"
)

// coreOnly is what a plugin author writes first: a store with only the
// required core of chat.Store. It wraps memory.Store in an unexported
// field and forwards nothing else, so none of memory's optional roles
// show, and it has no Unwrap.
type coreOnly struct{ chat.Store }

func newCoreOnly() chat.Store { return struct{ coreOnly }{coreOnly{memory.New()}} }

// TestCoreOnlyStorePassesStoretest: the core-only store passes the suite
// (its optional roles' cases skip), and with the Server's stand-ins it
// passes the cases of the roles they stand in for too.
func TestCoreOnlyStorePassesStoretest(t *testing.T) {
	t.Run("core", func(t *testing.T) {
		storetest.Run(t, func(testing.TB) chat.Store { return newCoreOnly() })
	})
	t.Run("stand-ins", func(t *testing.T) {
		storetest.Run(t, func(testing.TB) chat.Store { return chat.WithStandIns(newCoreOnly()) })
	})
}

// TestCoreOnlyStoreServes: a Server over the core-only store reports its
// optional roles as not provided or stood in for, says so at startup,
// and chats, keeps canned responses, records orders and reports without
// them; search says it is unsupported.
func TestCoreOnlyStoreServes(t *testing.T) {
	var logs bytes.Buffer
	ts := newTestServer(t, func(c *chat.Config) {
		c.Store = newCoreOnly()
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		c.CannedResponses = []chat.CannedResponse{{Shortcut: "ship", Title: "Shipping", Text: "We ship in 3-5 days."}}
	})
	want := map[string]chat.RoleStatus{
		"visitors": chat.RoleProvided, "operators": chat.RoleProvided, "conversations": chat.RoleProvided, "messages": chat.RoleProvided,
		"tracking": chat.RoleStandIn, "orders": chat.RoleStandIn, "canned": chat.RoleStandIn, "triggers": chat.RoleStandIn, "claims": chat.RoleStandIn,
		"search": chat.RoleNotProvided, "page-view-visitors": chat.RoleNotProvided, "assigned-append": chat.RoleNotProvided,
		"batch-append": chat.RoleNotProvided,
		"events":       chat.RoleNotProvided, "labels": chat.RoleNotProvided, "attachments": chat.RoleNotProvided,
	}
	caps := ts.Chat.Capabilities()
	if len(caps) != len(want) {
		t.Errorf("Capabilities reports %d roles, want %d: %+v", len(caps), len(want), caps)
	}
	for _, c := range caps {
		if c.Status != want[c.Role] {
			t.Errorf("role %s: %q, want %q", c.Role, c.Status, want[c.Role])
		}
		if (c.Status == chat.RoleProvided) == (c.Without != "") {
			t.Errorf("role %s (%s): Without %q", c.Role, c.Status, c.Without)
		}
	}
	for _, line := range []string{"stand-in=tracking,orders,canned,triggers,claims", `"not provided"=search,page-view-visitors,events,labels,attachments,assigned-append,batch-append`, "role=claims"} {
		if !strings.Contains(logs.String(), line) {
			t.Errorf("the startup log does not say %s:\n%s", line, logs.String())
		}
	}

	ctx := testCtx(t)
	_, welcome := ts.rawOperator(t, "bob") // bob again: an idle second operator would be routed the chat
	if findCanned(welcome.Canned, "ship", false) == nil {
		t.Errorf("the configured canned response is not in the stand-in: %+v", welcome.Canned)
	}
	op := ts.operator(t, "bob", nil)
	ann := ts.visitor(t, nil)
	q, err := ann.Send(ctx, "", "Do you ship to Oslo?")
	if err != nil {
		t.Fatal(err)
	}
	waitText(t, op, q.Conv, q.Text)
	if _, err := op.Send(ctx, q.Conv, "We do."); err != nil {
		t.Fatalf("operator reply without assigned-append: %v", err)
	}
	waitText(t, ann, q.Conv, "We do.")

	if _, err := ts.Chat.Search(ctx, chat.SearchQuery{Text: "oslo"}); !errors.Is(err, chat.ErrUnsupported) {
		t.Errorf("Search without the search role: %v, want ErrUnsupported", err)
	}
	now := time.Now()
	o, err := ts.Chat.RecordOrder(ctx, chat.Order{ID: "o1", VisitorID: visitorOf(t, ts, q.Conv), Total: 990, Currency: "EUR", PlacedAt: now})
	if err != nil || o.Attribution.ConversationID != q.Conv {
		t.Fatalf("RecordOrder with the orders stand-in: %+v %v, want it attributed to %s", o, err, q.Conv)
	}
	rep, err := ts.Chat.Report(ctx, chat.ReportQuery{From: now.Add(-time.Hour), To: now.Add(time.Hour)})
	if err != nil {
		t.Fatalf("Report without page-view-visitors: %v", err)
	}
	if rep.Team.Conversations != 1 || rep.Team.Orders != 1 {
		t.Errorf("report: %d conversations, %d orders; want the chat and its order", rep.Team.Conversations, rep.Team.Orders)
	}
}

// visitorOf returns the visitor of conversation id.
func visitorOf(t *testing.T, ts *testServer, id string) string {
	t.Helper()
	c, err := ts.Store.Conversation(testCtx(t), id)
	if err != nil {
		t.Fatal(err)
	}
	return c.VisitorID
}

// TestCoreOnlyStoreRefusedWithBroker: several nodes cannot share
// in-process stand-ins, so New names the first role they would need.
func TestCoreOnlyStoreRefusedWithBroker(t *testing.T) {
	_, err := chat.New(chat.Config{Store: newCoreOnly(), Secret: testSecret, Operators: testOperators, Broker: &testBus{}})
	var missing *chat.MissingRoleError
	if !errors.As(err, &missing) || missing.Role != "tracking" || missing.Interface != "chat.TrackingStore" || !errors.Is(err, chat.ErrUnsupported) {
		t.Fatalf("New with a Broker over a core-only store: %v, want a *MissingRoleError for tracking", err)
	}
}

// logged is the decorator docs/stores.md shows: it logs appends and, with
// Unwrap, keeps every role of the store it wraps.
type logged struct {
	chat.Store
	log *slog.Logger
}

func (s logged) AppendMessage(ctx context.Context, m *chat.Message) (chat.Appended, error) {
	res, err := s.Store.AppendMessage(ctx, m)
	s.log.Debug("append", "conversation", m.ConversationID, "err", err)
	return res, err
}

func (s logged) Unwrap() chat.Store { return s.Store }

// TestDocumentedWrapperKeepsEveryRole: the decorator made as
// docs/stores.md shows keeps every role of memory.Store, found once by
// New, except AssignedAppender, which by design is never taken past a
// wrapper's own AppendMessage (its appends still go through the wrapper).
func TestDocumentedWrapperKeepsEveryRole(t *testing.T) {
	var appends atomic.Int64
	counting := slog.New(countingHandler{&appends})
	inner := chat.StoreCapabilities(memory.New())
	outer := chat.StoreCapabilities(logged{memory.New(), counting})
	for i, c := range inner {
		if c.Status != chat.RoleProvided {
			t.Errorf("memory.Store lacks the %s role", c.Role)
		}
		want := chat.RoleProvided
		if c.Direct {
			want = chat.RoleNotProvided
		}
		if outer[i].Status != want {
			t.Errorf("through the wrapper the %s role is %q, want %q", c.Role, outer[i].Status, want)
		}
	}
	ts := newTestServer(t, func(c *chat.Config) { c.Store = logged{memory.New(), counting} })
	for _, c := range ts.Chat.Capabilities() {
		if c.Status == chat.RoleStandIn {
			t.Errorf("a Server over the wrapper stands in for %s", c.Role)
		}
	}
	ctx := testCtx(t)
	op := ts.operator(t, "alice", nil)
	ann := ts.visitor(t, nil)
	q, err := ann.Send(ctx, "", "Where is my parcel?")
	if err != nil {
		t.Fatal(err)
	}
	waitText(t, op, q.Conv, q.Text)
	before := appends.Load()
	if _, err := op.Send(ctx, q.Conv, "On its way."); err != nil {
		t.Fatal(err)
	}
	if appends.Load() == before {
		t.Error("the operator's message bypassed the wrapper's AppendMessage")
	}
	if hits, err := ts.Chat.Search(ctx, chat.SearchQuery{Text: "parcel"}); err != nil || len(hits) != 1 {
		t.Errorf("search through the wrapper: %+v %v", hits, err)
	}
}

// countingHandler counts the "append" log records, at every level.
type countingHandler struct{ n *atomic.Int64 }

func (h countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countingHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "append" {
		h.n.Add(1)
	}
	return nil
}
func (h countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countingHandler) WithGroup(string) slog.Handler      { return h }
