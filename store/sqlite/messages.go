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
	mm := *m
	if mm.ID == "" {
		// Time-ordered (version 7), so new ids land together at the end
		// of the id index instead of on random pages.
		id, err := uuid.NewV7()
		if err != nil {
			return chat.Appended{}, fmt.Errorf("sqlite: message id: %w", err)
		}
		mm.ID = id.String()
	}
	mm.CreatedAt = fromMicros(micros(mm.CreatedAt)) // as stored
	var out chat.Appended
	err := s.writeAppend(ctx, func(w *writeStmts) error {
		c, err := s.scanConv(w.bumpSeq.QueryRowContext(bg, mm.ConversationID, mm.ClientID, operatorID))
		if errors.Is(err, sql.ErrNoRows) {
			// A retry, an unknown or a closed conversation.
			if mm.ClientID != "" {
				orig, err := scanMessage(w.dupMsg.QueryRowContext(bg, mm.ConversationID, mm.ClientID))
				if err == nil {
					c, err := s.current(w, mm.ConversationID)
					if err != nil {
						return err
					}
					out = chat.Appended{Message: orig, Conversation: c, Duplicate: true}
					return nil
				}
				if !errors.Is(err, sql.ErrNoRows) {
					return dbErr("append message", err)
				}
			}
			var status string
			err := w.convStatus.QueryRowContext(bg, mm.ConversationID).Scan(&status)
			if errors.Is(err, sql.ErrNoRows) {
				return notFound("conversation", mm.ConversationID)
			}
			if err != nil {
				return dbErr("append message", err)
			}
			if status != string(chat.Closed) && operatorID != "" {
				return conflict("conversation", mm.ConversationID, "not assigned to "+operatorID)
			}
			return conflict("conversation", mm.ConversationID, "closed")
		}
		if err != nil {
			return dbErr("append message", err)
		}
		res, err := w.insMsg.ExecContext(bg, mm.ID, mm.ConversationID, c.LastSeq, nullIfEmpty(mm.ClientID), string(mm.Kind),
			mm.AuthorID, mm.AuthorName, mm.Text, micros(mm.CreatedAt))
		if err != nil {
			// Appends run without a savepoint (see commit): undo the
			// sequence bump so the failed append leaves nothing behind.
			if _, uerr := w.unbumpSeq.ExecContext(bg, mm.ConversationID); uerr != nil {
				return errMustAbort{fmt.Errorf("sqlite: undo sequence: %w", uerr)}
			}
			if isUnique(err, "messages.id") {
				return conflict("message", mm.ID, "id already used")
			}
			return dbErr("append message", err)
		}
		rid, err := res.LastInsertId()
		if err != nil {
			return errMustAbort{dbErr("append message", err)}
		}
		w.inserted(rid)
		msg := mm
		msg.Seq = c.LastSeq
		out = chat.Appended{Message: &msg, Conversation: c}
		return nil
	})
	if err != nil {
		return chat.Appended{}, err
	}
	if !out.Duplicate {
		m.ID, m.Seq = out.Message.ID, out.Message.Seq
	}
	return out, nil
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
