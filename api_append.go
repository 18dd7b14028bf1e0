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
		return s.appendWith(ctx, m, s.store.AppendMessage)
	}
	if m.ConversationID == "" {
		return Appended{}, userErr(ErrInvalid, "conv is required")
	}
	start := time.Now()
	res, err := s.appendWith(ctx, m, func(ctx context.Context, m *Message) (Appended, error) {
		return aa.AppendAssigned(ctx, m, operatorID)
	})
	s.observeSince("store_append_seconds", start)
	return res, assignedErr(err)
}

// assignedErr is the client's error for a failed assignment-checked append.
func assignedErr(err error) error {
	switch {
	case errors.Is(err, ErrNotFound):
		return userErr(ErrNotFound, "conversation not found")
	case errors.Is(err, ErrConflict):
		return errNotAssigned
	}
	return err
}

// appendBatch stores items in slice order and returns one result per item,
// each as appendAssigned (OperatorID set) or appendWith over AppendMessage
// would return it: in one store call where the configured store itself has
// the batch-append role, else (the stand-in) one after another.
func (s *Server) appendBatch(ctx context.Context, items []AppendItem) []AppendResult {
	results := make([]AppendResult, len(items))
	ba, ok := s.store.batchAppender() // never through Unwrap: see StoreAs
	if !ok {
		for i, it := range items {
			r := &results[i]
			if it.OperatorID != "" {
				r.Appended, r.Err = s.appendAssigned(ctx, it.Message, it.OperatorID)
				continue
			}
			start := time.Now()
			r.Appended, r.Err = s.appendWith(ctx, it.Message, s.store.AppendMessage)
			s.observeSince("store_append_seconds", start)
		}
		return results
	}
	// As appendWith: the store never sees attachments; they are bound to
	// the stored messages afterwards.
	send := make([]AppendItem, 0, len(items))
	at := make([]int, 0, len(items))
	atts := make([][]Attachment, len(items))
	for i, it := range items {
		if it.OperatorID != "" && it.Message.ConversationID == "" {
			results[i].Err = userErr(ErrInvalid, "conv is required")
			continue
		}
		atts[i], it.Message.Attachments = it.Message.Attachments, nil
		send = append(send, it)
		at = append(at, i)
	}
	if len(send) == 0 {
		return results
	}
	start := time.Now()
	stored := ba.AppendBatch(ctx, send) // Checked: one result per item
	took := time.Since(start).Seconds()
	for j, i := range at {
		m, r := items[i].Message, stored[j]
		m.Attachments = atts[i]
		s.observe("store_append_seconds", took)
		if r.Err == nil {
			r.Err = s.bindSent(ctx, m, &r.Appended)
		}
		if items[i].OperatorID != "" {
			r.Err = assignedErr(r.Err)
		}
		results[i] = r
	}
	return results
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
