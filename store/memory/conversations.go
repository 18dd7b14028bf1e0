package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/shopchat/chat"
)

// Conversations.

func copyConv(c *chat.Conversation) *chat.Conversation {
	cc := *c
	return &cc
}

// conv returns the conversation with id; s.mu must be held.
func (s *Store) conv(id string) (*conversation, error) {
	c, ok := s.convs[id]
	if !ok {
		return nil, notFound("conversation", id)
	}
	return c, nil
}

// CreateConversation implements chat.Store. It sets c.Status, c.Epoch and
// c.LastSeq and clears the fields that belong to later states.
func (s *Store) CreateConversation(_ context.Context, c *chat.Conversation) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.convs[c.ID]; ok {
		return conflict("conversation", c.ID, "already exists")
	}
	if _, ok := s.visitors[c.VisitorID]; !ok {
		return notFound("visitor", c.VisitorID)
	}
	if open, ok := s.open[c.VisitorID]; ok {
		return conflict("visitor", c.VisitorID, "already has open conversation "+open)
	}
	var op *operator
	if c.OperatorID != "" {
		if op = s.operators[c.OperatorID]; op == nil {
			return notFound("operator", c.OperatorID)
		}
	}
	c.Status = chat.Queued
	c.Epoch = s.epoch
	c.LastSeq = 0
	c.VisitorReadSeq, c.OperatorReadSeq = 0, 0
	c.AssignedAt, c.ClosedAt = time.Time{}, time.Time{}
	if op != nil {
		c.Status, c.AssignedAt = chat.Assigned, c.CreatedAt
	}
	conv := &conversation{c: *c}
	s.convs[c.ID] = conv
	s.open[c.VisitorID] = c.ID
	if s.byVisitor[c.VisitorID] == nil {
		s.byVisitor[c.VisitorID] = make(map[string]struct{})
	}
	s.byVisitor[c.VisitorID][c.ID] = struct{}{}
	if op != nil {
		op.assigned[c.ID] = conv
	} else {
		s.queued[c.ID] = struct{}{}
	}
	return nil
}

// Conversation implements chat.Store.
func (s *Store) Conversation(_ context.Context, id string) (*chat.Conversation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.conv(id)
	if err != nil {
		return nil, err
	}
	return copyConv(&c.c), nil
}

// OpenConversation implements chat.Store.
func (s *Store) OpenConversation(_ context.Context, visitorID string) (*chat.Conversation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.open[visitorID]
	if !ok {
		return nil, fmt.Errorf("memory: open conversation of visitor %q: %w", visitorID, chat.ErrNotFound)
	}
	return copyConv(&s.convs[id].c), nil
}

// Conversations implements chat.Store.
func (s *Store) Conversations(_ context.Context, f chat.ConversationFilter) ([]*chat.Conversation, error) {
	s.mu.Lock()
	var out []*chat.Conversation
	for c := range s.candidates(f) {
		switch {
		case f.VisitorID != "" && c.c.VisitorID != f.VisitorID,
			f.OperatorID != "" && c.c.OperatorID != f.OperatorID,
			len(f.Status) > 0 && !slices.Contains(f.Status, c.c.Status),
			!f.Before.IsZero() && !c.c.CreatedAt.Before(f.Before),
			c.c.CreatedAt.Before(f.Since):
			continue
		}
		out = append(out, copyConv(&c.c))
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b *chat.Conversation) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	if len(out) > f.Limit {
		out = out[:f.Limit:f.Limit]
	}
	return out, nil
}

