package chat

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/shopchat/chat/protocol"
)

// Bot answers visitors before the team does (Config.Bot). With a Bot, a
// new conversation starts in the bot's hands: it is assigned to the bot,
// not queued, so routing never waits for it. Each visitor message is a
// turn: the Server calls Reply with the conversation so far, posts what it
// returns, and hands the conversation to the queue when the reply asks to,
// when the visitor asks for a person (BotOptions.HandOffWords, checked
// before the bot is called), or when Reply fails, panics or outlives
// BotOptions.TurnTimeout. A conversation handed off never returns to the
// bot.
//
// A Bot backed by a language model streams: it calls BotTurn.Stream with
// each piece of text as it comes (the visitor sees the bot typing, which it
// then is) and returns when done; it must return promptly once ctx ends,
// which happens at the turn's deadline, when a newer visitor message
// supersedes the turn, and when the Server closes.
type Bot interface {
	Reply(ctx context.Context, t *BotTurn) (BotReply, error)
}

// BotFunc adapts a function to Bot.
type BotFunc func(ctx context.Context, t *BotTurn) (BotReply, error)

// Reply calls f.
func (f BotFunc) Reply(ctx context.Context, t *BotTurn) (BotReply, error) { return f(ctx, t) }

// BotTurn is what a Bot sees of one turn. Its values are copies the bot
// may keep.
type BotTurn struct {
	Conversation *Conversation
	Visitor      *Visitor
	// Messages are the conversation's latest messages the visitor can see
	// (at most 50), oldest first; the last is the visitor's message this
	// turn answers.
	Messages []*Message
	// Knowledge finds answers to the question among the team's canned
	// responses and the operators' past answers (see Server.Answers).
	Knowledge Knowledge

	mu       sync.Mutex
	streamed strings.Builder
	stream   func() // called on the first streamed piece
	max      int
}

// Question is the visitor's message this turn answers.
func (t *BotTurn) Question() *Message {
	if len(t.Messages) == 0 {
		return &Message{}
	}
	return t.Messages[len(t.Messages)-1]
}

// Stream adds text to the reply as the bot produces it: the visitor sees
// the bot typing from the first piece on, and the streamed text is posted
// as one message when Reply returns (before BotReply.Text, if both are
// set). Text past Config.MaxMessageLength is dropped.
func (t *BotTurn) Stream(text string) {
	t.mu.Lock()
	first := t.streamed.Len() == 0 && text != ""
	if room := t.max - t.streamed.Len(); room > 0 {
		t.streamed.WriteString(capText(text, room))
	}
	notify := t.stream
	t.mu.Unlock()
	if first && notify != nil {
		notify()
	}
}

func (t *BotTurn) streamedText() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.streamed.String()
}

// BotReply is a bot's answer to one turn. The zero value says nothing and
// keeps the conversation with the bot.
type BotReply struct {
	// Text is posted to the visitor as the bot's message.
	Text string
	// QuickReplies are offered as buttons under Text (at most 6, each at
	// most 80 bytes); a click sends the button's text as the visitor's
	// next message.
	QuickReplies []string
	// Fields are answers the bot collected (order number, email...): they
	// go into an internal note for the operator, and "name" and "email"
	// into the visitor's profile.
	Fields map[string]string
	// HandOff puts the conversation in the queue for the team, after Text.
	HandOff bool
	// Note, with HandOff, tells the operator what the bot learnt: an
	// internal note the visitor never sees.
	Note string
	// Close ends the conversation: the visitor is helped.
	Close bool
}

// BotOptions tune the Bot. Every field has the default its comment names.
type BotOptions struct {
	// Name is the bot's display name. Default "Assistant".
	Name string
	// Avatar is the URL of the bot's picture. Default: none (an initial).
	Avatar string
	// TurnTimeout bounds one turn; a bot that has not replied by then is
	// cancelled and the conversation handed off. Default 10s.
	TurnTimeout time.Duration
	// HandOffWords hand the conversation to the team at once, without
	// asking the bot, when the visitor's message contains one of them as a
	// word (case-insensitive). Default: human, person, agent, operator,
	// someone.
	HandOffWords []string
	// MaxTurns bounds the turns running at once on this node; a message
	// beyond it is handed off rather than wait. Default 64.
	MaxTurns int
}

// Limits of a bot's reply.
const (
	maxQuickReplies   = 6
	maxQuickReplyText = 80
	botIDPrefix       = "bot:"
	maxBotReplyCache  = 10000
)

// IsBotID reports whether id (an operator or author id) is a bot's.
func IsBotID(id string) bool { return strings.HasPrefix(id, botIDPrefix) }

