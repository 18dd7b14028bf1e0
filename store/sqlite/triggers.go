package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/shopchat/chat"
)

// Triggers.

// PutTrigger implements chat.Store. The rule is stored as the JSON of
// chat.Trigger: only the Server reads it, always whole.
func (s *Store) PutTrigger(ctx context.Context, t *chat.Trigger) error {
	doc, err := json.Marshal(t)
	if err != nil {
		return invalid("trigger %q: %v", t.ID, err)
	}
	id := t.ID
	return s.write(ctx, func(w *writeStmts) error {
		_, err := w.trk.putTrigger.ExecContext(bg, id, string(doc))
		return dbErr("put trigger", err)
	})
}

// DeleteTrigger implements chat.Store.
func (s *Store) DeleteTrigger(ctx context.Context, id string) error {
	return s.deleteByID(ctx, "trigger", id, func(w *writeStmts) *sql.Stmt { return w.trk.delTrigger })
}

// Triggers implements chat.Store.
func (s *Store) Triggers(ctx context.Context) ([]*chat.Trigger, error) {
	if err := s.ready(); err != nil {
		return nil, err
	}
	return collect(ctx, s, "triggers", scanTrigger, s.r.trk.triggers, "")
}

func scanTrigger(sc scanner) (*chat.Trigger, error) {
	var id, doc string
	if err := sc.Scan(&id, &doc); err != nil {
		return nil, err
	}
	var t chat.Trigger
	if err := json.Unmarshal([]byte(doc), &t); err != nil {
		return nil, fmt.Errorf("trigger %q: stored rule: %w", id, err)
	}
	t.ID = id
	return &t, nil
}
