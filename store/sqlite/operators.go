package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/shopchat/chat"
)

// Operators.

// PutOperator implements chat.Store.
func (s *Store) PutOperator(ctx context.Context, op *chat.Operator) error {
	deps := []byte("[]")
	if len(op.Departments) > 0 {
		var err error
		if deps, err = json.Marshal(op.Departments); err != nil {
			return invalid("operator %q departments: %v", op.ID, err)
		}
	}
	o := *op
	return s.write(ctx, func(w *writeStmts) error {
		_, err := w.putOperator.ExecContext(bg, o.ID, o.Name, o.Email, o.AvatarURL, string(deps), o.Capacity)
		return dbErr("put operator", err)
	})
}

// Operator implements chat.Store.
func (s *Store) Operator(ctx context.Context, id string) (*chat.Operator, error) {
	if err := s.ready(); err != nil {
		return nil, err
	}
	o, err := scanOperator(s.r.operator.QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("operator", id)
	}
	if err != nil {
		return nil, dbErr("operator", err)
	}
	return &o.op, nil
}

// SetPresence implements chat.Store. A zero expires never expires.
func (s *Store) SetPresence(ctx context.Context, operatorID string, p chat.Presence, expires time.Time) error {
	return s.write(ctx, func(w *writeStmts) error {
		res, err := w.setPresence.ExecContext(bg, string(p), micros(expires), operatorID)
		if err != nil {
			return dbErr("set presence", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return notFound("operator", operatorID)
		}
		return nil
	})
}

// OperatorLoads implements chat.Store. A presence is current while now is
// before its expiry.
func (s *Store) OperatorLoads(ctx context.Context, now time.Time) ([]chat.OperatorLoad, error) {
	if err := s.ready(); err != nil {
		return nil, err
	}
	rows, err := s.r.loads.QueryContext(ctx, micros(now))
	if err != nil {
		return nil, dbErr("operator loads", err)
	}
	defer rows.Close()
	loads := []chat.OperatorLoad{}
	for rows.Next() {
		var active int
		o, err := scanOperator(rows, &active)
		if err != nil {
			return nil, dbErr("operator loads", err)
		}
		p := o.presence
		if !o.expires.IsZero() && !now.Before(o.expires) {
			p = chat.Offline
		}
		loads = append(loads, chat.OperatorLoad{Operator: &o.op, Presence: p, Active: active, LastAssignedAt: o.lastAssigned})
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr("operator loads", err)
	}
	return loads, nil
}
