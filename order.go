package chat

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

const maxOrderID = 200

// RecordOrder records an order placed in the shop, from its checkout, and
// attributes it to the chat that led to it (see Attribution). It returns
// the stored order; recording the same order ID again stores nothing and
// returns the first one, so reports count it once. A zero o.PlacedAt means
// now.
//
// ErrInvalid for an empty or over-long ID, an empty VisitorID, a negative
// Total or a Currency that is not three upper-case letters (ISO 4217; empty
// is allowed for a single-currency shop); ErrNotFound for a visitor the
// Store does not know.
func (s *Server) RecordOrder(ctx context.Context, o Order) (*Order, error) {
	switch {
	case o.ID == "":
		return nil, invalidf("order ID is required")
	case len(o.ID) > maxOrderID || !validText(o.ID):
		return nil, invalidf("order ID is longer than %d bytes or not text", maxOrderID)
	case o.VisitorID == "":
		return nil, invalidf("order VisitorID is required")
	case o.Total < 0:
		return nil, invalidf("order Total %d is negative", o.Total)
	case o.Currency != "" && !isCurrency(o.Currency):
		return nil, invalidf("order Currency %q is not an ISO 4217 code like EUR", o.Currency)
	}
	if _, err := s.storedVisitor(ctx, o.VisitorID); err != nil {
		return nil, fmt.Errorf("chat: record order: %w", err)
	}
	if o.PlacedAt.IsZero() {
		o.PlacedAt = s.now()
	}
	a, err := s.attribute(ctx, o.VisitorID, o.PlacedAt)
	if err != nil {
		return nil, fmt.Errorf("chat: record order: %w", err)
	}
	o.Attribution = a
	stored, created, err := s.store.PutOrder(ctx, &o)
	if err != nil {
		return nil, fmt.Errorf("chat: record order: %w", err)
	}
	if created && stored.Attribution.Chat() {
		s.emit(Event{ID: string(EventOrderAttributed) + ":" + stored.ID, Kind: EventOrderAttributed, ConversationID: stored.Attribution.ConversationID, VisitorID: stored.VisitorID, OperatorID: stored.Attribution.OperatorID, Order: stored})
	}
	return stored, nil
}

// Attribution tells the shop's checkout, before it places an order, whether
// the visitor's order would carry the chat channel, and which conversation,
// operator and trigger led to it. The rule: among the visitor's
// conversations created within Config.AttributionWindow in which the
// visitor wrote and an operator was assigned, the newest (the first with
// Config.FirstTouch). The zero Attribution means no chat led to it.
//
// ErrInvalid for an empty visitorID; ErrNotFound for an unknown visitor.
func (s *Server) Attribution(ctx context.Context, visitorID string) (Attribution, error) {
	if visitorID == "" {
		return Attribution{}, invalidf("visitor ID is required")
	}
	if _, err := s.storedVisitor(ctx, visitorID); err != nil {
		return Attribution{}, fmt.Errorf("chat: attribution: %w", err)
	}
	a, err := s.attribute(ctx, visitorID, s.now())
	if err != nil {
		return Attribution{}, fmt.Errorf("chat: attribution: %w", err)
	}
	return a, nil
}

// attribute applies the attribution rule for an order placed at at.
func (s *Server) attribute(ctx context.Context, visitorID string, at time.Time) (Attribution, error) {
	var best Attribution
	f := ConversationFilter{VisitorID: visitorID, Since: at.Add(-s.cfg.AttributionWindow), Before: at.Add(time.Nanosecond)}
	err := s.forConversations(ctx, f, func(c *Conversation) error {
		if c.OperatorID == "" {
			return nil
		}
		if !best.TouchedAt.IsZero() && !s.cfg.FirstTouch {
			return errStop // newest first: the first match is the last touch
		}
		touched, ok, err := s.lastVisitorMessage(ctx, c.ID, at)
		if err != nil || !ok {
			return err
		}
		best = Attribution{Channel: ChannelChat, ConversationID: c.ID, OperatorID: c.OperatorID, TouchedAt: touched}
		return nil
	})
	if err != nil || best.ConversationID == "" {
		return Attribution{}, err
	}
	acc, err := s.store.Activities(ctx, ActivityQuery{Kinds: []ActivityKind{InvitationAccepted}, ConversationID: best.ConversationID, Limit: 1})
	if err != nil {
		return Attribution{}, err
	}
	if len(acc) > 0 {
		best.TriggerID = acc[0].TriggerID
	}
	return best, nil
}

// lastVisitorMessage returns when the visitor last wrote in a conversation,
// up to at, and whether they wrote at all.
func (s *Server) lastVisitorMessage(ctx context.Context, convID string, at time.Time) (time.Time, bool, error) {
	ms, err := s.store.Messages(ctx, MessageQuery{ConversationID: convID})
	if err != nil {
		return time.Time{}, false, err
	}
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].Kind == VisitorText && !ms[i].CreatedAt.After(at) {
			return ms[i].CreatedAt, true, nil
		}
	}
	return time.Time{}, false, nil
}

// errStop ends a forConversations walk early without an error.
var errStop = errors.New("stop")

// forConversations calls fn for every conversation matching f (its Limit
// is the page size), newest first, paging with Before. Conversations
// created at the same instant across a page boundary are neither skipped
// nor repeated.
func (s *Server) forConversations(ctx context.Context, f ConversationFilter, fn func(*Conversation) error) error {
	const page = 500
	f.Limit = page
	seen := make(map[string]bool)
	for {
		list, err := s.store.Conversations(ctx, f)
		if err != nil {
			return err
		}
		fresh := 0
		for _, c := range list {
			if seen[c.ID] {
				continue
			}
			seen[c.ID] = true
			fresh++
			if err := fn(c); err != nil {
				if errors.Is(err, errStop) {
					return nil
				}
				return err
			}
		}
		if len(list) < page {
			return nil
		}
		// The next page starts with the last instant of this one again (the
		// store may hold more conversations created then); seen drops the
		// repeats. A page of one instant only moves past it.
		last := list[len(list)-1].CreatedAt
		f.Before = last.Add(time.Nanosecond)
		if fresh == 0 {
			f.Before = last
		}
	}
}

func isCurrency(s string) bool {
	if len(s) != 3 || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}
