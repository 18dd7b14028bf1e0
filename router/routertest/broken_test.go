package routertest_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/internal/tbrecord"
	"github.com/shopchat/chat/router/routertest"
)

// Deliberately broken Routers, each wrong in one way, for
// TestSuiteCatchesBrokenRouters. Most start from chat.LeastBusy.

// addsStranger also offers an operator it was not given (say, from its own
// cache of who is on shift).
func addsStranger() chat.Router {
	return chat.RouterFunc(func(ctx context.Context, c *chat.Conversation, cs []chat.Candidate) []string {
		return append(chat.LeastBusy().Rank(ctx, c, cs), "on-shift")
	})
}

// repeatsFavourite puts its favourite first and leaves it in its place too.
func repeatsFavourite() chat.Router {
	return chat.RouterFunc(func(ctx context.Context, c *chat.Conversation, cs []chat.Candidate) []string {
		ids := chat.LeastBusy().Rank(ctx, c, cs)
		if len(ids) > 1 {
			ids = append([]string{ids[len(ids)-1]}, ids...)
		}
		return ids
	})
}

// ignoresCapacity ranks by turn and never looks at load.
func ignoresCapacity() chat.Router {
	return chat.RouterFunc(func(_ context.Context, _ *chat.Conversation, cs []chat.Candidate) []string {
		cs = slices.Clone(cs)
		slices.SortStableFunc(cs, func(a, b chat.Candidate) int { return a.LastAssignedAt.Compare(b.LastAssignedAt) })
		var ids []string
		for _, c := range cs {
			ids = append(ids, c.Operator.ID)
		}
		return ids
	})
}

// operatorCapacity trusts Operator.Capacity instead of the Capacity given.
func operatorCapacity() chat.Router {
	return chat.RouterFunc(func(ctx context.Context, c *chat.Conversation, cs []chat.Candidate) []string {
		var ids []string
		for _, x := range cs {
			if x.Active < x.Operator.Capacity {
				ids = append(ids, x.Operator.ID)
			}
		}
		return ids
	})
}

// sortsInPlace sorts the caller's slice.
func sortsInPlace() chat.Router {
	return chat.RouterFunc(func(_ context.Context, _ *chat.Conversation, cs []chat.Candidate) []string {
		slices.SortStableFunc(cs, func(a, b chat.Candidate) int { return a.Active - b.Active })
		var ids []string
		for _, c := range cs {
			if c.Active < c.Capacity {
				ids = append(ids, c.Operator.ID)
			}
		}
		return ids
	})
}

// trustsFirst assumes there is always someone to rank.
func trustsFirst() chat.Router {
	return chat.RouterFunc(func(ctx context.Context, c *chat.Conversation, cs []chat.Candidate) []string {
		first := cs[0]
		return append([]string{first.Operator.ID}, chat.LeastBusy().Rank(ctx, c, cs[1:])...)
	})
}

// sharedScratch ranks into a buffer shared by every call, as a Router that
// "saves allocations" might. Its buffer's writers meet at a rendezvous, so
// that two overlapping calls always read each other's result, as they can
// by chance in production.
type sharedScratch struct {
	mu      sync.Mutex
	buf     []string
	waiting chan struct{} // a call waiting for a partner; nil if none
}

func (s *sharedScratch) Rank(ctx context.Context, c *chat.Conversation, cs []chat.Candidate) []string {
	ids := chat.LeastBusy().Rank(ctx, c, cs)
	s.mu.Lock()
	s.buf = append(s.buf[:0], ids...)
	partner := s.waiting
	if partner == nil {
		s.waiting = make(chan struct{})
		partner = s.waiting
		s.mu.Unlock()
		select { // a partner overwrites buf meanwhile (or none comes)
		case <-partner:
		case <-time.After(100 * time.Millisecond):
			s.mu.Lock()
			if s.waiting == partner {
				s.waiting = nil
			}
			s.mu.Unlock()
		}
	} else {
		s.waiting = nil
		close(partner)
		s.mu.Unlock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.buf)
}

// asksCRM asks another system with no deadline of its own and ignores
// ctx: when that system hangs, so does dispatch.
type asksCRM struct{ hung chan struct{} }

func (r asksCRM) Rank(ctx context.Context, c *chat.Conversation, cs []chat.Candidate) []string {
	if ctx.Err() != nil { // only a late call finds the CRM hung
		<-r.hung
	}
	return chat.LeastBusy().Rank(ctx, c, cs)
}

// TestSuiteCatchesBrokenRouters runs the suite against Routers that are
// each wrong in one way and checks that the case for that rule fails (and
// that a correct Router passes every case through the same recorder).
func TestSuiteCatchesBrokenRouters(t *testing.T) {
	defer routertest.SetTimeout(200 * time.Millisecond)()
	hung := make(chan struct{})
	defer close(hung)
	broken := []struct {
		name  string
		open  func() chat.Router
		fails string // the case that must fail
	}{
		{"addsStranger", addsStranger, "Candidates/OnlyGiven"},
		{"repeatsFavourite", repeatsFavourite, "Candidates/NoDuplicates"},
		{"ignoresCapacity", ignoresCapacity, "Capacity/FullLeftOut"},
		{"operatorCapacity", operatorCapacity, "Capacity/GivenNotOperator"},
		{"sortsInPlace", sortsInPlace, "Input/Unmodified"},
		{"trustsFirst", trustsFirst, "Input/Empty"},
		{"sharedScratch", func() chat.Router { return &sharedScratch{} }, "Concurrency/Parallel"},
		{"asksCRM", func() chat.Router { return asksCRM{hung} }, "Context/Done"},
	}
	cases := map[string]routertest.Case{}
	for _, c := range routertest.Cases() {
		cases[c.Name] = c
	}
	for _, b := range broken {
		t.Run(b.name, func(t *testing.T) {
			c, ok := cases[b.fails]
			if !ok {
				t.Fatalf("no case %s", b.fails)
			}
			failed, _, log := tbrecord.Run(t, func(tb testing.TB) { c.Fn(tb, func(testing.TB) chat.Router { return b.open() }) })
			if !failed {
				t.Errorf("%s passed %s", b.name, b.fails)
			} else {
				t.Logf("%s fails %s as it should:\n%s", b.name, b.fails, firstLines(log, 3))
			}
		})
	}
	t.Run("LeastBusy", func(t *testing.T) {
		for _, c := range routertest.Cases() {
			failed, skipped, log := tbrecord.Run(t, func(tb testing.TB) { c.Fn(tb, func(testing.TB) chat.Router { return chat.LeastBusy() }) })
			if failed || skipped {
				t.Errorf("%s failed or skipped on LeastBusy through the recorder:\n%s", c.Name, log)
			}
		}
	})
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	return strings.Join(lines[:min(n, len(lines))], "\n")
}
