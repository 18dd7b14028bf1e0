package chat

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shopchat/chat/protocol"
)

// Invite sends a visitor a personal invitation to chat: the widget opens
// with text, from operatorID's name and avatar ("" for the team). Call it
// from the shop's code, e.g. after a failed payment; operators send the
// same from the console's live list. When the visitor answers, the new
// conversation starts with text and goes to that operator if they are
// online with capacity.
//
// A visitor who has left the site (no widget connected, no page view in
// the last two minutes) is not invited: ErrConflict.
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
	if _, err := s.storedVisitor(ctx, visitorID); err != nil {
		if errors.Is(err, ErrNotFound) {
			return userErr(ErrNotFound, "visitor not found")
		}
		return err
	}
	if !s.onSite(visitorID) {
		return userErr(ErrConflict, "the visitor has left the site")
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
	undo, ok := s.reserveProactive(visitorID)
	if !ok {
		return userErr(ErrConflict, "the visitor had %d proactive messages this visit", s.cfg.MaxProactivePerVisit)
	}
	if err := s.sendInvite(ctx, Activity{Kind: InvitationSent, VisitorID: visitorID, OperatorID: operatorID, Text: text}, from); err != nil {
		undo()
		return err
	}
	return nil
}

// reserveProactive counts a proactive message against the visit's
// Config.MaxProactivePerVisit in the same critical section as the check,
// so that concurrent invitations cannot exceed the cap; ok is false at the
// cap. A visit this node does not list is not counted. undo gives the slot
// back when the message could not be sent.
func (s *Server) reserveProactive(visitorID string) (undo func(), ok bool) {
	t := s.track
	t.mu.Lock()
	defer t.mu.Unlock()
	lv := t.live[visitorID]
	if lv == nil {
		return func() {}, true
	}
	if lv.shown >= s.cfg.MaxProactivePerVisit {
		return nil, false
	}
	lv.shown++
	return func() {
		t.mu.Lock()
		lv.shown--
		t.mu.Unlock()
	}, true
}