// botRunner runs the Bot's turns.
type botRunner struct {
	s     *Server
	bot   Bot
	opts  BotOptions
	id    string // the bot's operator id, "bot:<name>"
	slots chan struct{}

	mu      sync.Mutex
	turns   map[string]*runningTurn // conversation id -> its running turn
	replies map[string]quickReplies // conversation id -> its latest bot message's quick replies
}

type runningTurn struct{ cancel context.CancelFunc }

type quickReplies struct {
	seq  int64
	text []string
}

// newBotRunner checks the options and fills in defaults. Nil without a Bot.
func newBotRunner(s *Server) (*botRunner, error) {
	if s.cfg.Bot == nil {
		return nil, nil
	}
	o := s.cfg.BotOptions
	defaultTo(&o.Name, "Assistant")
	defaultTo(&o.TurnTimeout, 10*time.Second)
	defaultTo(&o.MaxTurns, 64)
	if o.HandOffWords == nil {
		o.HandOffWords = []string{"human", "person", "agent", "operator", "someone"}
	}
	if len(o.Name) > 64 || !validText(o.Name) || strings.TrimSpace(o.Name) == "" {
		return nil, fmt.Errorf("chat: Config.BotOptions.Name %q: want 1 to 64 bytes of text", o.Name)
	}
	s.cfg.BotOptions = o
	return &botRunner{s: s, bot: s.cfg.Bot, opts: o, id: botIDPrefix + o.Name, slots: make(chan struct{}, o.MaxTurns),
		turns: map[string]*runningTurn{}, replies: map[string]quickReplies{}}, nil
}

// register stores the bot as an operator who is away for good: it can be
// assigned conversations and named in the widget, but routing (online
// operators only) never picks it and it is never counted as available.
func (b *botRunner) register(ctx context.Context) error {
	op := &Operator{ID: b.id, Name: b.opts.Name, AvatarURL: b.opts.Avatar}
	if err := b.s.store.PutOperator(ctx, op); err != nil {
		return fmt.Errorf("chat: bot: %w", err)
	}
	if err := b.s.store.SetPresence(ctx, b.id, Away, time.Time{}); err != nil {
		return fmt.Errorf("chat: bot: %w", err)
	}
	b.s.mu.Lock()
	b.s.opProfiles[b.id] = op
	b.s.mu.Unlock()
	return nil
}

// firstOwner is the operator a new conversation is created with, "" for
// none (queued): the operator whose invitation (nil: none) it answers if
// they are online with room, else the bot if there is one. Created
// assigned, the conversation is never queued, so routing on any node
// cannot give it to someone else first. The room is read before the
// conversation is created, not atomically with it: a concurrent
// assignment can take the inviter one past capacity, as accepting beyond
// capacity in the console can.
func (s *Server) firstOwner(ctx context.Context, invitation *Activity) string {
	if invitation != nil && invitation.OperatorID != "" {
		loads, err := s.store.OperatorLoads(ctx, s.now())
		if err != nil {
			s.logErr("invitation's operator", err, "operator", invitation.OperatorID)
		}
		for _, l := range loads {
			capacity := s.capacity(l.Operator)
			if l.Operator.ID == invitation.OperatorID && l.Presence == Online && (capacity <= 0 || l.Active < capacity) {
				return l.Operator.ID
			}
		}
	}
	if s.bot == nil {
		return ""
	}
	return s.bot.id
}

// take starts the bot on new conversation c: one created for it
// (firstOwner), or a queued one, which it assigns to the bot. If that
// fails the conversation stays queued for the team: the bot never blocks
// routing.
func (b *botRunner) take(ctx context.Context, c *Conversation) *Conversation {
	if b == nil {
		return c
	}
	s := b.s
	switch {
	case c.Status == Assigned && c.OperatorID == b.id:
	case c.Status == Queued:
		taken, err := s.store.Assign(ctx, c.ID, "", b.id, 0, s.now())
		if err != nil {
			s.logErr("bot take", err, "conversation", c.ID)
			return c
		}
		s.publishState(taken)
		c = taken
	default:
		return c
	}
	s.record(ctx, Activity{Kind: BotStarted, ConversationID: c.ID, VisitorID: c.VisitorID, At: s.now()})
	return c
}

// hear starts the bot's turn for visitor message m in c, if the bot has c.
func (b *botRunner) hear(c *Conversation, m *Message) {
	if b == nil || c.OperatorID != b.id || c.Status != Assigned || m.Kind != VisitorText {
		return
	}
	s := b.s
	ctx, cancel := context.WithTimeout(s.ctx, b.opts.TurnTimeout)
	if w := b.handOffWord(m.Text); w != "" {
		cancel()
		b.supersede(c.ID, nil)
		b.handOff(c, fmt.Sprintf("The visitor asked for a person (%q).", w))
		return
	}
	select {
	case b.slots <- struct{}{}:
	default:
		cancel()
		b.handOff(c, "The bot was too busy to answer.")
		return
	}
	b.supersede(c.ID, &runningTurn{cancel: cancel})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() { <-b.slots }()
		defer cancel()
		b.turn(ctx, c, m)
	}()
}

