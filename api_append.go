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
	aa, ok := s.store.assignedAppender() // never through Unwrap: see StoreAs
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
// the conversation, epoch and sequence number, as notifications' are.
func (s *Server) emitMessage(c *Conversation, m *Message) {
	ev := Event{ConversationID: c.ID, VisitorID: c.VisitorID, OperatorID: c.OperatorID, Message: m, Time: m.CreatedAt}
	kinds := []EventKind{EventMessage}
	if m.Seq == 1 {
		kinds = []EventKind{EventConversationStarted, EventMessage}
	}
	for _, k := range kinds {
		// The same as the notification's ID (notifyAbout): a receiver of
		// both the webhook and the stream can drop one by the other.
		ev.Kind, ev.ID = k, fmt.Sprintf("%s:%s:%d:%d", k, c.ID, c.Epoch, m.Seq)
		s.emit(ev)
	}
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
