package chat

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// appendAssigned stores operator operatorID's message m if its conversation
// is assigned to them: checked inside the store's append where the store
// can (one write instead of a read plus a write), else by reading first.
// The console and the Server API both post operators' messages through it.
func (s *Server) appendAssigned(ctx context.Context, m *Message, operatorID string) (Appended, error) {
	aa, ok := s.store.(AssignedAppender) // never through Unwrap: see StoreAs
	if !ok {
		if _, err := s.assignedTo(ctx, m.ConversationID, operatorID); err != nil {
			return Appended{}, err
		}
		start := time.Now()
		defer s.observeSince("store_append_seconds", start)
		return s.store.AppendMessage(ctx, m)
	}
	if m.ConversationID == "" {
		return Appended{}, userErr(ErrInvalid, "conv is required")
	}
	start := time.Now()
	res, err := aa.AppendAssigned(ctx, m, operatorID)
	s.observeSince("store_append_seconds", start)
	switch {
	case errors.Is(err, ErrNotFound):
		return res, userErr(ErrNotFound, "conversation not found")
	case errors.Is(err, ErrConflict):
		return res, errNotAssigned
	}
	return res, err
}

// emitMessage emits a stored message's events. Their IDs are derived from
// the conversation, epoch and sequence number, like notifications'.
func (s *Server) emitMessage(c *Conversation, m *Message) {
	ev := Event{ConversationID: c.ID, VisitorID: c.VisitorID, OperatorID: c.OperatorID, Message: m, Time: m.CreatedAt}
	if m.Seq == 1 {
		ev.Kind, ev.ID = EventConversationStarted, fmt.Sprintf("%s:%s:%d", EventConversationStarted, c.ID, c.Epoch)
		s.emit(ev)
	}
	ev.Kind, ev.ID = EventMessage, fmt.Sprintf("%s:%s:%d:%d", EventMessage, c.ID, c.Epoch, m.Seq)
	s.emit(ev)
}

// emitAssigned emits that c went to its operator, from the queue (previous
// "") or from previous.
func (s *Server) emitAssigned(c *Conversation, previous string) {
	ev := Event{Kind: EventAssigned, ConversationID: c.ID, VisitorID: c.VisitorID, OperatorID: c.OperatorID}
	if previous != "" {
		ev.Kind, ev.PreviousOperatorID = EventTransferred, previous
	}
	s.emit(ev)
}
