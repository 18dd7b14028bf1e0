package routertest

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shopchat/chat"
)

// t0 is the suite's base time.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// cand is an online candidate id with active of capacity conversations,
// who last received one minutesAgo minutes before t0.
func cand(id string, active, capacity, minutesAgo int, departments ...string) chat.Candidate {
	return chat.Candidate{
		OperatorLoad: chat.OperatorLoad{
			Operator:       &chat.Operator{ID: id, Name: "Op " + id, Departments: departments, Capacity: capacity},
			Presence:       chat.Online,
			Active:         active,
			LastAssignedAt: t0.Add(-time.Duration(minutesAgo) * time.Minute),
		},
		Capacity: capacity,
	}
}

// conversations are queued conversations to rank: for anyone, for a
// department some candidates have, and for one nobody has.
func conversations() []*chat.Conversation {
	var cs []*chat.Conversation
	for _, dep := range []string{"", "sales", "support", "nobody"} {
		name := cmp.Or(dep, "any")
		cs = append(cs, &chat.Conversation{ID: "conv-" + name, VisitorID: "visitor-" + name, Status: chat.Queued, Department: dep, CreatedAt: t0, QueuedAt: t0})
	}
	return cs
}

// mixed is a set of candidates below capacity with varied loads, turns
// and departments; their ids start with prefix.
func mixed(prefix string) []chat.Candidate {
	return []chat.Candidate{
		cand(prefix+"a", 2, 3, 5, "sales"),
		cand(prefix+"b", 0, 5, 1, "support"),
		cand(prefix+"c", 1, 2, 30, "sales", "support"),
		cand(prefix+"d", 0, 1, 60),
		cand(prefix+"e", 4, 8, 0, "sales"),
	}
}

// candidateSets are the inputs most cases rank.
func candidateSets() map[string][]chat.Candidate {
	return map[string][]chat.Candidate{
		"one":       {cand("solo", 0, 3, 0, "sales")},
		"mixed":     mixed(""),
		"same load": {cand("x", 1, 2, 10), cand("y", 1, 2, 10), cand("z", 1, 2, 10)},
		"reversed":  reversed(mixed("r-")),
	}
}

func reversed(cs []chat.Candidate) []chat.Candidate {
	slices.Reverse(cs)
	return cs
}

// tryRank calls r.Rank on its own goroutine and returns its result, or an
// error if it panicked or did not return within waitTimeout.
func tryRank(ctx context.Context, r chat.Router, c *chat.Conversation, cs []chat.Candidate) ([]string, error) {
	type result struct {
		ids []string
		err error
	}
	done := make(chan result, 1)
	go func() {
		var res result
		defer func() {
			if p := recover(); p != nil {
				res.err = fmt.Errorf("Rank(%s, %d candidates) panicked: %v", c.ID, len(cs), p)
			}
			done <- res
		}()
		res.ids = r.Rank(ctx, c, cs)
	}()
	select {
	case res := <-done:
		return res.ids, res.err
	case <-time.After(waitTimeout):
		return nil, fmt.Errorf("Rank(%s, %d candidates) did not return within %v", c.ID, len(cs), waitTimeout)
	}
}

