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
// The suite runs every store through chat.Checked, the checking layer the
// Server puts in front of every store, so a store need not repeat its
// input checks and limit defaults. It checks the required core (chat.Store)
// of every store, and each optional role (chat.TrackingStore,
// chat.OrderStore, ...; see chat.StoreCapabilities) only if the store
// provides it, found as the Server finds it: a case needing a role the
// store lacks skips, saying which, and Run logs each area's skipped cases
// (go test -v shows them). A store with only the core passes.
//
// A store cannot pass by hiding or half-declaring a role: the Capabilities
// cases fail a store that implements some but not all of a role's
// methods (the Server would silently not see the role), and a wrapper
// that holds another store (embedding chat.Store is the usual decorator)
// and hides a role of it. Give the wrapper an Unwrap() chat.Store method.
//
// Run one area or one case with -run, e.g.
// go test -run 'TestConformance/Conversations/Assign'.
//
// The cases use fixed times in UTC with whole-second offsets and compare
// times with time.Time.Equal, so a store may round to microseconds and
// return times in another location. They never sleep or assert timings.
package storetest

import (
	"strings"
	"testing"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/internal/suite"
)

// Case is one conformance check. Name is "Area/Check", e.g.
// "Visitors/CreateConflict". Fn gets a fresh, empty store, runs it through
// chat.Checked (as the Server does) and reports through t only, from its
// own goroutine, so it can be driven by any testing.TB (for example one
// that records failures).
type Case struct {
	Name string
	// Roles are the optional roles (chat.Capability.Role) the case needs;
	// Fn skips, naming them, for a store that lacks one.
	Roles []string
	Fn    func(t testing.TB, s chat.Store)
}

// store is a store with every role, as chat.Checked returns it.
type store interface {
	chat.Store
	chat.TrackingStore
	chat.OrderStore
	chat.CannedStore
	chat.TriggerStore
	chat.ClaimStore
	chat.Searcher
	chat.PageViewVisitors
	chat.AssignedAppender
	chat.BatchAppender
	chat.EventLog
	chat.Labeler
	chat.AttachmentStore
}

// def is a case as the area files write it: on a store behind chat.Checked.
type def struct {
	Name string
	Fn   func(t testing.TB, s store)
}

// needs maps an area, or a single case, to the optional roles its cases
// need. Areas not listed check the required core.
var needs = map[string][]string{
	"AssignedAppender":       {"assigned-append"},
	"BatchAppender":          {"batch-append"},
	"Search":                 {"search"},
	"Tracking":               {"tracking"},
	"Tracking/DeleteVisitor": {"tracking", "orders"},
	"Orders":                 {"orders"},
	"Canned":                 {"canned"},
	"Triggers":               {"triggers"},
	"PageViewVisitors":       {"tracking", "page-view-visitors"},
	"Claims":                 {"claims"},
	"EventLog":               {"events"},
	"Labels":                 {"labels"},
	"Attachments":            {"attachments"},
}

// Cases returns the suite's cases in a stable order, grouped by area. Run
// runs them all; Cases is for harnesses that need to run or select cases
// themselves.
func Cases() []Case {
	cs := capabilityCases()
	var defs []def
	for _, area := range [][]def{visitorCases(), operatorCases(), conversationCases(), messageCases(),
		assignedAppenderCases(), batchAppenderCases(), concurrencyCases(), dataCases(), searchCases(), trackingCases(),
		pageViewVisitorsCases(), claimCases(), liveCases(), eventCases(), attachmentCases()} {
		defs = append(defs, area...)
	}
	// Group by area, in the order areas first appear.
	var areas []string
	byArea := map[string][]def{}
	for _, d := range defs {
		area, _, _ := strings.Cut(d.Name, "/")
		if _, ok := byArea[area]; !ok {
			areas = append(areas, area)
		}
		byArea[area] = append(byArea[area], d)
	}
	for _, area := range areas {
		for _, d := range byArea[area] {
			roles, ok := needs[d.Name]
			if !ok {
				roles = needs[area]
			}
			cs = append(cs, Case{Name: d.Name, Roles: roles, Fn: checkedCase(d.Fn, roles)})
		}
	}
	return cs
}

// checkedCase runs fn on s behind chat.Checked if s provides roles, and
// skips otherwise.
func checkedCase(fn func(testing.TB, store), roles []string) func(testing.TB, chat.Store) {
	return func(t testing.TB, s chat.Store) {
		for _, r := range roles {
			if !provides(s, r) {
				t.Skipf("the store does not provide the optional %s role (%s): not checked", r, iface(r))
			}
		}
		fn(t, chat.Checked(s).(store))
	}
}

// provides reports whether s provides role, as the Server finds it.
func provides(s chat.Store, role string) bool {
	for _, c := range chat.StoreCapabilities(s) {
		if c.Role == role {
			return c.Status != chat.RoleNotProvided
		}
	}
	return false
}

// iface names role's interface.
func iface(role string) string {
	for _, c := range chat.StoreCapabilities(nil) {
		if c.Role == role {
			return c.Interface
		}
	}
	return role
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
		t.Logf("storetest: %d of %d %s cases SKIPPED: the store does not provide the optional roles they check "+
			"(a wrapper keeps its store's roles with Unwrap() chat.Store): %s", len(skipped), perArea[area], area, strings.Join(skipped, ", "))
	})
}
