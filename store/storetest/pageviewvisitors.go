package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopchat/chat"
)

// pageViewVisitorsOf returns s as a chat.PageViewVisitors (the
// PageViewVisitors cases run only for a store with that role).
func pageViewVisitorsOf(_ testing.TB, s store) chat.PageViewVisitors { return s }

// visitorsViewing returns the ids of the visitors with a page view in
// [at(from), at(to)), requiring success and a non-nil list (none encodes
// as [] in JSON).
func visitorsViewing(t testing.TB, pv chat.PageViewVisitors, from, to int) []string {
	t.Helper()
	ids, err := pv.PageViewVisitors(ctx, at(from), at(to))
	require.NoError(t, err, "PageViewVisitors [at(%d), at(%d))", from, to)
	require.NotNil(t, ids, "PageViewVisitors [at(%d), at(%d)): none is an empty list, not nil", from, to)
	return ids
}

// mustViews creates visitors ids and adds the views.
func mustViews(t testing.TB, s store, ids []string, views ...chat.PageView) {
	t.Helper()
	for _, id := range ids {
		mustVisitor(t, s, id, "")
	}
	require.NoError(t, s.AddPageViews(ctx, views), "AddPageViews")
}

func pageViewVisitorsCases() []def {
	return []def{
		{"PageViewVisitors/HalfOpen", func(t testing.TB, s store) {
			pv := pageViewVisitorsOf(t, s)
			mustViews(t, s, []string{"v1", "v2", "v3", "v4"},
				view("v1", "/before", 9), view("v2", "/from", 10), view("v3", "/inside", 20), view("v4", "/to", 30))
			assert.Equal(t, []string{"v2", "v3"}, visitorsViewing(t, pv, 10, 30), "from is in the range, to is not")
			assert.Equal(t, []string{"v3"}, visitorsViewing(t, pv, 11, 30), "a view before from")
			assert.Equal(t, []string{"v2", "v3", "v4"}, visitorsViewing(t, pv, 10, 31), "a view just before to")
			assert.Equal(t, []string{"v1", "v2", "v3", "v4"}, visitorsViewing(t, pv, 0, 100), "every view")
		}},
		{"PageViewVisitors/Distinct", func(t testing.TB, s store) {
			pv := pageViewVisitorsOf(t, s)
			mustViews(t, s, []string{"v1", "v2"},
				view("v1", "/a", 10), view("v1", "/b", 11), view("v2", "/a", 12), view("v1", "/a", 13))
			require.NoError(t, s.AddPageViews(ctx, []chat.PageView{view("v1", "/c", 14)}), "AddPageViews second batch")
			assert.Equal(t, []string{"v1", "v2"}, visitorsViewing(t, pv, 0, 100), "each visitor once, however many views")
		}},
		{"PageViewVisitors/Sorted", func(t testing.TB, s store) {
			pv := pageViewVisitorsOf(t, s)
			// Inserted neither in order nor by time; ascending is by bytes,
			// so upper case before lower case and "v10" before "v2".
			ids := []string{"v2", "b", "v10", "A", "v1"}
			mustViews(t, s, ids,
				view("v2", "/", 10), view("b", "/", 14), view("v10", "/", 11), view("A", "/", 13), view("v1", "/", 12))
			assert.Equal(t, []string{"A", "b", "v1", "v10", "v2"}, visitorsViewing(t, pv, 0, 100), "ids ascending")
		}},
		{"PageViewVisitors/Empty", func(t testing.TB, s store) {
			pv := pageViewVisitorsOf(t, s)
			assert.Empty(t, visitorsViewing(t, pv, 0, 100), "a store without page views")
			mustViews(t, s, []string{"v1"}, view("v1", "/a", 10), view("v1", "/b", 20))
			assert.Empty(t, visitorsViewing(t, pv, 11, 20), "a range between two views")
			assert.Empty(t, visitorsViewing(t, pv, 10, 10), "an empty range at a view")
			assert.Empty(t, visitorsViewing(t, pv, 21, 100), "a range after every view")
			// Views of a visitor the store did not know were not kept.
			require.NoError(t, s.AddPageViews(ctx, []chat.PageView{view("ghost", "/c", 30)}), "AddPageViews of an unknown visitor")
			assert.Empty(t, visitorsViewing(t, pv, 21, 100), "a view of an unknown visitor")
		}},
		{"PageViewVisitors/DeleteVisitor", func(t testing.TB, s store) {
			pv := pageViewVisitorsOf(t, s)
			mustViews(t, s, []string{"v1", "v2"}, view("v1", "/a", 10), view("v2", "/b", 11), view("v1", "/c", 12))
			require.Equal(t, []string{"v1", "v2"}, visitorsViewing(t, pv, 0, 100), "before DeleteVisitor")
			require.NoError(t, s.DeleteVisitor(ctx, "v1"), "DeleteVisitor v1")
			assert.Equal(t, []string{"v2"}, visitorsViewing(t, pv, 0, 100), "an erased visitor's views are gone")
		}},
		{"PageViewVisitors/Invalid", func(t testing.TB, s store) {
			pv := pageViewVisitorsOf(t, s)
			mustViews(t, s, []string{"v1"}, view("v1", "/a", 10))
			_, err := pv.PageViewVisitors(ctx, at(20), at(5))
			isErr(t, err, chat.ErrInvalid, "PageViewVisitors with to before from")
			_, err = pv.PageViewVisitors(ctx, at(10), at(10).Add(-time.Microsecond))
			isErr(t, err, chat.ErrInvalid, "PageViewVisitors with to a microsecond before from")
		}},
	}
}