// inviteID names an invitation in its invite frame. It derives from the
// stored activity so that any node can tell which invitation a visitor's
// dismiss names.
func inviteID(a *Activity) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%d\x00%s", a.Kind, a.VisitorID, a.TriggerID, a.OperatorID, a.At.UnixMicro(), a.Text)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// sendInvite records a proactive message (a, TriggerShown or
// InvitationSent), remembers it for the visitor's answer and sends the
// invite frame to the visitor's widgets on every node. The caller has
// counted it (reserveProactive).
func (s *Server) sendInvite(ctx context.Context, a Activity, from *protocol.Person) error {
	// Stores keep microseconds: inviteID must be the same from the Store.
	a.At = s.now().Truncate(time.Microsecond)
	if err := s.store.AddActivities(ctx, []Activity{a}); err != nil {
		return err
	}
	t := s.track
	t.mu.Lock()
	if lv := t.live[a.VisitorID]; lv != nil {
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
	inv := &protocol.Invite{ID: inviteID(&a), Text: a.Text, Operator: from, Trigger: a.TriggerID}
	s.sendFrame(visitorTopic(a.VisitorID), &protocol.ServerFrame{Type: protocol.TypeInvite, Invite: inv})
	return nil
}

// onInvite sends an operator's personal invitation, or takes a visitor's
// dismissal of one (ActionDismiss); visitors may do nothing else with it.
func (ss *session) onInvite(ctx context.Context, f protocol.ClientFrame) error {
	if ss.op == nil {
		if f.Action != protocol.ActionDismiss {
			return userErr(ErrForbidden, "%s is for operators", f.Type)
		}
		if f.Invite == nil {
			return userErr(ErrInvalid, "dismiss needs the invite id")
		}
		if err := ss.s.dismissInvitation(ctx, ss.visitor.ID, f.Invite.ID); err != nil {
			return err
		}
		return ss.ackIfAsked(f)
	}
	if f.Action != "" {
		return userErr(ErrInvalid, "an operator's invite frame has no action")
	}
	if err := ss.s.Invite(ctx, f.Visitor, f.Text, ss.op.ID); err != nil {
		return err
	}
	return ss.ackIfAsked(f)
}

// dismissInvitation forgets the invitation id that the visitor closed
// without answering, and records InvitationDismissed so that no node opens
// the visitor's next conversation with it. An id that is not the visit's
// latest invitation (replaced, expired or unknown) changes nothing: the
// widget may dismiss late.
func (s *Server) dismissInvitation(ctx context.Context, visitorID, id string) error {
	if id == "" || len(id) > maxClientID {
		return userErr(ErrInvalid, "dismiss needs the invite id")
	}
	t := s.track
	t.mu.Lock()
	a := t.pend[visitorID]
	if a != nil && inviteID(a) == id {
		delete(t.pend, visitorID)
	} else {
		a = nil
	}
	t.mu.Unlock()
	if a == nil { // sent by another node or before a restart?
		last, err := s.lastInvitation(ctx, visitorID)
		if err != nil || last == nil || inviteID(last) != id {
			return err
		}
		a = last
	}
	d := Activity{Kind: InvitationDismissed, VisitorID: visitorID, TriggerID: a.TriggerID, OperatorID: a.OperatorID, Text: id, At: s.now()}
	return s.store.AddActivities(ctx, []Activity{d})
}

// pendingInvitation returns (and forgets) the invitation the visitor's new
// conversation answers: remembered here, or, if sent by another node or
// before a restart, found in the Store within the visit. Either way the
// Store has the last word: an invitation answered since (perhaps on
// another node) or dismissed is no longer pending.
func (s *Server) pendingInvitation(ctx context.Context, visitorID string) (*Activity, error) {
	t := s.track
	t.mu.Lock()
	a := t.pend[visitorID]
	delete(t.pend, visitorID)
	t.mu.Unlock()
	if a == nil {
		var err error
		if a, err = s.lastInvitation(ctx, visitorID); err != nil || a == nil {
			return nil, err
		}
	}
	done, err := s.store.Activities(ctx, ActivityQuery{Kinds: []ActivityKind{InvitationAccepted, InvitationDismissed}, VisitorID: visitorID, From: a.At})
	if err != nil {
		return nil, err
	}
	id := inviteID(a)
	for _, d := range done {
		if d.Kind == InvitationAccepted || d.Text == id {
			return nil, nil
		}
	}
	return a, nil
}

// lastInvitation returns the visitor's latest proactive message within the
// visit from the Store, or nil.
func (s *Server) lastInvitation(ctx context.Context, visitorID string) (*Activity, error) {
	from := s.now().Add(-s.cfg.VisitTimeout)
	sent, err := s.store.Activities(ctx, ActivityQuery{Kinds: []ActivityKind{TriggerShown, InvitationSent}, VisitorID: visitorID, From: from})
	if err != nil || len(sent) == 0 {
		return nil, err
	}
	return &sent[len(sent)-1], nil
}

// invitationClaim is how long an invitation's acceptance is claimed: far
// longer than any visit, in which alone an invitation is pending.
const invitationClaim = 30 * 24 * time.Hour

// acceptInvitation starts new conversation c, which answers invitation a
// (pendingInvitation; nil: none), with the invitation's text, records
// InvitationAccepted (order attribution reads it) and gives the
// conversation to the inviting operator if they are online with capacity.
// The invitation's claim in the Store makes that happen once across
// nodes: a conversation that loses it (or cannot tell) opens as if no
// invitation were pending.
func (s *Server) acceptInvitation(ctx context.Context, c *Conversation, a *Activity) *Conversation {
	if a == nil {
		return c
	}
	now := s.now()
	took, err := s.store.Claim(ctx, "invitation:"+inviteID(a), now, now.Add(invitationClaim))
	if err != nil {
		s.logErr("claim invitation", err, "visitor", c.VisitorID)
	}
	if !took {
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
	if op != nil && c.OperatorID != op.ID { // not theirs from the start (firstOwner)
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
		return s.announced(ctx, assigned)
	}
	return c
}

// onSite reports whether the visitor is on the site now: a widget of theirs
// connected to this node, or their visit (on any node) seen within
// onSiteWindow.
func (s *Server) onSite(visitorID string) bool {
	s.mu.Lock()
	connected := s.perVisitor[visitorID] > 0
	s.mu.Unlock()
	if connected {
		return true
	}
	t := s.track
	t.mu.Lock()
	defer t.mu.Unlock()
	lv := t.live[visitorID]
	return lv != nil && s.now().Sub(lv.LastSeen) <= onSiteWindow
}
