package chat

import (
	"context"
	"errors"
	"fmt"

	"github.com/shopchat/chat/protocol"
)

func (ss *session) onClose(ctx context.Context, f protocol.ClientFrame) error {
	var c *Conversation
	var err error
	who, visitorID := "The visitor", ""
	if ss.visitor != nil {
		c, err = ss.conversationFor(ctx, f.Conv)
		visitorID = ss.visitor.ID
	} else {
		c, err = ss.assigned(ctx, f.Conv)
		who = ss.op.Name
	}
	if err != nil {
		return err
	}
	if err := ss.s.closeConversation(ctx, c, who, visitorID); err != nil {
		return err
	}
	return ss.ackIfAsked(f)
}

func (ss *session) onAccept(ctx context.Context, f protocol.ClientFrame) error {
	c, err := ss.conversationFor(ctx, f.Conv)
	if err != nil {
		return err
	}
	if err := ss.s.accept(ctx, c, ss.op, f.Force); err != nil {
		return err
	}
	return ss.ackIfAsked(f)
}

func (ss *session) onTransfer(ctx context.Context, f protocol.ClientFrame) error {
	c, err := ss.assigned(ctx, f.Conv)
	if err != nil {
		return err
	}
	if err := ss.s.transfer(ctx, c, ss.op, f.Operator, f.Department, f.Comment); err != nil {
		return err
	}
	return ss.ackIfAsked(f)
}

func (ss *session) onReopen(ctx context.Context, f protocol.ClientFrame) error {
	c, err := ss.conversationFor(ctx, f.Conv)
	if err != nil {
		return err
	}
	if err := ss.s.reopen(ctx, c, ss.op); err != nil {
		return err
	}
	return ss.ackIfAsked(f)
}

// announced announces new assignment c (announceAssigned, logging a
// failure) and returns c as stored after it.
func (s *Server) announced(ctx context.Context, c *Conversation) *Conversation {
	if err := s.announceAssigned(ctx, c, ""); err != nil {
		s.logErr("announce assignment", err, "conversation", c.ID)
	}
	if c2, err := s.store.Conversation(ctx, c.ID); err == nil {
		return c2
	}
	return c
}

// announceAssigned records and publishes that c went to its operator (from
// previous, "" when it came from the queue).
func (s *Server) announceAssigned(ctx context.Context, c *Conversation, previous string) error {
	op, err := s.operator(ctx, c.OperatorID)
	if err != nil {
		return err
	}
	text := op.Name + " joined the conversation"
	if previous != "" {
		if prev, err := s.operator(ctx, previous); err == nil {
			text = fmt.Sprintf("%s transferred the conversation to %s", prev.Name, op.Name)
		}
	}
	if c2, err := s.systemMessage(ctx, c.ID, text); err == nil {
		c = c2
	} else if !errors.Is(err, ErrConflict) {
		return err
	}
	s.publishState(c, previous)
	s.notifyAbout(ConversationAssigned, c)
	s.emitAssigned(c, previous)
	s.publishOperators(ctx)
	return nil
}
