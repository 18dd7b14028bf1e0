package chat

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/shopchat/chat/protocol"
)

// notify queues n for the Notifier without blocking the caller; a full
// queue drops n and counts it.
func (s *Server) notify(n Notification) {
	if s.cfg.Notifier == nil {
		return
	}
	if n.ID == "" {
		n.ID = uuid.NewString()
	}
	if n.Time.IsZero() {
		n.Time = s.now()
	}
	select {
	case s.notifications <- n:
	default:
		s.add("notifications_dropped_total", 1)
		s.log.Warn("notification queue full: dropped", "kind", n.Kind, "conversation", convID(n.Conversation))
	}
}

func convID(c *Conversation) string {
	if c == nil {
		return ""
	}
	return c.ID
}

// notifyLoop hands queued notifications to the Notifier, one at a time,
// after filling in the visitor and operator (off the request path).
// Retrying is the Notifier's business (notify/email and notify/webhook
// retry with backoff); here a failure is logged and counted.
func (s *Server) notifyLoop() {
	defer s.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			s.flushNotifications()
			return
		case n := <-s.notifications:
			ctx, cancel := context.WithTimeout(s.ctx, 2*time.Minute)
			s.enrich(ctx, &n)
			start := time.Now()
			err := s.cfg.Notifier.Notify(ctx, n)
			s.observeSince("notify_seconds", start)
			cancel()
			if err != nil {
				s.add("notifications_failed_total", 1)
				s.logErr("notify", err, "kind", n.Kind, "conversation", convID(n.Conversation))
			} else {
				s.add("notifications_total", 1)
			}
		}
	}
}

// flushNotifications hands what is still queued to the Notifier on
// shutdown; notify/email and notify/webhook only queue it, and deliver it
// in their own Close.
func (s *Server) flushNotifications() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		select {
		case n := <-s.notifications:
			s.enrich(ctx, &n)
			if err := s.cfg.Notifier.Notify(ctx, n); err != nil {
				s.logErr("notify on shutdown", err, "kind", n.Kind)
			}
		default:
			return
		}
	}
}

func (s *Server) enrich(ctx context.Context, n *Notification) {
	c := n.Conversation
	if c == nil {
		return
	}
	if n.Visitor == nil {
		if v, err := s.store.Visitor(ctx, c.VisitorID); err == nil {
			n.Visitor = v
		}
	}
	if n.Operator == nil && c.OperatorID != "" {
		if op, err := s.operator(ctx, c.OperatorID); err == nil {
			n.Operator = op
		}
	}
	if n.ReplyToken == "" && n.Kind.ForPeople() {
		n.ReplyToken = s.ReplyToken(c.ID)
	}
	if n.TeamReplyToken == "" && (n.Kind == OfflineMessage || n.Kind == NewConversation) {
		n.TeamReplyToken = s.TeamReplyToken(c.ID)
	}
	if n.UnsubscribeToken == "" && (n.Kind == MissedReply || n.Kind == Transcript) {
		n.UnsubscribeToken = s.UnsubscribeToken(c.ID)
	}
	if n.BounceToken == "" && (n.Kind == MissedReply || n.Kind == Transcript) {
		n.BounceToken = s.BounceToken(c.ID)
	}
}

// notifyAbout queues a notification about conversation c.
func (s *Server) notifyAbout(kind NotificationKind, c *Conversation, ms ...*Message) {
	if s.cfg.Notifier == nil {
		return
	}
	n := Notification{Kind: kind, Conversation: c, Messages: ms}
	if len(ms) > 0 {
		n.ID = fmt.Sprintf("%s:%s:%d:%d", kind, c.ID, c.Epoch, ms[len(ms)-1].Seq)
	}
	s.notify(n)
}

// afterVisitorMessage runs after a visitor's message m was stored and
// published (publishMessage announced the conversation's start with its
// first message): if it opened the conversation and nobody can answer now,
// the team hears of it by mail.
func (s *Server) afterVisitorMessage(ctx context.Context, c *Conversation, m *Message, opened bool) {
	if s.cfg.Notifier == nil {
		return
	}
	if c.Status != Queued {
		return
	}
	avail, err := s.available(ctx)
	if err != nil || avail {
		return
	}
	if opened {
		s.notifyAbout(OfflineMessage, c, m)
		return
	}
	// More from a visitor still waiting while nobody answers: remind the
	// team, at most once per TeamAlertInterval.
	s.mu.Lock()
	due := s.now().Sub(s.lastTeamAlert) >= s.cfg.TeamAlertInterval
	if due {
		s.lastTeamAlert = s.now()
	}
	s.mu.Unlock()
	if due {
		s.notifyAbout(NewConversation, c, m)
	}
}