func rank(t testing.TB, ctx context.Context, r chat.Router, c *chat.Conversation, cs []chat.Candidate) []string {
	t.Helper()
	ids, err := tryRank(ctx, r, c, cs)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// strangers returns the ids in got that are not among cs.
func strangers(cs []chat.Candidate, got []string) []string {
	var out []string
	for _, id := range got {
		if !slices.ContainsFunc(cs, func(c chat.Candidate) bool { return c.Operator.ID == id }) {
			out = append(out, id)
		}
	}
	return out
}

// duplicates returns the ids that appear more than once in got.
func duplicates(got []string) []string {
	seen := map[string]int{}
	var out []string
	for _, id := range got {
		if seen[id]++; seen[id] == 2 {
			out = append(out, id)
		}
	}
	return out
}

// full returns the ids in got of candidates at or over their capacity.
func full(cs []chat.Candidate, got []string) []string {
	var out []string
	for _, c := range cs {
		if c.Active >= c.Capacity && slices.Contains(got, c.Operator.ID) {
			out = append(out, c.Operator.ID)
		}
	}
	return out
}

// invalid says what is wrong with got as a ranking of cs, or "".
func invalid(cs []chat.Candidate, got []string) string {
	if s := strangers(cs, got); len(s) > 0 {
		return fmt.Sprintf("returned %q, who are not candidates", s)
	}
	if d := duplicates(got); len(d) > 0 {
		return fmt.Sprintf("returned %q more than once", d)
	}
	if f := full(cs, got); len(f) > 0 {
		return fmt.Sprintf("returned %q, who are at capacity", f)
	}
	return ""
}

// eachInput calls fn for every conversation and candidate set.
func eachInput(fn func(c *chat.Conversation, set string, cs []chat.Candidate)) {
	sets := candidateSets()
	names := slices.Sorted(maps.Keys(sets))
	for _, c := range conversations() {
		for _, name := range names {
			fn(c, name, sets[name])
		}
	}
}

func candidatesOnlyGiven(t testing.TB, open func(testing.TB) chat.Router) {
	r := open(t)
	eachInput(func(c *chat.Conversation, set string, cs []chat.Candidate) {
		got := rank(t, context.Background(), r, c, cs)
		if s := strangers(cs, got); len(s) > 0 {
			t.Errorf("conversation %s, candidates %s: Rank returned %q, who are not candidates (got %q)", c.ID, set, s, got)
		}
	})
}

func candidatesNoDuplicates(t testing.TB, open func(testing.TB) chat.Router) {
	r := open(t)
	eachInput(func(c *chat.Conversation, set string, cs []chat.Candidate) {
		got := rank(t, context.Background(), r, c, cs)
		if d := duplicates(got); len(d) > 0 {
			t.Errorf("conversation %s, candidates %s: Rank returned %q more than once (got %q)", c.ID, set, d, got)
		}
	})
}

// capacityFullLeftOut gives candidates at and over capacity (loads can be
// stale, and a composed Router may be given anyone) who would otherwise
// be first: longest without a conversation, in every department.
func capacityFullLeftOut(t testing.TB, open func(testing.TB) chat.Router) {
	r := open(t)
	for _, c := range conversations() {
		cs := append([]chat.Candidate{
			cand("full", 3, 3, 600, "sales", "support", "nobody"),
			cand("over", 4, 2, 900, "sales", "support", "nobody"),
			cand("zero", 0, 0, 1200, "sales", "support", "nobody"),
		}, mixed("")...)
		got := rank(t, context.Background(), r, c, cs)
		if f := full(cs, got); len(f) > 0 {
			t.Errorf("conversation %s: Rank returned %q, who are at or over the Capacity given (got %q)", c.ID, f, got)
		}
	}
}

// capacityGivenNotOperator gives a candidate whose Operator.Capacity is
// larger than the effective Capacity the Server computed: the Candidate's
// Capacity is the one that counts.
func capacityGivenNotOperator(t testing.TB, open func(testing.TB) chat.Router) {
	r := open(t)
	for _, c := range conversations() {
		busy := cand("busy", 2, 2, 600, "sales", "support", "nobody")
		busy.Operator.Capacity = 10
		cs := append([]chat.Candidate{busy}, mixed("")...)
		got := rank(t, context.Background(), r, c, cs)
		if slices.Contains(got, "busy") {
			t.Errorf("conversation %s: Rank returned %q, whose Candidate.Capacity 2 is reached (Operator.Capacity 10 is not the effective one); got %q", c.ID, "busy", got)
		}
	}
}

// snapshot deep-copies a Router's inputs, to see whether Rank changed them.
type snapshot struct {
	conv       chat.Conversation
	cands      []chat.Candidate
	operators  []chat.Operator
	operatorAt []*chat.Operator
}

func snap(c *chat.Conversation, cs []chat.Candidate) snapshot {
	s := snapshot{conv: *c, cands: slices.Clone(cs)}
	for _, x := range cs {
		op := *x.Operator
		op.Departments = slices.Clone(op.Departments)
		s.operators = append(s.operators, op)
		s.operatorAt = append(s.operatorAt, x.Operator)
	}
	return s
}

func (s snapshot) diff(c *chat.Conversation, cs []chat.Candidate) string {
	if !reflect.DeepEqual(s.conv, *c) {
		return fmt.Sprintf("the conversation changed: %+v, was %+v", *c, s.conv)
	}
	if !reflect.DeepEqual(s.cands, cs) {
		return fmt.Sprintf("the candidates slice changed: %v, was %v", ids(cs), ids(s.cands))
	}
	for i, x := range cs {
		if x.Operator != s.operatorAt[i] || !reflect.DeepEqual(s.operators[i], *x.Operator) {
			return fmt.Sprintf("candidate %d's operator changed: %+v, was %+v", i, *x.Operator, s.operators[i])
		}
	}
	return ""
}

func ids(cs []chat.Candidate) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Operator.ID
	}
	return out
}

