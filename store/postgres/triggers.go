package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/shopchat/chat"
)

// Triggers.

// PutTrigger implements chat.Store. The rule is stored as the JSON of
// chat.Trigger: only the Server reads it, always whole.
func (s *Store) PutTrigger(ctx context.Context, t *chat.Trigger) error {
	if err := unstorable(fmt.Sprintf("trigger %q", t.ID), t.ID); err != nil {
		return err
	}
	doc, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("postgres: trigger %q: %v: %w", t.ID, err, chat.ErrInvalid)
	}
	return s.write(ctx, fmt.Sprintf("put trigger %q", t.ID), func() error {
		_, err := s.pool.Exec(ctx, `INSERT INTO chat_triggers (id, doc) VALUES ($1, $2)
			ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc`, t.ID, string(doc))
		return err
	})
}

// DeleteTrigger implements chat.Store.
func (s *Store) DeleteTrigger(ctx context.Context, id string) error {
	return s.deleteByID(ctx, "trigger", `DELETE FROM chat_triggers WHERE id = $1`, id)
}

// Triggers implements chat.Store.
func (s *Store) Triggers(ctx context.Context) ([]*chat.Trigger, error) {
	return collect(ctx, s, "triggers", scanTrigger, `SELECT id, doc FROM chat_triggers ORDER BY id`)
}

func scanTrigger(row pgx.Row) (*chat.Trigger, error) {
	var id string
	var doc []byte
	if err := row.Scan(&id, &doc); err != nil {
		return nil, err
	}
	var t chat.Trigger
	if err := json.Unmarshal(doc, &t); err != nil {
		return nil, fmt.Errorf("trigger %q: stored rule: %w", id, err)
	}
	t.ID = id
	return &t, nil
}