// scheduleMissedReply arranges for operator message m, written on this
// node, to be mailed to the visitor if still unseen after
// Config.MissedReplyDelay, in one mail with the others pending then. Only
// the node that wrote a message mails it, so with several nodes each
// message is mailed at most once.
func (s *Server) scheduleMissedReply(c *Conversation, m *Message) {
	if s.cfg.Notifier == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	set := s.toMail[c.ID]
	if set == nil {
		set = make(map[int64]bool)
		s.toMail[c.ID] = set
	}
	set[m.Seq] = true
	if s.missedTimers[c.ID] == nil { // one pending check covers every message until it fires
		s.missedTimers[c.ID] = time.AfterFunc(s.cfg.MissedReplyDelay, func() { s.checkMissedReply(c.ID) })
	}
}

func (s *Server) checkMissedReply(convID string) {
	s.mu.Lock()
	delete(s.missedTimers, convID)
	pending := s.toMail[convID]
	delete(s.toMail, convID)
	if s.closed || len(pending) == 0 {
		s.mu.Unlock()
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	c, err := s.store.Conversation(ctx, convID)
	if err != nil {
		return
	}
	if c.MailOptOut { // kept: mailed with the next check if they opt back in
		s.mu.Lock()
		set := s.toMail[convID]
		if set == nil {
			s.toMail[convID] = pending
		} else {
			for seq := range pending {
				set[seq] = true
			}
		}
		s.mu.Unlock()
		return
	}
	first := int64(-1)
	for seq := range pending {
		if seq > c.VisitorReadSeq && (first < 0 || seq < first) {
			first = seq
		}
	}
	if first < 0 {
		return // all seen
	}
	v, err := s.store.Visitor(ctx, c.VisitorID)
	if err != nil || v.Email == "" || v.MailBounces() {
		return // nobody to mail; the widget shows them on return
	}
	ms, err := s.store.Messages(ctx, MessageQuery{ConversationID: convID, AfterSeq: first - 1})
	if err != nil {
		s.logErr("missed reply", err, "conversation", convID)
		return
	}
	var unseen []*Message
	for _, m := range ms {
		if pending[m.Seq] && m.Seq > c.VisitorReadSeq {
			unseen = append(unseen, m)
		}
	}
	if len(unseen) == 0 {
		return
	}
	n := Notification{Kind: MissedReply, Conversation: c, Messages: unseen,
		ID: fmt.Sprintf("%s:%s:%d:%d", MissedReply, c.ID, c.Epoch, unseen[len(unseen)-1].Seq)}
	n.Question = s.question(ctx, convID, first)
	s.notify(n)
}

// maxQuestion bounds the visitor's messages quoted above an answer.
const maxQuestion = 3

// question returns the visitor's last messages before seq (at most
// maxQuestion, in order), which the answer at seq replies to.
func (s *Server) question(ctx context.Context, convID string, seq int64) []*Message {
	before, err := s.store.Messages(ctx, MessageQuery{ConversationID: convID, BeforeSeq: seq, Limit: 20})
	if err != nil {
		return nil
	}
	var q []*Message
	for i := len(before) - 1; i >= 0 && len(q) < maxQuestion; i-- {
		switch before[i].Kind {
		case VisitorText:
			q = append([]*Message{before[i]}, q...)
		case OperatorText:
			if len(q) > 0 {
				return q // the visitor's turn ends at the operator's
			}
		}
	}
	return q
}

// onMail opts a conversation out of missed-reply mail (status "off") or
// back in ("on"): the visitor for their own, an operator for any.
func (ss *session) onMail(ctx context.Context, f protocol.ClientFrame) error {
	if f.Status != "on" && f.Status != "off" {
		return userErr(ErrInvalid, "status must be on or off")
	}
	c, err := ss.conversationFor(ctx, f.Conv)
	if err != nil {
		return err
	}
	c, err = ss.s.store.SetMailOptOut(ctx, c.ID, f.Status == "off")
	if err != nil {
		return err
	}
	ss.s.publishState(c)
	return ss.ackIfAsked(f)
}
