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

func ids(cs []Candidate) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Operator.ID
	}
	return out
}
