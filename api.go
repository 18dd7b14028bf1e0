package chat

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/shopchat/chat/protocol"
)

// The Server API: the shop's own Go code reads and acts on conversations
// in-process. Every call goes through the same code as the console's
// action, so what it does is stored, sequenced, delivered live to the
// visitor's and operators' sockets on every node, notified and emitted as
// an Event. Where an operator acts, the console's rules hold (only the
// assignee posts, transfers or closes); calls that name no operator act
// for the shop itself (a system line, a bot). Errors wrap the package's
// sentinels: ErrInvalid, ErrNotFound, ErrForbidden, ErrConflict,
// ErrCapacity.

// maxAPIList caps a Conversations page.
const maxAPIList = 500

// Conversations lists conversations matching f, newest first (the Store's
// order); f.Limit 0 means 50, at most 500. Page on with f.Before set to the
// last one's CreatedAt.
func (s *Server) Conversations(ctx context.Context, f ConversationFilter) ([]*Conversation, error) {
	if f.Limit < 0 {
		return nil, invalidf("limit %d is negative", f.Limit)
	}
	for _, st := range f.Status {
		if st != Queued && st != Assigned && st != Closed {
			return nil, invalidf("status %q is not one of queued, assigned, closed", st)
		}
	}
	if f.Limit == 0 {
		f.Limit = 50
	}
	f.Limit = min(f.Limit, maxAPIList)
	cs, err := s.store.Conversations(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("chat: conversations: %w", err)
	}
	return cs, nil
}

// Conversation returns conversation id. ErrNotFound if unknown.
func (s *Server) Conversation(ctx context.Context, id string) (*Conversation, error) {
	return s.conversation(ctx, id)
}

// MessagePage is a page of a conversation's messages, oldest first.
type MessagePage struct {
	Messages []*Message
	// More reports that more messages lie beyond the page in the direction
	// read: older ones (read on with BeforeSeq = Messages[0].Seq) when
	// paging backwards, newer ones (AfterSeq = the last Seq) when reading
	// forwards.
	More bool
}

// Messages returns a page of conversation q.ConversationID's messages, in
// ascending Seq order, internal notes included: with q.BeforeSeq the
// newest q.Limit before it (paging backwards, as the console does),
// otherwise the oldest q.Limit after q.AfterSeq (reading forwards). Limit 0
// means 50, at most 200. ErrNotFound for an unknown conversation.
func (s *Server) Messages(ctx context.Context, q MessageQuery) (MessagePage, error) {
	if q.Limit < 0 || q.AfterSeq < 0 || q.BeforeSeq < 0 {
		return MessagePage{}, invalidf("limit, after and before must not be negative")
	}
	if _, err := s.conversation(ctx, q.ConversationID); err != nil {
		return MessagePage{}, err
	}
	limit := q.Limit
	if limit == 0 {
		limit = 50
	}
	limit = min(limit, 200)
	q.Limit = limit + 1 // one more says whether there is more
	ms, err := s.store.Messages(ctx, q)
	if err != nil {
		return MessagePage{}, fmt.Errorf("chat: messages: %w", err)
	}
	var p MessagePage
	if len(ms) > limit {
		p.More = true
		if q.BeforeSeq > 0 {
			ms = ms[1:]
		} else {
			ms = ms[:limit]
		}
	}
	p.Messages = ms
	return p, nil
}

// Author says who posts a message through PostMessage: exactly one of
// its fields is set.
type Author struct {
	// Operator posts as that operator, who must be the conversation's
	// assignee (as in the console).
	Operator string
	// Bot posts as the named bot (Message.Kind BotText, AuthorName the
	// name, AuthorID "bot:" + name), into any open conversation.
	Bot string
	// System posts a system line ("Your order has shipped"), which visitors
	// and operators see as from neither side.
	System bool
}

// Post is a message the shop's code posts with PostMessage.
type Post struct {
	Conversation string
	As           Author
	Text         string
	// ClientID, if set, makes the post idempotent: posting again with the
	// same ClientID returns the stored message and delivers nothing twice.
	// At most 64 bytes.
	ClientID string
	// Silent keeps an operator's message out of missed-reply mail.
	Silent bool
}

// PostMessage posts p and returns the stored message (with its Seq). The
// visitor and the operators see it live on every node. ErrInvalid for
// empty or over-long text or not exactly one author; ErrForbidden when the
// operator is not the assignee; ErrConflict when the conversation is
// closed; ErrNotFound when it or the operator is unknown.
func (s *Server) PostMessage(ctx context.Context, p Post) (*Message, error) {
	if err := s.checkPost(p.ClientID, p.Text); err != nil {
		return nil, err
	}
	m := &Message{ConversationID: p.Conversation, ClientID: p.ClientID, Text: p.Text, CreatedAt: s.now()}
	a := p.As
	switch {
	case a.Operator != "" && a.Bot == "" && !a.System:
		op, err := s.operator(ctx, a.Operator)
		if err != nil {
			return nil, err
		}
		m.Kind, m.AuthorID, m.AuthorName = OperatorText, op.ID, op.Name
		res, err := s.appendAssigned(ctx, m, op.ID)
		if err != nil {
			return nil, err
		}
		if !res.Duplicate && !p.Silent {
			s.scheduleMissedReply(res.Conversation, res.Message)
		}
		s.published(res)
		return res.Message, nil
	case a.Bot != "" && a.Operator == "" && !a.System:
		if len(a.Bot) > 64 || !validText(a.Bot) || strings.TrimSpace(a.Bot) != a.Bot {
			return nil, invalidf("bot name must be 1-64 bytes of text without surrounding spaces")
		}
		m.Kind, m.AuthorID, m.AuthorName = BotText, "bot:"+a.Bot, a.Bot
	case a.System && a.Operator == "" && a.Bot == "":
		m.Kind = SystemEvent
	default:
		return nil, invalidf("a post needs exactly one author: Operator, Bot or System")
	}
	return s.postAs(ctx, m)
}

