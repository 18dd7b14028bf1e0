package chat

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/shopchat/chat/protocol"
)

// BusinessHours are when the team answers chats. Outside them the widget
// shows the offline form even if an operator is online.
type BusinessHours struct {
	// Location is the team's time zone. Default UTC.
	Location *time.Location
	// Open lists the opening spans; a day without one is closed.
	Open []OpenSpan
}

// OpenSpan is a daily span of opening hours, e.g. Monday to Friday
// "09:00"-"17:30". To may be "24:00".
type OpenSpan struct {
	Days     []time.Weekday
	From, To string
}

// IsOpen reports whether t falls within the hours. A nil *BusinessHours is
// always open.
func (h *BusinessHours) IsOpen(t time.Time) bool {
	if h == nil {
		return true
	}
	loc := h.Location
	if loc == nil {
		loc = time.UTC
	}
	t = t.In(loc)
	minute := t.Hour()*60 + t.Minute()
	for _, sp := range h.Open {
		from, _ := parseClock(sp.From)
		to, _ := parseClock(sp.To)
		for _, d := range sp.Days {
			if d == t.Weekday() && minute >= from && minute < to {
				return true
			}
		}
	}
	return false
}

func (h *BusinessHours) validate() error {
	if h == nil {
		return nil
	}
	for _, sp := range h.Open {
		from, err1 := parseClock(sp.From)
		to, err2 := parseClock(sp.To)
		if err := errors.Join(err1, err2); err != nil {
			return fmt.Errorf("chat: BusinessHours: %w", err)
		}
		if from >= to {
			return fmt.Errorf("chat: BusinessHours: span %s-%s is empty", sp.From, sp.To)
		}
		if len(sp.Days) == 0 {
			return fmt.Errorf("chat: BusinessHours: span %s-%s names no days", sp.From, sp.To)
		}
	}
	return nil
}

// parseClock turns "HH:MM" into minutes after midnight; "24:00" is 1440.
func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || len(m) != 2 || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("%q is not a HH:MM time", s)
	}
	return hh*60 + mm, nil
}

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
	s.linkAttachments(n)
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
	ms, err := s.messages(ctx, MessageQuery{ConversationID: convID, AfterSeq: first - 1})
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
	before, err := s.messages(ctx, MessageQuery{ConversationID: convID, BeforeSeq: seq, Limit: 20})
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
	all, err := s.messages(ctx, MessageQuery{ConversationID: convID})
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

// Reply tokens name a conversation in a mail's Reply-To address:
// reply+<token>@domain. A token is 30 bytes in lower-case base32 (48
// characters, so the local part stays within RFC 5321's 64): the
// conversation's UUID, the expiry in hours since 2020, and 80 bits of
// HMAC-SHA256 under Config.Secret. Lower case, because some mail systems
// fold the case of local parts.
var tokenEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

var replyEpoch = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// Reply tokens are signed for whom they are mailed to: a visitor's token
// lets only the visitor's address post; a team token only an operator's.
const (
	visitorTokenLabel = "reply"
	teamTokenLabel    = "team-reply"
)

// ReplyToken returns a signed token naming conversation convID that
// PostReply accepts until Config.ReplyTokenTTL has passed.
func (s *Server) ReplyToken(convID string) string {
	return s.replyToken(visitorTokenLabel, convID, s.cfg.ReplyTokenTTL)
}

// TeamReplyToken returns a signed token naming conversation convID for
// mail to the team: PostReply posts a reply carrying it as the operator
// whose known address (Operator.Email) sent it, until
// Config.ReplyTokenTTL has passed. It is never valid as a visitor's token,
// nor a visitor's as a team token.
func (s *Server) TeamReplyToken(convID string) string {
	return s.replyToken(teamTokenLabel, convID, s.cfg.ReplyTokenTTL)
}

func (s *Server) replyToken(label, convID string, ttl time.Duration) string {
	id, err := uuid.Parse(convID)
	if err != nil {
		return "" // not a conversation this server created
	}
	hours := uint32(s.now().Add(ttl).Sub(replyEpoch) / time.Hour)
	buf := make([]byte, 0, 30)
	buf = append(buf, id[:]...)
	buf = binary.BigEndian.AppendUint32(buf, hours)
	buf = append(buf, s.replyMAC(label, buf)...)
	return strings.ToLower(tokenEncoding.EncodeToString(buf))
}

func (s *Server) replyMAC(label string, payload []byte) []byte {
	h := hmac.New(sha256.New, s.cfg.Secret)
	h.Write([]byte(label + "\x00"))
	h.Write(payload)
	return h.Sum(nil)[:10]
}

// ErrReplyToken is wrapped by PostReply's error for a missing, malformed,
// forged or expired reply token.
var ErrReplyToken = fmt.Errorf("%w: reply token missing, forged or expired", ErrUnauthorized)

// conversationOfToken verifies a reply token signed with label and
// returns its conversation.
func (s *Server) conversationOfToken(label, token string) (string, error) {
	if len(token) != 48 {
		return "", ErrReplyToken
	}
	raw, err := tokenEncoding.DecodeString(strings.ToUpper(token))
	if err != nil || len(raw) != 30 {
		return "", ErrReplyToken
	}
	if !hmac.Equal(raw[20:], s.replyMAC(label, raw[:20])) {
		return "", ErrReplyToken
	}
	expires := replyEpoch.Add(time.Duration(binary.BigEndian.Uint32(raw[16:20])) * time.Hour)
	if s.now().After(expires) {
		return "", ErrReplyToken
	}
	id, _ := uuid.FromBytes(raw[:16])
	return id.String(), nil
}

