package chat_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/protocol"
	"github.com/shopchat/chat/store/memory"
)

var productHelp = chat.Trigger{ID: "product-help", URL: "/product/*", TimeOnPage: 20 * time.Second, Message: "Questions about this product? Ask us!"}

func TestTriggerFiresOnceAfterTimeOnPageNotWhileTyping(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
	ts := newTestServer(t, func(c *chat.Config) {
		c.Now = clock.Now
		c.Triggers = []chat.Trigger{productHelp}
	})
	shop := newShop(t, ts)
	hc := newBrowser()
	browse(t, hc, shop, "/", "")
	vid := browse(t, hc, shop, "/product/7", "")
	v := visitorRaw(t, ts, hc)
	typing := func(id string, on bool) []protocol.ServerFrame {
		t.Helper()
		reply, invites := v.call(protocol.ClientFrame{Type: protocol.TypeTyping, ID: id, Typing: on}, protocol.TypeInvite)
		if reply.Type != protocol.TypeAck {
			t.Fatalf("typing: %+v", reply)
		}
		return invites
	}
	// runs evaluates triggers, then returns the invites the visitor got:
	// the ack of a later frame comes after anything queued before it.
	runs := func(id string) []protocol.ServerFrame {
		t.Helper()
		chat.RunTriggers(ts.Chat)
		return typing(id, false)
	}

	clock.Advance(19 * time.Second)
	if got := runs("t19"); len(got) != 0 {
		t.Fatalf("fired after 19s: %+v", got)
	}
	typing("type", true)
	clock.Advance(5 * time.Second)
	chat.RunTriggers(ts.Chat)
	if got := typing("typing", true); len(got) != 0 {
		t.Fatalf("fired while the visitor typed: %+v", got)
	}
	typing("stop", false)
	got := runs("stopped")
	if len(got) != 1 || got[0].Invite == nil || got[0].Invite.Text != productHelp.Message || got[0].Invite.Trigger != productHelp.ID || got[0].Invite.Operator != nil {
		t.Fatalf("invites after 24s: %+v", got)
	}
	// Once per visit: not on a later tick, nor on the next product page.
	clock.Advance(time.Minute)
	if got := runs("later"); len(got) != 0 {
		t.Fatalf("fired again: %+v", got)
	}
	browse(t, hc, shop, "/product/8", "")
	clock.Advance(time.Minute)
	if got := runs("next-page"); len(got) != 0 {
		t.Fatalf("fired again on another product: %+v", got)
	}
	shown, err := ts.Store.Activities(testCtx(t), chat.ActivityQuery{Kinds: []chat.ActivityKind{chat.TriggerShown}, VisitorID: vid})
	if err != nil {
		t.Fatal(err)
	}
	if len(shown) != 1 || shown[0].TriggerID != productHelp.ID {
		t.Fatalf("TriggerShown activities: %+v", shown)
	}
	// Not on other pages.
	browse(t, hc, shop, "/about", "")
	clock.Advance(time.Minute)
	if got := runs("about"); len(got) != 0 {
		t.Fatalf("fired on /about: %+v", got)
	}
}

