package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/shopchat/chat/protocol"
)

const maxClientID = 64

// hello answers a client's hello: welcome, replay, synced. It queues the
// replay before subscribing and holds the writer until subscribed, so no
// live event is missed and none overtakes the replay (the writer drops what
// it already delivered).
func (ss *session) hello(ctx context.Context, f protocol.ClientFrame) error {
	s := ss.s
	welcome := &protocol.ServerFrame{V: protocol.Version, Type: protocol.TypeWelcome, Role: ss.role}
	resume := make(map[string]protocol.ResumePoint, len(f.Resume))
	for _, p := range f.Resume {
		resume[p.Conv] = p
	}
	recovered := true
	var queueFrame *protocol.ServerFrame // operators: the queue, right after welcome
	var convs []*Conversation            // conversations to replay
	if ss.visitor != nil {
		v := ss.visitor
		ss.lang = language(f.Lang)
		welcome.Me = &protocol.Person{ID: v.ID, Name: v.Name}
		list, err := s.store.Conversations(ctx, ConversationFilter{VisitorID: v.ID, Limit: 20})
		if err != nil {
			return err
		}
		for _, c := range list {
			if c.Open() {
				s.visitorBack(ctx, c) // before its state goes out: routed, maybe assigned
				if fresh, err := s.store.Conversation(ctx, c.ID); err == nil {
					c = fresh
				}
			}
			welcome.Conversations = append(welcome.Conversations, *s.conversationFrame(c, ss.role))
			if _, ok := resume[c.ID]; ok || c.Open() {
				convs = append(convs, c)
			}
		}
		ss.topics = []string{visitorTopic(v.ID), allVisitorsTopic}
		if welcome.Available, err = s.available(ctx); err != nil {
			return err
		}
	} else {
		op := ss.op
		welcome.Me = &protocol.Person{ID: op.ID, Name: op.Name, Avatar: op.AvatarURL}
		welcome.Brand = s.cfg.Widget.BrandColor
		list, err := s.store.Conversations(ctx, ConversationFilter{OperatorID: op.ID, Status: []Status{Assigned}, Limit: 500})
		if err != nil {
			return err
		}
		for _, c := range list {
			welcome.Conversations = append(welcome.Conversations, *s.conversationFrame(c, ss.role))
			convs = append(convs, c)
		}
		queue, err := s.queueFrames(ctx)
		if err != nil {
			return err
		}
		welcome.Operators, err = s.operatorFrames(ctx)
		if err != nil {
			return err
		}
		queueFrame = &protocol.ServerFrame{Type: protocol.TypeQueue, Conversations: queue}
		ss.topics = []string{operatorTopic(op.ID), teamTopic}
		if welcome.Canned, err = s.cannedFrames(ctx, op.ID); err != nil {
			return err
		}
	}
	// Which resume points can continue where they left off?
	replayFrom := make(map[string]int64, len(convs))
	for _, c := range convs {
		replayFrom[c.ID] = 0
	}
	listed := make(map[string]bool, len(welcome.Conversations))
	for _, c := range welcome.Conversations {
		listed[c.ID] = true
	}
	for id, p := range resume {
		c, err := s.store.Conversation(ctx, id)
		if err != nil || !ss.mayRead(c) {
			recovered = false // gone or never ours: nothing to resume
			continue
		}
		if !listed[id] { // the client needs its epoch and state too
			welcome.Conversations = append(welcome.Conversations, *s.conversationFrame(c, ss.role))
		}
		if c.Epoch != p.Epoch {
			recovered = false // history may differ: the client reloads it
			replayFrom[id] = 0
			continue
		}
		replayFrom[id] = p.Seq
	}
	welcome.Recovered = recovered

	evs := []event{{kind: evFrame, frame: welcome}}
	if queueFrame != nil {
		evs = append(evs, event{kind: evFrame, frame: queueFrame})
	}
	for id, after := range replayFrom {
		evs = append(evs, event{kind: evReplay, convID: id, after: after})
	}
	ss.mu.Lock()
	ss.held = true
	ss.mu.Unlock()
	ss.push(evs...)
	s.hub.subscribe(ss, ss.topics...)
	ss.unhold()
	if ss.op != nil {
		// Presence is stored (and the queue dispatched) before synced, so a
		// synced operator is assignable.
		p := Online
		if f.Status == string(Away) {
			p = Away
		}
		if err := s.operatorJoined(ctx, ss.op, p); err != nil {
			return err
		}
	}
	ss.push(event{kind: evFrame, frame: &protocol.ServerFrame{Type: protocol.TypeSynced, Recovered: recovered}})
	return nil
}

