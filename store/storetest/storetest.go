// Package storetest is the conformance suite for chat.Store
// implementations. Every store in this module passes it, and a plugin
// author proves a custom store with one call:
//
//	package mystore_test
//
//	import (
//		"testing"
//
//		"github.com/shopchat/chat"
//		"github.com/shopchat/chat/store/storetest"
//		"example.com/mystore"
//	)
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t testing.TB) chat.Store {
//			s := mystore.Open(t.TempDir()) // must be fresh and empty
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// Optional capabilities are checked only if the store has them, found as
// the Server finds them: the Search cases skip, saying why, unless
// chat.StoreAs finds chat.Searcher on the store (on it or, through
// Unwrap() chat.Store, on a store it wraps), the PageViewVisitors cases
// unless it finds chat.PageViewVisitors, the AssignedAppender cases unless
// the store itself implements chat.AssignedAppender, and Run logs the
// skipped cases in their area's output (go test -v shows it).
//
// A wrapper does not pass by hiding: Capabilities/NotHidden fails a store
// that holds another store in an exported field (embedding chat.Store is
// the usual decorator) whose Searcher or PageViewVisitors the Server could
// not find on the wrapper. Give the wrapper an Unwrap() chat.Store method.
//
// Run one area or one case with -run, e.g.
// go test -run 'TestConformance/Conversations/Assign'.
//
// The cases use fixed times in UTC with whole-second offsets and compare
// times with time.Time.Equal, so a store may round to microseconds and
// return times in another location. They never sleep or assert timings.
package storetest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/internal/suite"
)

// Case is one conformance check. Name is "Area/Check", e.g.
// "Visitors/CreateConflict". Fn gets a fresh, empty store and reports
// through t only, from its own goroutine, so it can be driven by any
// testing.TB (for example one that records failures).
type Case struct {
	Name string
	Fn   func(t testing.TB, s chat.Store)
}

// optional maps an area whose cases skip unless the store has an optional
// capability to that capability.
var optional = map[string]string{"Search": "chat.Searcher", "PageViewVisitors": "chat.PageViewVisitors", "AssignedAppender": "chat.AssignedAppender", "Attachments": "chat.AttachmentStore"}

// Cases returns the suite's cases in a stable order. Run runs them all;
// Cases is for harnesses that need to run or select cases themselves.
func Cases() []Case {
	var cs []Case
	cs = append(cs, capabilityCases()...)
	cs = append(cs, visitorCases()...)
	cs = append(cs, operatorCases()...)
	cs = append(cs, conversationCases()...)
	cs = append(cs, messageCases()...)
	cs = append(cs, assignedAppenderCases()...)
	cs = append(cs, concurrencyCases()...)
	cs = append(cs, dataCases()...)
	cs = append(cs, searchCases()...)
	cs = append(cs, trackingCases()...)
	cs = append(cs, pageViewVisitorsCases()...)
	cs = append(cs, claimCases()...)
	cs = append(cs, liveCases()...)
	cs = append(cs, attachmentCases()...)
	return cs
}

// Run runs every case as a subtest named by its Name (so "Visitors" then
// "CreateConflict"), calling open once per case for a fresh, empty store.
// Cases run one after another; open may register cleanups with t.
func Run(t *testing.T, open func(t testing.TB) chat.Store) {
	t.Helper()
	cases := Cases()
	names := make([]string, len(cases))
	perArea := map[string]int{}
	for i, c := range cases {
		names[i] = c.Name
		area, _, _ := strings.Cut(c.Name, "/")
		perArea[area]++
	}
	suite.Run(t, names, func(t *testing.T, i int) { cases[i].Fn(t, open(t)) }, func(t *testing.T, area string, skipped []string) {
		if len(skipped) == 0 {
			return
		}
		why := ""
		if capability, ok := optional[area]; ok {
			why = fmt.Sprintf(" (%s is an optional capability; a wrapper keeps it with Unwrap() chat.Store)", capability)
		}
		t.Logf("storetest: %d of %d %s cases SKIPPED%s: %s", len(skipped), perArea[area], area, why, strings.Join(skipped, ", "))
	})
}
