package chat

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/shopchat/chat/protocol"
)

func (s *Server) checkText(f protocol.ClientFrame) error {
	switch {
	case f.ID == "":
		return userErr(ErrInvalid, "id (the client message id) is required")
	case len(f.ID) > maxClientID:
		return userErr(ErrInvalid, "id is longer than %d bytes", maxClientID)
	case strings.TrimSpace(f.Text) == "" && len(f.Attachments) == 0:
		return userErr(ErrInvalid, "text is empty")
	case len(f.Text) > s.cfg.MaxMessageLength:
		return userErr(ErrInvalid, "text is longer than %d bytes", s.cfg.MaxMessageLength)
	case !utf8.ValidString(f.Text):
		return userErr(ErrInvalid, "text is not valid UTF-8")
	}
	return nil
}

// onMessage checks a message frame and queues it for the appender
// (pipeline.go), which stores and answers it in frame order.
func (ss *session) onMessage(ctx context.Context, f protocol.ClientFrame) error {
	m, err := ss.newMessage(ctx, f)
	return ss.queueMessage(ctx, pendingMessage{f: f, m: m, err: err})
}

// newMessage is the message of frame f, before it is stored.
func (ss *session) newMessage(ctx context.Context, f protocol.ClientFrame) (*Message, error) {
	s := ss.s
	if err := s.checkText(f); err != nil {
		return nil, err
	}
	m := &Message{ClientID: f.ID, Text: f.Text, CreatedAt: s.now()}
	var err error
	if m.Attachments, err = s.attachmentsOf(ctx, ss.authorID(), f.Attachments); err != nil {
		return nil, err
	}
	if ss.visitor != nil {
		m.Kind, m.AuthorID, m.AuthorName = VisitorText, ss.visitor.ID, ss.visitor.Name
		if len(f.Department) > 64 || !validText(f.Department) {
			return nil, userErr(ErrInvalid, "department is too long")
		}
		return m, nil
	}
	m.Kind, m.AuthorID, m.AuthorName = OperatorText, ss.op.ID, ss.op.Name
	return m, nil
}

// operatorAppended answers and publishes the operator's stored message m
// (frame f).
func (ss *session) operatorAppended(f protocol.ClientFrame, m *Message, res Appended) {
	// Scheduled before the ack, so that an acked message is one the
	// missed-reply check knows of (a check right after the ack sees it).
	if !res.Duplicate && !f.Silent { // a silent message is never mailed
		ss.s.scheduleMissedReply(res.Conversation, res.Message)
	}
	ss.acked(m, res)
}

// visitorAppended follows up a visitor's acked message: the conversation
// it went to is the session's from now on, and a new message (not a
// retry) is told to the notifier and the bot.
func (ss *session) visitorAppended(ctx context.Context, res Appended, opened bool) {
	ss.lastConv = res.Conversation.ID
	if !res.Duplicate {
		ss.s.afterVisitorMessage(ctx, res.Conversation, res.Message, opened)
		ss.s.bot.hear(res.Conversation, res.Message)
	}
}

// appendVisitorMessage posts into the conversation the visitor named (or,
// if none, their open or else latest one). If that conversation is closed,
// the message starts a new one, unless its client id was already stored
// there: then it is a retry and gets the original's ack.
func (ss *session) appendVisitorMessage(ctx context.Context, m *Message, convID, department string) error {
	s := ss.s
	target, err := ss.visitorTarget(ctx, convID)
	if err != nil {
		return err
	}
	if target != nil {
		m.ConversationID = target.ID
		res, err := ss.appendAck(ctx, m)
		if err == nil {
			ss.visitorAppended(ctx, res, false)
		}
		if !errors.Is(err, ErrConflict) {
			return err
		}
		ss.lastConv = ""
	}
	for attempt := 0; attempt < 3; attempt++ { // closed: start a new conversation
		c, created, err := s.openConversation(ctx, ss.visitor, department, ss.lang)
		if err != nil {
			return err
		}
		m.ConversationID = c.ID
		res, err := ss.appendAck(ctx, m)
		if errors.Is(err, ErrConflict) {
			continue // closed again meanwhile
		}
		if err != nil {
			return err
		}
		ss.visitorAppended(ctx, res, created)
		if created {
			s.dispatch(ctx)
		}
		return nil
	}
	return userErr(ErrConflict, "conversation keeps closing; try again")
}

// visitorTarget picks the conversation a visitor's message goes to first:
// the one named, else the open one, else the latest (to recognise a retry
// of a message stored before it closed). Nil if the visitor has none.
func (ss *session) visitorTarget(ctx context.Context, convID string) (*Conversation, error) {
	if convID != "" {
		if convID == ss.lastConv { // ours: checked when first used
			return &Conversation{ID: convID}, nil
		}
		return ss.conversationFor(ctx, convID)
	}
	if ss.lastConv != "" {
		// The conversation this session last wrote to: if it closed
		// meanwhile, the append says so and a new one starts.
		return &Conversation{ID: ss.lastConv}, nil
	}
	c, err := ss.s.store.OpenConversation(ctx, ss.visitor.ID)
	if err == nil || !errors.Is(err, ErrNotFound) {
		return c, err
	}
	latest, err := ss.s.store.Conversations(ctx, ConversationFilter{VisitorID: ss.visitor.ID, Limit: 1})
	if err != nil || len(latest) == 0 {
		return nil, err
	}
	return latest[0], nil
}