func TestTriggerNotWhileChattingAndSuggest(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
	suggest := chat.Trigger{ID: "big-cart", MinPages: 2, Action: "suggest"}
	ts := newTestServer(t, func(c *chat.Config) {
		c.Now = clock.Now
		c.Triggers = []chat.Trigger{productHelp, suggest}
	})
	shop := newShop(t, ts)

	// A visitor who chats gets no proactive message.
	hc := newBrowser()
	browse(t, hc, shop, "/product/1", "")
	v := visitorRaw(t, ts, hc)
	if reply, _ := v.call(protocol.ClientFrame{Type: protocol.TypeMessage, ID: "m1", Text: "Hi"}, ""); reply.Type != protocol.TypeAck {
		t.Fatalf("message: %+v", reply)
	}
	clock.Advance(time.Minute)
	chat.RunTriggers(ts.Chat)
	if _, got := v.call(protocol.ClientFrame{Type: protocol.TypeTyping, ID: "t", Typing: false}, protocol.TypeInvite); len(got) != 0 {
		t.Fatalf("a chatting visitor got %+v", got)
	}

	// The suggest action marks the visitor in the live list instead.
	hc2 := newBrowser()
	browse(t, hc2, shop, "/", "")
	vid2 := browse(t, hc2, shop, "/about", "")
	visitorRaw(t, ts, hc2)
	chat.RunTriggers(ts.Chat)
	var live chat.LiveVisitor
	for _, lv := range ts.Chat.LiveVisitors() {
		if lv.VisitorID == vid2 {
			live = lv
		}
	}
	if live.Suggested != suggest.ID {
		t.Fatalf("live visitor: %+v", live)
	}
	acts, err := ts.Store.Activities(testCtx(t), chat.ActivityQuery{Kinds: []chat.ActivityKind{chat.TriggerSuggested}, VisitorID: vid2})
	if err != nil || len(acts) != 1 {
		t.Fatalf("TriggerSuggested: %+v, %v", acts, err)
	}
}

func TestTriggerInvalidPatternsRefused(t *testing.T) {
	for _, tc := range []struct {
		trig  chat.Trigger
		field string
	}{
		{chat.Trigger{ID: "a", URL: "product/*", Message: "m"}, "URL"},
		{chat.Trigger{ID: "b", URL: "/product/***", Message: "m"}, "URL"},
		{chat.Trigger{ID: "c", URLRegexp: "/product/([0-9]+", Message: "m"}, "URLRegexp"},
		{chat.Trigger{ID: "d", Referrer: "google.com/x", Message: "m"}, "Referrer"},
		{chat.Trigger{ID: "e", Action: "shout", Message: "m"}, "Action"},
		{chat.Trigger{ID: "f", URL: "/x"}, "Message"},
		{chat.Trigger{ID: "bad id", Message: "m"}, "ID"},
	} {
		_, err := chat.New(chat.Config{Store: memory.New(), Secret: testSecret, Operators: testOperators, Triggers: []chat.Trigger{tc.trig}})
		if !errors.Is(err, chat.ErrInvalid) || !strings.Contains(err.Error(), tc.field) || !strings.Contains(err.Error(), tc.trig.ID) {
			t.Errorf("trigger %+v: New = %v, want ErrInvalid naming %q and %s", tc.trig, err, tc.trig.ID, tc.field)
		}
	}
}

