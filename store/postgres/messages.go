package postgres

import (
	"context"
	"fmt"

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
// The append goes through the group-commit batcher (appendbatch.go): it
// shares one statement and one commit with the appends queued meanwhile.
// A client id seen before, or stored by a concurrent append that committed
// first, returns the original as a Duplicate without using a sequence
// number.
func (s *Store) AppendMessage(ctx context.Context, m *chat.Message) (chat.Appended, error) {
	return s.appendMessage(ctx, m, "")
}

// AppendAssigned implements chat.AssignedAppender: the append also
// requires the conversation to be assigned to operatorID.
func (s *Store) AppendAssigned(ctx context.Context, m *chat.Message, operatorID string) (chat.Appended, error) {
	return s.appendMessage(ctx, m, operatorID)
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
