package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopchat/chat"
)

// Conversations.

const convCols = `id, visitor_id, status, coalesce(operator_id, ''), department, last_seq,
	visitor_read_seq, operator_read_seq, created_at, queued_at, assigned_at, closed_at, mail_opt_out, language, live_until`

func (s *Store) scanConv(row pgx.Row) (*chat.Conversation, error) {
	c, dest, finish := s.convScanner()
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	finish()
	return c, nil
}

// convScanner returns a conversation, the scan destinations of convCols
// for it, and what to call once they are scanned: for rows that carry a
// conversation beside other columns.
func (s *Store) convScanner() (*chat.Conversation, []any, func()) {
	var c chat.Conversation
	var status string
	var assigned, closed, live *time.Time
	dest := []any{&c.ID, &c.VisitorID, &status, &c.OperatorID, &c.Department, &c.LastSeq,
		&c.VisitorReadSeq, &c.OperatorReadSeq, &c.CreatedAt, &c.QueuedAt, &assigned, &closed, &c.MailOptOut, &c.Language, &live}
	return &c, dest, func() {
		c.Status = chat.Status(status)
		c.Epoch = s.epoch
		c.CreatedAt, c.QueuedAt = c.CreatedAt.UTC(), c.QueuedAt.UTC()
		c.AssignedAt, c.ClosedAt = timeOf(assigned), timeOf(closed)
		c.LiveUntil = timeOf(live)
	}
}

