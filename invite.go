package chat

import (
	"context"
	"errors"
	"strings"

	"github.com/google/uuid"

	"github.com/shopchat/chat/protocol"
)

// Invite sends a visitor a personal invitation to chat: the widget opens
// with text, from operatorID's name and avatar ("" for the team). Call it
// from the shop's code, e.g. after a failed payment; operators send the
// same from the console's live list. When the visitor answers, the new
// conversation starts with text and goes to that operator if they are
// online with capacity.
//
// It returns ErrInvalid for empty, over-long or non-text text, ErrNotFound
// for an unknown visitor or operator, and ErrConflict when the visitor is
// chatting already or has had Config.MaxProactivePerVisit proactive
// messages this visit.
func (s *Server) Invite(ctx context.Context, visitorID, text, operatorID string) error {
	switch {
	case visitorID == "":
		return userErr(ErrInvalid, "visitor is required")
	case strings.TrimSpace(text) == "":
		return userErr(ErrInvalid, "text is empty")
	case len(text) > s.cfg.MaxMessageLength:
		return userErr(ErrInvalid, "text is longer than %d bytes", s.cfg.MaxMessageLength)
	case !validText(text):
		return userErr(ErrInvalid, "text is not text")
	}
	if _, err := s.store.Visitor(ctx, visitorID); err != nil {
		if errors.Is(err, ErrNotFound) {
			return userErr(ErrNotFound, "visitor not found")
		}
		return err
	}
	var from *protocol.Person
	if operatorID != "" {
		op, err := s.operator(ctx, operatorID)
		if err != nil {
			return err
		}
		from = &protocol.Person{ID: op.ID, Name: op.Name, Avatar: op.AvatarURL}
	}
	if _, err := s.store.OpenConversation(ctx, visitorID); err == nil {
		return userErr(ErrConflict, "the visitor is chatting already")
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	t := s.track
	t.mu.Lock()
	lv := t.live[visitorID]
	capped := lv != nil && lv.shown >= s.cfg.MaxProactivePerVisit
	t.mu.Unlock()
	if capped {
		return userErr(ErrConflict, "the visitor had %d proactive messages this visit", s.cfg.MaxProactivePerVisit)
	}
	return s.sendInvite(ctx, Activity{Kind: InvitationSent, VisitorID: visitorID, OperatorID: operatorID, Text: text}, from)
}

// sendInvite records a proactive message (a, TriggerShown or
// InvitationSent), remembers it for the visitor's answer and sends the
// invite frame to the visitor's widgets on every node.
func (s *Server) sendInvite(ctx context.Context, a Activity, from *protocol.Person) error {
	a.At = s.now()
	if err := s.store.AddActivities(ctx, []Activity{a}); err != nil {
		return err
	}
	t := s.track
	t.mu.Lock()
	if lv := t.live[a.VisitorID]; lv != nil {
		lv.shown++
		if a.TriggerID != "" {
			if lv.fired == nil {
				lv.fired = make(map[string]bool)
			}
			lv.fired[a.TriggerID] = true
		}
	}
	if _, ok := t.pend[a.VisitorID]; !ok && len(t.pend) >= maxPending {
		for id := range t.pend { // full: forget one; the Store still has it
			delete(t.pend, id)
			break
		}
	}
	pending := a
	t.pend[a.VisitorID] = &pending
	t.mu.Unlock()
	s.add("invitations_total", 1)
	inv := &protocol.Invite{ID: uuid.NewString(), Text: a.Text, Operator: from, Trigger: a.TriggerID}
	s.sendFrame(visitorTopic(a.VisitorID), &protocol.ServerFrame{Type: protocol.TypeInvite, Invite: inv})
	return nil
}

// onInvite sends an operator's personal invitation.
func (ss *session) onInvite(ctx context.Context, f protocol.ClientFrame) error {
	if err := ss.s.Invite(ctx, f.Visitor, f.Text, ss.op.ID); err != nil {
		return err
	}
	return ss.ackIfAsked(f)
}

// pendingInvitation returns (and forgets) the invitation the visitor's new
// conversation answers: remembered here, or, if sent by another node or
// before a restart, found in the Store within the visit.
func (s *Server) pendingInvitation(ctx context.Context, visitorID string) (*Activity, error) {
	t := s.track
	t.mu.Lock()
	a := t.pend[visitorID]
	delete(t.pend, visitorID)
	t.mu.Unlock()
	if a != nil {
		return a, nil
	}
	from := s.now().Add(-s.cfg.VisitTimeout)
	sent, err := s.store.Activities(ctx, ActivityQuery{Kinds: []ActivityKind{TriggerShown, InvitationSent}, VisitorID: visitorID, From: from})
	if err != nil || len(sent) == 0 {
		return nil, err
	}
	last := sent[len(sent)-1]
	answered, err := s.store.Activities(ctx, ActivityQuery{Kinds: []ActivityKind{InvitationAccepted}, VisitorID: visitorID, From: last.At, Limit: 1})
	if err != nil || len(answered) > 0 {
		return nil, err
	}
	return &last, nil
}

// acceptInvitation starts a new conversation that answers an invitation
// with the invitation's text, records InvitationAccepted (order
// attribution reads it) and gives the conversation to the inviting
// operator if they are online with capacity.
func (s *Server) acceptInvitation(ctx context.Context, c *Conversation) *Conversation {
	a, err := s.pendingInvitation(ctx, c.VisitorID)
	if err != nil {
		s.logErr("pending invitation", err, "visitor", c.VisitorID)
	}
	if a == nil {
		return c
	}
	m := &Message{ConversationID: c.ID, Kind: SystemEvent, Text: a.Text}
	var op *Operator
	if a.OperatorID != "" {
		if op, err = s.operator(ctx, a.OperatorID); err == nil {
			m.Kind, m.AuthorID, m.AuthorName = OperatorText, op.ID, op.Name
		}
	}
	if c2, err := s.append(ctx, m); err != nil {
		s.logErr("invitation message", err, "conversation", c.ID)
	} else {
		c = c2
	}
	acc := Activity{Kind: InvitationAccepted, VisitorID: c.VisitorID, ConversationID: c.ID, TriggerID: a.TriggerID, OperatorID: a.OperatorID, At: s.now()}
	if err := s.store.AddActivities(ctx, []Activity{acc}); err != nil {
		s.logErr("invitation accepted", err, "conversation", c.ID)
	}
	if op != nil {
		c = s.preferOperator(ctx, c, op)
	}
	return c
}

// preferOperator assigns queued c to op if op is online with capacity;
// otherwise c stays queued for the Router.
func (s *Server) preferOperator(ctx context.Context, c *Conversation, op *Operator) *Conversation {
	loads, err := s.store.OperatorLoads(ctx, s.now())
	if err != nil {
		s.logErr("prefer operator", err, "conversation", c.ID)
		return c
	}
	for _, l := range loads {
		if l.Operator.ID != op.ID || l.Presence != Online {
			continue
		}
		s.dispatchMu.Lock()
		assigned, err := s.store.Assign(ctx, c.ID, "", op.ID, s.capacity(l.Operator), s.now())
		if err == nil {
			s.noteDequeue(c)
		}
		s.dispatchMu.Unlock()
		if err != nil {
			return c // at capacity or taken: the queue decides
		}
		if err := s.announceAssigned(ctx, assigned, ""); err != nil {
			s.logErr("announce assignment", err, "conversation", c.ID)
		}
		if c2, err := s.store.Conversation(ctx, c.ID); err == nil {
			return c2
		}
		return assigned
	}
	return c
}
