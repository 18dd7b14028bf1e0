package memory

import (
	"cmp"
	"context"
	"slices"

	"github.com/shopchat/chat"
)

// Canned responses.

func copyCanned(c *chat.CannedResponse) *chat.CannedResponse {
	cc := *c
	return &cc
}

// PutCanned implements chat.Store.
func (s *Store) PutCanned(_ context.Context, c *chat.CannedResponse) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.canned {
		if o.ID != c.ID && o.OperatorID == c.OperatorID && o.Shortcut == c.Shortcut {
			return conflict("canned shortcut", c.Shortcut, "used by "+o.ID)
		}
	}
	s.canned[c.ID] = copyCanned(c)
	return nil
}

// DeleteCanned implements chat.Store.
func (s *Store) DeleteCanned(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.canned[id]; !ok {
		return notFound("canned response", id)
	}
	delete(s.canned, id)
	return nil
}

// CannedResponses implements chat.Store.
func (s *Store) CannedResponses(_ context.Context, operatorID string) ([]*chat.CannedResponse, error) {
	s.mu.Lock()
	out := []*chat.CannedResponse{}
	for _, c := range s.canned {
		if c.OperatorID == "" || c.OperatorID == operatorID {
			out = append(out, copyCanned(c))
		}
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b *chat.CannedResponse) int {
		return cmp.Or(cmp.Compare(a.Shortcut, b.Shortcut), cmp.Compare(a.OperatorID, b.OperatorID))
	})
	return out, nil
}
