package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/shopchat/chat"
)

// Canned responses.

// PutCanned implements chat.Store.
func (s *Store) PutCanned(ctx context.Context, c *chat.CannedResponse) error {
	cc := *c
	return s.write(ctx, func(w *writeStmts) error {
		_, err := w.trk.putCanned.ExecContext(bg, cc.ID, cc.OperatorID, cc.Shortcut, cc.Title, cc.Text, micros(cc.UpdatedAt))
		if isUnique(err, "canned.shortcut") {
			return conflict("canned response", cc.ID, fmt.Sprintf("shortcut %q is taken", cc.Shortcut))
		}
		return dbErr("put canned response", err)
	})
}

// DeleteCanned implements chat.Store.
func (s *Store) DeleteCanned(ctx context.Context, id string) error {
	return s.deleteByID(ctx, "canned response", id, func(w *writeStmts) *sql.Stmt { return w.trk.delCanned })
}

// CannedResponses implements chat.Store.
func (s *Store) CannedResponses(ctx context.Context, operatorID string) ([]*chat.CannedResponse, error) {
	if err := s.ready(); err != nil {
		return nil, err
	}
	return collect(ctx, s, "canned responses", scanCanned, s.r.trk.canned, "", operatorID)
}

func scanCanned(sc scanner) (*chat.CannedResponse, error) {
	var c chat.CannedResponse
	var updated int64
	if err := sc.Scan(&c.ID, &c.OperatorID, &c.Shortcut, &c.Title, &c.Text, &updated); err != nil {
		return nil, err
	}
	c.UpdatedAt = fromMicros(updated)
	return &c, nil
}
