package memory

import (
	"context"

	"github.com/google/uuid"
	"github.com/shopchat/chat"
)

// Messages.

// AppendMessage implements chat.Store. On success it also sets m.ID (if
// empty) and m.Seq. A retry of a client id returns the original even if
// the conversation has been closed since.
func (s *Store) AppendMessage(_ context.Context, m *chat.Message) (chat.Appended, error) {
	return s.appendMessage(m, "")
}

// AppendAssigned implements chat.AssignedAppender.
func (s *Store) AppendAssigned(_ context.Context, m *chat.Message, operatorID string) (chat.Appended, error) {
	return s.appendMessage(m, operatorID)
}

// AppendBatch implements chat.BatchAppender: the items are appended in
// order under one hold of the lock.
func (s *Store) AppendBatch(ctx context.Context, items []chat.AppendItem) []chat.AppendResult {
	out := make([]chat.AppendResult, len(items))
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, it := range items {
		if err := ctx.Err(); err != nil {
			out[i].Err = err
			continue
		}
		out[i].Appended, out[i].Err = s.appendLocked(it.Message, it.OperatorID)
	}
	return out
}

// appendMessage appends m; if operatorID is set, only into a conversation
// assigned to that operator.
func (s *Store) appendMessage(m *chat.Message, operatorID string) (chat.Appended, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.appendLocked(m, operatorID)
}

// appendLocked is appendMessage with s.mu held.
func (s *Store) appendLocked(m *chat.Message, operatorID string) (chat.Appended, error) {
	c, err := s.conv(m.ConversationID)
	if err != nil {
		return chat.Appended{}, err
	}
	if m.ClientID != "" {
		if i, ok := c.clientIDs[m.ClientID]; ok {
			orig := c.msgs[i]
			return chat.Appended{Message: &orig, Conversation: copyConv(&c.c), Duplicate: true}, nil
		}
	}
	if c.c.Status == chat.Closed {
		return chat.Appended{}, conflict("conversation", m.ConversationID, "closed")
	}
	if operatorID != "" && (c.c.Status != chat.Assigned || c.c.OperatorID != operatorID) {
		return chat.Appended{}, conflict("conversation", m.ConversationID, "not assigned to "+operatorID)
	}
	if m.ID == "" {
		m.ID = uuid.NewString()
	}
	m.Seq = c.c.LastSeq + 1
	c.c.LastSeq = m.Seq
	c.msgs = append(c.msgs, *m)
	if m.ClientID != "" {
		if c.clientIDs == nil {
			c.clientIDs = make(map[string]int)
		}
		c.clientIDs[m.ClientID] = len(c.msgs) - 1
	}
	stored := *m
	return chat.Appended{Message: &stored, Conversation: copyConv(&c.c)}, nil
}

// Messages implements chat.Store.
func (s *Store) Messages(_ context.Context, q chat.MessageQuery) ([]*chat.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.conv(q.ConversationID)
	if err != nil {
		return nil, err
	}
	// Seq n lives at index n-1, so Seq in (AfterSeq, BeforeSeq) is
	// msgs[AfterSeq : BeforeSeq-1].
	n := int64(len(c.msgs))
	lo, hi := max(q.AfterSeq, 0), n
	if q.BeforeSeq > 0 {
		hi = min(hi, q.BeforeSeq-1)
	}
	if lo >= hi {
		return []*chat.Message{}, nil
	}
	if l := int64(q.Limit); l > 0 && hi-lo > l {
		if q.BeforeSeq > 0 {
			lo = hi - l
		} else {
			hi = lo + l
		}
	}
	out := make([]*chat.Message, 0, hi-lo)
	for i := lo; i < hi; i++ {
		m := c.msgs[i]
		out = append(out, &m)
	}
	return out, nil
}