func TestTriggersEditedInConsole(t *testing.T) {
	st := memory.New()
	ts := newTestServer(t, func(c *chat.Config) {
		c.Store = st
		c.Triggers = []chat.Trigger{productHelp}
	})
	op := operatorRaw(t, ts, "alice")
	reply, _ := op.call(protocol.ClientFrame{Type: protocol.TypeTriggers, ID: "l"}, "")
	if len(reply.Triggers) != 1 || reply.Triggers[0].ID != productHelp.ID || reply.Triggers[0].TimeOnPage != 20 {
		t.Fatalf("seeded triggers: %+v", reply)
	}
	edited := reply.Triggers[0]
	edited.TimeOnPage, edited.Operator = 45, "alice"
	reply, _ = op.call(protocol.ClientFrame{Type: protocol.TypeTriggers, ID: "s", Action: protocol.ActionSave, Trigger: &edited}, "")
	if reply.Type != protocol.TypeTriggers || len(reply.Triggers) != 1 || reply.Triggers[0].TimeOnPage != 45 || reply.Triggers[0].Operator != "alice" {
		t.Fatalf("after save: %+v", reply)
	}
	stored, err := st.Triggers(testCtx(t))
	if err != nil || len(stored) != 1 || stored[0].TimeOnPage != 45*time.Second {
		t.Fatalf("stored: %+v, %v", stored, err)
	}
	for _, tc := range []struct {
		f    protocol.ClientFrame
		code string
	}{
		{protocol.ClientFrame{Action: protocol.ActionSave, Trigger: &protocol.Trigger{ID: "x", URLRegexp: "(", Message: "m"}}, protocol.CodeInvalid},
		{protocol.ClientFrame{Action: protocol.ActionSave, Trigger: &protocol.Trigger{ID: "x", Message: "m", Operator: "nobody"}}, protocol.CodeForbidden},
		{protocol.ClientFrame{Action: protocol.ActionDelete, Trigger: &protocol.Trigger{ID: "nope"}}, protocol.CodeNotFound},
		{protocol.ClientFrame{Action: "explode"}, protocol.CodeInvalid},
	} {
		tc.f.Type, tc.f.ID = protocol.TypeTriggers, "bad"
		if reply, _ := op.call(tc.f, ""); reply.Code != tc.code {
			t.Errorf("%+v: got %+v, want %s", tc.f, reply, tc.code)
		}
	}
	reply, _ = op.call(protocol.ClientFrame{Type: protocol.TypeTriggers, ID: "d", Action: protocol.ActionDelete, Trigger: &protocol.Trigger{ID: productHelp.ID}}, "")
	if reply.Type != protocol.TypeTriggers || len(reply.Triggers) != 0 {
		t.Fatalf("after delete: %+v", reply)
	}
	if list, err := st.Triggers(testCtx(t)); err != nil || len(list) != 0 {
		t.Fatalf("stored after delete: %+v, %v", list, err)
	}
	// Visitors cannot edit triggers.
	v := visitorRaw(t, ts, ts.visitorClient(t))
	if reply, _ := v.call(protocol.ClientFrame{Type: protocol.TypeTriggers, ID: "v"}, ""); reply.Code != protocol.CodeForbidden {
		t.Fatalf("visitor triggers frame: %+v", reply)
	}
}

func TestTriggerCartValueFromHookOncePerPageView(t *testing.T) {
	var calls atomic.Int32
	ts := newTestServer(t, func(c *chat.Config) {
		c.VisitorInfo = func(ctx context.Context, v *chat.Visitor) (*chat.VisitorInfo, error) {
			calls.Add(1)
			return &chat.VisitorInfo{CartValue: 12500, Currency: "EUR"}, nil
		}
		c.Triggers = []chat.Trigger{{ID: "big-cart", MinCartValue: 10000, Message: "Free shipping over 100 EUR!"}}
	})
	shop := newShop(t, ts)
	hc := newBrowser()
	vid := browse(t, hc, shop, "/cart", "")
	v := visitorRaw(t, ts, hc)
	chat.RunTriggers(ts.Chat)
	chat.RunTriggers(ts.Chat)
	if n := calls.Load(); n != 1 {
		t.Fatalf("VisitorInfo called %d times for one page view", n)
	}
	if list := ts.Chat.LiveVisitors(); len(list) != 1 || list[0].VisitorID != vid || list[0].CartValue != 12500 || list[0].Currency != "EUR" {
		t.Fatalf("live: %+v", list)
	}
	if inv := v.until(protocol.TypeInvite).Invite; inv == nil || inv.Trigger != "big-cart" {
		t.Fatalf("invite: %+v", inv)
	}
}

