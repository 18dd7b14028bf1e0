package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/shopchat/chat"
)

// Visitors.

const visitorCols = `id, customer_id, name, email, created_at, last_seen_at, token_gen, bounced_email`

func scanVisitor(row pgx.Row) (*chat.Visitor, error) {
	var v chat.Visitor
	var seen *time.Time
	if err := row.Scan(&v.ID, &v.CustomerID, &v.Name, &v.Email, &v.CreatedAt, &seen, &v.TokenGen, &v.BouncedEmail); err != nil {
		return nil, err
	}
	v.CreatedAt = v.CreatedAt.UTC()
	v.LastSeenAt = timeOf(seen)
	return &v, nil
}

// CreateVisitor implements chat.Store.
func (s *Store) CreateVisitor(ctx context.Context, v *chat.Visitor) error {
	if v.ID == "" {
		return fmt.Errorf("postgres: visitor id is empty: %w", chat.ErrInvalid)
	}
	return s.write(ctx, fmt.Sprintf("create visitor %q", v.ID), func() error {
		_, err := s.pool.Exec(ctx, `INSERT INTO chat_visitors (`+visitorCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			v.ID, v.CustomerID, v.Name, v.Email, v.CreatedAt, nullTime(v.LastSeenAt), v.TokenGen, v.BouncedEmail)
		switch {
		case isConstraint(err, "chat_visitors_pkey"):
			return conflict("visitor", v.ID, "already exists")
		case isConstraint(err, "chat_visitors_customer"):
			return conflict("customer", v.CustomerID, "bound to another visitor")
		}
		return err
	})
}

// Visitor implements chat.Store.
func (s *Store) Visitor(ctx context.Context, id string) (*chat.Visitor, error) {
	if !storable(id) {
		return nil, notFound("visitor", id)
	}
	var v *chat.Visitor
	err := s.read(ctx, fmt.Sprintf("visitor %q", id), func() (err error) {
		v, err = scanVisitor(s.pool.QueryRow(ctx, `SELECT `+visitorCols+` FROM chat_visitors WHERE id = $1`, id))
		return err
	})
	return v, err
}

// VisitorByCustomer implements chat.Store.
func (s *Store) VisitorByCustomer(ctx context.Context, customerID string) (*chat.Visitor, error) {
	if customerID == "" || !storable(customerID) {
		return nil, notFound("customer", customerID)
	}
	var v *chat.Visitor
	err := s.read(ctx, fmt.Sprintf("visitor of customer %q", customerID), func() (err error) {
		v, err = scanVisitor(s.pool.QueryRow(ctx, `SELECT `+visitorCols+` FROM chat_visitors WHERE customer_id = $1 AND customer_id <> ''`, customerID))
		return err
	})
	return v, err
}

// UpdateVisitor implements chat.Store.
func (s *Store) UpdateVisitor(ctx context.Context, v *chat.Visitor) error {
	if !storable(v.ID) {
		return notFound("visitor", v.ID)
	}
	return s.write(ctx, fmt.Sprintf("update visitor %q", v.ID), func() error {
		tag, err := s.pool.Exec(ctx, `UPDATE chat_visitors
			SET customer_id = $2, name = $3, email = $4, created_at = $5, last_seen_at = $6,
			    token_gen = greatest(token_gen, $7), bounced_email = $8
			WHERE id = $1`,
			v.ID, v.CustomerID, v.Name, v.Email, v.CreatedAt, nullTime(v.LastSeenAt), v.TokenGen, v.BouncedEmail)
		if isConstraint(err, "chat_visitors_customer") {
			return conflict("customer", v.CustomerID, "bound to another visitor")
		}
		if err == nil && tag.RowsAffected() == 0 {
			return notFound("visitor", v.ID)
		}
		return err
	})
}

// DeleteVisitor implements chat.Store. The visitor's conversations and
// their messages and their page views go with it (ON DELETE CASCADE), in
// one transaction with erasing their activities and clearing their orders.
func (s *Store) DeleteVisitor(ctx context.Context, id string) error {
	if !storable(id) {
		return notFound("visitor", id)
	}
	return s.write(ctx, fmt.Sprintf("delete visitor %q", id), func() error {
		return s.inTx(ctx, func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, `DELETE FROM chat_visitors WHERE id = $1`, id)
			if err == nil && tag.RowsAffected() == 0 {
				return notFound("visitor", id)
			}
			if err != nil {
				return err
			}
			return eraseVisitor(ctx, tx, id)
		})
	})
}

// storable reports whether the database can hold s as text: PostgreSQL
// text is valid UTF-8 without NUL bytes. Lookups of an id it cannot hold
// report ErrNotFound without asking the server.
func storable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// Operators.