// supersede cancels the conversation's running turn, if any, and records
// t (nil: none) as the running one.
func (b *botRunner) supersede(convID string, t *runningTurn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if old := b.turns[convID]; old != nil {
		old.cancel()
	}
	if t == nil {
		delete(b.turns, convID)
	} else {
		b.turns[convID] = t
	}
}

// finish reports whether the turn whose context is ctx should act on its
// reply: not if a newer message superseded it (that turn answers) or the
// Server is closing. It forgets the finished turn.
func (b *botRunner) finish(ctx context.Context, convID string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ctx.Err() != nil && errors.Is(context.Cause(ctx), context.Canceled) && b.s.ctx.Err() == nil {
		return false // superseded by a newer message: that turn answers
	}
	delete(b.turns, convID)
	return b.s.ctx.Err() == nil
}

func (b *botRunner) handOffWord(text string) string {
	for _, w := range textWords(text) {
		for _, h := range b.opts.HandOffWords {
			if strings.EqualFold(w, h) {
				return h
			}
		}
	}
	return ""
}

// turn runs one turn and acts on the reply.
func (b *botRunner) turn(ctx context.Context, c *Conversation, m *Message) {
	s := b.s
	t := &BotTurn{Conversation: c, Knowledge: s, max: s.cfg.MaxMessageLength}
	var typing bool
	t.stream = func() {
		typing = true
		s.sendFrame(visitorTopic(c.VisitorID), &protocol.ServerFrame{Type: protocol.TypeTyping, Conv: c.ID, From: protocol.RoleOperator, Typing: true})
	}
	reply, err := b.ask(ctx, t, m)
	if !b.finish(ctx, c.ID) {
		return
	}
	post := context.WithoutCancel(ctx) // the turn's deadline no longer applies
	if err != nil {
		if typing {
			s.sendFrame(visitorTopic(c.VisitorID), &protocol.ServerFrame{Type: protocol.TypeTyping, Conv: c.ID, From: protocol.RoleOperator})
		}
		s.add("bot_errors_total", 1)
		s.logErr("bot turn", err, "conversation", c.ID)
		b.handOff(c, "The bot could not answer ("+capText(err.Error(), 200)+").")
		return
	}
	b.act(post, c, t.streamedText(), reply)
}

// ask loads the turn's messages and calls the Bot, turning a panic into an
// error.
func (b *botRunner) ask(ctx context.Context, t *BotTurn, m *Message) (reply BotReply, err error) {
	s := b.s
	if t.Visitor, err = s.store.Visitor(ctx, t.Conversation.VisitorID); err != nil {
		return reply, err
	}
	ms, err := s.store.Messages(ctx, MessageQuery{ConversationID: m.ConversationID, BeforeSeq: m.Seq + 1, Limit: 50})
	if err != nil {
		return reply, err
	}
	for _, x := range ms {
		if x.Kind.VisibleToVisitor() {
			t.Messages = append(t.Messages, x)
		}
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("bot panicked: %v", p)
		}
	}()
	start := time.Now()
	reply, err = b.bot.Reply(ctx, t)
	s.observeSince("bot_turn_seconds", start)
	if err == nil && ctx.Err() != nil {
		err = context.Cause(ctx) // too late: the turn's deadline passed
	}
	return reply, err
}

// act posts a turn's reply: fields, text, then a hand-off or close.
func (b *botRunner) act(ctx context.Context, c *Conversation, streamed string, r BotReply) {
	s := b.s
	if len(r.Fields) > 0 {
		b.collect(ctx, c, r.Fields)
	}
	text := strings.TrimSpace(strings.TrimSpace(streamed) + "\n\n" + strings.TrimSpace(r.Text))
	if text != "" {
		if _, err := s.appendReplies(ctx, b.message(c.ID, BotText, text), cleanReplies(r.QuickReplies)); err != nil {
			s.logErr("bot reply", err, "conversation", c.ID)
			if !errors.Is(err, ErrConflict) {
				b.handOff(c, "The bot's reply could not be stored.")
			}
			return
		}
	}
	switch {
	case r.HandOff:
		b.handOff(c, r.Note)
	case r.Close:
		if err := s.closeConversation(ctx, c, b.opts.Name, ""); err != nil && !errors.Is(err, ErrConflict) {
			s.logErr("bot close", err, "conversation", c.ID)
		}
	}
}