// InboundReply is a visitor's answer to one of our mails, as parsed by
// notify/email from the raw message.
type InboundReply struct {
	Token     string // from the reply+<token>@ recipient address
	From      string // the sender's address (not the display name)
	MessageID string // the mail's Message-ID: a second delivery posts nothing
	Text      string // the reply, quoted history and signature removed
	// Files are the files the mail carried. With attachments on they are
	// checked and stored as uploads are (refused ones are named in the
	// text); with them off, they are only named.
	Files []InboundFile
}

// InboundFile is a file attached to an inbound mail, as the mail names it.
type InboundFile struct {
	Name string
	Data []byte
}

// PostReply posts an email reply into the conversation its token names.
// With a visitor's token (ReplyToken) it is a visitor message that
// reaches a connected operator live; with a team token (TeamReplyToken)
// it is an operator message from the operator whose known address
// (Operator.Email of a stored operator) sent it, which reaches the
// visitor live, or by mail if they are away. It returns the stored message
// (the original if this Message-ID was posted before). Errors:
// ErrReplyToken (wraps ErrUnauthorized) for a bad token; ErrForbidden if
// From is not the conversation's visitor (or, with a team token, no
// operator's address); ErrInvalid for an empty text; ErrConflict if the
// conversation is closed and its visitor has opened another. Identity is
// never taken from Reply-To or the display name: only the token and the
// sender address.
func (s *Server) PostReply(ctx context.Context, r InboundReply) (*Message, error) {
	convID, err := s.conversationOfToken(visitorTokenLabel, r.Token)
	team := false
	if err != nil {
		if convID, err = s.conversationOfToken(teamTokenLabel, r.Token); err != nil {
			return nil, err
		}
		team = true
	}
	c, err := s.store.Conversation(ctx, convID)
	if err != nil {
		return nil, err
	}
	m := &Message{ConversationID: c.ID, CreatedAt: s.now()}
	if team {
		op, err := s.operatorByEmail(ctx, r.From)
		if err != nil {
			return nil, err
		}
		m.Kind, m.AuthorID, m.AuthorName = OperatorText, op.ID, op.Name
	} else {
		v, err := s.store.Visitor(ctx, c.VisitorID)
		if err != nil {
			return nil, err
		}
		if v.Email == "" || !strings.EqualFold(strings.TrimSpace(r.From), v.Email) {
			return nil, fmt.Errorf("%w: %q is not this conversation's visitor", ErrForbidden, r.From)
		}
		m.Kind, m.AuthorID, m.AuthorName = VisitorText, v.ID, v.Name
	}
	m.Text = strings.TrimSpace(r.Text)
	var refused []string
	m.Attachments, refused = s.mailedFiles(ctx, m.AuthorID, r.Files)
	if len(refused) > 0 {
		m.Text = strings.TrimSpace(m.Text + "\n\n[Attachments sent by email, not shown in the chat: " + strings.Join(refused, ", ") + "]")
	}
	if m.Text == "" && len(m.Attachments) == 0 {
		return nil, invalidf("the reply has no text")
	}
	if !validText(m.Text) {
		return nil, invalidf("the reply's text is not valid UTF-8 or has control characters")
	}
	if len(m.Text) > s.cfg.MaxMessageLength {
		m.Text = truncateUTF8(m.Text, s.cfg.MaxMessageLength)
	}
	if r.MessageID == "" {
		return nil, invalidf("the reply has no Message-ID")
	}
	sum := sha256.Sum256([]byte(r.MessageID))
	m.ClientID = "mail:" + hex.EncodeToString(sum[:16])
	res, err := s.appendWith(ctx, m, s.store.AppendMessage)
	if errors.Is(err, ErrConflict) && !res.Duplicate { // closed: the reply reopens it
		if _, rerr := s.store.ReopenConversation(ctx, c.ID, s.now()); rerr != nil {
			return nil, rerr
		}
		res, err = s.appendWith(ctx, m, s.store.AppendMessage)
		if err == nil {
			s.publishState(res.Conversation)
			defer s.dispatch(ctx)
		}
	}
	s.discardUnsent(m.Attachments, res.Message) // a second delivery: the first's files stand
	if err != nil {
		return nil, err
	}
	if !res.Duplicate {
		s.add("email_replies_total", 1)
		s.publishMessage(res.Conversation, res.Message)
		if team {
			s.scheduleMissedReply(res.Conversation, res.Message) // mailed on if the visitor does not see it
		}
	}
	return res.Message, nil
}

// operatorByEmail returns the stored operator whose Email is addr, or
// ErrForbidden.
func (s *Server) operatorByEmail(ctx context.Context, addr string) (*Operator, error) {
	addr = strings.TrimSpace(addr)
	loads, err := s.store.OperatorLoads(ctx, s.now())
	if err != nil {
		return nil, err
	}
	for _, l := range loads {
		if l.Operator != nil && l.Operator.Email != "" && strings.EqualFold(l.Operator.Email, addr) {
			return l.Operator, nil
		}
	}
	return nil, fmt.Errorf("%w: %q is not a known operator's address", ErrForbidden, addr)
}

func truncateUTF8(s string, n int) string {
	b := []byte(s[:n])
	for len(b) > 0 && !validText(string(b)) {
		b = b[:len(b)-1]
	}
	return string(bytes.TrimSpace(b))
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
