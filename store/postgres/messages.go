package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopchat/chat"
)

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
	return s.appendMessage(ctx, m, operatorID)
}

// appendMessage appends m; if operatorID is set, only into a conversation
// assigned to that operator.
func (s *Store) appendMessage(ctx context.Context, m *chat.Message, operatorID string) (chat.Appended, error) {
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