// Queue implements chat.Store.
func (s *Store) Queue(_ context.Context) ([]*chat.Conversation, error) {
	s.mu.Lock()
	out := make([]*chat.Conversation, 0, len(s.queued))
	for id := range s.queued {
		out = append(out, copyConv(&s.convs[id].c))
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b *chat.Conversation) int {
		if c := a.QueuedAt.Compare(b.QueuedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}

// Assign implements chat.Store.
func (s *Store) Assign(_ context.Context, id, from, to string, capacity int, at time.Time) (*chat.Conversation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.conv(id)
	if err != nil {
		return nil, err
	}
	op, ok := s.operators[to]
	if !ok {
		return nil, notFound("operator", to)
	}
	switch {
	case c.c.Status == chat.Closed:
		return nil, conflict("conversation", id, "closed")
	case c.c.OperatorID != from:
		return nil, conflict("conversation", id, fmt.Sprintf("operator is %q, not %q", c.c.OperatorID, from))
	}
	if c.c.Status == chat.Assigned && from == to {
		// Already there: nothing moves, capacity is unaffected.
		c.c.AssignedAt = at
		op.lastAssigned = at
		return copyConv(&c.c), nil
	}
	if n := op.live(at); capacity > 0 && n >= capacity {
		return nil, fmt.Errorf("memory: operator %q has %d live conversations: %w", to, n, chat.ErrCapacity)
	}
	s.unassign(c)
	c.c.Status = chat.Assigned
	delete(s.queued, id)
	c.c.OperatorID = to
	c.c.AssignedAt = at
	op.assigned[id] = c
	op.lastAssigned = at
	return copyConv(&c.c), nil
}

// Requeue implements chat.Store.
func (s *Store) Requeue(_ context.Context, id, from, department string, at time.Time) (*chat.Conversation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.conv(id)
	if err != nil {
		return nil, err
	}
	if c.c.Status != chat.Assigned {
		return nil, conflict("conversation", id, "not assigned")
	}
	if c.c.OperatorID != from {
		return nil, conflict("conversation", id, fmt.Sprintf("operator is %q, not %q", c.c.OperatorID, from))
	}
	s.unassign(c)
	c.c.Status = chat.Queued
	s.queued[id] = struct{}{}
	c.c.OperatorID = ""
	c.c.Department = department
	c.c.QueuedAt = at
	return copyConv(&c.c), nil
}

// CloseConversation implements chat.Store. The conversation keeps its
// OperatorID, so an operator's history still lists it.
func (s *Store) CloseConversation(_ context.Context, id string, at time.Time) (*chat.Conversation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.conv(id)
	if err != nil {
		return nil, err
	}
	if c.c.Status == chat.Closed {
		return nil, conflict("conversation", id, "already closed")
	}
	s.unassign(c)
	c.c.Status = chat.Closed
	delete(s.queued, id)
	c.c.ClosedAt = at
	delete(s.open, c.c.VisitorID)
	return copyConv(&c.c), nil
}

// ReopenConversation implements chat.Store. The conversation joins the
// tail of the queue (QueuedAt = at) with no operator.
func (s *Store) ReopenConversation(_ context.Context, id string, at time.Time) (*chat.Conversation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.conv(id)
	if err != nil {
		return nil, err
	}
	if c.c.Status != chat.Closed {
		return nil, conflict("conversation", id, "not closed")
	}
	if open, ok := s.open[c.c.VisitorID]; ok {
		return nil, conflict("visitor", c.c.VisitorID, "already has open conversation "+open)
	}
	c.c.Status = chat.Queued
	s.queued[id] = struct{}{}
	c.c.OperatorID = ""
	c.c.QueuedAt = at
	c.c.ClosedAt = time.Time{}
	s.open[c.c.VisitorID] = id
	return copyConv(&c.c), nil
}

// MarkRead implements chat.Store.
func (s *Store) MarkRead(_ context.Context, id string, by chat.MessageKind, seq int64) (*chat.Conversation, error) {
	p := func(c *chat.Conversation) *int64 { return &c.OperatorReadSeq }
	if by == chat.VisitorText {
		p = func(c *chat.Conversation) *int64 { return &c.VisitorReadSeq }
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.conv(id)
	if err != nil {
		return nil, err
	}
	if r := p(&c.c); seq > *r {
		*r = seq
	}
	return copyConv(&c.c), nil
}

// KeepLive implements chat.Store.
func (s *Store) KeepLive(_ context.Context, visitorIDs []string, until time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range visitorIDs {
		if id, ok := s.open[v]; ok {
			if c := s.convs[id]; c.c.LiveUntil.Before(until) {
				c.c.LiveUntil = until
			}
		}
	}
	return nil
}

// PurgeClosed implements chat.Store. A conversation closed exactly at
// cutoff is kept. Claims expired before cutoff go too.
func (s *Store) PurgeClosed(_ context.Context, cutoff time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.purgeClaims(cutoff)
	n := 0
	for cid, c := range s.convs {
		if c.c.Status == chat.Closed && c.c.ClosedAt.Before(cutoff) {
			s.deleteConv(cid, c)
			n++
		}
	}
	return n, nil
}

// deleteConv removes conversation id, its messages and client ids (which
// live in c) and its place in the indexes; s.mu must be held.
func (s *Store) deleteConv(id string, c *conversation) {
	s.unassign(c)
	for _, a := range c.attached {
		delete(s.attachments, a)
	}
	if s.open[c.c.VisitorID] == id {
		delete(s.open, c.c.VisitorID)
	}
	if set := s.byVisitor[c.c.VisitorID]; set != nil {
		delete(set, id)
		if len(set) == 0 {
			delete(s.byVisitor, c.c.VisitorID)
		}
	}
	delete(s.queued, id)
	delete(s.convs, id)
}

// candidates yields the conversations a filter can match: a visitor's
// from the index, otherwise all. s.mu must be held.
func (s *Store) candidates(f chat.ConversationFilter) func(yield func(*conversation) bool) {
	return func(yield func(*conversation) bool) {
		if f.VisitorID != "" {
			for id := range s.byVisitor[f.VisitorID] {
				if !yield(s.convs[id]) {
					return
				}
			}
			return
		}
		for _, c := range s.convs {
			if !yield(c) {
				return
			}
		}
	}
}

// SetMailOptOut implements chat.Store.
func (s *Store) SetMailOptOut(_ context.Context, id string, optOut bool) (*chat.Conversation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.conv(id)
	if err != nil {
		return nil, err
	}
	c.c.MailOptOut = optOut
	return copyConv(&c.c), nil
}
