package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopchat/chat"
)

// Operators.

const operatorCols = `id, name, email, avatar_url, departments, capacity`

func scanOperator(row pgx.Row, extra ...any) (*chat.Operator, error) {
	var op chat.Operator
	dest := append([]any{&op.ID, &op.Name, &op.Email, &op.AvatarURL, &op.Departments, &op.Capacity}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	if len(op.Departments) == 0 {
		op.Departments = nil
	}
	return &op, nil
}

// PutOperator implements chat.Store.
func (s *Store) PutOperator(ctx context.Context, op *chat.Operator) error {
	deps := op.Departments
	if deps == nil {
		deps = []string{}
	}
	return s.write(ctx, fmt.Sprintf("put operator %q", op.ID), func() error {
		_, err := s.pool.Exec(ctx, `INSERT INTO chat_operators (`+operatorCols+`) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email,
				avatar_url = EXCLUDED.avatar_url, departments = EXCLUDED.departments, capacity = EXCLUDED.capacity`,
			op.ID, op.Name, op.Email, op.AvatarURL, deps, op.Capacity)
		return err
	})
}

// Operator implements chat.Store.
func (s *Store) Operator(ctx context.Context, id string) (*chat.Operator, error) {
	if !storable(id) {
		return nil, notFound("operator", id)
	}
	var op *chat.Operator
	err := s.read(ctx, fmt.Sprintf("operator %q", id), func() (err error) {
		op, err = scanOperator(s.pool.QueryRow(ctx, `SELECT `+operatorCols+` FROM chat_operators WHERE id = $1`, id))
		return err
	})
	return op, err
}

// SetPresence implements chat.Store. A zero expires never expires.
func (s *Store) SetPresence(ctx context.Context, operatorID string, p chat.Presence, expires time.Time) error {
	if !storable(operatorID) {
		return notFound("operator", operatorID)
	}
	return s.write(ctx, fmt.Sprintf("set presence of operator %q", operatorID), func() error {
		tag, err := s.pool.Exec(ctx, `UPDATE chat_operators SET presence = $2, presence_expires = $3 WHERE id = $1`,
			operatorID, string(p), nullTime(expires))
		if err == nil && tag.RowsAffected() == 0 {
			return notFound("operator", operatorID)
		}
		return err
	})
}

// OperatorLoads implements chat.Store. A presence is current while now is
// before its expiry.
func (s *Store) OperatorLoads(ctx context.Context, now time.Time) ([]chat.OperatorLoad, error) {
	var loads []chat.OperatorLoad
	err := s.read(ctx, "operator loads", func() error {
		rows, err := s.pool.Query(ctx, `SELECT `+operatorCols+`,
				CASE WHEN presence_expires IS NOT NULL AND presence_expires <= $1 THEN 'offline' ELSE presence END,
				last_assigned_at,
				(SELECT count(*) FROM chat_conversations c WHERE c.operator_id = o.id AND c.status = 'assigned' AND c.live_until > $1)
			FROM chat_operators o ORDER BY id`, now)
		if err != nil {
			return err
		}
		loads, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (chat.OperatorLoad, error) {
			var l chat.OperatorLoad
			var presence string
			var last *time.Time
			op, err := scanOperator(row, &presence, &last, &l.Active)
			l.Operator, l.Presence, l.LastAssignedAt = op, chat.Presence(presence), timeOf(last)
			return l, err
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	if loads == nil {
		loads = []chat.OperatorLoad{}
	}
	return loads, nil
}
