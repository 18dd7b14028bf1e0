package chat

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"
)

// OrderStore is the orders role of Store (optional): the shop's orders,
// attributed to chats (RecordOrder) and counted by reports.
//
// Without it New uses an in-process stand-in on a single node, which keeps
// the latest maxStandIn orders in memory (lost on restart), and refuses to
// start with a Broker.
type OrderStore interface {
	// PutOrder stores o unless an order with o.ID exists already. It
	// returns the stored order (the earlier one for a repeat) and whether
	// this call created it, so recording an order twice counts it once.
	// (Checked: o.ID is not empty.)
	PutOrder(ctx context.Context, o *Order) (stored *Order, created bool, err error)
	// Orders returns the orders matching q in ascending PlacedAt (then ID)
	// order. (Checked: q.Limit is above 0; 0 means 10,000.)
	Orders(ctx context.Context, q OrderQuery) ([]*Order, error)
}

// Match reports whether o is one of the orders q selects, apart from
// q.Limit: the one definition of OrderQuery's filters, for stores that
// filter in Go.
func (q OrderQuery) Match(o *Order) bool {
	return (q.VisitorID == "" || o.VisitorID == q.VisitorID) && inRange(o.PlacedAt, q.From, q.To)
}

func (c *checked) PutOrder(ctx context.Context, o *Order) (*Order, bool, error) {
	if o == nil || o.ID == "" {
		return nil, false, storeInvalid("order id is empty")
	}
	if c.orders == nil {
		return nil, false, c.missing("orders")
	}
	return c.orders.PutOrder(ctx, o)
}

func (c *checked) Orders(ctx context.Context, q OrderQuery) ([]*Order, error) {
	if c.orders == nil {
		return nil, c.missing("orders")
	}
	q.Limit = limitOr(q.Limit, defaultReport)
	return c.orders.Orders(ctx, q)
}

// ordersStandIn is the in-process OrderStore for a store without the
// orders role.
type ordersStandIn struct {
	mu     sync.Mutex
	orders []*Order // in insertion order
}

func (s *ordersStandIn) PutOrder(_ context.Context, o *Order) (*Order, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, prev := range s.orders {
		if prev.ID == o.ID {
			return copyOf(prev), false, nil
		}
	}
	s.orders = bounded(append(s.orders, copyOf(o)))
	return copyOf(o), true, nil
}

func (s *ordersStandIn) Orders(_ context.Context, q OrderQuery) ([]*Order, error) {
	s.mu.Lock()
	out := []*Order{}
	for _, o := range s.orders {
		if q.Match(o) {
			out = append(out, copyOf(o))
		}
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b *Order) int { return cmp.Or(a.PlacedAt.Compare(b.PlacedAt), cmp.Compare(a.ID, b.ID)) })
	return out[:min(q.Limit, len(out))], nil
}

// eraseVisitor keeps the visitor's orders (the shop's revenue) without
// the visitor, as DeleteVisitor does in a store.
func (s *ordersStandIn) eraseVisitor(id string) {
	s.mu.Lock()
	for _, o := range s.orders {
		if o.VisitorID == id {
			o.VisitorID = ""
		}
	}
	s.mu.Unlock()
}

func (s *ordersStandIn) purge(time.Time) {}

// copyOf returns a shallow copy of *v, what the stand-ins hand out and
// keep so callers may modify their values.
func copyOf[T any](v *T) *T {
	c := *v
	return &c
}
