package chat

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/shopchat/chat/protocol"
)

func (ss *session) onClose(ctx context.Context, f protocol.ClientFrame) error {
	s := ss.s
	var c *Conversation
	var err error
	if ss.visitor != nil {
		c, err = ss.conversationFor(ctx, f.Conv)
	} else {
		c, err = ss.assigned(ctx, f.Conv)
	}
	if err != nil {
		return err
	}
	if !c.Open() {
		return userErr(ErrConflict, "conversation is already closed")
	}
	who := "The visitor"
	if ss.op != nil {
		who = ss.op.Name
	}
	mail := func() bool { return ss.visitor == nil || s.allowVisitorMail(ctx, ss.visitor.ID) == nil }
	if _, err := s.closeConversation(ctx, c.ID, who, mail); err != nil {
		return err
	}
	return ss.ackIfAsked(f)
}

// closeConversation closes conversation id on behalf of who (a name, or
// "The visitor"), mails the transcript if Config.TranscriptOnClose and
// mail() allows, and routes the capacity it frees.
func (s *Server) closeConversation(ctx context.Context, id, who string, mail func() bool) (*Conversation, error) {
	// The event goes in before the close: nothing is appended after it.
	if _, err := s.systemMessage(ctx, id, who+" closed the conversation"); err != nil && !errors.Is(err, ErrConflict) {
		return nil, err
	}
	c, err := s.store.CloseConversation(ctx, id, s.now())
	if err != nil {
		return nil, err
	}
	s.publishState(c)
	s.notifyAbout(ConversationClosed, c)
	if s.cfg.TranscriptOnClose && mail() {
		if err := s.SendTranscript(ctx, c.ID); err != nil && !errors.Is(err, ErrInvalid) {
			s.logErr("transcript on close", err, "conversation", c.ID)
		}
	}
	s.dispatch(ctx) // capacity freed, or the queue shrank
	s.publishOperators(ctx)
	return c, nil
}

func (ss *session) onAccept(ctx context.Context, f protocol.ClientFrame) error {
	s := ss.s
	c, err := ss.conversationFor(ctx, f.Conv)
	if err != nil {
		return err
	}
	if c.Status != Queued {
		return userErr(ErrConflict, "conversation is not waiting in the queue")
	}
	// A conversation waiting for a reply takes no live slot, and an
	// operator may choose to take a live one beyond capacity (Force).
	live := c.Live(s.now())
	capacity := s.capacity(ss.op)
	if !live || f.Force {
		capacity = 0
	}
	s.dispatchMu.Lock()
	c, err = s.store.Assign(ctx, c.ID, "", ss.op.ID, capacity, s.now())
	if err == nil && live {
		s.noteDequeue()
	}
	s.dispatchMu.Unlock()
	if err != nil {
		if errors.Is(err, ErrCapacity) {
			return userErr(ErrCapacity, "you have %d live chats, your capacity; accept again to take this one as well", s.capacity(ss.op))
		}
		if errors.Is(err, ErrConflict) {
			return userErr(ErrConflict, "another operator took it")
		}
		return err
	}
	if err := s.announceAssigned(ctx, c, ""); err != nil {
		return err
	}
	ss.ackIfAsked(f)
	s.publishQueue(ctx)
	return nil
}

func (ss *session) onTransfer(ctx context.Context, f protocol.ClientFrame) error {
	s := ss.s
	c, err := ss.assigned(ctx, f.Conv)
	if err != nil {
		return err
	}
	if len(f.Comment) > s.cfg.MaxMessageLength || !utf8.ValidString(f.Comment) {
		return userErr(ErrInvalid, "comment is too long or not UTF-8")
	}
	switch {
	case f.Operator != "":
		if f.Operator == ss.op.ID {
			return userErr(ErrInvalid, "conversation is already yours")
		}
		target, err := s.operator(ctx, f.Operator)
		if err != nil {
			return err
		}
		connected, err := s.operatorConnected(ctx, target.ID)
		if err != nil {
			return err
		}
		if !connected {
			return userErr(ErrConflict, "%s is offline", target.Name)
		}
		if f.Comment != "" {
			if err := ss.transferNote(ctx, c.ID, f.Comment); err != nil {
				return err
			}
		}
		c, err = s.store.Assign(ctx, c.ID, ss.op.ID, target.ID, s.capacity(target), s.now())
		if err != nil {
			if errors.Is(err, ErrCapacity) {
				return userErr(ErrCapacity, "%s is at capacity", target.Name)
			}
			return err
		}
		if err := s.announceAssigned(ctx, c, ss.op.ID); err != nil {
			return err
		}
	case f.Department != "":
		if f.Comment != "" {
			if err := ss.transferNote(ctx, c.ID, f.Comment); err != nil {
				return err
			}
		}
		c, err = s.store.Requeue(ctx, c.ID, ss.op.ID, f.Department, s.now())
		if err != nil {
			return err
		}
		if _, err := s.systemMessage(ctx, c.ID, fmt.Sprintf("%s transferred the conversation to %s", ss.op.Name, f.Department)); err != nil {
			return err
		}
		if c, err = s.store.Conversation(ctx, c.ID); err != nil {
			return err
		}
		s.publishState(c, ss.op.ID)
		s.dispatch(ctx)
	default:
		return userErr(ErrInvalid, "transfer needs operator or department")
	}
	ss.ackIfAsked(f)
	s.publishOperators(ctx)
	return nil
}

func (ss *session) transferNote(ctx context.Context, convID, comment string) error {
	_, err := ss.s.append(ctx, &Message{ConversationID: convID, Kind: Note, AuthorID: ss.op.ID, AuthorName: ss.op.Name, Text: comment})
	return err
}

func (ss *session) onReopen(ctx context.Context, f protocol.ClientFrame) error {
	s := ss.s
	c, err := ss.conversationFor(ctx, f.Conv)
	if err != nil {
		return err
	}
	c, err = s.store.ReopenConversation(ctx, c.ID, s.now())
	if err != nil {
		if errors.Is(err, ErrConflict) {
			return userErr(ErrConflict, "conversation is open, or its visitor has started another")
		}
		return err
	}
	capacity := s.capacity(ss.op)
	if !c.Live(s.now()) {
		capacity = 0 // its visitor is away: no live slot taken
	}
	s.dispatchMu.Lock()
	assigned, aerr := s.store.Assign(ctx, c.ID, "", ss.op.ID, capacity, s.now())
	s.dispatchMu.Unlock()
	if aerr == nil {
		c = assigned
		if err := s.announceAssigned(ctx, c, ""); err != nil {
			return err
		}
	} else {
		s.publishState(c)
		s.dispatch(ctx)
	}
	ss.ackIfAsked(f)
	s.publishQueue(ctx)
	return nil
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
	s.publishOperators(ctx)
	return nil
}