// mayRead reports whether the session may read conversation c: a visitor
// their own, an operator any (the team shares its history).
func (ss *session) mayRead(c *Conversation) bool {
	return ss.visitor == nil || c.VisitorID == ss.visitor.ID
}

// conversationFor loads conversation id for the session, hiding other
// visitors' conversations behind ErrNotFound.
func (ss *session) conversationFor(ctx context.Context, id string) (*Conversation, error) {
	if id == "" {
		return nil, userErr(ErrInvalid, "conv is required")
	}
	c, err := ss.s.store.Conversation(ctx, id)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, userErr(ErrNotFound, "conversation not found")
		}
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
	c, err := ss.conversationFor(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.Status != Assigned || c.OperatorID != ss.op.ID {
		return nil, errNotAssigned
	}
	return c, nil
}

// handle dispatches one frame after hello.
func (ss *session) handle(ctx context.Context, f protocol.ClientFrame) error {
	switch f.Type {
	case protocol.TypeMessage:
		return ss.onMessage(ctx, f)
	case protocol.TypeTyping:
		return ss.onTyping(ctx, f)
	case protocol.TypeRead:
		return ss.onRead(ctx, f)
	case protocol.TypeHistory:
		return ss.onHistory(ctx, f)
	case protocol.TypeClose:
		return ss.onClose(ctx, f)
	case protocol.TypeSearch:
		return ss.onSearch(ctx, f)
	case protocol.TypeProfile:
		return ss.onProfile(ctx, f)
	case protocol.TypeTranscript:
		return ss.onTranscript(ctx, f)
	case protocol.TypeMail:
		return ss.onMail(ctx, f)
	case protocol.TypePage:
		return ss.onPage(ctx, f)
	case protocol.TypeRate:
		return ss.onRate(ctx, f)
	case protocol.TypeInvite: // visitors dismiss with it
		return ss.onInvite(ctx, f)
	}
	if ss.op == nil {
		return userErr(ErrForbidden, "%s is for operators", f.Type)
	}
	switch f.Type {
	case protocol.TypeNote:
		return ss.onNote(ctx, f)
	case protocol.TypeAccept:
		return ss.onAccept(ctx, f)
	case protocol.TypeTransfer:
		return ss.onTransfer(ctx, f)
	case protocol.TypeReopen:
		return ss.onReopen(ctx, f)
	case protocol.TypePresence:
		return ss.onPresence(ctx, f)
	case protocol.TypeVisitor:
		return ss.onVisitorDetails(ctx, f)
	case protocol.TypeCanned:
		return ss.onCanned(ctx, f)
	case protocol.TypeTriggers:
		return ss.onTriggers(ctx, f)
	case protocol.TypeVisitors:
		return ss.onVisitors(ctx, f)
	case protocol.TypeAnswers:
		return ss.onAnswers(ctx, f)
	}
	return userErr(ErrInvalid, "%s is not allowed here", f.Type)
}

func (s *Server) checkText(f protocol.ClientFrame) error {
	switch {
	case f.ID == "":
		return userErr(ErrInvalid, "id (the client message id) is required")
	case len(f.ID) > maxClientID:
		return userErr(ErrInvalid, "id is longer than %d bytes", maxClientID)
	case strings.TrimSpace(f.Text) == "":
		return userErr(ErrInvalid, "text is empty")
	case len(f.Text) > s.cfg.MaxMessageLength:
		return userErr(ErrInvalid, "text is longer than %d bytes", s.cfg.MaxMessageLength)
	case !utf8.ValidString(f.Text):
		return userErr(ErrInvalid, "text is not valid UTF-8")
	}
	return nil
}

