package memory

import (
	"cmp"
	"context"
	"slices"

	"github.com/shopchat/chat"
)

// Orders.

func copyOrder(o *chat.Order) *chat.Order {
	c := *o
	return &c
}

// PutOrder implements chat.Store.
func (s *Store) PutOrder(_ context.Context, o *chat.Order) (*chat.Order, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if prev, ok := s.orders[o.ID]; ok {
		return copyOrder(prev), false, nil
	}
	s.orders[o.ID] = copyOrder(o)
	return copyOrder(o), true, nil
}

// Orders implements chat.Store.
func (s *Store) Orders(_ context.Context, q chat.OrderQuery) ([]*chat.Order, error) {
	s.mu.Lock()
	out := []*chat.Order{}
	for _, o := range s.orders {
		if q.Match(o) {
			out = append(out, copyOrder(o))
		}
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b *chat.Order) int {
		return cmp.Or(a.PlacedAt.Compare(b.PlacedAt), cmp.Compare(a.ID, b.ID))
	})
	return head(out, q.Limit), nil
}