func inputUnmodified(t testing.TB, open func(testing.TB) chat.Router) {
	r := open(t)
	eachInput(func(c *chat.Conversation, set string, cs []chat.Candidate) {
		before := snap(c, cs)
		rank(t, context.Background(), r, c, cs)
		if d := before.diff(c, cs); d != "" {
			t.Errorf("conversation %s, candidates %s: Rank modified its input: %s", c.ID, set, d)
		}
	})
}

func inputEmpty(t testing.TB, open func(testing.TB) chat.Router) {
	r := open(t)
	for _, c := range conversations() {
		for _, cs := range [][]chat.Candidate{nil, {}} {
			got, err := tryRank(context.Background(), r, c, cs)
			if err != nil {
				t.Errorf("conversation %s, candidates %#v: %v", c.ID, cs, err)
			} else if len(got) != 0 {
				t.Errorf("conversation %s, candidates %#v: Rank returned %q, want nothing", c.ID, cs, got)
			}
		}
	}
}

// concurrencyParallel ranks from many goroutines at once, each with
// candidates of its own, as Servers sharing one Router do.
func concurrencyParallel(t testing.TB, open func(testing.TB) chat.Router) {
	r := open(t)
	const goroutines, calls = 8, 40
	errs := make(chan string, goroutines*calls)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			convs := conversations()
			for i := range calls {
				cs := mixed(fmt.Sprintf("g%d-", g))
				cs = cs[:1+i%len(cs)]
				c := convs[i%len(convs)]
				got, err := tryRank(context.Background(), r, c, cs)
				if err != nil {
					errs <- err.Error()
					return
				}
				if bad := invalid(cs, got); bad != "" {
					errs <- fmt.Sprintf("goroutine %d, call %d (conversation %s, candidates %q): Rank %s", g, i, c.ID, ids(cs), bad)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	n := 0
	for e := range errs {
		if n++; n <= 5 {
			t.Error(e)
		}
	}
	if n > 5 {
		t.Errorf("... and %d more wrong results from concurrent calls", n-5)
	}
}

func contextDone(t testing.TB, open func(testing.TB) chat.Router) {
	r := open(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	eachInput(func(c *chat.Conversation, set string, cs []chat.Candidate) {
		got, err := tryRank(ctx, r, c, cs)
		if err != nil {
			t.Fatalf("with a context already done: %v", err)
		}
		if bad := invalid(cs, got); bad != "" {
			t.Errorf("with a context already done, conversation %s, candidates %s: Rank %s", c.ID, set, bad)
		}
	})
}