func (s *Store) scanConvs(rows pgx.Rows) ([]*chat.Conversation, error) {
	out := []*chat.Conversation{}
	defer rows.Close()
	for rows.Next() {
		c, err := s.scanConv(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// CreateConversation implements chat.Store. It sets c.Status, c.Epoch and
// c.LastSeq and clears the read receipts and the close time.
func (s *Store) CreateConversation(ctx context.Context, c *chat.Conversation) error {
	if !storable(c.OperatorID) {
		return notFound("operator", c.OperatorID)
	}
	err := s.write(ctx, fmt.Sprintf("create conversation %q", c.ID), func() error {
		status, assignedAt := chat.Queued, time.Time{}
		if c.OperatorID != "" {
			status, assignedAt = chat.Assigned, c.CreatedAt
		}
		_, err := s.pool.Exec(ctx, `INSERT INTO chat_conversations (id, visitor_id, status, operator_id, department, created_at, queued_at, assigned_at, language, live_until)
			VALUES ($1, $2, $3, nullif($4, ''), $5, $6, $7, $8, $9, $10)`,
			c.ID, c.VisitorID, string(status), c.OperatorID, c.Department, c.CreatedAt, c.QueuedAt, nullTime(assignedAt), c.Language, nullTime(c.LiveUntil))
		switch {
		case isConstraint(err, "chat_conversations_operator_id_fkey"):
			return notFound("operator", c.OperatorID)
		case isCode(err, codeForeignKeyViolation):
			return notFound("visitor", c.VisitorID)
		case isConstraint(err, "chat_conversations_pkey"):
			return conflict("conversation", c.ID, "already exists")
		case isConstraint(err, "chat_conversations_open_visitor"):
			return conflict("visitor", c.VisitorID, "already has an open conversation")
		}
		return err
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
	if !storable(id) {
		return nil, notFound("conversation", id)
	}
	var c *chat.Conversation
	err := s.read(ctx, fmt.Sprintf("conversation %q", id), func() (err error) {
		c, err = s.scanConv(s.pool.QueryRow(ctx, `SELECT `+convCols+` FROM chat_conversations WHERE id = $1`, id))
		return err
	})
	return c, err
}

// OpenConversation implements chat.Store.
func (s *Store) OpenConversation(ctx context.Context, visitorID string) (*chat.Conversation, error) {
	if !storable(visitorID) {
		return nil, notFound("open conversation of visitor", visitorID)
	}
	var c *chat.Conversation
	err := s.read(ctx, fmt.Sprintf("open conversation of visitor %q", visitorID), func() (err error) {
		c, err = s.scanConv(s.pool.QueryRow(ctx, `SELECT `+convCols+` FROM chat_conversations
			WHERE visitor_id = $1 AND status <> 'closed'`, visitorID))
		return err
	})
	return c, err
}

// Conversations implements chat.Store.
func (s *Store) Conversations(ctx context.Context, f chat.ConversationFilter) ([]*chat.Conversation, error) {
	limit := f.Limit
	if !storable(f.VisitorID) || !storable(f.OperatorID) { // no row can match
		return []*chat.Conversation{}, nil
	}
	// Only the filters in use go into the statement, so that each shape
	// gets a plan on its own index (a generic plan of "$1 = '' OR
	// visitor_id = $1" could use none).
	var w where
	if f.VisitorID != "" {
		w.and("visitor_id = $%d", f.VisitorID)
	}
	if f.OperatorID != "" {
		w.and("operator_id = $%d", f.OperatorID)
	}
	if len(f.Status) > 0 {
		w.and("status = ANY ($%d)", strs(f.Status))
	}
	w.period("created_at", f.Since, f.Before)
	args := append(w.args, limit)
	sql := fmt.Sprintf(`SELECT `+convCols+` FROM chat_conversations WHERE %s
		ORDER BY created_at DESC, id DESC LIMIT $%d`, w, len(args))
	var out []*chat.Conversation
	err := s.read(ctx, "list conversations", func() error {
		rows, err := s.pool.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		out, err = s.scanConvs(rows)
		return err
	})
	return out, err
}

// Queue implements chat.Store.
func (s *Store) Queue(ctx context.Context) ([]*chat.Conversation, error) {
	var out []*chat.Conversation
	err := s.read(ctx, "queue", func() error {
		rows, err := s.pool.Query(ctx, `SELECT `+convCols+` FROM chat_conversations
			WHERE status = 'queued' ORDER BY queued_at, id`)
		if err != nil {
			return err
		}
		out, err = s.scanConvs(rows)
		return err
	})
	return out, err
}

// Assign implements chat.Store.
//
// It is one READ COMMITTED transaction:
//
//  1. SELECT the receiving operator's row FOR UPDATE. Every Assign to that
//     operator, in this process or any other sharing the database, takes
//     this row lock first, so they run one at a time per operator.
//  2. Read the conversation and refuse early (unknown, closed, another
//     operator than from).
//  3. Count the operator's assigned conversations. Under READ COMMITTED
//     each statement sees everything committed before it started, and it
//     starts after the lock was granted, so it sees every earlier Assign to
//     this operator: the only way an operator's count grows is an Assign to
//     them, which holds the lock until it commits. Anything else (close,
//     requeue, a transfer away) only shrinks the count, so a count that
//     misses it errs on the safe side. Hence no operator exceeds capacity.
//  4. UPDATE the conversation only WHERE its operator IS NOT DISTINCT FROM
//     from AND it is not closed. If another transaction changed the row
//     meanwhile, PostgreSQL waits for it and re-checks the WHERE clause on
//     the new row version (EvalPlanQual), so of two concurrent Assigns of
//     one conversation exactly one updates it and the other sees zero rows
//     (ErrConflict). Hence no conversation goes to two operators.
//  5. Record last_assigned_at on the (already locked) operator row.
//
// Locks are taken in one order (operator row, then conversation row), and
// no other method locks an operator row while holding a conversation row,
// so Assigns cannot deadlock with each other or with the other methods.
func (s *Store) Assign(ctx context.Context, id, from, to string, capacity int, at time.Time) (*chat.Conversation, error) {
	switch {
	case !storable(id):
		return nil, notFound("conversation", id)
	case !storable(to):
		return nil, notFound("operator", to)
	case !storable(from):
		return nil, conflict("conversation", id, fmt.Sprintf("operator is not %q", from))
	}
	var out *chat.Conversation
	err := s.write(ctx, fmt.Sprintf("assign conversation %q to %q", id, to), func() error {
		return s.inTx(ctx, func(tx pgx.Tx) error {
			var opID string
			err := tx.QueryRow(ctx, `SELECT id FROM chat_operators WHERE id = $1 FOR UPDATE`, to).Scan(&opID)
			if errors.Is(err, pgx.ErrNoRows) {
				return notFound("operator", to)
			}
			if err != nil {
				return err
			}
			var status, current string
			err = tx.QueryRow(ctx, `SELECT status, coalesce(operator_id, '') FROM chat_conversations WHERE id = $1`, id).Scan(&status, &current)
			if errors.Is(err, pgx.ErrNoRows) {
				return notFound("conversation", id)
			}
			if err != nil {
				return err
			}
			switch {
			case status == string(chat.Closed):
				return conflict("conversation", id, "closed")
			case current != from:
				return conflict("conversation", id, fmt.Sprintf("operator is %q, not %q", current, from))
			}
			// Re-assigning to the current operator moves nothing, so
			// capacity does not apply.
			if !(status == string(chat.Assigned) && from == to) && capacity > 0 {
				var active int
				if err := tx.QueryRow(ctx, `SELECT count(*) FROM chat_conversations
					WHERE operator_id = $1 AND status = 'assigned' AND live_until > $2`, to, at).Scan(&active); err != nil {
					return err
				}
				if active >= capacity {
					return fmt.Errorf("postgres: operator %q has %d live conversations: %w", to, active, chat.ErrCapacity)
				}
			}
			c, err := s.scanConv(tx.QueryRow(ctx, `UPDATE chat_conversations
				SET status = 'assigned', operator_id = $3, assigned_at = $4
				WHERE id = $1 AND status <> 'closed' AND operator_id IS NOT DISTINCT FROM nullif($2, '')
				RETURNING `+convCols, id, from, to, nullTime(at)))
			if errors.Is(err, pgx.ErrNoRows) {
				return conflict("conversation", id, "changed concurrently")
			}
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE chat_operators SET last_assigned_at = $2 WHERE id = $1`, to, nullTime(at)); err != nil {
				return err
			}
			out = c
			return nil
		})
	})
	return out, err
}

// KeepLive implements chat.Store in one statement.
func (s *Store) KeepLive(ctx context.Context, visitorIDs []string, until time.Time) error {
	ids := make([]string, 0, len(visitorIDs))
	for _, v := range visitorIDs {
		if storable(v) {
			ids = append(ids, v)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	return s.write(ctx, "keep live", func() error {
		_, err := s.pool.Exec(ctx, `UPDATE chat_conversations SET live_until = $1
			WHERE visitor_id = ANY($2) AND status <> 'closed' AND (live_until IS NULL OR live_until < $1)`, until, ids)
		return err
	})
}

// convState explains why a conditional update of conversation id matched
// no row: ErrNotFound if it does not exist, else ErrConflict with why.
func (s *Store) convState(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, id, why string) error {
	var one int
	err := q.QueryRow(ctx, `SELECT 1 FROM chat_conversations WHERE id = $1`, id).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return notFound("conversation", id)
	}
	if err != nil {
		return err
	}
	return conflict("conversation", id, why)
}

// Requeue implements chat.Store.
func (s *Store) Requeue(ctx context.Context, id, from, department string, at time.Time) (*chat.Conversation, error) {
	if !storable(id) {
		return nil, notFound("conversation", id)
	}
	var out *chat.Conversation
	err := s.write(ctx, fmt.Sprintf("requeue conversation %q", id), func() (err error) {
		out, err = s.scanConv(s.pool.QueryRow(ctx, `UPDATE chat_conversations
			SET status = 'queued', operator_id = NULL, department = $3, queued_at = $4
			WHERE id = $1 AND status = 'assigned' AND operator_id = $2
			RETURNING `+convCols, id, from, department, at))
		if isCode(err, "22") && !storable(from) { // no operator has that id
			return s.convState(ctx, s.pool, id, fmt.Sprintf("not assigned to %q", from))
		}
		if errors.Is(err, pgx.ErrNoRows) {
			return s.convState(ctx, s.pool, id, fmt.Sprintf("not assigned to %q", from))
		}
		return err
	})
	return out, err
}

// CloseConversation implements chat.Store. The conversation keeps its
// operator_id, so an operator's history still lists it.
func (s *Store) CloseConversation(ctx context.Context, id string, at time.Time) (*chat.Conversation, error) {
	if !storable(id) {
		return nil, notFound("conversation", id)
	}
	var out *chat.Conversation
	err := s.write(ctx, fmt.Sprintf("close conversation %q", id), func() (err error) {
		out, err = s.scanConv(s.pool.QueryRow(ctx, `UPDATE chat_conversations
			SET status = 'closed', closed_at = $2
			WHERE id = $1 AND status <> 'closed'
			RETURNING `+convCols, id, nullTime(at)))
		if errors.Is(err, pgx.ErrNoRows) {
			return s.convState(ctx, s.pool, id, "already closed")
		}
		return err
	})
	return out, err
}

// ReopenConversation implements chat.Store. The conversation joins the
// tail of the queue (QueuedAt = at) with no operator. If the visitor has
// another open conversation, the partial unique index refuses it.
func (s *Store) ReopenConversation(ctx context.Context, id string, at time.Time) (*chat.Conversation, error) {
	if !storable(id) {
		return nil, notFound("conversation", id)
	}
	var out *chat.Conversation
	err := s.write(ctx, fmt.Sprintf("reopen conversation %q", id), func() (err error) {
		out, err = s.scanConv(s.pool.QueryRow(ctx, `UPDATE chat_conversations
			SET status = 'queued', operator_id = NULL, queued_at = $2, closed_at = NULL
			WHERE id = $1 AND status = 'closed'
			RETURNING `+convCols, id, at))
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return s.convState(ctx, s.pool, id, "not closed")
		case isCode(err, codeUniqueViolation):
			return conflict("conversation", id, "its visitor has another open conversation")
		}
		return err
	})
	return out, err
}

// MarkRead implements chat.Store.
func (s *Store) MarkRead(ctx context.Context, id string, by chat.MessageKind, seq int64) (*chat.Conversation, error) {
	q := `UPDATE chat_conversations SET operator_read_seq = greatest(operator_read_seq, $2) WHERE id = $1 RETURNING ` + convCols
	if by == chat.VisitorText {
		q = `UPDATE chat_conversations SET visitor_read_seq = greatest(visitor_read_seq, $2) WHERE id = $1 RETURNING ` + convCols
	}
	if !storable(id) {
		return nil, notFound("conversation", id)
	}
	var out *chat.Conversation
	err := s.write(ctx, fmt.Sprintf("mark conversation %q read", id), func() (err error) {
		out, err = s.scanConv(s.pool.QueryRow(ctx, q, id, seq))
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("conversation", id)
		}
		return err
	})
	return out, err
}

// PurgeClosed implements chat.Store. Messages go with their conversations
// (ON DELETE CASCADE). A closed conversation without a close time counts as
// closed at Go's zero time, before any cutoff. Claims expired before cutoff
// go first.
func (s *Store) PurgeClosed(ctx context.Context, cutoff time.Time) (int, error) {
	err := s.write(ctx, "purge expired claims", func() error {
		_, err := s.pool.Exec(ctx, `DELETE FROM chat_claims WHERE expires < $1`, cutoff)
		return err
	})
	if err != nil {
		return 0, err
	}
	var n int64
	err = s.write(ctx, "purge closed conversations", func() error {
		tag, err := s.pool.Exec(ctx, `DELETE FROM chat_conversations
			WHERE status = 'closed' AND (closed_at < $1 OR closed_at IS NULL)`, cutoff)
		n = tag.RowsAffected()
		return err
	})
	return int(n), err
}

// SetMailOptOut implements chat.Store.
func (s *Store) SetMailOptOut(ctx context.Context, id string, optOut bool) (*chat.Conversation, error) {
	if !storable(id) {
		return nil, notFound("conversation", id)
	}
	var out *chat.Conversation
	err := s.write(ctx, fmt.Sprintf("set mail opt-out of conversation %q", id), func() (err error) {
		out, err = s.scanConv(s.pool.QueryRow(ctx, `UPDATE chat_conversations SET mail_opt_out = $2 WHERE id = $1 RETURNING `+convCols, id, optOut))
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("conversation", id)
		}
		return err
	})
	return out, err
}
