package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/shopchat/chat"
)

// CreateConversation implements chat.Store. It sets c.Status, c.Epoch and
// c.LastSeq and clears the read receipts and the close time.
func (s *Store) CreateConversation(ctx context.Context, c *chat.Conversation) error {
	cc := *c
	err := s.write(ctx, func(w *writeStmts) error {
		var status string
		err := w.convStatus.QueryRowContext(bg, cc.ID).Scan(&status)
		if err == nil {
			return conflict("conversation", cc.ID, "already exists")
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return dbErr("create conversation", err)
		}
		var one int
		err = w.visitorExists.QueryRowContext(bg, cc.VisitorID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("visitor", cc.VisitorID)
		}
		if err != nil {
			return dbErr("create conversation", err)
		}
		var open string
		err = w.openConvID.QueryRowContext(bg, cc.VisitorID).Scan(&open)
		if err == nil {
			return conflict("visitor", cc.VisitorID, "already has open conversation "+open)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return dbErr("create conversation", err)
		}
		initial, assignedAt := chat.Queued, zeroMicros
		if cc.OperatorID != "" {
			err = w.operatorExists.QueryRowContext(bg, cc.OperatorID).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return notFound("operator", cc.OperatorID)
			}
			if err != nil {
				return dbErr("create conversation", err)
			}
			initial, assignedAt = chat.Assigned, micros(cc.CreatedAt)
		}
		_, err = w.insConv.ExecContext(bg, cc.ID, cc.VisitorID, string(initial), cc.OperatorID, cc.Department,
			micros(cc.CreatedAt), micros(cc.QueuedAt), assignedAt, zeroMicros, cc.Language, micros(cc.LiveUntil))
		if isUnique(err, "") {
			return conflict("conversation", cc.ID, "already exists or visitor has an open conversation")
		}
		return dbErr("create conversation", err)
	})
	if err != nil {
		return err
	}
	c.Status = chat.Queued
	c.Epoch = s.epoch
	c.LastSeq = 0
	c.VisitorReadSeq, c.OperatorReadSeq = 0, 0
	c.AssignedAt, c.ClosedAt = time.Time{}, time.Time{}
	if c.OperatorID != "" {
		c.Status, c.AssignedAt = chat.Assigned, c.CreatedAt
	}
	return nil
}

// Conversation implements chat.Store.
func (s *Store) Conversation(ctx context.Context, id string) (*chat.Conversation, error) {
	if err := s.ready(); err != nil {
		return nil, err
	}
	c, err := s.scanConv(s.r.conv.QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("conversation", id)
	}
	return c, dbErr("conversation", err)
}