const operatorCols = `id, name, email, avatar_url, departments, capacity`

func scanOperator(row pgx.Row, extra ...any) (*chat.Operator, error) {
	var op chat.Operator
	dest := append([]any{&op.ID, &op.Name, &op.Email, &op.AvatarURL, &op.Departments, &op.Capacity}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	if len(op.Departments) == 0 {
		op.Departments = nil
	}
	return &op, nil
}

// PutOperator implements chat.Store.
func (s *Store) PutOperator(ctx context.Context, op *chat.Operator) error {
	if op.ID == "" {
		return fmt.Errorf("postgres: operator id is empty: %w", chat.ErrInvalid)
	}
	deps := op.Departments
	if deps == nil {
		deps = []string{}
	}
	return s.write(ctx, fmt.Sprintf("put operator %q", op.ID), func() error {
		_, err := s.pool.Exec(ctx, `INSERT INTO chat_operators (`+operatorCols+`) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email,
				avatar_url = EXCLUDED.avatar_url, departments = EXCLUDED.departments, capacity = EXCLUDED.capacity`,
			op.ID, op.Name, op.Email, op.AvatarURL, deps, op.Capacity)
		return err
	})
}

// Operator implements chat.Store.
func (s *Store) Operator(ctx context.Context, id string) (*chat.Operator, error) {
	if !storable(id) {
		return nil, notFound("operator", id)
	}
	var op *chat.Operator
	err := s.read(ctx, fmt.Sprintf("operator %q", id), func() (err error) {
		op, err = scanOperator(s.pool.QueryRow(ctx, `SELECT `+operatorCols+` FROM chat_operators WHERE id = $1`, id))
		return err
	})
	return op, err
}

// SetPresence implements chat.Store. A zero expires never expires.
func (s *Store) SetPresence(ctx context.Context, operatorID string, p chat.Presence, expires time.Time) error {
	if !p.Valid() {
		return fmt.Errorf("postgres: presence %q: %w", p, chat.ErrInvalid)
	}
	if !storable(operatorID) {
		return notFound("operator", operatorID)
	}
	return s.write(ctx, fmt.Sprintf("set presence of operator %q", operatorID), func() error {
		tag, err := s.pool.Exec(ctx, `UPDATE chat_operators SET presence = $2, presence_expires = $3 WHERE id = $1`,
			operatorID, string(p), nullTime(expires))
		if err == nil && tag.RowsAffected() == 0 {
			return notFound("operator", operatorID)
		}
		return err
	})
}

// OperatorLoads implements chat.Store. A presence is current while now is
// before its expiry.
func (s *Store) OperatorLoads(ctx context.Context, now time.Time) ([]chat.OperatorLoad, error) {
	var loads []chat.OperatorLoad
	err := s.read(ctx, "operator loads", func() error {
		rows, err := s.pool.Query(ctx, `SELECT `+operatorCols+`,
				CASE WHEN presence_expires IS NOT NULL AND presence_expires <= $1 THEN 'offline' ELSE presence END,
				last_assigned_at,
				(SELECT count(*) FROM chat_conversations c WHERE c.operator_id = o.id AND c.status = 'assigned')
			FROM chat_operators o ORDER BY id`, now)
		if err != nil {
			return err
		}
		loads, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (chat.OperatorLoad, error) {
			var l chat.OperatorLoad
			var presence string
			var last *time.Time
			op, err := scanOperator(row, &presence, &last, &l.Active)
			l.Operator, l.Presence, l.LastAssignedAt = op, chat.Presence(presence), timeOf(last)
			return l, err
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	if loads == nil {
		loads = []chat.OperatorLoad{}
	}
	return loads, nil
}

// Conversations.

const convCols = `id, visitor_id, status, coalesce(operator_id, ''), department, last_seq,
	visitor_read_seq, operator_read_seq, created_at, queued_at, assigned_at, closed_at, mail_opt_out, language`

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
	var assigned, closed *time.Time
	dest := []any{&c.ID, &c.VisitorID, &status, &c.OperatorID, &c.Department, &c.LastSeq,
		&c.VisitorReadSeq, &c.OperatorReadSeq, &c.CreatedAt, &c.QueuedAt, &assigned, &closed, &c.MailOptOut, &c.Language}
	return &c, dest, func() {
		c.Status = chat.Status(status)
		c.Epoch = s.epoch
		c.CreatedAt, c.QueuedAt = c.CreatedAt.UTC(), c.QueuedAt.UTC()
		c.AssignedAt, c.ClosedAt = timeOf(assigned), timeOf(closed)
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
// c.LastSeq and clears the fields that belong to later states.
func (s *Store) CreateConversation(ctx context.Context, c *chat.Conversation) error {
	if c.ID == "" {
		return fmt.Errorf("postgres: conversation id is empty: %w", chat.ErrInvalid)
	}
	err := s.write(ctx, fmt.Sprintf("create conversation %q", c.ID), func() error {
		_, err := s.pool.Exec(ctx, `INSERT INTO chat_conversations (id, visitor_id, status, department, created_at, queued_at, language)
			VALUES ($1, $2, 'queued', $3, $4, $5, $6)`,
			c.ID, c.VisitorID, c.Department, c.CreatedAt, c.QueuedAt, c.Language)
		switch {
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
	c.OperatorID = ""
	c.VisitorReadSeq, c.OperatorReadSeq = 0, 0
	c.AssignedAt, c.ClosedAt = time.Time{}, time.Time{}
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

// defaultLimit is ConversationFilter.Limit when it is 0.
const defaultLimit = 50

// Conversations implements chat.Store.
func (s *Store) Conversations(ctx context.Context, f chat.ConversationFilter) ([]*chat.Conversation, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = defaultLimit
	}
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
					WHERE operator_id = $1 AND status = 'assigned'`, to).Scan(&active); err != nil {
					return err
				}
				if active >= capacity {
					return fmt.Errorf("postgres: operator %q has %d conversations: %w", to, active, chat.ErrCapacity)
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
	var q string
	switch by {
	case chat.VisitorText:
		q = `UPDATE chat_conversations SET visitor_read_seq = greatest(visitor_read_seq, $2) WHERE id = $1 RETURNING ` + convCols
	case chat.OperatorText:
		q = `UPDATE chat_conversations SET operator_read_seq = greatest(operator_read_seq, $2) WHERE id = $1 RETURNING ` + convCols
	default:
		return nil, fmt.Errorf("postgres: read receipt by %q: %w", by, chat.ErrInvalid)
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

// Messages.

const msgCols = `id, conversation_id, seq, client_id, kind, author_id, author_name, body, created_at`

func scanMessage(row pgx.Row, extra ...any) (*chat.Message, error) {
	var m chat.Message
	var kind string
	dest := append([]any{&m.ID, &m.ConversationID, &m.Seq, &m.ClientID, &kind, &m.AuthorID, &m.AuthorName, &m.Text, &m.CreatedAt}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	m.Kind = chat.MessageKind(kind)
	m.CreatedAt = m.CreatedAt.UTC()
	return &m, nil
}

// AppendMessage implements chat.Store. On success it also sets m.ID (if
// empty) and m.Seq. A retry of a client id returns the original even if
// the conversation has been closed since.
//
// One statement (appendSQL: one round trip, one commit) bumps the
// conversation's last_seq (which locks the row, so appends to one
// conversation are serialised and their sequence numbers gapless) and
// inserts the message with that seq. A client id seen before, or inserted
// by a concurrent append that committed first, fails the statement, so a
// duplicate never consumes a sequence number; the original is then read.
func (s *Store) AppendMessage(ctx context.Context, m *chat.Message) (chat.Appended, error) {
	return s.appendMessage(ctx, m, "")
}

// AppendAssigned implements chat.AssignedAppender: the UPDATE that bumps
// last_seq also requires the conversation to be assigned to operatorID.
func (s *Store) AppendAssigned(ctx context.Context, m *chat.Message, operatorID string) (chat.Appended, error) {
	if operatorID == "" {
		return chat.Appended{}, fmt.Errorf("postgres: append assigned: operator id is empty: %w", chat.ErrInvalid)
	}
	return s.appendMessage(ctx, m, operatorID)
}

// appendMessage appends m; if operatorID is set, only into a conversation
// assigned to that operator.
func (s *Store) appendMessage(ctx context.Context, m *chat.Message, operatorID string) (chat.Appended, error) {
	if !m.Kind.Valid() {
		return chat.Appended{}, fmt.Errorf("postgres: message kind %q: %w", m.Kind, chat.ErrInvalid)
	}
	if !storable(m.ConversationID) {
		return chat.Appended{}, notFound("conversation", m.ConversationID)
	}
	if !storable(operatorID) { // no operator has that id, so none is assigned
		return chat.Appended{}, s.convState(ctx, s.pool, m.ConversationID, "not assigned to that operator")
	}
	why := "closed"
	if operatorID != "" {
		why = "closed or not assigned to " + operatorID
	}
	id := m.ID
	if id == "" {
		id = uuid.NewString()
	}
	var out chat.Appended
	err := s.write(ctx, fmt.Sprintf("append to conversation %q", m.ConversationID), func() error {
		out = chat.Appended{}
		c, cdest, finish := s.convScanner()
		var ok int
		stored, err := scanMessage(s.pool.QueryRow(ctx, appendSQL,
			m.ConversationID, operatorID, id, m.ClientID, string(m.Kind), m.AuthorID, m.AuthorName, m.Text, m.CreatedAt,
			searchText(m.Text)), append(cdest, &ok)...)
		switch {
		case err == nil:
			finish()
			out = chat.Appended{Message: stored, Conversation: c}
			return nil
		case isDuplicateClientID(err):
			// The statement rolled back: no sequence number was used.
			out, err = s.original(ctx, s.pool, m.ConversationID, m.ClientID)
			return err
		case errors.Is(err, pgx.ErrNoRows):
			// Closed or unknown. A retry is recognised first, even of a
			// message stored before the conversation closed.
			if m.ClientID != "" {
				a, err := s.original(ctx, s.pool, m.ConversationID, m.ClientID)
				if err == nil {
					out = a
					return nil
				}
				if !errors.Is(err, pgx.ErrNoRows) {
					return err
				}
			}
			return s.convState(ctx, s.pool, m.ConversationID, why)
		}
		return err
	})
	if err != nil {
		return chat.Appended{}, err
	}
	if !out.Duplicate {
		m.ID, m.Seq = out.Message.ID, out.Message.Seq
	}
	return out, nil
}

// appendSQL appends a message in one statement: $1 conversation, $2 the
// operator it must be assigned to (empty for any open conversation), $3..$9
// the message, $10 its search text. No row: the conversation is closed,
// unknown or not that operator's. A client id stored already fails the
// whole statement with duplicateClientID (an integer cast of that text,
// which depends on the row, so it is never evaluated while planning).
var appendSQL = `WITH c AS (
	UPDATE chat_conversations SET last_seq = last_seq + 1
	WHERE id = $1 AND status <> 'closed' AND ($2::text = '' OR (status = 'assigned' AND operator_id = $2::text))
	RETURNING ` + convCols + `
), m AS (
	INSERT INTO chat_messages (` + msgCols + `, search)
	SELECT $3, c.id, c.last_seq, $4, $5, $6, $7, $8, $9, to_tsvector('simple', $10) FROM c
	ON CONFLICT (conversation_id, client_id) WHERE client_id <> '' DO NOTHING
	RETURNING ` + msgCols + `
)
SELECT m.*, c.*, (CASE WHEN m.id IS NULL THEN '` + duplicateClientID + `' ELSE '0' END)::int
FROM c LEFT JOIN m ON true`

const duplicateClientID = "shopchat: duplicate client id"

func isDuplicateClientID(err error) bool {
	return isCode(err, "22P02") && strings.Contains(err.Error(), duplicateClientID)
}

// original returns the message with clientID in conversation convID, and
// the conversation, as a Duplicate; pgx.ErrNoRows if there is none.
func (s *Store) original(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, convID, clientID string) (chat.Appended, error) {
	orig, err := scanMessage(q.QueryRow(ctx, `SELECT `+msgCols+` FROM chat_messages
		WHERE conversation_id = $1 AND client_id = $2 AND client_id <> ''`, convID, clientID))
	if err != nil {
		return chat.Appended{}, err
	}
	c, err := s.scanConv(q.QueryRow(ctx, `SELECT `+convCols+` FROM chat_conversations WHERE id = $1`, convID))
	if err != nil {
		return chat.Appended{}, err
	}
	return chat.Appended{Message: orig, Conversation: c, Duplicate: true}, nil
}

// Messages implements chat.Store.
func (s *Store) Messages(ctx context.Context, q chat.MessageQuery) ([]*chat.Message, error) {
	// Newest first only when paging backwards with a limit; the result is
	// reversed to ascending order below.
	backwards := q.BeforeSeq > 0 && q.Limit > 0
	order := "ASC"
	if backwards {
		order = "DESC"
	}
	var limit any
	if q.Limit > 0 {
		limit = q.Limit
	}
	if !storable(q.ConversationID) {
		return nil, notFound("conversation", q.ConversationID)
	}
	var out []*chat.Message
	err := s.read(ctx, fmt.Sprintf("messages of conversation %q", q.ConversationID), func() error {
		rows, err := s.pool.Query(ctx, `SELECT `+msgCols+` FROM chat_messages
			WHERE conversation_id = $1 AND seq > $2 AND ($3 <= 0 OR seq < $3)
			ORDER BY seq `+order+` LIMIT $4`, q.ConversationID, q.AfterSeq, q.BeforeSeq, limit)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (*chat.Message, error) { return scanMessage(row) })
		if err != nil {
			return err
		}
		if len(out) == 0 { // none in range, or no such conversation?
			var one int
			return s.pool.QueryRow(ctx, `SELECT 1 FROM chat_conversations WHERE id = $1`, q.ConversationID).Scan(&one)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []*chat.Message{}
	}
	if backwards {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out, nil
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
