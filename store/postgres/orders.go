package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopchat/chat"
)

// Orders.

// PutOrder implements chat.Store. The INSERT does nothing for an ID that
// exists (waiting for a concurrent insert of it to commit), and then a
// second statement, with a fresh snapshot, reads the order that won: of
// any number of concurrent puts of one ID exactly one creates it and all
// return it.
func (s *Store) PutOrder(ctx context.Context, o *chat.Order) (*chat.Order, bool, error) {
	a := o.Attribution
	if err := unstorable(fmt.Sprintf("order %q", o.ID), o.ID, o.VisitorID, o.Currency,
		a.Channel, a.ConversationID, a.OperatorID, a.TriggerID); err != nil {
		return nil, false, err
	}
	var stored *chat.Order
	created := false
	err := s.write(ctx, fmt.Sprintf("put order %q", o.ID), func() error {
		var err error
		stored, err = scanOrder(s.pool.QueryRow(ctx, `INSERT INTO chat_orders (`+orderCols+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING RETURNING `+orderCols,
			o.ID, o.VisitorID, o.Total, o.Currency, o.PlacedAt,
			a.Channel, a.ConversationID, a.OperatorID, a.TriggerID, nullTime(a.TouchedAt)))
		created = err == nil
		if errors.Is(err, pgx.ErrNoRows) {
			stored, err = scanOrder(s.pool.QueryRow(ctx, `SELECT `+orderCols+` FROM chat_orders WHERE id = $1`, o.ID))
		}
		return err
	})
	if err != nil {
		return nil, false, err
	}
	return stored, created, nil
}

// Orders implements chat.Store.
func (s *Store) Orders(ctx context.Context, q chat.OrderQuery) ([]*chat.Order, error) {
	if !storable(q.VisitorID) { // no row can match
		return []*chat.Order{}, nil
	}
	var w where
	if q.VisitorID != "" {
		w.and("visitor_id = $%d AND visitor_id <> ''", q.VisitorID) // <> '': the partial index
	}
	w.period("placed_at", q.From, q.To)
	w.args = append(w.args, q.Limit)
	return collect(ctx, s, "orders", scanOrder, fmt.Sprintf(`SELECT `+orderCols+` FROM chat_orders
		WHERE %s ORDER BY placed_at, id LIMIT $%d`, w, len(w.args)), w.args...)
}

func scanOrder(row pgx.Row) (*chat.Order, error) {
	var o chat.Order
	a := &o.Attribution
	var touched *time.Time
	if err := row.Scan(&o.ID, &o.VisitorID, &o.Total, &o.Currency, &o.PlacedAt,
		&a.Channel, &a.ConversationID, &a.OperatorID, &a.TriggerID, &touched); err != nil {
		return nil, err
	}
	o.PlacedAt, a.TouchedAt = o.PlacedAt.UTC(), timeOf(touched)
	return &o, nil
}
