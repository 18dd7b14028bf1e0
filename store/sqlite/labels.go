package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/shopchat/chat"
)

// SetVisitorLabels implements chat.Labeler: the labels are a JSON array in
// the visitor's row, so erasing the visitor erases them.
func (s *Store) SetVisitorLabels(ctx context.Context, visitorID string, labels []string) error {
	if err := s.ready(); err != nil {
		return err
	}
	if labels == nil {
		labels = []string{}
	}
	data, err := json.Marshal(labels)
	if err != nil {
		return invalid("labels: %v", err)
	}
	var found bool
	err = s.write(ctx, func(w *writeStmts) error {
		res, err := w.ev.setLabels.ExecContext(bg, string(data), visitorID)
		if err != nil {
			return dbErr("set visitor labels", err)
		}
		n, err := res.RowsAffected()
		found = n == 1
		return dbErr("set visitor labels", err)
	})
	if err != nil {
		return err
	}
	if !found {
		return notFound("visitor", visitorID)
	}
	return nil
}

// VisitorLabels implements chat.Labeler.
func (s *Store) VisitorLabels(ctx context.Context, visitorID string) ([]string, error) {
	if err := s.ready(); err != nil {
		return nil, err
	}
	var data string
	err := s.rdb.QueryRowContext(ctx, `SELECT labels FROM visitors WHERE id = ?`, visitorID).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("visitor", visitorID)
	}
	if err != nil {
		return nil, dbErr("visitor labels", err)
	}
	var labels []string
	if err := json.Unmarshal([]byte(data), &labels); err != nil {
		return nil, dbErr("visitor labels", err)
	}
	if len(labels) == 0 {
		return nil, nil
	}
	return labels, nil
}

var _ chat.Labeler = (*Store)(nil)
var _ chat.EventLog = (*Store)(nil)