func (ss *session) onMessage(ctx context.Context, f protocol.ClientFrame) error {
	s := ss.s
	if err := s.checkText(f); err != nil {
		return err
	}
	m := &Message{ClientID: f.ID, Text: f.Text, CreatedAt: s.now()}
	if ss.visitor != nil {
		m.Kind, m.AuthorID, m.AuthorName = VisitorText, ss.visitor.ID, ss.visitor.Name
		if len(f.Department) > 64 || !validText(f.Department) {
			return userErr(ErrInvalid, "department is too long")
		}
		return ss.appendVisitorMessage(ctx, m, f.Conv, f.Department)
	}
	m.ConversationID = f.Conv
	m.Kind, m.AuthorID, m.AuthorName = OperatorText, ss.op.ID, ss.op.Name
	res, err := ss.appendAssigned(ctx, m)
	if err != nil {
		return err
	}
	// Scheduled before the ack, so that an acked message is one the
	// missed-reply check knows of (a check right after the ack sees it).
	if !res.Duplicate && !f.Silent { // a silent message is never mailed
		s.scheduleMissedReply(res.Conversation, res.Message)
	}
	ss.acked(m, res)
	return nil
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
			ss.lastConv = res.Conversation.ID
			if !res.Duplicate {
				s.afterVisitorMessage(ctx, res.Conversation, res.Message, false)
				s.bot.hear(res.Conversation, res.Message)
			}
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
		if err == nil {
			ss.lastConv = res.Conversation.ID
			if !res.Duplicate {
				s.afterVisitorMessage(ctx, res.Conversation, res.Message, created)
				s.bot.hear(res.Conversation, res.Message)
			}
		}
		if err == nil && created {
			s.dispatch(ctx)
		}
		return err
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
	now := s.now()
	// The visitor is writing from the site: the conversation starts live.
	c = &Conversation{ID: uuid.NewString(), VisitorID: v.ID, Status: Queued, Department: department, Language: lang, CreatedAt: now, QueuedAt: now, LiveUntil: s.liveUntil()}
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
	c = s.acceptInvitation(ctx, c)
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
	res, err := ss.s.store.AppendMessage(ctx, m)
	ss.s.observeSince("store_append_seconds", start)
	if err != nil {
		return res, err
	}
	ss.acked(m, res)
	return res, nil
}

// appendAssigned stores the operator's message m if its conversation is
// assigned to them: checked inside the store's append where the store can
// (one write instead of a read plus a write), else by reading first.
func (ss *session) appendAssigned(ctx context.Context, m *Message) (Appended, error) {
	aa, ok := ss.s.store.(AssignedAppender) // never through Unwrap: see StoreAs
	if !ok {
		if _, err := ss.assigned(ctx, m.ConversationID); err != nil {
			return Appended{}, err
		}
		start := time.Now()
		defer ss.s.observeSince("store_append_seconds", start)
		return ss.s.store.AppendMessage(ctx, m)
	}
	if m.ConversationID == "" {
		return Appended{}, userErr(ErrInvalid, "conv is required")
	}
	start := time.Now()
	res, err := aa.AppendAssigned(ctx, m, ss.op.ID)
	ss.s.observeSince("store_append_seconds", start)
	switch {
	case errors.Is(err, ErrNotFound):
		return res, userErr(ErrNotFound, "conversation not found")
	case errors.Is(err, ErrConflict):
		return res, errNotAssigned
	}
	return res, err
}

// acked acks the stored message res to this session and publishes it.
func (ss *session) acked(m *Message, res Appended) {
	s := ss.s
	ack := &protocol.ServerFrame{Type: protocol.TypeAck, ID: m.ClientID, Conv: res.Message.ConversationID, Seq: res.Message.Seq, Message: s.messageFrame(res.Message)}
	ss.push(event{kind: evAck, msg: res.Message, frame: ack})
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
	res, err := s.store.AppendMessage(ctx, m)
	if err != nil {
		return nil, err
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
