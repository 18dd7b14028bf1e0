package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/shopchat/chat"
)

// Canned responses.

// PutCanned implements chat.Store.
func (s *Store) PutCanned(ctx context.Context, c *chat.CannedResponse) error {
	if err := unstorable(fmt.Sprintf("canned response %q", c.ID), c.ID, c.OperatorID, c.Shortcut, c.Title, c.Text); err != nil {
		return err
	}
	return s.write(ctx, fmt.Sprintf("put canned response %q", c.ID), func() error {
		_, err := s.pool.Exec(ctx, `INSERT INTO chat_canned (`+cannedCols+`) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (id) DO UPDATE SET operator_id = EXCLUDED.operator_id, shortcut = EXCLUDED.shortcut,
				title = EXCLUDED.title, body = EXCLUDED.body, updated_at = EXCLUDED.updated_at`,
			c.ID, c.OperatorID, c.Shortcut, c.Title, c.Text, c.UpdatedAt)
		if isConstraint(err, "chat_canned_shortcut") {
			return conflict("canned response", c.ID, fmt.Sprintf("shortcut %q is taken", c.Shortcut))
		}
		return err
	})
}

// DeleteCanned implements chat.Store.
func (s *Store) DeleteCanned(ctx context.Context, id string) error {
	return s.deleteByID(ctx, "canned response", `DELETE FROM chat_canned WHERE id = $1`, id)
}

// CannedResponses implements chat.Store.
func (s *Store) CannedResponses(ctx context.Context, operatorID string) ([]*chat.CannedResponse, error) {
	if !storable(operatorID) { // only the team's can match
		operatorID = ""
	}
	return collect(ctx, s, "canned responses", scanCanned, `SELECT `+cannedCols+` FROM chat_canned
		WHERE operator_id = '' OR operator_id = $1 ORDER BY shortcut, operator_id`, operatorID)
}

func scanCanned(row pgx.Row) (*chat.CannedResponse, error) {
	var c chat.CannedResponse
	if err := row.Scan(&c.ID, &c.OperatorID, &c.Shortcut, &c.Title, &c.Text, &c.UpdatedAt); err != nil {
		return nil, err
	}
	c.UpdatedAt = c.UpdatedAt.UTC()
	return &c, nil
}
