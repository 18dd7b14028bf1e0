package chat

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopchat/chat/protocol"
)

// TriggerOnce is how often a trigger may run for one visitor
// (Trigger.Once); "" means OnceSession.
type TriggerOnce string

// TriggerAction is what a trigger does (Trigger.Action); "" means
// ActionMessage.
type TriggerAction string

// TriggerVisitor is the kind of visitor a trigger is for
// (Trigger.Visitor); "" means either.
type TriggerVisitor string

// Values of Trigger.Once, Trigger.Action and Trigger.Visitor. They are
// strings in JSON (stored triggers, the console's frames) as before.
const (
	OnceSession      TriggerOnce    = "session"   // once per visit (the default)
	OnceVisitor      TriggerOnce    = "visitor"   // once ever
	ActionMessage    TriggerAction  = "message"   // the widget opens with the message (the default)
	ActionSuggest    TriggerAction  = "suggest"   // operators see LiveVisitor.Suggested
	VisitorNew       TriggerVisitor = "new"       // first visit
	VisitorReturning TriggerVisitor = "returning" // visited before this visit
)

// compiledTrigger is a validated Trigger with its patterns compiled.
type compiledTrigger struct {
	Trigger
	url, re, ref *regexp.Regexp // nil: no condition
}

var triggerIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// compileTrigger validates t and compiles its patterns. Errors wrap
// ErrInvalid and name the trigger and the field, for New and the console.
func compileTrigger(t Trigger, maxMessage int) (*compiledTrigger, error) {
	bad := func(field, format string, args ...any) error {
		return userErr(ErrInvalid, "trigger %q: %s: %s", t.ID, field, fmt.Sprintf(format, args...))
	}
	if !triggerIDRE.MatchString(t.ID) {
		return nil, bad("ID", "want 1-64 letters, digits, - and _")
	}
	ct := &compiledTrigger{Trigger: t}
	var err error
	if t.URL != "" {
		if !strings.HasPrefix(t.URL, "/") && !strings.HasPrefix(t.URL, "*") {
			return nil, bad("URL", "glob %q must start with / or *", t.URL)
		}
		if ct.url, err = globRegexp(t.URL, 512); err != nil {
			return nil, bad("URL", "%v", err)
		}
	}
	if t.URLRegexp != "" {
		if len(t.URLRegexp) > 512 {
			return nil, bad("URLRegexp", "longer than 512 bytes")
		}
		if ct.re, err = regexp.Compile(t.URLRegexp); err != nil {
			return nil, bad("URLRegexp", "%v", err)
		}
	}
	if t.Referrer != "" {
		if strings.Contains(t.Referrer, "/") {
			return nil, bad("Referrer", "glob %q is on the host: no /", t.Referrer)
		}
		if ct.ref, err = globRegexp(strings.ToLower(t.Referrer), 253); err != nil {
			return nil, bad("Referrer", "%v", err)
		}
	}
	switch {
	case len(t.Name) > 100 || !validText(t.Name):
		return nil, bad("Name", "at most 100 bytes of text")
	case t.TimeOnPage < 0 || t.TimeOnPage > 24*time.Hour:
		return nil, bad("TimeOnPage", "%v is not within 0-24h", t.TimeOnPage)
	case t.MinPages < 0:
		return nil, bad("MinPages", "negative")
	case t.MinCartValue < 0:
		return nil, bad("MinCartValue", "negative")
	case t.Visitor != "" && t.Visitor != VisitorNew && t.Visitor != VisitorReturning:
		return nil, bad("Visitor", "%q: want %q, %q or empty", t.Visitor, VisitorNew, VisitorReturning)
	case len(t.UTMCampaign) > maxUTM || !validText(t.UTMCampaign):
		return nil, bad("UTMCampaign", "at most %d bytes of text", maxUTM)
	case t.Once != "" && t.Once != OnceSession && t.Once != OnceVisitor:
		return nil, bad("Once", "%q: want %q or %q", t.Once, OnceSession, OnceVisitor)
	case t.Action != "" && t.Action != ActionMessage && t.Action != ActionSuggest:
		return nil, bad("Action", "%q: want %q or %q", t.Action, ActionMessage, ActionSuggest)
	case len(t.Message) > maxMessage || !validText(t.Message):
		return nil, bad("Message", "at most %d bytes of text", maxMessage)
	case t.Action != ActionSuggest && strings.TrimSpace(t.Message) == "":
		return nil, bad("Message", "required for a message trigger")
	case len(t.OperatorID) > 200:
		return nil, bad("OperatorID", "too long")
	}
	if ct.Once == "" {
		ct.Once = OnceSession
	}
	if ct.Action == "" {
		ct.Action = ActionMessage
	}
	return ct, nil
}

