package chat

import (
	"context"

	"github.com/google/uuid"
	"github.com/shopchat/chat/protocol"
)

// SendTranscript mails the whole conversation (what the visitor may see)
// to its visitor. ErrInvalid if the visitor left no email.
func (s *Server) SendTranscript(ctx context.Context, convID string) error {
	c, err := s.store.Conversation(ctx, convID)
	if err != nil {
		return err
	}
	v, err := s.store.Visitor(ctx, c.VisitorID)
	if err != nil {
		return err
	}
	if v.Email == "" {
		return userErr(ErrInvalid, "no email address to send the transcript to")
	}
	if v.MailBounces() {
		return userErr(ErrInvalid, "mail to %s bounces; ask the visitor for another address", v.Email)
	}
	if s.cfg.Notifier == nil {
		return userErr(ErrInvalid, "email is not configured")
	}
	all, err := s.store.Messages(ctx, MessageQuery{ConversationID: convID})
	if err != nil {
		return err
	}
	visible := all[:0]
	for _, m := range all {
		if m.Kind.VisibleToVisitor() {
			visible = append(visible, m)
		}
	}
	n := Notification{ID: uuid.NewString(), Kind: Transcript, Conversation: c, Visitor: v, Messages: visible, ReplyToken: s.ReplyToken(c.ID)}
	if c.OperatorID != "" {
		n.Operator, _ = s.operator(ctx, c.OperatorID)
	}
	s.notify(n)
	return nil
}

func (ss *session) onTranscript(ctx context.Context, f protocol.ClientFrame) error {
	c, err := ss.conversationFor(ctx, f.Conv)
	if err != nil {
		return err
	}
	if ss.visitor != nil && f.Email != "" {
		if !ValidEmail(f.Email) {
			return userErr(ErrInvalid, "email is not a valid address")
		}
		v, err := ss.s.store.Visitor(ctx, ss.visitor.ID)
		if err != nil {
			return err
		}
		v.Email = f.Email
		if err := ss.s.store.UpdateVisitor(ctx, v); err != nil {
			return err
		}
		ss.visitor = v
	}
	if ss.visitor != nil {
		if err := ss.s.allowVisitorMail(ctx, ss.visitor.ID); err != nil {
			return err
		}
	}
	if err := ss.s.SendTranscript(ctx, c.ID); err != nil {
		return err
	}
	return ss.ackIfAsked(f)
}
