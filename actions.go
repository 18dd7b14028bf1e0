package chat

import (
	"context"
	"errors"
	"unicode/utf8"

	"github.com/shopchat/chat/protocol"
)

// mayRead reports whether the session may read conversation c: a visitor
// their own, an operator any (the team shares its history).
func (ss *session) mayRead(c *Conversation) bool {
	return ss.visitor == nil || c.VisitorID == ss.visitor.ID
}

// conversationFor loads conversation id for the session, hiding other
// visitors' conversations behind ErrNotFound.
func (ss *session) conversationFor(ctx context.Context, id string) (*Conversation, error) {
	c, err := ss.s.conversation(ctx, id)
	if err != nil {
		return nil, err
	}
	if !ss.mayRead(c) {
		return nil, userErr(ErrNotFound, "conversation not found")
	}
	return c, nil
}

// errNotAssigned refuses an operator's action on a conversation that is not
// assigned to them.
var errNotAssigned = userErr(ErrForbidden, "conversation is not assigned to you")

// assigned loads a conversation the operator session must be assigned to.
func (ss *session) assigned(ctx context.Context, id string) (*Conversation, error) {
	return ss.s.assignedTo(ctx, id, ss.op.ID)
}

func (ss *session) onNote(ctx context.Context, f protocol.ClientFrame) error {
	if err := ss.s.checkText(f); err != nil {
		return err
	}
	c, err := ss.conversationFor(ctx, f.Conv)
	if err != nil {
		return err
	}
	m := &Message{ConversationID: c.ID, ClientID: f.ID, Kind: Note, AuthorID: ss.op.ID, AuthorName: ss.op.Name, Text: f.Text, CreatedAt: ss.s.now()}
	return ss.appendAndAck(ctx, m)
}

func (ss *session) onTyping(ctx context.Context, f protocol.ClientFrame) error {
	s := ss.s
	var c *Conversation
	var err error
	if ss.visitor != nil {
		s.noteTyping(ss.visitor.ID, f.Typing) // triggers wait while the visitor types
		if f.Conv != "" {
			c, err = ss.conversationFor(ctx, f.Conv)
		} else {
			c, err = s.store.OpenConversation(ctx, ss.visitor.ID)
			if errors.Is(err, ErrNotFound) {
				return ss.ackIfAsked(f) // nobody to tell yet
			}
		}
		if err != nil {
			return err
		}
		if c.OperatorID != "" && c.Open() {
			frame := &protocol.ServerFrame{Type: protocol.TypeTyping, Conv: c.ID, From: protocol.RoleVisitor, Typing: f.Typing}
			if s.cfg.SneakPeek && f.Typing && f.Draft != "" && len(f.Draft) <= s.cfg.MaxMessageLength && utf8.ValidString(f.Draft) {
				frame.Draft = MaskCardNumbers(f.Draft)
			}
			s.sendFrame(operatorTopic(c.OperatorID), frame)
		}
		return ss.ackIfAsked(f)
	}
	if c, err = ss.assigned(ctx, f.Conv); err != nil {
		return err
	}
	// Operators' drafts are never forwarded: visitors see only that they type.
	frame := &protocol.ServerFrame{Type: protocol.TypeTyping, Conv: c.ID, From: protocol.RoleOperator, Typing: f.Typing}
	s.sendFrame(visitorTopic(c.VisitorID), frame)
	return ss.ackIfAsked(f)
}

func (ss *session) ackIfAsked(f protocol.ClientFrame) error {
	if f.ID != "" {
		ss.push(event{kind: evFrame, frame: &protocol.ServerFrame{Type: protocol.TypeAck, ID: f.ID, Conv: f.Conv}})
	}
	return nil
}

func (ss *session) onRead(ctx context.Context, f protocol.ClientFrame) error {
	c, err := ss.conversationFor(ctx, f.Conv)
	if err != nil {
		return err
	}
	by, from := VisitorText, protocol.RoleVisitor
	if ss.op != nil {
		if c.OperatorID != ss.op.ID {
			return userErr(ErrForbidden, "conversation is not assigned to you")
		}
		by, from = OperatorText, protocol.RoleOperator
	}
	if f.Seq <= 0 || f.Seq > c.LastSeq {
		return userErr(ErrInvalid, "seq %d is not a message of this conversation", f.Seq)
	}
	c, err = ss.s.store.MarkRead(ctx, c.ID, by, f.Seq)
	if err != nil {
		return err
	}
	frame := &protocol.ServerFrame{Type: protocol.TypeRead, Conv: c.ID, From: from, Seq: f.Seq}
	ss.s.sendFrame(visitorTopic(c.VisitorID), frame)
	if c.OperatorID != "" {
		ss.s.sendFrame(operatorTopic(c.OperatorID), frame)
	}
	return ss.ackIfAsked(f)
}

// maxHistoryBytes caps the text of one history page.
const maxHistoryBytes = 256 << 10

func (ss *session) onHistory(ctx context.Context, f protocol.ClientFrame) error {
	c, err := ss.conversationFor(ctx, f.Conv)
	if err != nil {
		return err
	}
	limit := f.Limit
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	before := f.Before
	if before <= 0 {
		before = c.LastSeq + 1
	}
	ms, err := ss.s.store.Messages(ctx, MessageQuery{ConversationID: c.ID, BeforeSeq: before, Limit: limit + 1})
	if err != nil {
		return err
	}
	reply := &protocol.ServerFrame{Type: protocol.TypeHistory, ID: f.ID, Conv: c.ID, Conversation: ss.s.conversationFrame(c, ss.role)}
	if len(ms) > limit {
		reply.More = true
		ms = ms[1:]
	}
	// One page holds at most maxHistoryBytes of text: the newest messages
	// that fit (at least one); the client pages on with before.
	for i, size := len(ms)-1, 0; i >= 0; i-- {
		if size += len(ms[i].Text); size > maxHistoryBytes && i < len(ms)-1 {
			reply.More = true
			ms = ms[i+1:]
			break
		}
	}
	reply.Messages = make([]protocol.Message, 0, len(ms))
	for _, m := range ms {
		if ss.visitor != nil && !m.Kind.VisibleToVisitor() {
			continue
		}
		reply.Messages = append(reply.Messages, *ss.s.messageFrame(m))
	}
	ss.push(event{kind: evFrame, frame: reply})
	return nil
}

func (ss *session) onPresence(ctx context.Context, f protocol.ClientFrame) error {
	p := Presence(f.Status)
	if p != Online && p != Away {
		return userErr(ErrInvalid, "status must be online or away")
	}
	if err := ss.s.setPresence(ctx, ss.op, p); err != nil {
		return err
	}
	return ss.ackIfAsked(f)
}
