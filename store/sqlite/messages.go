package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/google/uuid"

	"github.com/shopchat/chat"
)

// AppendMessage implements chat.Store. In the writer's transaction one
// UPDATE ... RETURNING raises the conversation's last_seq if it is open
// and the client id unused, and an INSERT stores the message with that
// seq; the unique (conversation_id, seq) and (conversation_id, client_id)
// indexes back both up. If the UPDATE changes nothing, the client id's
// original is returned (a retry gets it even if the conversation has been
// closed since), or the conversation is unknown or closed. On success it
// also sets m.ID (if empty) and m.Seq.
func (s *Store) AppendMessage(ctx context.Context, m *chat.Message) (chat.Appended, error) {
	return s.appendMessage(ctx, m, "")
}

// AppendAssigned implements chat.AssignedAppender: the same UPDATE also
// requires the conversation to be assigned to operatorID, so the check
// costs no statement of its own.
func (s *Store) AppendAssigned(ctx context.Context, m *chat.Message, operatorID string) (chat.Appended, error) {
	return s.appendMessage(ctx, m, operatorID)
}

// appendMessage appends m; if operatorID is set, only into a conversation
// assigned to that operator.
func (s *Store) appendMessage(ctx context.Context, m *chat.Message, operatorID string) (chat.Appended, error) {
	mm, err := prepareAppend(m)
	if err != nil {
		return chat.Appended{}, err
	}
	var out chat.Appended
	err = s.writeAppend(ctx, func(w *writeStmts) error {
		var err error
		out, err = s.appendIn(w, mm, operatorID)
		return err
	})
	if err != nil {
		return chat.Appended{}, err
	}
	setAppended(m, out)
	return out, nil
}

// AppendBatch implements chat.BatchAppender: the items go to the writer
// as one request, appended in order in one transaction (shared, as every
// write, with other sessions' writes). A failing item leaves nothing
// behind (see appendIn), so the items need no savepoints of their own.
func (s *Store) AppendBatch(ctx context.Context, items []chat.AppendItem) []chat.AppendResult {
	out := make([]chat.AppendResult, len(items))
	mms := make([]chat.Message, len(items))
	for i, it := range items {
		mms[i], out[i].Err = prepareAppend(it.Message)
	}
	err := s.writeAppend(ctx, func(w *writeStmts) error {
		for i, it := range items {
			if out[i].Err != nil {
				continue
			}
			res, err := s.appendIn(w, mms[i], it.OperatorID)
			var must errMustAbort
			if errors.As(err, &must) {
				return err
			}
			out[i] = chat.AppendResult{Appended: res, Err: err}
		}
		return nil
	})
	for i, it := range items {
		switch {
		case err != nil:
			out[i] = chat.AppendResult{Err: err}
		case out[i].Err == nil:
			setAppended(it.Message, out[i].Appended)
		}
	}
	return out
}

// prepareAppend copies m for the writer, with its id and time as stored.
func prepareAppend(m *chat.Message) (chat.Message, error) {
	mm := *m
	if mm.ID == "" {
		// Time-ordered (version 7), so new ids land together at the end
		// of the id index instead of on random pages.
		id, err := uuid.NewV7()
		if err != nil {
			return mm, fmt.Errorf("sqlite: message id: %w", err)
		}
		mm.ID = id.String()
	}
	mm.CreatedAt = fromMicros(micros(mm.CreatedAt)) // as stored
	return mm, nil
}

// setAppended sets the id and seq of a newly stored m, as AppendMessage
// promises.
func setAppended(m *chat.Message, out chat.Appended) {
	if !out.Duplicate {
		m.ID, m.Seq = out.Message.ID, out.Message.Seq
	}
}

// appendIn appends mm in the writer's transaction w. A failure leaves
// nothing behind: appends run without a savepoint (see commit).
func (s *Store) appendIn(w *writeStmts, mm chat.Message, operatorID string) (chat.Appended, error) {
	c, err := s.scanConv(w.bumpSeq.QueryRowContext(bg, mm.ConversationID, mm.ClientID, operatorID))
	if errors.Is(err, sql.ErrNoRows) {
		// A retry, an unknown or a closed conversation.
		if mm.ClientID != "" {
			orig, err := scanMessage(w.dupMsg.QueryRowContext(bg, mm.ConversationID, mm.ClientID))
			if err == nil {
				c, err := s.current(w, mm.ConversationID)
				if err != nil {
					return chat.Appended{}, err
				}
				return chat.Appended{Message: orig, Conversation: c, Duplicate: true}, nil
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return chat.Appended{}, dbErr("append message", err)
			}
		}
		var status string
		err := w.convStatus.QueryRowContext(bg, mm.ConversationID).Scan(&status)
		if errors.Is(err, sql.ErrNoRows) {
			return chat.Appended{}, notFound("conversation", mm.ConversationID)
		}
		if err != nil {
			return chat.Appended{}, dbErr("append message", err)
		}
		if status != string(chat.Closed) && operatorID != "" {
			return chat.Appended{}, conflict("conversation", mm.ConversationID, "not assigned to "+operatorID)
		}
		return chat.Appended{}, conflict("conversation", mm.ConversationID, "closed")
	}
	if err != nil {
		return chat.Appended{}, dbErr("append message", err)
	}
	res, err := w.insMsg.ExecContext(bg, mm.ID, mm.ConversationID, c.LastSeq, nullIfEmpty(mm.ClientID), string(mm.Kind),
		mm.AuthorID, mm.AuthorName, mm.Text, micros(mm.CreatedAt))
	if err != nil {
		// Appends run without a savepoint (see commit): undo the
		// sequence bump so the failed append leaves nothing behind.
		if _, uerr := w.unbumpSeq.ExecContext(bg, mm.ConversationID); uerr != nil {
			return chat.Appended{}, errMustAbort{fmt.Errorf("sqlite: undo sequence: %w", uerr)}
		}
		if isUnique(err, "messages.id") {
			return chat.Appended{}, conflict("message", mm.ID, "id already used")
		}
		return chat.Appended{}, dbErr("append message", err)
	}
	rid, err := res.LastInsertId()
	if err != nil {
		return chat.Appended{}, errMustAbort{dbErr("append message", err)}
	}
	w.inserted(rid)
	msg := mm
	msg.Seq = c.LastSeq
	return chat.Appended{Message: &msg, Conversation: c}, nil
}

// Messages implements chat.Store.
func (s *Store) Messages(ctx context.Context, q chat.MessageQuery) ([]*chat.Message, error) {
	if err := s.ready(); err != nil {
		return nil, err
	}
	before := q.BeforeSeq
	if before <= 0 {
		before = math.MaxInt64
	}
	limit := int64(q.Limit)
	if limit <= 0 {
		limit = -1 // no limit
	}
	st := s.r.msgsAsc
	newest := q.BeforeSeq > 0 && q.Limit > 0 // the newest Limit before BeforeSeq
	if newest {
		st = s.r.msgsDesc
	}
	rows, err := st.QueryContext(ctx, q.ConversationID, q.AfterSeq, before, limit)
	if err != nil {
		return nil, dbErr("messages", err)
	}
	defer rows.Close()
	out := []*chat.Message{}
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, dbErr("messages", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr("messages", err)
	}
	if len(out) == 0 {
		// Empty range, or no such conversation?
		var one int
		err := s.r.convExists.QueryRowContext(ctx, q.ConversationID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, notFound("conversation", q.ConversationID)
		}
		if err != nil {
			return nil, dbErr("messages", err)
		}
	}
	if newest {
		slices.Reverse(out)
	}
	return out, nil
}
