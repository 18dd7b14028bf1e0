package memory

import (
	"cmp"
	"context"
	"slices"

	"github.com/shopchat/chat"
)

// Triggers.

func copyTrigger(t *chat.Trigger) *chat.Trigger {
	c := *t
	return &c
}

// PutTrigger implements chat.Store.
func (s *Store) PutTrigger(_ context.Context, t *chat.Trigger) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.triggers[t.ID] = copyTrigger(t)
	return nil
}

// DeleteTrigger implements chat.Store.
func (s *Store) DeleteTrigger(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.triggers[id]; !ok {
		return notFound("trigger", id)
	}
	delete(s.triggers, id)
	return nil
}

// Triggers implements chat.Store.
func (s *Store) Triggers(_ context.Context) ([]*chat.Trigger, error) {
	s.mu.Lock()
	out := make([]*chat.Trigger, 0, len(s.triggers))
	for _, t := range s.triggers {
		out = append(out, copyTrigger(t))
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b *chat.Trigger) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}
