package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"

	"github.com/shopchat/chat"
)

// eventWrite holds the writer's statements for the event log and visitor
// labels (labels.go).
type eventWrite struct {
	insEvent, setLabels *sql.Stmt
}

func (e *eventWrite) prepare(ctx context.Context, c *sql.Conn) error {
	return prepareAll(ctx, c.PrepareContext, map[**sql.Stmt]string{
		&e.insEvent:  `INSERT INTO events (id, kind, at, data) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		&e.setLabels: `UPDATE visitors SET labels = ? WHERE id = ?`,
	})
}

func (e *eventWrite) close() []error { return closeAll(e.insEvent, e.setLabels) }

// AppendEvents implements chat.EventLog. The events are inserted in one
// transaction by the single writer, so positions (rowids) commit in order.
func (s *Store) AppendEvents(ctx context.Context, evs []chat.Event) error {
	if err := s.ready(); err != nil {
		return err
	}
	data := make([][]byte, len(evs))
	for i, ev := range evs {
		if ev.ID == "" || ev.Kind == "" {
			return invalid("event needs an ID and a Kind")
		}
		var err error
		if data[i], err = json.Marshal(ev); err != nil {
			return invalid("event %s: %v", ev.ID, err)
		}
	}
	// Copies for the writer goroutine (see write).
	ids, kinds, ats := make([]string, len(evs)), make([]string, len(evs)), make([]int64, len(evs))
	for i, ev := range evs {
		ids[i], kinds[i], ats[i] = ev.ID, string(ev.Kind), micros(ev.Time)
	}
	pos := make([]int64, len(evs))
	err := s.write(ctx, func(w *writeStmts) error {
		for i := range ids {
			res, err := w.ev.insEvent.ExecContext(bg, ids[i], kinds[i], ats[i], data[i])
			if err != nil {
				return dbErr("append events", err)
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				pos[i] = 0 // a retry: stored before
				continue
			}
			if pos[i], err = res.LastInsertId(); err != nil {
				return dbErr("append events", err)
			}
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
	if err := s.ready(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT pos, data FROM events WHERE pos > ? ORDER BY pos LIMIT ?`, after, limit)
	if err != nil {
		return nil, dbErr("events", err)
	}
	defer rows.Close()
	var out []chat.Event
	for rows.Next() {
		var pos int64
		var data []byte
		if err := rows.Scan(&pos, &data); err != nil {
			return nil, dbErr("events", err)
		}
		var ev chat.Event
		if err := json.Unmarshal(data, &ev); err != nil {
			return nil, dbErr("events", err)
		}
		ev.Pos = pos
		out = append(out, ev)
	}
	return out, dbErr("events", rows.Err())
}