// message builds a message written by the bot.
func (b *botRunner) message(convID string, kind MessageKind, text string) *Message {
	return &Message{ConversationID: convID, Kind: kind, AuthorID: b.id, AuthorName: b.opts.Name, Text: capText(text, b.s.cfg.MaxMessageLength)}
}

// cleanReplies keeps the quick replies a widget can show.
func cleanReplies(replies []string) []string {
	var keep []string
	for _, q := range replies {
		if q = strings.TrimSpace(q); q != "" && validText(q) && len(keep) < maxQuickReplies {
			keep = append(keep, capText(q, maxQuickReplyText))
		}
	}
	return keep
}

// collect saves fields the bot collected: a note for the operator, and the
// visitor's name and email into their profile.
func (b *botRunner) collect(ctx context.Context, c *Conversation, fields map[string]string) {
	s := b.s
	clean := make(map[string]string, len(fields))
	for k, v := range fields {
		if len(clean) < 20 && validText(k) && validText(v) {
			clean[capText(k, 64)] = capText(v, 1000)
		}
	}
	if v, err := s.store.Visitor(ctx, c.VisitorID); err == nil {
		changed := false
		if n := clean["name"]; n != "" && len(n) <= 100 {
			v.Name, changed = n, true
		}
		if e := clean["email"]; ValidEmail(e) {
			v.Email, changed = e, true
		}
		if changed {
			if err := s.store.UpdateVisitor(ctx, v); err != nil {
				s.logErr("bot fields", err, "conversation", c.ID)
			}
		}
	}
	if _, err := s.append(ctx, b.message(c.ID, Note, strings.Replace(formatFields(clean), "Pre-chat form:", "Collected by "+b.opts.Name+":", 1))); err != nil {
		s.logErr("bot fields", err, "conversation", c.ID)
	}
}

// handOff puts conversation c, held by the bot, in the queue with the
// bot's note for the operator, and routes it. It runs detached from the
// turn's context: a bot that timed out still hands off.
func (b *botRunner) handOff(c *Conversation, note string) {
	s := b.s
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), 30*time.Second)
	defer cancel()
	if note = strings.TrimSpace(note); note == "" {
		note = "The bot handed the conversation over."
	}
	if _, err := s.append(ctx, b.message(c.ID, Note, note)); err != nil {
		s.logErr("bot hand-off", err, "conversation", c.ID)
	}
	queued, err := s.store.Requeue(ctx, c.ID, b.id, c.Department, s.now())
	if err != nil {
		if !errors.Is(err, ErrConflict) { // closed, or handed off already
			s.logErr("bot hand-off", err, "conversation", c.ID)
		}
		return
	}
	s.add("bot_handoffs_total", 1)
	s.record(ctx, Activity{Kind: BotHandedOff, ConversationID: c.ID, VisitorID: c.VisitorID, Text: capText(note, 500), At: s.now()})
	if q, err := s.systemMessage(ctx, c.ID, b.opts.Name+" handed the conversation to the team"); err == nil {
		queued = q
	}
	s.publishState(queued, b.id)
	if last, err := s.store.Messages(ctx, MessageQuery{ConversationID: c.ID, BeforeSeq: queued.LastSeq + 1, Limit: 1}); err == nil && len(last) == 1 {
		s.afterVisitorMessage(ctx, queued, last[0], true) // nobody online: the offline path
	}
	s.dispatch(ctx)
}

// rememberReplies keeps m's quick replies as its conversation's latest,
// for its frames (replays included). Bounded: past maxBotReplyCache
// conversations, an arbitrary one is forgotten (its buttons are gone; the
// visitor types instead).
func (b *botRunner) rememberReplies(convID string, seq int64, replies []string) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(replies) == 0 {
		delete(b.replies, convID)
		return
	}
	if _, ok := b.replies[convID]; !ok && len(b.replies) >= maxBotReplyCache {
		for k := range b.replies {
			delete(b.replies, k)
			break
		}
	}
	b.replies[convID] = quickReplies{seq, replies}
}

// quickReplies returns the quick replies of bot message m, if known.
func (b *botRunner) quickReplies(m *Message) []string {
	if b == nil || m.Kind != BotText {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if q := b.replies[m.ConversationID]; q.seq == m.Seq {
		return q.text
	}
	return nil
}

// record stores an activity for reports; a lost one skews a report, not
// the chat, so it is only logged.
func (s *Server) record(ctx context.Context, a Activity) {
	if err := s.store.AddActivities(ctx, []Activity{a}); err != nil {
		s.logErr("record activity", err, "kind", a.Kind, "conversation", a.ConversationID, "operator", a.OperatorID)
	}
}