// An operator's trigger may speak as that operator or keep the operator it
// has; speaking as (and routing chats to) a colleague is forbidden.
func TestTriggerOperatorIsSelfOrKept(t *testing.T) {
	st := memory.New()
	byAlice := chat.Trigger{ID: "alice-help", URL: "/product/*", Message: "Alice here: questions?", OperatorID: "alice"}
	ts := newTestServer(t, func(c *chat.Config) {
		c.Store = st
		c.Triggers = []chat.Trigger{byAlice} // set up in Go: not checked
	})
	bob := operatorRaw(t, ts, "bob")
	save := func(id string, tr protocol.Trigger) protocol.ServerFrame {
		t.Helper()
		reply, _ := bob.call(protocol.ClientFrame{Type: protocol.TypeTriggers, ID: id, Action: protocol.ActionSave, Trigger: &tr}, "")
		return reply
	}
	stored := func(id string) *chat.Trigger {
		t.Helper()
		list, err := st.Triggers(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, tr := range list {
			if tr.ID == id {
				return tr
			}
		}
		return nil
	}
	// As a colleague, new or edited: refused, nothing stored.
	if reply := save("new-as-alice", protocol.Trigger{ID: "sneaky", Message: "Hi", Operator: "alice"}); reply.Code != protocol.CodeForbidden {
		t.Fatalf("new trigger as alice: %+v", reply)
	}
	if tr := stored("sneaky"); tr != nil {
		t.Fatalf("stored: %+v", tr)
	}
	if reply := save("mine-as-carol", protocol.Trigger{ID: byAlice.ID, URL: byAlice.URL, Message: byAlice.Message, Operator: "carol"}); reply.Code != protocol.CodeForbidden {
		t.Fatalf("alice's trigger moved to carol: %+v", reply)
	}
	if tr := stored(byAlice.ID); tr == nil || tr.OperatorID != "alice" {
		t.Fatalf("alice's trigger: %+v", tr)
	}
	// Editing alice's trigger and keeping her: allowed.
	if reply := save("edit", protocol.Trigger{ID: byAlice.ID, URL: byAlice.URL, Message: "Alice here: need a size?", Operator: "alice"}); reply.Type != protocol.TypeTriggers {
		t.Fatalf("edit keeping alice: %+v", reply)
	}
	if tr := stored(byAlice.ID); tr == nil || tr.OperatorID != "alice" || tr.Message != "Alice here: need a size?" {
		t.Fatalf("edited: %+v", tr)
	}
	// As themselves or as the team: allowed.
	if reply := save("own", protocol.Trigger{ID: "bob-help", Message: "Bob here", Operator: "bob"}); reply.Type != protocol.TypeTriggers {
		t.Fatalf("own trigger: %+v", reply)
	}
	if reply := save("take", protocol.Trigger{ID: byAlice.ID, URL: byAlice.URL, Message: "Ask us", Operator: ""}); reply.Type != protocol.TypeTriggers {
		t.Fatalf("as the team: %+v", reply)
	}
	// Once it speaks as the team, putting alice back is speaking as her.
	if reply := save("back", protocol.Trigger{ID: byAlice.ID, URL: byAlice.URL, Message: "Ask us", Operator: "alice"}); reply.Code != protocol.CodeForbidden {
		t.Fatalf("alice put back by bob: %+v", reply)
	}
}

// staleActivities hides activities of the given kinds from Activities, as
// a node sees the Store before another node's write: both nodes below
// check for an earlier TriggerShown "at the same instant".
type staleActivities struct {
	*memory.Store // every role: Activities is its own
	hide          chat.ActivityKind
}

func (s staleActivities) Activities(ctx context.Context, q chat.ActivityQuery) ([]chat.Activity, error) {
	as, err := s.Store.Activities(ctx, q)
	kept := as[:0]
	for _, a := range as {
		if a.Kind != s.hide {
			kept = append(kept, a)
		}
	}
	return kept, err
}

// Two nodes hold the visitor's widget and evaluate the due trigger at once:
// the Store's claim lets one of them show it.
func TestTriggerOnceAcrossNodes(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
	bus, mem := &testBus{}, memory.New()
	st := staleActivities{Store: mem, hide: chat.TriggerShown}
	nodes := make([]*testServer, 2)
	for i := range nodes {
		nodes[i] = newTestServer(t, func(c *chat.Config) {
			c.Store, c.Broker, c.Now = st, bus, clock.Now
			c.Triggers = []chat.Trigger{productHelp}
		})
	}
	hc := newBrowser()
	vid := browse(t, hc, newShop(t, nodes[0]), "/product/7", "")
	deadline := time.Now().Add(20 * time.Second)
	for {
		chat.RunTriggers(nodes[0].Chat) // announces the visit to node B
		if list := nodes[1].Chat.LiveVisitors(); len(list) == 1 && list[0].VisitorID == vid && list[0].CurrentURL == "/product/7" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node B's live list: %+v", nodes[1].Chat.LiveVisitors())
		}
		chat.RunTriggers(nodes[1].Chat)
	}
	widgets := []*rawConn{visitorRaw(t, nodes[0], hc), visitorRaw(t, nodes[1], hc)}
	clock.Advance(25 * time.Second)
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Go(func() { chat.RunTriggers(n.Chat) })
	}
	wg.Wait()
	shown := activitiesOf(t, mem, vid, chat.TriggerShown)
	if len(shown) != 1 {
		t.Fatalf("TriggerShown on the two nodes: %+v", shown)
	}
	// Each widget gets the one invite (sent to the visitor on every node),
	// and nothing more by a later frame's ack.
	for i, w := range widgets {
		if inv := w.until(protocol.TypeInvite).Invite; inv == nil || inv.Trigger != productHelp.ID {
			t.Fatalf("widget %d: invite %+v", i, inv)
		}
		if _, more := w.call(protocol.ClientFrame{Type: protocol.TypeTyping, ID: "t", Typing: false}, protocol.TypeInvite); len(more) != 0 {
			t.Fatalf("widget %d: invites after the first: %+v", i, more)
		}
	}
	// Later ticks on either node show it no more.
	clock.Advance(time.Minute)
	for _, n := range nodes {
		chat.RunTriggers(n.Chat)
	}
	if shown := activitiesOf(t, mem, vid, chat.TriggerShown); len(shown) != 1 {
		t.Fatalf("TriggerShown after later ticks: %+v", shown)
	}
}

