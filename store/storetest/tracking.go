package storetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopchat/chat"
)

// view is a page view of url by visitorID at(n).
func view(visitorID, url string, n int) chat.PageView {
	return chat.PageView{VisitorID: visitorID, URL: url, At: at(n)}
}

func samePageView(t testing.TB, want, got chat.PageView) {
	t.Helper()
	w, g := want, got
	w.At, g.At = time.Time{}, time.Time{}
	assert.Equal(t, w, g, "PageView %s", want.URL)
	sameTime(t, want.At, got.At, "PageView.At")
}

func mustPageViews(t testing.TB, s store, visitorID string, limit int) []chat.PageView {
	t.Helper()
	vs, err := s.PageViews(ctx, visitorID, limit)
	require.NoError(t, err, "PageViews %q limit %d", visitorID, limit)
	return vs
}

func urls(vs []chat.PageView) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.URL
	}
	return out
}

func sameActivity(t testing.TB, want, got chat.Activity) {
	t.Helper()
	w, g := want, got
	w.At, g.At = time.Time{}, time.Time{}
	assert.Equal(t, w, g, "Activity")
	sameTime(t, want.At, got.At, "Activity.At")
}

// activity is an activity of kind at(n) whose Text names it.
func activity(kind chat.ActivityKind, text string, n int) chat.Activity {
	return chat.Activity{Kind: kind, Text: text, At: at(n)}
}

func mustActivities(t testing.TB, s store, q chat.ActivityQuery) []chat.Activity {
	t.Helper()
	as, err := s.Activities(ctx, q)
	require.NoError(t, err, "Activities(%+v)", q)
	return as
}

// texts lists the activities' Text, which the cases use as names.
func texts(as []chat.Activity) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.Text
	}
	return out
}

func sameOrder(t testing.TB, want, got *chat.Order) {
	t.Helper()
	require.NotNil(t, got, "order")
	w, g := *want, *got
	w.PlacedAt, g.PlacedAt = time.Time{}, time.Time{}
	w.Attribution.TouchedAt, g.Attribution.TouchedAt = time.Time{}, time.Time{}
	assert.Equal(t, w, g, "Order %s", want.ID)
	sameTime(t, want.PlacedAt, got.PlacedAt, "Order.PlacedAt")
	sameTime(t, want.Attribution.TouchedAt, got.Attribution.TouchedAt, "Order.Attribution.TouchedAt")
}

// order is an order id of visitorID placed at(n) with no attribution.
func order(id, visitorID string, total int64, n int) *chat.Order {
	return &chat.Order{ID: id, VisitorID: visitorID, Total: total, Currency: "EUR", PlacedAt: at(n)}
}

func mustPutOrder(t testing.TB, s store, o *chat.Order) *chat.Order {
	t.Helper()
	stored, created, err := s.PutOrder(ctx, o)
	require.NoError(t, err, "PutOrder %q", o.ID)
	require.True(t, created, "PutOrder %q of a new order: created", o.ID)
	return stored
}

func mustOrders(t testing.TB, s store, q chat.OrderQuery) []*chat.Order {
	t.Helper()
	os, err := s.Orders(ctx, q)
	require.NoError(t, err, "Orders(%+v)", q)
	return os
}

func orderIDs(os []*chat.Order) []string {
	out := make([]string, len(os))
	for i, o := range os {
		out[i] = o.ID
	}
	return out
}

func sameCanned(t testing.TB, want, got *chat.CannedResponse) {
	t.Helper()
	require.NotNil(t, got, "canned response")
	w, g := *want, *got
	w.UpdatedAt, g.UpdatedAt = time.Time{}, time.Time{}
	assert.Equal(t, w, g, "CannedResponse %s", want.ID)
	sameTime(t, want.UpdatedAt, got.UpdatedAt, "CannedResponse.UpdatedAt")
}

// canned is a response id of operatorID ("" for the team) with shortcut.
func canned(id, operatorID, shortcut string) *chat.CannedResponse {
	return &chat.CannedResponse{ID: id, OperatorID: operatorID, Shortcut: shortcut, Title: "Title " + id, Text: "Text of " + id, UpdatedAt: at(1)}
}

func mustPutCanned(t testing.TB, s store, c *chat.CannedResponse) *chat.CannedResponse {
	t.Helper()
	require.NoError(t, s.PutCanned(ctx, c), "PutCanned %q", c.ID)
	return c
}