// AddNote adds an internal note by operatorID (any operator, as in the
// console) to conversation convID; visitors never see it.
func (s *Server) AddNote(ctx context.Context, convID, operatorID, text string) (*Message, error) {
	if err := s.checkPost("", text); err != nil {
		return nil, err
	}
	op, err := s.operator(ctx, operatorID)
	if err != nil {
		return nil, err
	}
	return s.postAs(ctx, &Message{ConversationID: convID, Kind: Note, AuthorID: op.ID, AuthorName: op.Name, Text: text, CreatedAt: s.now()})
}

// postAs stores and publishes a message the shop's code wrote.
func (s *Server) postAs(ctx context.Context, m *Message) (*Message, error) {
	if _, err := s.conversation(ctx, m.ConversationID); err != nil {
		return nil, err
	}
	res, err := s.store.AppendMessage(ctx, m)
	if errors.Is(err, ErrConflict) {
		return nil, userErr(ErrConflict, "conversation is closed")
	}
	if err != nil {
		return nil, err
	}
	s.published(res)
	return res.Message, nil
}

// checkPost applies the console's rules for a message's text and id.
func (s *Server) checkPost(clientID, text string) error {
	f := protocol.ClientFrame{ID: clientID, Text: text}
	if f.ID == "" {
		f.ID = "-" // optional here
	}
	return s.checkText(f)
}

// Assign gives queued conversation convID to operatorID, as the operator's
// accept in the console does: within their capacity for a live
// conversation, unless force. ErrConflict if it is not queued (use
// Transfer for an assigned one) or the operator is offline; ErrCapacity if
// the operator is full.
func (s *Server) Assign(ctx context.Context, convID, operatorID string, force bool) error {
	c, err := s.conversation(ctx, convID)
	if err != nil {
		return err
	}
	op, err := s.operator(ctx, operatorID)
	if err != nil {
		return err
	}
	// In the console the operator who accepts is there; here they must be
	// too, or the visitor would wait for someone who is not.
	if connected, err := s.operatorConnected(ctx, op.ID); err != nil {
		return err
	} else if !connected {
		return userErr(ErrConflict, "%s is offline", op.Name)
	}
	return s.accept(ctx, c, op, force)
}

// Transfer hands an assigned conversation to another operator (connected,
// with room) or to a department's queue, as the console's transfer does.
type Transfer struct {
	Conversation string
	// By is the operator who transfers: the assignee, or ErrForbidden. ""
	// means the shop itself, on the assignee's behalf.
	By string
	// To is the operator who takes it; or else Department, whose queue it
	// joins.
	To, Department string
	// Comment is an internal note for the next operator.
	Comment string
}

// Transfer carries out t.
func (s *Server) Transfer(ctx context.Context, t Transfer) error {
	c, err := s.conversation(ctx, t.Conversation)
	if err != nil {
		return err
	}
	by := t.By
	if by == "" {
		if c.Status != Assigned {
			return userErr(ErrConflict, "conversation is not assigned")
		}
		by = c.OperatorID
	} else if c.Status != Assigned || c.OperatorID != by {
		return errNotAssigned
	}
	from, err := s.operator(ctx, by)
	if err != nil {
		return err
	}
	if len(t.Department) > 64 || !validText(t.Department) {
		return invalidf("department is longer than 64 bytes or not text")
	}
	return s.transfer(ctx, c, from, t.To, t.Department, t.Comment)
}

// CloseConversation closes conversation convID. byOperator, if set, must be its
// assignee (as in the console) and is named in the system line; ""
// closes it for the shop. ErrConflict if it is already closed.
func (s *Server) CloseConversation(ctx context.Context, convID, byOperator string) error {
	who := "The team"
	var c *Conversation
	var err error
	if byOperator != "" {
		c, err = s.assignedTo(ctx, convID, byOperator)
		if err == nil {
			var op *Operator
			if op, err = s.operator(ctx, byOperator); err == nil {
				who = op.Name
			}
		}
	} else {
		c, err = s.conversation(ctx, convID)
	}
	if err != nil {
		return err
	}
	return s.closeConversation(ctx, c, who, "")
}

// ReopenConversation reopens closed conversation convID: assigned to toOperator when
// given and they have room (as when an operator reopens it in the
// console), otherwise into the queue. ErrConflict if it is open or its
// visitor has started another.
func (s *Server) ReopenConversation(ctx context.Context, convID, toOperator string) error {
	c, err := s.conversation(ctx, convID)
	if err != nil {
		return err
	}
	var op *Operator
	if toOperator != "" {
		if op, err = s.operator(ctx, toOperator); err != nil {
			return err
		}
	}
	return s.reopen(ctx, c, op)
}
