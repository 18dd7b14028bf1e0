package chat_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/protocol"
)

// liveView is an operator's live list as the console keeps it: the answer
// to its request, then each pushed delta applied.
type liveView struct {
	byID   map[string]protocol.LiveVisitor
	counts protocol.LiveCounts
}

func (v *liveView) apply(t *testing.T, f protocol.ServerFrame) {
	t.Helper()
	if !f.LiveDelta {
		v.byID = map[string]protocol.LiveVisitor{}
	}
	for _, lv := range f.Live {
		v.byID[lv.ID] = lv
	}
	for _, id := range f.LiveGone {
		delete(v.byID, id)
	}
	if f.LiveCounts == nil {
		t.Fatalf("visitors frame without counts: %+v", f)
	}
	v.counts = *f.LiveCounts
}

func (v *liveView) ids() []string {
	var ids []string
	for id := range v.byID {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// waitLive applies the operator's visitors frames until the list holds
// exactly ids with counts.
func waitLive(t *testing.T, op *rawConn, v *liveView, counts protocol.LiveCounts, ids ...string) {
	t.Helper()
	slices.Sort(ids)
	for !slices.Equal(v.ids(), ids) || v.counts != counts {
		f := op.until(protocol.TypeVisitors)
		if f.ID != "" || !f.LiveDelta {
			t.Fatalf("pushed visitors frame is not a delta: %+v", f)
		}
		v.apply(t, f)
	}
}

// TestLiveListTopAndDeltas: operators get the most relevant visitors (those
// with something in the cart, then the longest on the site) up to the
// list's size, with counts of all; later frames carry only what changed.
func TestLiveListTopAndDeltas(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)}
	var mu sync.Mutex
	carts := map[string]int64{}
	ts := newTestServer(t, func(c *chat.Config) {
		c.Now = clock.Now
		c.VisitorInfo = func(ctx context.Context, v *chat.Visitor) (*chat.VisitorInfo, error) {
			mu.Lock()
			defer mu.Unlock()
			return &chat.VisitorInfo{CartValue: carts[v.ID], Currency: "EUR"}, nil
		}
	})
	chat.SetLiveListMax(ts.Chat, 2)
	shop := newShop(t, ts)
	var ids []string
	var browsers []*http.Client
	for i := range 3 {
		hc := newBrowser()
		ids = append(ids, browse(t, hc, shop, fmt.Sprintf("/product/%d", i), ""))
		browsers = append(browsers, hc)
		clock.Advance(time.Second)
	}
	chat.RunTriggers(ts.Chat)

	op := operatorRaw(t, ts, "alice")
	reply, _ := op.call(protocol.ClientFrame{Type: protocol.TypeVisitors, ID: "l1"}, "")
	if reply.LiveDelta || len(reply.Live) != 2 || reply.Live[0].ID != ids[0] || reply.Live[1].ID != ids[1] {
		t.Fatalf("answer: want the two longest on the site, got %+v", reply.Live)
	}
	if reply.LiveCounts == nil || *reply.LiveCounts != (protocol.LiveCounts{OnSite: 3}) {
		t.Fatalf("answer's counts: %+v", reply.LiveCounts)
	}
	var view liveView
	view.apply(t, reply)

	// A listed visitor opens a page: the delta holds just them.
	browse(t, browsers[1], shop, "/cart", "")
	chat.RunTriggers(ts.Chat)
	for {
		f := op.until(protocol.TypeVisitors)
		view.apply(t, f)
		if len(f.Live) == 0 {
			continue
		}
		if len(f.Live) != 1 || f.Live[0].ID != ids[1] || f.Live[0].URL != "/cart" || len(f.LiveGone) != 0 {
			t.Fatalf("delta after a page view: %+v", f)
		}
		break
	}

	// The third fills a cart: ranked first, the newer of the others drops out.
	mu.Lock()
	carts[ids[2]] = 5000
	mu.Unlock()
	browse(t, browsers[2], shop, "/cart", "")
	chat.RunTriggers(ts.Chat)
	waitLive(t, op, &view, protocol.LiveCounts{OnSite: 3}, ids[0], ids[2])
	if v := view.byID[ids[2]]; v.CartValue != 5000 || !v.OnSite {
		t.Fatalf("the visitor with a cart: %+v", v)
	}

	// Nobody's widget is connected: after two minutes all have left, listed
	// longest on the site first; after the visit's timeout, they are gone.
	clock.Advance(3 * time.Minute)
	chat.RunTriggers(ts.Chat)
	waitLive(t, op, &view, protocol.LiveCounts{Left: 3}, ids[0], ids[1])
	clock.Advance(30 * time.Minute)
	chat.RunTriggers(ts.Chat)
	waitLive(t, op, &view, protocol.LiveCounts{})
}

// TestTriggersEvaluatedWhenDue: the visit loop looks at a visit's triggers
// when something changed for it or a time on page falls due, not every
// second.
func TestTriggersEvaluatedWhenDue(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)}
	ts := newTestServer(t, func(c *chat.Config) {
		c.Now = clock.Now
		c.Triggers = []chat.Trigger{{ID: "dwell", URL: "/product/*", TimeOnPage: time.Minute, Action: chat.ActionSuggest}}
	})
	vb := chat.NewVisitBench(ts.Chat)
	vb.AddLocal("V", 20, "/product/1")
	chat.RunTriggers(ts.Chat) // the new visits' page views
	base := chat.EvaluatedVisits(ts.Chat)
	for range 5 {
		clock.Advance(10 * time.Second)
		chat.RunTriggers(ts.Chat)
	}
	if n := chat.EvaluatedVisits(ts.Chat) - base; n != 0 {
		t.Fatalf("%d visits evaluated before any time on page fell due", n)
	}
	clock.Advance(10 * time.Second)
	chat.RunTriggers(ts.Chat)
	if n := chat.EvaluatedVisits(ts.Chat) - base; n != 20 {
		t.Fatalf("%d visits evaluated when their time on page fell due, want 20", n)
	}
	suggested := 0
	for _, lv := range ts.Chat.LiveVisitors() {
		if lv.Suggested == "dwell" {
			suggested++
		}
	}
	if suggested != 20 {
		t.Fatalf("%d visitors suggested, want 20", suggested)
	}
}

// TestLiveCapCountsVisitsStartedHere: the cap on live visits bounds those
// this node starts (a client dropping cookies), not other nodes' visits,
// which are kept up to four times the cap.
func TestLiveCapCountsVisitsStartedHere(t *testing.T) {
	ts := newTestServer(t)
	vb := chat.NewVisitBench(ts.Chat)
	chat.SetMaxLive(ts.Chat, 1)
	vb.AddLocal("L", 2, "/a")
	vb.Remote([]string{"R1", "R2", "R3", "R4", "R5"}, "/b", time.Now())
	var local, remote int
	for _, lv := range ts.Chat.LiveVisitors() {
		if lv.VisitorID[0] == 'L' {
			local++
		} else {
			remote++
		}
	}
	if local != 1 || remote != 4 {
		t.Fatalf("listed %d started here (cap 1) and %d of other nodes (cap 4)", local, remote)
	}
}
