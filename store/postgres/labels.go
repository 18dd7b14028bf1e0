package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/shopchat/chat"
)

// SetVisitorLabels implements chat.Labeler: the labels are an array in the
// visitor's row, so erasing the visitor erases them.
func (s *Store) SetVisitorLabels(ctx context.Context, visitorID string, labels []string) error {
	if labels == nil {
		labels = []string{}
	}
	if err := unstorable("labels", labels...); err != nil {
		return err
	}
	var n int64
	err := s.write(ctx, "set visitor labels", func() error {
		tag, err := s.pool.Exec(ctx, `UPDATE chat_visitors SET labels = $1 WHERE id = $2`, labels, visitorID)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound("visitor", visitorID)
	}
	return nil
}

// VisitorLabels implements chat.Labeler.
func (s *Store) VisitorLabels(ctx context.Context, visitorID string) ([]string, error) {
	var labels []string
	err := s.read(ctx, "visitor labels", func() error {
		err := s.pool.QueryRow(ctx, `SELECT labels FROM chat_visitors WHERE id = $1`, visitorID).Scan(&labels)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("visitor", visitorID)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(labels) == 0 {
		return nil, nil
	}
	return labels, nil
}

var _ chat.Labeler = (*Store)(nil)
