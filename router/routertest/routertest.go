// Package routertest is the conformance suite for chat.Router
// implementations. Every built-in Router passes it, and a plugin author
// proves a custom one with one call:
//
//	func TestConformance(t *testing.T) {
//		routertest.Run(t, func(t testing.TB) chat.Router { return myrouter.New() })
//	}
//
// It checks the calling rules documented on chat.Router:
//
//   - Rank returns only ids of the candidates it was given, each at most
//     once, and none whose Active has reached the Capacity given in its
//     Candidate (which may differ from Operator.Capacity).
//   - Rank leaves its candidates slice and conversation unmodified.
//   - nil and empty candidates give an empty result, without a panic.
//   - Rank is safe to call from many goroutines at once, each call
//     answering for its own candidates.
//   - Rank returns promptly when its context is already done.
//
// The suite does not judge preference: a Router that leaves everyone out
// (a manual-pick policy) passes. Every call is bounded: a Rank that does
// not return within 10 seconds fails the case. The suite never sleeps.
//
// Run one area or one case with -run, e.g.
// go test -run 'TestConformance/Capacity/GivenNotOperator'.
package routertest

import (
	"testing"
	"time"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/internal/suite"
)

// Case is one conformance check. Name is "Area/Check". Fn gets open,
// which returns the Router under test (a new one or a shared one, as the
// author likes), and reports through t only, from its own goroutine, so
// it can be driven by any testing.TB (for example one that records
// failures).
type Case struct {
	Name string
	Fn   func(t testing.TB, open func(testing.TB) chat.Router)
}

// waitTimeout bounds one Rank call; tests of the suite shorten it.
var waitTimeout = 10 * time.Second

// Cases returns the suite's cases in a stable order. Run runs them all;
// Cases is for harnesses that need to run or select cases themselves.
func Cases() []Case {
	return []Case{
		{"Candidates/OnlyGiven", candidatesOnlyGiven},
		{"Candidates/NoDuplicates", candidatesNoDuplicates},
		{"Capacity/FullLeftOut", capacityFullLeftOut},
		{"Capacity/GivenNotOperator", capacityGivenNotOperator},
		{"Input/Unmodified", inputUnmodified},
		{"Input/Empty", inputEmpty},
		{"Concurrency/Parallel", concurrencyParallel},
		{"Context/Done", contextDone},
	}
}

// Run runs every case as a subtest named by its Name (so "Capacity" then
// "FullLeftOut").
func Run(t *testing.T, open func(t testing.TB) chat.Router) {
	t.Helper()
	cases := Cases()
	names := make([]string, len(cases))
	for i, c := range cases {
		names[i] = c.Name
	}
	suite.Run(t, names, func(t *testing.T, i int) { cases[i].Fn(t, open) }, nil)
}