// openConversation returns the visitor's open conversation, creating a
// queued one in language lang if there is none.
func (s *Server) openConversation(ctx context.Context, v *Visitor, department, lang string) (*Conversation, bool, error) {
	c, err := s.store.OpenConversation(ctx, v.ID)
	if err == nil {
		return c, false, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return nil, false, err
	}
	invitation, err := s.pendingInvitation(ctx, v.ID)
	if err != nil {
		s.logErr("pending invitation", err, "visitor", v.ID)
	}
	now := s.now()
	// The visitor is writing from the site: the conversation starts live.
	c = &Conversation{ID: uuid.NewString(), VisitorID: v.ID, Status: Queued, Department: department, Language: lang, CreatedAt: now, QueuedAt: now, LiveUntil: s.liveUntil()}
	owner := s.firstOwner(ctx, invitation)
	c.OperatorID = owner
	err = s.store.CreateConversation(ctx, c)
	if errors.Is(err, ErrConflict) { // another tab created it first
		c, err = s.store.OpenConversation(ctx, v.ID)
		return c, false, err
	}
	if err != nil {
		return nil, false, err
	}
	s.add("conversations_total", 1)
	s.publishState(c)
	c = s.acceptInvitation(ctx, c, invitation)
	if owner != "" && !IsBotID(owner) { // the inviter's from the start: announced after the invitation's text
		c = s.announced(ctx, c)
	}
	c = s.bot.take(ctx, c) // bot first, unless an invitation gave it to a person
	return c, true, nil
}

// appendAndAck stores m, acks it to this session and publishes it.
func (ss *session) appendAndAck(ctx context.Context, m *Message) error {
	_, err := ss.appendAck(ctx, m)
	return err
}

func (ss *session) appendAck(ctx context.Context, m *Message) (Appended, error) {
	start := time.Now()
	res, err := ss.s.appendWith(ctx, m, ss.s.store.AppendMessage)
	ss.s.observeSince("store_append_seconds", start)
	if err != nil {
		return res, err
	}
	ss.acked(m, res)
	return res, nil
}

// appendAssigned stores the operator's message m if its conversation is
// assigned to them.
func (ss *session) appendAssigned(ctx context.Context, m *Message) (Appended, error) {
	return ss.s.appendAssigned(ctx, m, ss.op.ID)
}

// acked acks the stored message res to this session and publishes it.
func (ss *session) acked(m *Message, res Appended) {
	s := ss.s
	ack := &protocol.ServerFrame{Type: protocol.TypeAck, ID: m.ClientID, Conv: res.Message.ConversationID, Seq: res.Message.Seq, Message: s.messageFrame(res.Message)}
	ss.push(event{kind: evAck, msg: res.Message, frame: ack})
	s.published(res)
}

// published counts and publishes a newly stored message (not a retry).
func (s *Server) published(res Appended) {
	if !res.Duplicate {
		s.add("messages_total", 1)
		s.publishMessage(res.Conversation, res.Message)
	}
}

// append stores a message the server writes itself and publishes it.
func (s *Server) append(ctx context.Context, m *Message) (*Conversation, error) {
	return s.appendReplies(ctx, m, nil)
}

// appendReplies is append for a bot's message m with the quick replies it
// offers (a bot message without them clears the previous one's).
func (s *Server) appendReplies(ctx context.Context, m *Message, quick []string) (*Conversation, error) {
	m.CreatedAt = s.now()
	res, err := s.appendWith(ctx, m, s.store.AppendMessage)
	if err != nil {
		return nil, err
	}
	if res.Duplicate { // stored and published before (m.ClientID)
		return res.Conversation, nil
	}
	if m.Kind == BotText {
		s.bot.rememberReplies(res.Message.ConversationID, res.Message.Seq, quick)
	}
	s.publishMessage(res.Conversation, res.Message)
	return res.Conversation, nil
}

func (s *Server) systemMessage(ctx context.Context, convID, text string) (*Conversation, error) {
	return s.append(ctx, &Message{ConversationID: convID, Kind: SystemEvent, Text: text})
}

// publishMessage sends a stored message to the conversation's visitor and
// operator sessions; sessions decide what their role may see.
func (s *Server) publishMessage(c *Conversation, m *Message) {
	if m.Seq == 1 { // the conversation's first message, whoever wrote it
		s.notifyAbout(ConversationStarted, c, m)
	}
	s.notifyAbout(MessagePosted, c, m)
	s.emitMessage(c, m)
	ev := event{kind: evMessage, msg: m}
	topics := make([]string, 0, 3)
	topics = append(topics, visitorTopic(c.VisitorID))
	if c.OperatorID != "" {
		topics = append(topics, operatorTopic(c.OperatorID))
	}
	if m.Kind == Note && m.AuthorID != "" && m.AuthorID != c.OperatorID {
		topics = append(topics, operatorTopic(m.AuthorID))
	}
	for _, t := range topics {
		s.hub.publish(t, ev)
	}
	s.bridge.message(m, topics)
}

// publishState tells everyone in conversation c about its new state, and
// the previous operator, if any, that it left them.
func (s *Server) publishState(c *Conversation, previousOperators ...string) {
	s.noteConversation(c)
	ev := event{kind: evState, conv: c}
	topics := []string{visitorTopic(c.VisitorID)}
	if c.OperatorID != "" {
		topics = append(topics, operatorTopic(c.OperatorID))
	}
	for _, op := range previousOperators {
		if op != "" && op != c.OperatorID {
			topics = append(topics, operatorTopic(op))
		}
	}
	for _, t := range topics {
		s.hub.publish(t, ev)
	}
	s.bridge.send(wireEvent{Kind: "state", Conv: c.ID, Topics: topics})
}

// sendFrame fans a small frame out to topic, on every node.
func (s *Server) sendFrame(topic string, f *protocol.ServerFrame) {
	s.hub.publish(topic, event{kind: evFrame, frame: f})
	if s.bridge != nil {
		data, err := json.Marshal(f)
		if err == nil {
			s.bridge.send(wireEvent{Kind: "frame", Topic: topic, Frame: data})
		}
	}
}