// OpenConversation implements chat.Store.
func (s *Store) OpenConversation(ctx context.Context, visitorID string) (*chat.Conversation, error) {
	if err := s.ready(); err != nil {
		return nil, err
	}
	c, err := s.scanConv(s.r.openConv.QueryRowContext(ctx, visitorID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: open conversation of visitor %q: %w", visitorID, chat.ErrNotFound)
	}
	return c, dbErr("open conversation", err)
}

// Conversations implements chat.Store.
func (s *Store) Conversations(ctx context.Context, f chat.ConversationFilter) ([]*chat.Conversation, error) {
	if err := s.ready(); err != nil {
		return nil, err
	}
	limit := f.Limit
	var w where
	if f.VisitorID != "" {
		w.and("visitor_id = ?", f.VisitorID)
	}
	if f.OperatorID != "" {
		w.and("operator_id = ?", f.OperatorID)
	}
	if len(f.Status) > 0 {
		w.in("status", anys(f.Status))
	}
	w.period("created_at", f.Since, f.Before)
	q := "SELECT " + convCols + " FROM conversations" + w.String() + " ORDER BY created_at DESC, id DESC LIMIT ?"
	return s.queryConvs(ctx, "conversations", nil, q, append(w.args, limit)...)
}

// Queue implements chat.Store.
func (s *Store) Queue(ctx context.Context) ([]*chat.Conversation, error) {
	if err := s.ready(); err != nil {
		return nil, err
	}
	return s.queryConvs(ctx, "queue", s.r.queue, "")
}

// queryConvs runs the prepared st, or q if st is nil, and scans
// conversations.
func (s *Store) queryConvs(ctx context.Context, op string, st *sql.Stmt, q string, args ...any) ([]*chat.Conversation, error) {
	return collect(ctx, s, op, s.scanConv, st, q, args...)
}

// current reads conversation id inside the writer's transaction.
func (s *Store) current(w *writeStmts, id string) (*chat.Conversation, error) {
	c, err := s.scanConv(w.conv.QueryRowContext(bg, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("conversation", id)
	}
	return c, dbErr("conversation", err)
}

// update runs an UPDATE ... RETURNING on conversation id.
func (s *Store) update(op string, st *sql.Stmt, id string, args ...any) (*chat.Conversation, error) {
	c, err := s.scanConv(st.QueryRowContext(bg, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("conversation", id)
	}
	return c, dbErr(op, err)
}

// Assign implements chat.Store. The capacity check and the assignment run
// in one write transaction, and all writes are serialised through one
// connection, so no interleaving can overfill an operator or give a
// conversation to two.
func (s *Store) Assign(ctx context.Context, id, from, to string, capacity int, at time.Time) (*chat.Conversation, error) {
	var out *chat.Conversation
	err := s.write(ctx, func(w *writeStmts) error {
		c, err := s.current(w, id)
		if err != nil {
			return err
		}
		var one int
		err = w.operatorExists.QueryRowContext(bg, to).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("operator", to)
		}
		if err != nil {
			return dbErr("assign", err)
		}
		switch {
		case c.Status == chat.Closed:
			return conflict("conversation", id, "closed")
		case c.OperatorID != from:
			return conflict("conversation", id, fmt.Sprintf("operator is %q, not %q", c.OperatorID, from))
		}
		// Already there (from == to): nothing moves, capacity is unaffected.
		if !(c.Status == chat.Assigned && from == to) && capacity > 0 {
			var active int
			if err := w.countAssigned.QueryRowContext(bg, to, micros(at)).Scan(&active); err != nil {
				return dbErr("assign", err)
			}
			if active >= capacity {
				return fmt.Errorf("sqlite: operator %q has %d live conversations: %w", to, active, chat.ErrCapacity)
			}
		}
		if out, err = s.update("assign", w.assign, id, to, micros(at), id); err != nil {
			return err
		}
		_, err = w.setLastAt.ExecContext(bg, micros(at), to)
		return dbErr("assign", err)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// KeepLive implements chat.Store, in one write transaction.
func (s *Store) KeepLive(ctx context.Context, visitorIDs []string, until time.Time) error {
	if len(visitorIDs) == 0 {
		return s.ready()
	}
	return s.write(ctx, func(w *writeStmts) error {
		for _, v := range visitorIDs {
			if _, err := w.keepLive.ExecContext(bg, micros(until), v); err != nil {
				return dbErr("keep live", err)
			}
		}
		return nil
	})
}

// Requeue implements chat.Store.
func (s *Store) Requeue(ctx context.Context, id, from, department string, at time.Time) (*chat.Conversation, error) {
	var out *chat.Conversation
	err := s.write(ctx, func(w *writeStmts) error {
		c, err := s.current(w, id)
		if err != nil {
			return err
		}
		if c.Status != chat.Assigned {
			return conflict("conversation", id, "not assigned")
		}
		if c.OperatorID != from {
			return conflict("conversation", id, fmt.Sprintf("operator is %q, not %q", c.OperatorID, from))
		}
		out, err = s.update("requeue", w.requeue, id, department, micros(at), id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CloseConversation implements chat.Store. The conversation keeps its
// OperatorID, so an operator's history still lists it.
func (s *Store) CloseConversation(ctx context.Context, id string, at time.Time) (*chat.Conversation, error) {
	var out *chat.Conversation
	err := s.write(ctx, func(w *writeStmts) error {
		c, err := s.current(w, id)
		if err != nil {
			return err
		}
		if c.Status == chat.Closed {
			return conflict("conversation", id, "already closed")
		}
		out, err = s.update("close conversation", w.closeConv, id, micros(at), id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ReopenConversation implements chat.Store. The conversation joins the
// tail of the queue (QueuedAt = at) with no operator.
func (s *Store) ReopenConversation(ctx context.Context, id string, at time.Time) (*chat.Conversation, error) {
	var out *chat.Conversation
	err := s.write(ctx, func(w *writeStmts) error {
		c, err := s.current(w, id)
		if err != nil {
			return err
		}
		if c.Status != chat.Closed {
			return conflict("conversation", id, "not closed")
		}
		var open string
		err = w.openConvID.QueryRowContext(bg, c.VisitorID).Scan(&open)
		if err == nil {
			return conflict("visitor", c.VisitorID, "already has open conversation "+open)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return dbErr("reopen conversation", err)
		}
		out, err = s.update("reopen conversation", w.reopen, id, micros(at), zeroMicros, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// MarkRead implements chat.Store.
func (s *Store) MarkRead(ctx context.Context, id string, by chat.MessageKind, seq int64) (*chat.Conversation, error) {
	st := func(w *writeStmts) *sql.Stmt { return w.readOperator }
	if by == chat.VisitorText {
		st = func(w *writeStmts) *sql.Stmt { return w.readVisitor }
	}
	var out *chat.Conversation
	err := s.write(ctx, func(w *writeStmts) error {
		var err error
		out, err = s.update("mark read", st(w), id, seq, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// purgeChunk is how many conversations one PurgeClosed transaction
// deletes, so a large purge never holds the writer for long.
const purgeChunk = 100

// PurgeClosed implements chat.Store. It deletes in chunks, each its own
// transaction, so appends keep flowing during a large purge; it stops at
// the first error, returning how many it had deleted. Claims expired
// before cutoff go first, in one write.
func (s *Store) PurgeClosed(ctx context.Context, cutoff time.Time) (int, error) {
	err := s.write(ctx, func(w *writeStmts) error {
		_, err := w.purgeClaims.ExecContext(bg, micros(cutoff))
		return dbErr("purge expired claims", err)
	})
	if err != nil {
		return 0, err
	}
	total := 0
	for {
		var n int64
		err := s.write(ctx, func(w *writeStmts) error {
			res, err := w.purge.ExecContext(bg, micros(cutoff), purgeChunk)
			if err != nil {
				return dbErr("purge closed conversations", err)
			}
			n, err = res.RowsAffected()
			return dbErr("purge closed conversations", err)
		})
		if err != nil {
			return total, err
		}
		total += int(n)
		if n < purgeChunk {
			return total, nil
		}
	}
}

// SetMailOptOut implements chat.Store.
func (s *Store) SetMailOptOut(ctx context.Context, id string, optOut bool) (*chat.Conversation, error) {
	var out *chat.Conversation
	err := s.write(ctx, func(w *writeStmts) error {
		var err error
		out, err = s.update("mail opt-out", w.mailOptOut, id, optOut, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
