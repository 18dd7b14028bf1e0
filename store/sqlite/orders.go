package sqlite

import (
	"context"

	"github.com/shopchat/chat"
)

// Orders.

// PutOrder implements chat.Store. The insert does nothing for an ID that
// exists, and the order is read back in the same write, so of any number
// of concurrent puts of one ID exactly one creates it and all return it.
func (s *Store) PutOrder(ctx context.Context, o *chat.Order) (*chat.Order, bool, error) {
	oo := *o
	a := oo.Attribution
	var stored *chat.Order
	var created bool
	err := s.write(ctx, func(w *writeStmts) error {
		res, err := w.trk.insOrder.ExecContext(bg, oo.ID, oo.VisitorID, oo.Total, oo.Currency, micros(oo.PlacedAt),
			a.Channel, a.ConversationID, a.OperatorID, a.TriggerID, micros(a.TouchedAt))
		if err != nil {
			return dbErr("put order", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return dbErr("put order", err)
		}
		created = n == 1
		stored, err = scanOrder(w.trk.order.QueryRowContext(bg, oo.ID))
		return dbErr("put order", err)
	})
	if err != nil {
		return nil, false, err
	}
	return stored, created, nil
}

// Orders implements chat.Store.
func (s *Store) Orders(ctx context.Context, q chat.OrderQuery) ([]*chat.Order, error) {
	if err := s.ready(); err != nil {
		return nil, err
	}
	var w where
	if q.VisitorID != "" {
		w.and("visitor_id = ? AND visitor_id != ''", q.VisitorID) // != '': the partial index
	}
	w.period("placed_at", q.From, q.To)
	query := `SELECT ` + orderCols + ` FROM orders` + w.String() + ` ORDER BY placed_at, id LIMIT ?`
	return collect(ctx, s, "orders", scanOrder, nil, query, append(w.args, q.Limit)...)
}

func scanOrder(sc scanner) (*chat.Order, error) {
	var o chat.Order
	a := &o.Attribution
	var placed, touched int64
	if err := sc.Scan(&o.ID, &o.VisitorID, &o.Total, &o.Currency, &placed,
		&a.Channel, &a.ConversationID, &a.OperatorID, &a.TriggerID, &touched); err != nil {
		return nil, err
	}
	o.PlacedAt, a.TouchedAt = fromMicros(placed), fromMicros(touched)
	return &o, nil
}
