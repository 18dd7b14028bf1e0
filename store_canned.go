package chat

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// CannedStore is the canned-responses role of Store (optional).
//
// Without it New uses an in-process stand-in on a single node (operators'
// edits are lost on restart; Config.CannedResponses are seeded again), and
// refuses to start with a Broker.
type CannedStore interface {
	// PutCanned creates or replaces (by ID) a canned response. ErrConflict
	// if another response with the same OperatorID has the same Shortcut.
	// (Checked: ID, Shortcut and Text are not empty.)
	PutCanned(ctx context.Context, c *CannedResponse) error
	// DeleteCanned deletes a canned response. ErrNotFound if unknown.
	DeleteCanned(ctx context.Context, id string) error
	// CannedResponses returns the team's responses and operatorID's
	// personal ones (only the team's for ""), ordered by Shortcut, then
	// OperatorID ("" first).
	CannedResponses(ctx context.Context, operatorID string) ([]*CannedResponse, error)
}

func (c *checked) PutCanned(ctx context.Context, r *CannedResponse) error {
	if r == nil || r.ID == "" || r.Shortcut == "" || r.Text == "" {
		return storeInvalid("a canned response needs an id, a shortcut and a text")
	}
	if c.canned == nil {
		return c.missing("canned")
	}
	return c.canned.PutCanned(ctx, r)
}

func (c *checked) DeleteCanned(ctx context.Context, id string) error {
	if c.canned == nil {
		return c.missing("canned")
	}
	return c.canned.DeleteCanned(ctx, id)
}

func (c *checked) CannedResponses(ctx context.Context, operatorID string) ([]*CannedResponse, error) {
	if c.canned == nil {
		return nil, c.missing("canned")
	}
	return c.canned.CannedResponses(ctx, operatorID)
}

// cannedStandIn is the in-process CannedStore for a store without the
// canned role. Operators make its entries, so it needs no bound of its own.
type cannedStandIn struct {
	mu     sync.Mutex
	canned map[string]*CannedResponse
}

func (s *cannedStandIn) PutCanned(_ context.Context, r *CannedResponse) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.canned {
		if o.ID != r.ID && o.OperatorID == r.OperatorID && o.Shortcut == r.Shortcut {
			return fmt.Errorf("chat: canned shortcut %q used by %q: %w", r.Shortcut, o.ID, ErrConflict)
		}
	}
	s.canned[r.ID] = copyOf(r)
	return nil
}

func (s *cannedStandIn) DeleteCanned(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.canned[id]; !ok {
		return fmt.Errorf("chat: canned response %q: %w", id, ErrNotFound)
	}
	delete(s.canned, id)
	return nil
}

func (s *cannedStandIn) CannedResponses(_ context.Context, operatorID string) ([]*CannedResponse, error) {
	s.mu.Lock()
	out := []*CannedResponse{}
	for _, r := range s.canned {
		if r.OperatorID == "" || r.OperatorID == operatorID {
			out = append(out, copyOf(r))
		}
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b *CannedResponse) int {
		return cmp.Or(cmp.Compare(a.Shortcut, b.Shortcut), cmp.Compare(a.OperatorID, b.OperatorID))
	})
	return out, nil
}

func (s *cannedStandIn) eraseVisitor(string) {}
func (s *cannedStandIn) purge(time.Time)     {}
