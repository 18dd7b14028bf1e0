package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/shopchat/chat"
)

// eventLock is the transaction-scoped advisory lock key every append to
// the event log takes ("shopevts" as a big-endian int64): appends run one
// at a time, so bigserial positions commit in increasing order and a
// reader that has passed a position never finds a new event below it.
const eventLock int64 = 0x73686f7065767473

// AppendEvents implements chat.EventLog in one transaction.
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
		return s.inTx(ctx, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, eventLock); err != nil {
				return err
			}
			// One row per event, in order; RETURNING names the inserted
			// ones (a retried event is skipped by ON CONFLICT).
			rows, err := tx.Query(ctx, `INSERT INTO chat_events (id, kind, at, data)
				SELECT u.id, u.kind, u.at, u.data::jsonb
				FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[]) WITH ORDINALITY AS u(id, kind, at, data, n)
				ORDER BY u.n
				ON CONFLICT (id) DO NOTHING
				RETURNING id, pos`, ids, kinds, ats, data)
			if err != nil {
				return err
			}
			got := make(map[string]int64, len(ids))
			for rows.Next() {
				var id string
				var p int64
				if err := rows.Scan(&id, &p); err != nil {
					rows.Close()
					return err
				}
				got[id] = p
			}
			if err := rows.Err(); err != nil {
				return err
			}
			for i, id := range ids {
				pos[i] = got[id]
			}
			return nil
		})
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