// TestTriggerCooldownAfterFinishedChat: no proactive message while a
// finished chat's rating is pending; the trigger speaks again once the
// cooldown has passed.
func TestTriggerCooldownAfterFinishedChat(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
	ts := newTestServer(t, func(c *chat.Config) {
		c.Now = clock.Now
		c.Triggers = []chat.Trigger{productHelp}
	})
	shop := newShop(t, ts)
	hc := newBrowser()
	browse(t, hc, shop, "/product/1", "")
	v := visitorRaw(t, ts, hc)
	reply, _ := v.call(protocol.ClientFrame{Type: protocol.TypeMessage, ID: "m1", Text: "Hi"}, "")
	if reply.Type != protocol.TypeAck {
		t.Fatalf("message: %+v", reply)
	}
	if reply, _ := v.call(protocol.ClientFrame{Type: protocol.TypeClose, ID: "c1", Conv: reply.Conv}, ""); reply.Type != protocol.TypeAck {
		t.Fatalf("close: %+v", reply)
	}
	invites := func(id string) []protocol.ServerFrame {
		t.Helper()
		chat.RunTriggers(ts.Chat)
		_, got := v.call(protocol.ClientFrame{Type: protocol.TypeTyping, ID: id, Typing: false}, protocol.TypeInvite)
		return got
	}
	clock.Advance(2 * time.Minute)
	if got := invites("t1"); len(got) != 0 {
		t.Fatalf("a proactive message right after a finished chat: %+v", got)
	}
	clock.Advance(20 * time.Minute)
	browse(t, hc, shop, "/product/2", "")
	clock.Advance(time.Minute)
	if got := invites("t2"); len(got) != 0 {
		t.Fatalf("a proactive message 23 minutes after a finished chat: %+v", got)
	}
	clock.Advance(8 * time.Minute)
	browse(t, hc, shop, "/product/3", "")
	clock.Advance(time.Minute)
	if got := invites("t3"); len(got) != 1 || got[0].Invite.Text != productHelp.Message {
		t.Fatalf("after the cooldown: %+v", got)
	}
}
