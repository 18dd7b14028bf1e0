package chat

import "context"

// MessageStore is the messages role of Store (required).
type MessageStore interface {
	// AppendMessage stores m in its conversation, assigning m.ID (if empty)
	// and the next m.Seq in the same transaction (and setting them on m),
	// and returns the stored message with the conversation as of that
	// transaction. If m.ClientID is non-empty and already used in the
	// conversation, nothing is written and the original message is
	// returned with Duplicate set, even if the conversation has been Closed
	// since (a retry is recognised first). ErrNotFound for an unknown
	// conversation; ErrConflict if it is Closed (the caller starts a new
	// one). (Checked: m.Kind is defined.)
	AppendMessage(ctx context.Context, m *Message) (Appended, error)
	// Messages returns messages of a conversation in ascending Seq order
	// within q's bounds. ErrNotFound for an unknown conversation.
	Messages(ctx context.Context, q MessageQuery) ([]*Message, error)
}

func (c *checked) AppendMessage(ctx context.Context, m *Message) (Appended, error) {
	if err := checkMessage(m); err != nil {
		return Appended{}, err
	}
	return c.Store.AppendMessage(ctx, m)
}

func checkMessage(m *Message) error {
	switch {
	case m == nil:
		return storeInvalid("message is nil")
	case !m.Kind.Valid():
		return storeInvalid("message kind %q", m.Kind)
	}
	return nil
}