// globRegexp compiles a glob: "**" matches any run, "*" any run but "/",
// everything else itself.
func globRegexp(glob string, maxLen int) (*regexp.Regexp, error) {
	switch {
	case len(glob) > maxLen:
		return nil, fmt.Errorf("glob longer than %d bytes", maxLen)
	case strings.Contains(glob, "***"):
		return nil, fmt.Errorf("glob %q: *** is neither * nor **", glob)
	case !validText(glob) || strings.ContainsAny(glob, " \t\n"):
		return nil, fmt.Errorf("glob %q holds spaces or control characters", glob)
	}
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(glob); {
		switch {
		case strings.HasPrefix(glob[i:], "**"):
			b.WriteString(".*")
			i += 2
		case glob[i] == '*':
			b.WriteString("[^/]*")
			i++
		default:
			_, n := utf8.DecodeRuneInString(glob[i:])
			b.WriteString(regexp.QuoteMeta(glob[i : i+n]))
			i += n
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

// compileTriggers validates Config.Triggers for New.
func compileTriggers(ts []Trigger, maxMessage int) ([]*compiledTrigger, error) {
	out := make([]*compiledTrigger, 0, len(ts))
	seen := map[string]bool{}
	for _, t := range ts {
		ct, err := compileTrigger(t, maxMessage)
		if err != nil {
			return nil, fmt.Errorf("chat: Config.Triggers: %w", err)
		}
		if seen[t.ID] {
			return nil, fmt.Errorf("chat: Config.Triggers: %w", userErr(ErrInvalid, "trigger %q: ID: used twice", t.ID))
		}
		seen[t.ID] = true
		out = append(out, ct)
	}
	return out, nil
}

// seedTriggers stores the configured triggers that are not stored yet; a
// stored one keeps its (perhaps edited) version.
func (s *Server) seedTriggers(ts []*compiledTrigger) error {
	if len(ts) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(s.ctx, 15*time.Second)
	defer cancel()
	stored, err := s.store.Triggers(ctx)
	if err != nil {
		return fmt.Errorf("chat: seed triggers: %w", err)
	}
	have := make(map[string]bool, len(stored))
	for _, t := range stored {
		have[t.ID] = true
	}
	for _, ct := range ts {
		if have[ct.ID] {
			continue
		}
		t := ct.Trigger
		if err := s.store.PutTrigger(ctx, &t); err != nil {
			return fmt.Errorf("chat: seed trigger %q: %w", t.ID, err)
		}
	}
	return nil
}

// loadTriggers refreshes the compiled copy of the stored triggers.
func (s *Server) loadTriggers(ctx context.Context) error {
	stored, err := s.store.Triggers(ctx)
	if err != nil {
		return err
	}
	list := make([]*compiledTrigger, 0, len(stored))
	for _, t := range stored {
		ct, err := compileTrigger(*t, s.cfg.MaxMessageLength)
		if err != nil {
			s.log.Warn("stored trigger skipped", "trigger", t.ID, "err", err)
			continue
		}
		list = append(list, ct)
	}
	s.track.mu.Lock()
	s.track.triggers, s.track.triggersLoaded = list, true
	s.track.evalAll = true
	s.track.mu.Unlock()
	return nil
}

// triggerFrame renders a trigger for the console; durations in seconds.
func triggerFrame(t *Trigger) protocol.Trigger {
	return protocol.Trigger{
		ID: t.ID, Name: t.Name, Disabled: t.Disabled, URL: t.URL, URLRegexp: t.URLRegexp,
		TimeOnPage: int(t.TimeOnPage / time.Second), MinPages: t.MinPages, Visitor: string(t.Visitor),
		MinCartValue: t.MinCartValue, Referrer: t.Referrer, UTMCampaign: t.UTMCampaign,
		BusinessHours: t.BusinessHours, Once: string(t.Once), Action: string(t.Action), Message: t.Message,
		Operator: t.OperatorID,
	}
}

// triggerFromFrame is triggerFrame's inverse.
func triggerFromFrame(p protocol.Trigger) Trigger {
	return Trigger{
		ID: p.ID, Name: p.Name, Disabled: p.Disabled, URL: p.URL, URLRegexp: p.URLRegexp,
		TimeOnPage: time.Duration(p.TimeOnPage) * time.Second, MinPages: p.MinPages, Visitor: TriggerVisitor(p.Visitor),
		MinCartValue: p.MinCartValue, Referrer: p.Referrer, UTMCampaign: p.UTMCampaign,
		BusinessHours: p.BusinessHours, Once: TriggerOnce(p.Once), Action: TriggerAction(p.Action), Message: p.Message,
		OperatorID: p.Operator,
	}
}

// onTriggers lists, saves or deletes triggers for an operator and answers
// with the full list.
func (ss *session) onTriggers(ctx context.Context, f protocol.ClientFrame) error {
	s := ss.s
	switch f.Action {
	case "", protocol.ActionList:
	case protocol.ActionSave:
		if f.Trigger == nil {
			return userErr(ErrInvalid, "save needs a trigger")
		}
		ct, err := compileTrigger(triggerFromFrame(*f.Trigger), s.cfg.MaxMessageLength)
		if err != nil {
			return err
		}
		if err := ss.checkTriggerOperator(ctx, ct.ID, ct.OperatorID); err != nil {
			return err
		}
		if err := s.store.PutTrigger(ctx, &ct.Trigger); err != nil {
			return err
		}
	case protocol.ActionDelete:
		if f.Trigger == nil || f.Trigger.ID == "" {
			return userErr(ErrInvalid, "delete needs a trigger id")
		}
		if err := s.store.DeleteTrigger(ctx, f.Trigger.ID); err != nil {
			if errors.Is(err, ErrNotFound) {
				return userErr(ErrNotFound, "no such trigger")
			}
			return err
		}
	default:
		return userErr(ErrInvalid, "action must be list, save or delete")
	}
	if f.Action == protocol.ActionSave || f.Action == protocol.ActionDelete {
		if err := s.loadTriggers(ctx); err != nil {
			return err
		}
		s.bridge.send(wireEvent{Kind: "triggers"}) // other nodes reload
	}
	stored, err := s.store.Triggers(ctx)
	if err != nil {
		return err
	}
	reply := &protocol.ServerFrame{Type: protocol.TypeTriggers, ID: f.ID, Triggers: make([]protocol.Trigger, 0, len(stored))}
	for _, t := range stored {
		reply.Triggers = append(reply.Triggers, triggerFrame(t))
	}
	ss.push(event{kind: evFrame, frame: reply})
	return nil
}

// checkTriggerOperator refuses a trigger that would speak as, and route
// its chats to, another operator: an operator may name themselves or keep
// the operator already stored for the trigger (editing a colleague's
// trigger), else ErrForbidden; ErrNotFound for an unknown operator.
func (ss *session) checkTriggerOperator(ctx context.Context, triggerID, operatorID string) error {
	switch operatorID {
	case "":
		return nil
	case ss.op.ID:
		_, err := ss.s.operator(ctx, operatorID)
		return err
	}
	stored, err := ss.s.store.Triggers(ctx)
	if err != nil {
		return err
	}
	for _, t := range stored {
		if t.ID == triggerID && t.OperatorID == operatorID {
			return nil
		}
	}
	return userErr(ErrForbidden, "a trigger may speak as you, not as %q", operatorID)
}

// wait reports whether the trigger's conditions other than the time on
// the page hold for lv, and if so how long until that one does too (<= 0:
// it holds now).
func (ct *compiledTrigger) wait(lv *liveVisit, now time.Time, open bool) (time.Duration, bool) {
	path, _, _ := strings.Cut(lv.CurrentURL, "?")
	switch {
	case ct.Disabled, lv.fired[ct.ID]:
		return 0, false
	case ct.url != nil && !ct.url.MatchString(path),
		ct.re != nil && !ct.re.MatchString(lv.CurrentURL),
		lv.Pages < ct.MinPages,
		ct.Visitor == VisitorReturning && !lv.Returning,
		ct.Visitor == VisitorNew && lv.Returning,
		lv.CartValue < ct.MinCartValue,
		ct.ref != nil && !ct.ref.MatchString(lv.referrer),
		ct.UTMCampaign != "" && ct.UTMCampaign != lv.campaign,
		ct.BusinessHours && !open:
		return 0, false
	}
	return lv.PageSince.Add(ct.TimeOnPage).Sub(now), true
}

// dueTrigger is a trigger whose conditions hold for a visitor.
type dueTrigger struct {
	visitorID string
	visitFrom time.Time
	trigger   *compiledTrigger
}

// evaluate runs the triggers whose conditions hold for the visits that
// may have changed (new pages, a cart, a chat closed, a widget connected)
// and, on a tick, those whose time on page or wait falls due now: a visit
// that nothing changed for is not looked at. Only the node holding the
// visitor's widget connection evaluates, so that the visitor can see the
// message; never while the visitor types or chats, and within
// MaxProactivePerVisit.
func (s *Server) evaluate(ctx context.Context, tick bool) {
	t := s.track
	now := s.now()
	open := s.cfg.BusinessHours.IsOpen(now)
	var due []dueTrigger
	t.mu.Lock()
	ids := t.eval
	t.eval = make(map[string]struct{})
	if tick {
		if t.evalAll || open != t.open {
			// Rare (triggers edited, business hours began or ended): every visit.
			for id, lv := range t.live {
				if !lv.localAt.IsZero() {
					ids[id] = struct{}{}
				}
			}
			t.evalAll, t.open = false, open
		}
		for {
			lv, ok := t.evalDue.next(now, evalField)
			if !ok {
				break
			}
			ids[lv.VisitorID] = struct{}{}
		}
	}
	for id := range ids {
		lv := t.live[id]
		// A chat, when it closes, and a widget, when it connects, ask for
		// the visit to be evaluated again.
		if lv == nil || lv.Chatting || !s.hub.has(visitorTopic(id)) {
			continue
		}
		t.evaluated++
		if until := lv.typing.Add(typingExpiry); now.Before(until) {
			t.evalDue.schedule(lv, &lv.evalAt, until)
			continue
		}
		if until := lv.closedAt.Add(proactiveCooldown); now.Before(until) {
			t.evalDue.schedule(lv, &lv.evalAt, until)
			continue
		}
		var next time.Time
		for _, ct := range t.triggers {
			if ct.Action == ActionMessage && lv.shown >= s.cfg.MaxProactivePerVisit {
				continue
			}
			wait, ok := ct.wait(lv, now, open)
			if !ok {
				continue
			}
			if wait <= 0 {
				due = append(due, dueTrigger{visitorID: id, visitFrom: lv.FirstSeen, trigger: ct})
				next = now // one proactive step at a time: the next on the next pass
				break
			}
			if at := now.Add(wait); next.IsZero() || at.Before(next) {
				next = at
			}
		}
		if !next.IsZero() {
			t.evalDue.schedule(lv, &lv.evalAt, next)
		}
	}
	t.mu.Unlock()
	for _, d := range due {
		if err := s.fire(ctx, d); err != nil {
			s.logErr("trigger", err, "trigger", d.trigger.ID, "visitor", d.visitorID)
		}
	}
}

// proactiveCooldown is how long after a visitor's chat closed no trigger
// speaks to them: the rating is pending, and they have just been helped.
const proactiveCooldown = 30 * time.Minute

// triggerClaimEver is how long a once-per-visitor trigger's claim lasts.
const triggerClaimEver = 10 * 365 * 24 * time.Hour

// triggerClaim is the Store.Claim key and expiry that let one node, of all
// that hold the visitor's widget, run a trigger within its Once scope. A
// session claim lasts a visit's timeout: a later visit begins at least
// that long after the claim (taken during this one), and nodes need not
// agree on when this visit began. The visitor id is hashed: a visitor
// erased (DeleteVisitor) leaves no id in the claims.
func (s *Server) triggerClaim(ct *compiledTrigger, visitorID string) (key string, expires time.Time) {
	h := sha256.Sum256([]byte(visitorID))
	key = "trigger:" + ct.ID + ":" + hex.EncodeToString(h[:16]) + ":"
	if ct.Once == OnceVisitor {
		return key + "ever", s.now().Add(triggerClaimEver)
	}
	return key + "session", s.now().Add(s.cfg.VisitTimeout)
}

// fire runs a due trigger's action unless it ran already within its Once
// scope (the Store's activities say so, on any node) or another node takes
// its claim first, or the visitor is chatting. The claim decides between
// nodes evaluating at once; the activities cover a visit longer than the
// claim and history from before claims.
func (s *Server) fire(ctx context.Context, d dueTrigger) error {
	ct := d.trigger
	q := ActivityQuery{Kinds: []ActivityKind{TriggerShown, TriggerSuggested}, VisitorID: d.visitorID, TriggerID: ct.ID, Limit: 1}
	if ct.Once == OnceSession {
		q.From = d.visitFrom
	}
	ran, err := s.store.Activities(ctx, q)
	if err != nil {
		return err
	}
	t := s.track
	mark := func() {
		t.mu.Lock()
		if lv := t.live[d.visitorID]; lv != nil {
			if lv.fired == nil {
				lv.fired = make(map[string]bool)
			}
			lv.fired[ct.ID] = true
		}
		t.mu.Unlock()
	}
	if len(ran) > 0 {
		mark()
		return nil
	}
	if _, err := s.store.OpenConversation(ctx, d.visitorID); err == nil {
		s.noteConversation(&Conversation{VisitorID: d.visitorID, Status: Queued})
		return nil
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	// A chat that just finished (closed on another node, or before a
	// restart): its rating is pending, and a sales line now would jar.
	if last, err := s.store.Conversations(ctx, ConversationFilter{VisitorID: d.visitorID, Limit: 1}); err != nil {
		return err
	} else if len(last) > 0 && s.now().Sub(last[0].ClosedAt) < proactiveCooldown {
		t.mu.Lock()
		if lv := t.live[d.visitorID]; lv != nil && lv.closedAt.Before(last[0].ClosedAt) {
			lv.closedAt = last[0].ClosedAt
		}
		t.mu.Unlock()
		return nil
	}
	// claim takes the trigger for this node; a claim taken and then not
	// acted on (a failed write) leaves the trigger unshown: at most once.
	claim := func() (bool, error) {
		key, expires := s.triggerClaim(ct, d.visitorID)
		took, err := s.store.Claim(ctx, key, s.now(), expires)
		if err == nil && !took {
			mark() // another node runs it
		}
		return took, err
	}
	if ct.Action == ActionSuggest {
		if took, err := claim(); err != nil || !took {
			return err
		}
		a := Activity{Kind: TriggerSuggested, VisitorID: d.visitorID, TriggerID: ct.ID, At: s.now()}
		if err := s.store.AddActivities(ctx, []Activity{a}); err != nil {
			return err
		}
		mark()
		t.mu.Lock()
		if lv := t.live[d.visitorID]; lv != nil {
			lv.Suggested = ct.ID
			s.changedLocked(lv)
		}
		t.mu.Unlock()
		return nil
	}
	var from *protocol.Person
	if ct.OperatorID != "" {
		if op, err := s.operator(ctx, ct.OperatorID); err == nil {
			from = &protocol.Person{ID: op.ID, Name: op.Name, Avatar: op.AvatarURL}
		} else {
			s.log.Warn("trigger operator unknown: speaking as the team", "trigger", ct.ID, "operator", ct.OperatorID)
		}
	}
	a := Activity{Kind: TriggerShown, VisitorID: d.visitorID, TriggerID: ct.ID, Text: ct.Message}
	if from != nil {
		a.OperatorID = from.ID
	}
	// evaluate saw room under the cap; an invitation may have taken it
	// since. The slot is reserved before the claim, so that a claim is
	// never spent on a message the cap would hold back.
	undo, ok := s.reserveProactive(d.visitorID)
	if !ok {
		return nil
	}
	if took, err := claim(); err != nil || !took {
		undo()
		return err
	}
	if err := s.sendInvite(ctx, a, from); err != nil {
		undo()
		return err
	}
	return nil
}