// cannedIDs lists operatorID's visible responses' ids.
func cannedIDs(t testing.TB, s store, operatorID string) []string {
	t.Helper()
	cs, err := s.CannedResponses(ctx, operatorID)
	require.NoError(t, err, "CannedResponses %q", operatorID)
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

func mustTriggers(t testing.TB, s store) []*chat.Trigger {
	t.Helper()
	ts, err := s.Triggers(ctx)
	require.NoError(t, err, "Triggers")
	return ts
}

func triggerIDs(t testing.TB, s store) []string {
	t.Helper()
	ts := mustTriggers(t, s)
	out := make([]string, len(ts))
	for i, tr := range ts {
		out[i] = tr.ID
	}
	return out
}

func trackingCases() []def {
	return []def{
		{"Tracking/PageViews", func(t testing.TB, s store) {
			mustVisitor(t, s, "v1", "")
			mustVisitor(t, s, "v2", "")
			full := chat.PageView{
				VisitorID: "v1", URL: "/product/7?utm_source=news&q=<b>", Title: "Red <script>x</script> shoes",
				Referrer: "https://www.google.com/search?q=shoes",
				UTM:      chat.UTM{Source: "news", Medium: "email", Campaign: "spring", Term: "red shoes", Content: "banner"},
				At:       at(10),
			}
			require.NoError(t, s.AddPageViews(ctx, []chat.PageView{
				full,
				view("v1", "/b", 20),
				view("v2", "/other", 15),
				view("ghost", "/skipped", 16), // unknown visitor: skipped, not an error
				view("v1", "/c", 20),          // same At as /b, inserted later: newer
				view("v1", "/older", 5),       // out of order in the batch
			}), "AddPageViews")
			require.NoError(t, s.AddPageViews(ctx, []chat.PageView{view("v1", "/d", 20)}), "AddPageViews second batch")
			require.NoError(t, s.AddPageViews(ctx, nil), "AddPageViews of no views")

			got := mustPageViews(t, s, "v1", 0)
			assert.Equal(t, []string{"/d", "/c", "/b", full.URL, "/older"}, urls(got), "v1's views, newest (At, then insertion) first")
			if assert.Len(t, got, 5) {
				samePageView(t, full, got[3])
				samePageView(t, view("v1", "/b", 20), got[2])
			}
			assert.Equal(t, []string{"/other"}, urls(mustPageViews(t, s, "v2", 0)), "v2's views")
			// The skipped view was not kept for a visitor who arrives later.
			mustVisitor(t, s, "ghost", "")
			assert.Empty(t, mustPageViews(t, s, "ghost", 0), "views of a visitor unknown when they were added")
		}},
		{"Tracking/PageViewsLongFields", func(t testing.TB, s store) {
			// A store holds every text field at its documented cap in bytes,
			// multi-byte characters included.
			mustVisitor(t, s, "v1", "")
			capped := func(prefix string, n int) string {
				return prefix + strings.Repeat("é", (n-len(prefix))/2) + strings.Repeat("x", (n-len(prefix))%2)
			}
			long := chat.PageView{
				VisitorID: "v1", URL: capped("/p?", 2048), Title: capped("T", 300), Referrer: capped("https://r.example/", 2048),
				UTM: chat.UTM{Source: capped("s", 200), Medium: capped("m", 200), Campaign: capped("c", 200), Term: capped("t", 200), Content: capped("x", 200)},
				At:  at(1),
			}
			require.NoError(t, s.AddPageViews(ctx, []chat.PageView{long}), "AddPageViews")
			got := mustPageViews(t, s, "v1", 0)
			require.Len(t, got, 1)
			samePageView(t, long, got[0])
		}},
		{"Tracking/PageViewsLimit", func(t testing.TB, s store) {
			mustVisitor(t, s, "v1", "")
			var vs []chat.PageView
			for i := range 60 {
				vs = append(vs, view("v1", id("/p", i), i))
			}
			require.NoError(t, s.AddPageViews(ctx, vs), "AddPageViews")
			got := mustPageViews(t, s, "v1", 0)
			require.Len(t, got, 50, "limit 0 means 50")
			assert.Equal(t, "/p059", got[0].URL, "newest first")
			assert.Equal(t, "/p010", got[49].URL, "the 50 newest")
			assert.Equal(t, []string{"/p059", "/p058", "/p057"}, urls(mustPageViews(t, s, "v1", 3)), "limit 3")
			assert.Len(t, mustPageViews(t, s, "v1", 100), 60, "limit above the count")
		}},
		{"Tracking/PageViewsInvalid", func(t testing.TB, s store) {
			mustVisitor(t, s, "v1", "")
			err := s.AddPageViews(ctx, []chat.PageView{view("v1", "/ok", 1), view("v1", "", 2)})
			isErr(t, err, chat.ErrInvalid, "AddPageViews with a view without URL")
			err = s.AddPageViews(ctx, []chat.PageView{view("v1", "/ok", 1), view("", "/x", 2)})
			isErr(t, err, chat.ErrInvalid, "AddPageViews with a view without VisitorID")
			assert.Empty(t, mustPageViews(t, s, "v1", 0), "nothing stored from a refused batch")
		}},
		{"Tracking/Activities", func(t testing.TB, s store) {
			mustVisitor(t, s, "v1", "")
			full := chat.Activity{Kind: chat.Rated, VisitorID: "v1", ConversationID: "c1", OperatorID: "alice", TriggerID: "t1", Value: 4, Text: "quick <b>help</b>", At: at(10)}
			require.NoError(t, s.AddActivities(ctx, []chat.Activity{
				activity(chat.PresenceChanged, "late", 30),
				full,
				activity(chat.PresenceChanged, "tie-first", 20),
				activity(chat.AnonymousPageView, "tie-second", 20), // no VisitorID: stored too
			}), "AddActivities")
			require.NoError(t, s.AddActivities(ctx, []chat.Activity{activity(chat.PresenceChanged, "tie-third", 20)}), "AddActivities second batch")
			require.NoError(t, s.AddActivities(ctx, nil), "AddActivities of none")
			got := mustActivities(t, s, chat.ActivityQuery{})
			assert.Equal(t, []string{full.Text, "tie-first", "tie-second", "tie-third", "late"}, texts(got), "ascending At, then insertion")
			if assert.NotEmpty(t, got) {
				sameActivity(t, full, got[0])
			}
		}},
		{"Tracking/ActivityFilters", func(t testing.TB, s store) {
			mustVisitor(t, s, "v1", "")
			mustVisitor(t, s, "v2", "")
			a := func(kind chat.ActivityKind, name string, n int, visitor, conv, op, trigger string) chat.Activity {
				return chat.Activity{Kind: kind, Text: name, At: at(n), VisitorID: visitor, ConversationID: conv, OperatorID: op, TriggerID: trigger}
			}
			require.NoError(t, s.AddActivities(ctx, []chat.Activity{
				a(chat.TriggerShown, "shown1", 10, "v1", "", "", "t1"),
				a(chat.TriggerShown, "shown2", 20, "v2", "", "alice", "t2"),
				a(chat.InvitationAccepted, "accepted", 30, "v1", "c1", "", "t1"),
				a(chat.InvitationSent, "invited", 40, "v2", "", "bob", ""),
				a(chat.Rated, "rated", 50, "v1", "c1", "alice", ""),
				a(chat.PresenceChanged, "presence", 60, "", "", "alice", ""),
			}), "AddActivities")
			list := func(q chat.ActivityQuery) []string { t.Helper(); return texts(mustActivities(t, s, q)) }
			assert.Equal(t, []string{"shown1", "shown2", "accepted", "invited", "rated", "presence"}, list(chat.ActivityQuery{}), "no filter")
			assert.Equal(t, []string{"shown1", "shown2"}, list(chat.ActivityQuery{Kinds: []chat.ActivityKind{chat.TriggerShown}}), "one kind")
			assert.Equal(t, []string{"accepted", "rated"}, list(chat.ActivityQuery{Kinds: []chat.ActivityKind{chat.Rated, chat.InvitationAccepted}}), "any of two kinds")
			assert.Equal(t, []string{"shown1", "accepted", "rated"}, list(chat.ActivityQuery{VisitorID: "v1"}), "by visitor")
			assert.Equal(t, []string{"accepted", "rated"}, list(chat.ActivityQuery{ConversationID: "c1"}), "by conversation")
			assert.Equal(t, []string{"shown2", "rated", "presence"}, list(chat.ActivityQuery{OperatorID: "alice"}), "by operator")
			assert.Equal(t, []string{"shown1", "accepted"}, list(chat.ActivityQuery{TriggerID: "t1"}), "by trigger")
			assert.Equal(t, []string{"shown2", "accepted", "invited"}, list(chat.ActivityQuery{From: at(20), To: at(50)}), "From <= At < To")
			assert.Equal(t, []string{"rated", "presence"}, list(chat.ActivityQuery{From: at(50)}), "From only")
			assert.Equal(t, []string{"shown1"}, list(chat.ActivityQuery{To: at(20)}), "To only")
			assert.Equal(t, []string{"shown1", "shown2"}, list(chat.ActivityQuery{Limit: 2}), "Limit keeps the earliest")
			assert.Equal(t, []string{"rated"}, list(chat.ActivityQuery{Kinds: []chat.ActivityKind{chat.Rated, chat.TriggerShown}, VisitorID: "v1", OperatorID: "alice"}), "filters combine")
			assert.Empty(t, list(chat.ActivityQuery{TriggerID: "t1", OperatorID: "bob"}), "nothing matches")
		}},
		{"Tracking/ActivitiesLimit", func(t testing.TB, s store) {
			var as []chat.Activity
			for i := range 60 {
				as = append(as, activity(chat.PresenceChanged, id("a", i), i))
			}
			require.NoError(t, s.AddActivities(ctx, as), "AddActivities")
			assert.Len(t, mustActivities(t, s, chat.ActivityQuery{}), 60, "limit 0 means 10,000")
			assert.Equal(t, []string{"a000", "a001", "a002"}, texts(mustActivities(t, s, chat.ActivityQuery{Limit: 3})), "limit 3")
		}},
		{"Tracking/ActivitiesInvalid", func(t testing.TB, s store) {
			err := s.AddActivities(ctx, []chat.Activity{activity(chat.PresenceChanged, "ok", 1), activity("", "no kind", 2)})
			isErr(t, err, chat.ErrInvalid, "AddActivities with an empty Kind")
			assert.Empty(t, mustActivities(t, s, chat.ActivityQuery{}), "nothing stored from a refused batch")
		}},
		{"Orders/Put", func(t testing.TB, s store) {
			mustVisitor(t, s, "v1", "")
			o := &chat.Order{
				ID: "o1", VisitorID: "v1", Total: 12995, Currency: "EUR", PlacedAt: at(100),
				Attribution: chat.Attribution{Channel: chat.ChannelChat, ConversationID: "c1", OperatorID: "alice", TriggerID: "t1", TouchedAt: at(50)},
			}
			stored, created, err := s.PutOrder(ctx, o)
			require.NoError(t, err, "PutOrder")
			assert.True(t, created, "PutOrder of a new order: created")
			sameOrder(t, o, stored)
			got := mustOrders(t, s, chat.OrderQuery{})
			require.Len(t, got, 1)
			sameOrder(t, o, got[0])
			assert.True(t, got[0].Attribution.Chat(), "Attribution.Chat")

			// No attribution round-trips as the zero value.
			plain := order("o2", "v1", 0, 101)
			sameOrder(t, plain, mustPutOrder(t, s, plain))
			got = mustOrders(t, s, chat.OrderQuery{})
			require.Len(t, got, 2)
			sameOrder(t, plain, got[1])
			assert.False(t, got[1].Attribution.Chat(), "an order without attribution is not a chat order")
		}},
		{"Orders/PutOnce", func(t testing.TB, s store) {
			mustVisitor(t, s, "v1", "")
			mustVisitor(t, s, "v2", "")
			first := order("o1", "v1", 1000, 10)
			mustPutOrder(t, s, first)
			again := &chat.Order{ID: "o1", VisitorID: "v2", Total: 5, Currency: "USD", PlacedAt: at(20),
				Attribution: chat.Attribution{Channel: chat.ChannelChat, ConversationID: "c9", TouchedAt: at(15)}}
			stored, created, err := s.PutOrder(ctx, again)
			require.NoError(t, err, "PutOrder of an existing ID is not an error")
			assert.False(t, created, "PutOrder of an existing ID: created")
			sameOrder(t, first, stored)
			got := mustOrders(t, s, chat.OrderQuery{})
			require.Len(t, got, 1, "recorded twice, stored once")
			sameOrder(t, first, got[0])
		}},
		{"Orders/PutInvalid", func(t testing.TB, s store) {
			mustVisitor(t, s, "v1", "")
			_, _, err := s.PutOrder(ctx, order("", "v1", 100, 1))
			isErr(t, err, chat.ErrInvalid, "PutOrder with an empty ID")
			assert.Empty(t, mustOrders(t, s, chat.OrderQuery{}), "Orders after a refused PutOrder")
		}},
		{"Orders/List", func(t testing.TB, s store) {
			mustVisitor(t, s, "v1", "")
			mustVisitor(t, s, "v2", "")
			// Put out of order; o2b and o2a share PlacedAt, so ID breaks the tie.
			mustPutOrder(t, s, order("o3", "v1", 300, 30))
			mustPutOrder(t, s, order("o2b", "v2", 200, 20))
			mustPutOrder(t, s, order("o1", "v1", 100, 10))
			mustPutOrder(t, s, order("o2a", "v1", 250, 20))
			mustPutOrder(t, s, order("o4", "v2", 400, 40))
			list := func(q chat.OrderQuery) []string { t.Helper(); return orderIDs(mustOrders(t, s, q)) }
			assert.Equal(t, []string{"o1", "o2a", "o2b", "o3", "o4"}, list(chat.OrderQuery{}), "ascending PlacedAt, then ID")
			assert.Equal(t, []string{"o1", "o2a", "o3"}, list(chat.OrderQuery{VisitorID: "v1"}), "by visitor")
			assert.Equal(t, []string{"o2a", "o2b", "o3"}, list(chat.OrderQuery{From: at(20), To: at(40)}), "From <= PlacedAt < To")
			assert.Equal(t, []string{"o3", "o4"}, list(chat.OrderQuery{From: at(30)}), "From only")
			assert.Equal(t, []string{"o1"}, list(chat.OrderQuery{To: at(20)}), "To only")
			assert.Equal(t, []string{"o2b", "o4"}, list(chat.OrderQuery{VisitorID: "v2", From: at(11)}), "filters combine")
			assert.Equal(t, []string{"o1", "o2a"}, list(chat.OrderQuery{Limit: 2}), "Limit keeps the earliest")
			assert.Empty(t, list(chat.OrderQuery{VisitorID: "ghost"}), "unknown visitor")
		}},
		{"Orders/Copies", func(t testing.TB, s store) {
			mustVisitor(t, s, "v1", "")
			o := order("o1", "v1", 100, 1)
			stored := mustPutOrder(t, s, o)
			o.Total = 1
			stored.Total = 2
			got := mustOrders(t, s, chat.OrderQuery{})
			require.Len(t, got, 1)
			assert.EqualValues(t, 100, got[0].Total, "the store kept a reference to a caller's order")
			got[0].Attribution.Channel = chat.ChannelChat
			again := mustOrders(t, s, chat.OrderQuery{})
			require.Len(t, again, 1)
			assert.Empty(t, again[0].Attribution.Channel, "Orders returned stored state")
		}},
		{"Orders/ConcurrentPut", func(t testing.TB, s store) {
			const workers = 8
			mustVisitor(t, s, "v1", "")
			type result struct {
				total   int64
				created bool
			}
			got := make([]result, workers)
			var unexpected firstErr
			parallel(workers, func(g int) {
				stored, created, err := s.PutOrder(ctx, order("o1", "v1", int64(100+g), g))
				if err == nil && stored == nil {
					err = errors.New("PutOrder returned no stored order")
				}
				if err != nil {
					unexpected.set(err)
					return
				}
				got[g] = result{stored.Total, created}
			})
			require.NoError(t, unexpected.err, "PutOrder")
			creators := 0
			var winner int64 = -1
			for g, r := range got {
				if r.created {
					creators++
					winner = int64(100 + g)
					assert.Equal(t, winner, r.total, "worker %d created the order and got another one back", g)
				}
			}
			require.Equal(t, 1, creators, "exactly one concurrent PutOrder creates the order")
			for g, r := range got {
				assert.Equal(t, winner, r.total, "worker %d got another stored order than the one created", g)
			}
			os := mustOrders(t, s, chat.OrderQuery{})
			require.Len(t, os, 1, "one order stored")
			assert.Equal(t, winner, os[0].Total, "the stored order is the created one")
		}},
		{"Canned/PutAndList", func(t testing.TB, s store) {
			team := mustPutCanned(t, s, &chat.CannedResponse{ID: "k1", Shortcut: "shipping", Title: "Shipping <times>", Text: "Hi {visitor.name}, we ship in 2 days.", UpdatedAt: at(5)})
			mustPutCanned(t, s, canned("k2", "alice", "shipping")) // same shortcut, another owner: no conflict
			mustPutCanned(t, s, canned("k3", "alice", "returns"))
			mustPutCanned(t, s, canned("k4", "bob", "greet"))
			mustPutCanned(t, s, canned("k5", "", "address"))
			assert.Equal(t, []string{"k5", "k1"}, cannedIDs(t, s, ""), "the team's only, by Shortcut")
			assert.Equal(t, []string{"k5", "k3", "k1", "k2"}, cannedIDs(t, s, "alice"), "team and alice's, by Shortcut then OperatorID")
			assert.Equal(t, []string{"k5", "k4", "k1"}, cannedIDs(t, s, "bob"), "team and bob's")
			assert.Equal(t, []string{"k5", "k1"}, cannedIDs(t, s, "carol"), "an operator with no personal responses sees the team's")
			cs, err := s.CannedResponses(ctx, "")
			require.NoError(t, err)
			require.Len(t, cs, 2)
			sameCanned(t, team, cs[1])

			// Replace by ID: new fields, including the shortcut; the old
			// shortcut is free again.
			repl := &chat.CannedResponse{ID: "k3", OperatorID: "alice", Shortcut: "refund", Title: "Refunds", Text: "Refunds take 5 days.", UpdatedAt: at(9)}
			mustPutCanned(t, s, repl)
			cs, err = s.CannedResponses(ctx, "alice")
			require.NoError(t, err)
			require.Len(t, cs, 4, "a replace adds nothing")
			sameCanned(t, repl, cs[1])
			mustPutCanned(t, s, canned("k6", "alice", "returns"))
			// Replacing without changing the shortcut does not conflict with itself.
			repl.Text = "Refunds take 3 days."
			mustPutCanned(t, s, repl)
			assert.Equal(t, []string{"k5", "k3", "k6", "k1", "k2"}, cannedIDs(t, s, "alice"))
		}},
		{"Canned/Conflict", func(t testing.TB, s store) {
			mustPutCanned(t, s, canned("k1", "", "shipping"))
			mustPutCanned(t, s, canned("k2", "alice", "shipping"))
			mustPutCanned(t, s, canned("k3", "alice", "returns"))
			isErr(t, s.PutCanned(ctx, canned("k4", "", "shipping")), chat.ErrConflict, "PutCanned of the team's shortcut again")
			isErr(t, s.PutCanned(ctx, canned("k5", "alice", "shipping")), chat.ErrConflict, "PutCanned of alice's shortcut again")
			// A replace that takes another of the owner's shortcuts is refused
			// and leaves the response as it was.
			isErr(t, s.PutCanned(ctx, canned("k3", "alice", "shipping")), chat.ErrConflict, "PutCanned replacing to a taken shortcut")
			assert.Equal(t, []string{"k3", "k1", "k2"}, cannedIDs(t, s, "alice"), "after refused puts")
			cs, err := s.CannedResponses(ctx, "alice")
			require.NoError(t, err)
			require.Len(t, cs, 3)
			assert.Equal(t, "returns", cs[0].Shortcut, "k3 keeps its shortcut after a refused replace")
		}},
		{"Canned/Delete", func(t testing.TB, s store) {
			mustPutCanned(t, s, canned("k1", "", "shipping"))
			mustPutCanned(t, s, canned("k2", "alice", "hello"))
			require.NoError(t, s.DeleteCanned(ctx, "k1"), "DeleteCanned")
			assert.Equal(t, []string{"k2"}, cannedIDs(t, s, "alice"), "after DeleteCanned")
			isErr(t, s.DeleteCanned(ctx, "k1"), chat.ErrNotFound, "DeleteCanned twice")
			isErr(t, s.DeleteCanned(ctx, "ghost"), chat.ErrNotFound, "DeleteCanned of an unknown id")
			// The deleted response's shortcut is free again.
			mustPutCanned(t, s, canned("k3", "", "shipping"))
			assert.Equal(t, []string{"k2", "k3"}, cannedIDs(t, s, "alice"))
		}},
		{"Canned/Invalid", func(t testing.TB, s store) {
			for _, c := range []struct {
				why string
				c   *chat.CannedResponse
			}{
				{"empty ID", &chat.CannedResponse{Shortcut: "a", Text: "x"}},
				{"empty Shortcut", &chat.CannedResponse{ID: "k1", Text: "x"}},
				{"empty Text", &chat.CannedResponse{ID: "k1", Shortcut: "a"}},
			} {
				isErr(t, s.PutCanned(ctx, c.c), chat.ErrInvalid, "PutCanned with "+c.why)
			}
			assert.Empty(t, cannedIDs(t, s, ""), "nothing stored from refused puts")
		}},
		{"Canned/Copies", func(t testing.TB, s store) {
			c := mustPutCanned(t, s, canned("k1", "", "shipping"))
			c.Text = "changed after put"
			cs, err := s.CannedResponses(ctx, "")
			require.NoError(t, err)
			require.Len(t, cs, 1)
			assert.Equal(t, "Text of k1", cs[0].Text, "the store kept a reference to a caller's response")
			cs[0].Text = "changed after read"
			cs, err = s.CannedResponses(ctx, "")
			require.NoError(t, err)
			require.Len(t, cs, 1)
			assert.Equal(t, "Text of k1", cs[0].Text, "CannedResponses returned stored state")
		}},
		{"Canned/ConcurrentShortcut", func(t testing.TB, s store) {
			const workers = 8
			errs := make([]error, workers)
			parallel(workers, func(g int) {
				errs[g] = s.PutCanned(ctx, canned(fmt.Sprintf("k%d", g), "alice", "shipping"))
			})
			ok := 0
			for g, err := range errs {
				if err == nil {
					ok++
					continue
				}
				assert.Truef(t, errors.Is(err, chat.ErrConflict), "worker %d: PutCanned of a taken shortcut: want ErrConflict, got %v", g, err)
			}
			assert.Equal(t, 1, ok, "exactly one concurrent PutCanned takes the shortcut")
			assert.Len(t, cannedIDs(t, s, "alice"), 1, "one response stored")
		}},
		{"Triggers/PutAndList", func(t testing.TB, s store) {
			assert.Empty(t, mustTriggers(t, s), "Triggers of an empty store")
			full := &chat.Trigger{
				ID: "t-product", Name: "Product <help>", Disabled: true,
				URL: "/product/*", URLRegexp: `^/product/\d+\?.*$`, TimeOnPage: 90 * time.Second,
				MinPages: 3, Visitor: "returning", MinCartValue: 5000, Referrer: "*.google.*",
				UTMCampaign: "spring", BusinessHours: true, Once: "visitor", Action: "suggest",
				Message: "Need help choosing?", OperatorID: "alice",
			}
			require.NoError(t, s.PutTrigger(ctx, full), "PutTrigger")
			require.NoError(t, s.PutTrigger(ctx, &chat.Trigger{ID: "t-cart"}), "PutTrigger with only an ID")
			require.NoError(t, s.PutTrigger(ctx, &chat.Trigger{ID: "a-first", TimeOnPage: time.Hour + time.Second}), "PutTrigger")
			require.Equal(t, []string{"a-first", "t-cart", "t-product"}, triggerIDs(t, s), "ordered by ID")
			ts := mustTriggers(t, s)
			require.Len(t, ts, 3)
			assert.Equal(t, *full, *ts[2], "every field round-trips")
			assert.Equal(t, chat.Trigger{ID: "t-cart"}, *ts[1], "zero fields round-trip")
			assert.Equal(t, time.Hour+time.Second, ts[0].TimeOnPage, "TimeOnPage")

			// Replace by ID.
			repl := &chat.Trigger{ID: "t-product", Name: "Product", URL: "/product/**", TimeOnPage: 20 * time.Second, Message: "Hello!"}
			require.NoError(t, s.PutTrigger(ctx, repl), "PutTrigger replacing")
			ts = mustTriggers(t, s)
			require.Len(t, ts, 3, "a replace adds nothing")
			assert.Equal(t, *repl, *ts[2], "the replaced trigger")

			// Returned triggers are copies.
			ts[2].Message = "changed after read"
			repl.Message = "changed after put"
			ts = mustTriggers(t, s)
			require.Len(t, ts, 3)
			assert.Equal(t, "Hello!", ts[2].Message, "Triggers returned stored state")
		}},
		{"Triggers/Delete", func(t testing.TB, s store) {
			require.NoError(t, s.PutTrigger(ctx, &chat.Trigger{ID: "t1", Name: "one"}))
			require.NoError(t, s.PutTrigger(ctx, &chat.Trigger{ID: "t2", Name: "two"}))
			require.NoError(t, s.DeleteTrigger(ctx, "t1"), "DeleteTrigger")
			assert.Equal(t, []string{"t2"}, triggerIDs(t, s), "after DeleteTrigger")
			isErr(t, s.DeleteTrigger(ctx, "t1"), chat.ErrNotFound, "DeleteTrigger twice")
			isErr(t, s.DeleteTrigger(ctx, "ghost"), chat.ErrNotFound, "DeleteTrigger of an unknown id")
			isErr(t, s.PutTrigger(ctx, &chat.Trigger{Name: "no id"}), chat.ErrInvalid, "PutTrigger with an empty ID")
			assert.Equal(t, []string{"t2"}, triggerIDs(t, s), "after a refused PutTrigger")
			// A deleted id can be used again.
			require.NoError(t, s.PutTrigger(ctx, &chat.Trigger{ID: "t1", Name: "again"}))
			ts := mustTriggers(t, s)
			require.Len(t, ts, 2)
			assert.Equal(t, "again", ts[0].Name)
		}},
		{"Conversations/Since", func(t testing.TB, s store) {
			mustVisitor(t, s, "v1", "")
			mustConvFor(t, s, "c1", "v1", at(10))
			mustClose(t, s, "c1", at(11))
			mustConvFor(t, s, "c2", "v1", at(20))
			mustClose(t, s, "c2", at(21))
			mustConv(t, s, "c3", at(30))
			list := func(f chat.ConversationFilter) []string {
				t.Helper()
				cs, err := s.Conversations(ctx, f)
				require.NoError(t, err, "Conversations(%+v)", f)
				return convIDs(cs)
			}
			assert.Equal(t, []string{"c3", "c2"}, list(chat.ConversationFilter{Since: at(20)}), "Since is inclusive")
			assert.Equal(t, []string{"c2"}, list(chat.ConversationFilter{Since: at(20), Before: at(30)}), "Since and Before")
			assert.Equal(t, []string{"c2"}, list(chat.ConversationFilter{Since: at(11), VisitorID: "v1"}), "Since and visitor")
			assert.Equal(t, []string{"c3"}, list(chat.ConversationFilter{Since: at(11), Limit: 1}), "Since and Limit")
			assert.Empty(t, list(chat.ConversationFilter{Since: at(31)}), "Since after every conversation")
		}},
		{"Tracking/DeleteVisitor", func(t testing.TB, s store) {
			mustVisitor(t, s, "v1", "cust-1")
			mustVisitor(t, s, "v2", "")
			mustConvFor(t, s, "c1", "v1", at(1))
			require.NoError(t, s.AddPageViews(ctx, []chat.PageView{view("v1", "/a", 2), view("v2", "/b", 3), view("v1", "/c", 4)}))
			require.NoError(t, s.AddActivities(ctx, []chat.Activity{
				{Kind: chat.TriggerShown, VisitorID: "v1", TriggerID: "t1", Text: "v1 shown", At: at(2)},
				{Kind: chat.TriggerShown, VisitorID: "v2", TriggerID: "t1", Text: "v2 shown", At: at(3)},
				{Kind: chat.InvitationAccepted, VisitorID: "v1", ConversationID: "c1", TriggerID: "t1", Text: "v1 accepted", At: at(4)},
				{Kind: chat.PresenceChanged, OperatorID: "alice", Text: "online", At: at(5)},
			}))
			attributed := &chat.Order{ID: "o1", VisitorID: "v1", Total: 990, Currency: "EUR", PlacedAt: at(6),
				Attribution: chat.Attribution{Channel: chat.ChannelChat, ConversationID: "c1", OperatorID: "alice", TriggerID: "t1", TouchedAt: at(4)}}
			mustPutOrder(t, s, attributed)
			mustPutOrder(t, s, order("o2", "v2", 500, 7))

			require.NoError(t, s.DeleteVisitor(ctx, "v1"), "DeleteVisitor")
			assert.Equal(t, []string{"v2 shown", "online"}, texts(mustActivities(t, s, chat.ActivityQuery{})), "activities after DeleteVisitor")
			assert.Empty(t, mustActivities(t, s, chat.ActivityQuery{VisitorID: "v1"}), "the erased visitor's activities")
			assert.Equal(t, []string{"/b"}, urls(mustPageViews(t, s, "v2", 0)), "a bystander's page views")
			os := mustOrders(t, s, chat.OrderQuery{})
			require.Equal(t, []string{"o1", "o2"}, orderIDs(os), "orders stay after DeleteVisitor")
			kept := *attributed
			kept.VisitorID = ""
			sameOrder(t, &kept, os[0])
			assert.Equal(t, "v2", os[1].VisitorID, "a bystander's order")
			assert.Empty(t, orderIDs(mustOrders(t, s, chat.OrderQuery{VisitorID: "v1"})), "orders by the erased visitor's id")
			// The order's ID is still taken: recording it again counts it once.
			_, created, err := s.PutOrder(ctx, order("o1", "v2", 1, 8))
			require.NoError(t, err, "PutOrder of a kept order")
			assert.False(t, created, "PutOrder of a kept order: created")

			// Views arriving for the erased visitor are skipped, and a visitor
			// who comes back with the same id starts with nothing.
			require.NoError(t, s.AddPageViews(ctx, []chat.PageView{view("v1", "/late", 9)}), "AddPageViews for an erased visitor")
			mustVisitor(t, s, "v1", "cust-1")
			assert.Empty(t, mustPageViews(t, s, "v1", 0), "page views of the returning visitor")
			assert.Empty(t, orderIDs(mustOrders(t, s, chat.OrderQuery{VisitorID: "v1"})), "orders of the returning visitor")
		}},
		{"Tracking/ConcurrentPageViews", func(t testing.TB, s store) {
			const workers, each = 8, 20
			mustVisitor(t, s, "v1", "")
			var unexpected firstErr
			parallel(workers, func(g int) {
				for i := range each {
					if err := s.AddPageViews(ctx, []chat.PageView{view("v1", fmt.Sprintf("/g%d/%d", g, i), i)}); err != nil {
						unexpected.set(err)
						return
					}
				}
			})
			require.NoError(t, unexpected.err, "AddPageViews")
			got := mustPageViews(t, s, "v1", workers*each+10)
			assert.Len(t, got, workers*each, "every view stored once")
			seen := map[string]bool{}
			for _, v := range got {
				assert.False(t, seen[v.URL], "view %s stored twice", v.URL)
				seen[v.URL] = true
			}
		}},
	}
}
