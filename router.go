package chat

import (
	"context"
	"slices"
	"strings"
)

// Router decides which operator should take a conversation.
//
// Rank receives the candidates that are online and below capacity and
// returns operator ids in the order to try. The Server then assigns through
// the Store's atomic Assign, falling back to the next id if one filled up
// meanwhile, so a Router need not be exact about load, only about
// preference. An empty result leaves the conversation in the FIFO queue.
//
// Calling rules (router/routertest checks them):
//
//   - Rank returns only ids of candidates, each at most once, and never
//     one whose Active has reached its Capacity: Capacity is the one
//     given in the Candidate (the operator's own or the Server's
//     default), not Operator.Capacity. It may leave candidates out.
//   - candidates and c belong to the caller: Rank must not modify them
//     (sort a copy) nor keep them after it returns. nil and empty
//     candidates are valid and give an empty result.
//   - Rank may be called concurrently: one Server calls it from one
//     dispatch at a time, but a Router value shared by several Servers
//     (nodes in one process, tests) is called from all of them.
//   - ctx carries the dispatch's deadline. Rank runs while the Server
//     holds its queue, so it must return promptly; a Router that asks
//     another system must give up when ctx is done and return what it
//     has (or nothing: the conversation stays queued).
type Router interface {
	Rank(ctx context.Context, c *Conversation, candidates []Candidate) []string
}

// Candidate is an operator who could take a conversation now.
type Candidate struct {
	OperatorLoad
	Capacity int // the operator's effective capacity
}

// RouterFunc adapts a function to Router.
type RouterFunc func(ctx context.Context, c *Conversation, candidates []Candidate) []string

// Rank calls f.
func (f RouterFunc) Rank(ctx context.Context, c *Conversation, candidates []Candidate) []string {
	return f(ctx, c, candidates)
}

// LeastBusy prefers the operator with the lowest share of their capacity in
// use, then the one who waited longest for a conversation. It is the default.
func LeastBusy() Router {
	return RouterFunc(func(_ context.Context, _ *Conversation, cs []Candidate) []string {
		cs = slices.Clone(cs)
		slices.SortStableFunc(cs, func(a, b Candidate) int {
			// Compare Active/Capacity without division.
			if l, r := a.Active*b.Capacity, b.Active*a.Capacity; l != r {
				return l - r
			}
			return a.LastAssignedAt.Compare(b.LastAssignedAt)
		})
		return ids(cs)
	})
}

// RoundRobin hands conversations to operators in turn: the one who received
// a conversation longest ago goes first. It keeps its turn order in the Store
// (LastAssignedAt), so it holds across restarts and nodes.
func RoundRobin() Router {
	return RouterFunc(func(_ context.Context, _ *Conversation, cs []Candidate) []string {
		cs = slices.Clone(cs)
		slices.SortStableFunc(cs, func(a, b Candidate) int {
			if c := a.LastAssignedAt.Compare(b.LastAssignedAt); c != 0 {
				return c
			}
			return strings.Compare(a.Operator.ID, b.Operator.ID)
		})
		return ids(cs)
	})
}

// Departments routes a conversation that asks for a department (skill) only
// to operators listing it, ranked by next (LeastBusy if nil). Conversations
// without a department go to anyone.
func Departments(next Router) Router {
	if next == nil {
		next = LeastBusy()
	}
	return RouterFunc(func(ctx context.Context, c *Conversation, cs []Candidate) []string {
		if c.Department == "" {
			return next.Rank(ctx, c, cs)
		}
		var skilled []Candidate
		for _, cand := range cs {
			if slices.Contains(cand.Operator.Departments, c.Department) {
				skilled = append(skilled, cand)
			}
		}
		return next.Rank(ctx, c, skilled)
	})
}

// ids returns the ids of cs in order, leaving out any who are full.
func ids(cs []Candidate) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		if c.Active < c.Capacity {
			out = append(out, c.Operator.ID)
		}
	}
	return out
}
