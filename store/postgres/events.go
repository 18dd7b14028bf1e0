package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/shopchat/chat"
)

// AppendEvents implements chat.EventLog with one statement,
// chat_append_events (migration 012): positions commit in increasing order
// because every append takes one advisory lock, held until its commit.
func (s *Store) AppendEvents(ctx context.Context, evs []chat.Event) error {
	if len(evs) == 0 {
		return nil
	}
	ids, kinds, ats, data := make([]string, len(evs)), make([]string, len(evs)), make([]any, len(evs)), make([]string, len(evs))
	for i, ev := range evs {
		if ev.ID == "" || ev.Kind == "" {
			return fmt.Errorf("postgres: event needs an ID and a Kind: %w", chat.ErrInvalid)
		}
		b, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("postgres: event %s: %v: %w", ev.ID, err, chat.ErrInvalid)
		}
		if err := unstorable("event", ev.ID, string(ev.Kind), string(b)); err != nil {
			return err
		}
		ids[i], kinds[i], ats[i], data[i] = ev.ID, string(ev.Kind), ev.Time, string(b)
	}
	pos := make([]int64, len(evs))
	err := s.write(ctx, "append events", func() error {
		clear(pos)
		rows, err := s.pool.Query(ctx, `SELECT r_id, r_pos FROM chat_append_events($1, $2, $3, $4)`, ids, kinds, ats, data)
		if err != nil {
			return err
		}
		got := make(map[string]int64, len(ids))
		var id string
		var p int64
		if _, err := pgx.ForEachRow(rows, []any{&id, &p}, func() error {
			got[id] = p
			return nil
		}); err != nil {
			return err
		}
		for i, id := range ids {
			pos[i] = got[id]
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i := range evs {
		evs[i].Pos = pos[i]
	}
	return nil
}

// Events implements chat.EventLog.
func (s *Store) Events(ctx context.Context, after int64, limit int) ([]chat.Event, error) {
	if limit <= 0 {
		limit = 100
	}
	var out []chat.Event
	err := s.read(ctx, "events", func() error {
		out = out[:0]
		rows, err := s.pool.Query(ctx, `SELECT pos, data FROM chat_events WHERE pos > $1 ORDER BY pos LIMIT $2`, after, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var pos int64
			var data []byte
			if err := rows.Scan(&pos, &data); err != nil {
				return err
			}
			var ev chat.Event
			if err := json.Unmarshal(data, &ev); err != nil {
				return err
			}
			ev.Pos = pos
			out = append(out, ev)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

var _ chat.EventLog = (*Store)(nil)
