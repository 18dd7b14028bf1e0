package chat

import (
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ReportQuery selects a report: conversations created, orders placed,
// ratings given and presence within From <= t < To, in periods.
type ReportQuery struct {
	From, To time.Time
	// Period is "day" (default) or "week": the report's periods are days
	// or seven-day spans from From.
	Period string
}

// Report is the team's chat report: per operator, per period and per
// trigger, and the conversion of visitors who chatted against those who did
// not. Durations are in seconds; money in minor units of Currency.
type Report struct {
	From   time.Time `json:"from"`
	To     time.Time `json:"to"` // exclusive
	Period string    `json:"period"`
	// Currency is the currency of most orders in the range; revenue counts
	// orders in it only (a shop selling in several would otherwise add up
	// different units).
	Currency   string           `json:"currency"`
	Team       ReportRow        `json:"team"`
	Operators  []OperatorReport `json:"operators"`
	Periods    []PeriodReport   `json:"periods"`
	Triggers   []TriggerReport  `json:"triggers"`
	Conversion Conversion       `json:"conversion"`
	Bot        BotReport        `json:"bot"`
	// AttributionWindow is Config.AttributionWindow in seconds: an order
	// placed within it after a chat is from chat (Orders, OrdersChatted).
	AttributionWindow float64 `json:"attribution_window_seconds"`
}

// ReportRow holds the figures of one operator, one period or the team.
//
// A conversation counts in the period it was created in and for the
// operator it was last assigned to. Missed: closed (or still queued after
// its period) without an operator answering the visitor (an invitation
// that opened it is no answer). Offline: opened while no operator was
// online or outside business hours. First response: the first
// operator message after the first visitor message; response: every
// operator message that answers visitor messages, from the first of them.
// Duration: creation to close. MaxConcurrent: the most of the row's
// conversations assigned at one time. OnlineSeconds: time online, summed
// over operators. Orders and Revenue: orders attributed to chat, by
// their Attribution. Ratings: the latest rating per conversation, given in
// the row's period to its operator; CSAT is the share of 4 and 5.
// Medians and p90 are nearest-rank over the row's sample, 0 when empty.
type ReportRow struct {
	Conversations       int     `json:"conversations"`
	Missed              int     `json:"missed"`
	Offline             int     `json:"offline"`
	FirstResponseMedian float64 `json:"first_response_median"`
	FirstResponseP90    float64 `json:"first_response_p90"`
	ResponseMedian      float64 `json:"response_median"`
	ResponseP90         float64 `json:"response_p90"`
	DurationMedian      float64 `json:"duration_median"`
	MaxConcurrent       int     `json:"max_concurrent"`
	OnlineSeconds       float64 `json:"online_seconds"`
	Orders              int     `json:"orders"`
	Revenue             int64   `json:"revenue"`
	Ratings             int     `json:"ratings"`
	RatingAverage       float64 `json:"rating_average"`
	CSAT                float64 `json:"csat"`
}

// OperatorReport is one operator's row.
type OperatorReport struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Avatar string `json:"avatar,omitempty"`
	ReportRow
}

// PeriodReport is one period's row.
type PeriodReport struct {
	Start time.Time `json:"start"`
	ReportRow
}

// TriggerReport counts one proactive trigger: messages shown, visitors who
// answered, and the chat-attributed orders it led to.
type TriggerReport struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Shown    int    `json:"shown"`
	Accepted int    `json:"accepted"`
	Orders   int    `json:"orders"`
	Revenue  int64  `json:"revenue"`
}

// Conversion compares visitors who chatted (wrote in a conversation in the
// range, or placed an order attributed to a chat) with those who did not,
// among the visitors seen in the range: with a conversation or an order,
// and, if the Store is a PageViewVisitors, a page view. OrdersChatted are
// the orders attributed to a chat (Attribution.Chat: placed within the
// attribution window after the visitor chatted), the very orders the
// team's Orders count, so the two figures agree; an order a visitor placed
// before chatting counts as not chatted. Rates are orders per visitor.
type Conversion struct {
	VisitorsChatted    int     `json:"visitors_chatted"`
	OrdersChatted      int     `json:"orders_chatted"`
	RateChatted        float64 `json:"rate_chatted"`
	VisitorsNotChatted int     `json:"visitors_not_chatted"`
	OrdersNotChatted   int     `json:"orders_not_chatted"`
	RateNotChatted     float64 `json:"rate_not_chatted"`
}

// BotReport counts the conversations that started with the bot
// (Config.Bot) in the range: those it kept to the end or still holds
// (Resolved) and those it handed to the team (HandedOff), with the orders
// attributed to each kind (OrdersResolved, OrdersHandedOff: by the
// conversation the order is attributed to, in the report's currency).
type BotReport struct {
	Conversations    int   `json:"conversations"`
	Resolved         int   `json:"resolved"`
	HandedOff        int   `json:"handed_off"`
	OrdersResolved   int   `json:"orders_resolved"`
	RevenueResolved  int64 `json:"revenue_resolved"`
	OrdersHandedOff  int   `json:"orders_handed_off"`
	RevenueHandedOff int64 `json:"revenue_handed_off"`
}

// PageViewVisitors is an optional Store capability for reports: the ids of
// the visitors with a page view in from <= At < to. Without it, a report's
// Conversion sees only visitors who chatted or ordered.
type PageViewVisitors interface {
	PageViewVisitors(ctx context.Context, from, to time.Time) ([]string, error)
}

// maxReportSpan bounds a report's range; reports read every conversation in
// it.
const maxReportSpan = 400 * 24 * time.Hour

// Report computes the chat report for q. It reads each conversation of the
// range and its messages from the Store one by one, which a shop's volume
// (thousands of chats a month) allows; the orders, ratings, triggers and
// presence changes come in pages.
//
// ErrInvalid for a zero From or To, To not after From, a range longer than
// 400 days or an unknown Period.
func (s *Server) Report(ctx context.Context, q ReportQuery) (*Report, error) {
	switch q.Period {
	case "":
		q.Period = "day"
	case "day", "week":
	default:
		return nil, invalidf("period %q: want day or week", q.Period)
	}
	switch {
	case q.From.IsZero() || q.To.IsZero():
		return nil, invalidf("report needs From and To")
	case !q.To.After(q.From):
		return nil, invalidf("report To must be after From")
	case q.To.Sub(q.From) > maxReportSpan:
		return nil, invalidf("report spans more than 400 days")
	}
	b := &reportBuilder{s: s, q: q, now: s.now(), ops: map[string]*rowAcc{}, triggers: map[string]*TriggerReport{}}
	b.periods(q)
	steps := []func(context.Context) error{b.presence, b.conversations, b.orders, b.ratings, b.triggerActivity, b.conversion, b.botActivity}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return nil, fmt.Errorf("chat: report: %w", err)
		}
	}
	return b.report(ctx)
}

// rowAcc collects one row's samples.
type rowAcc struct {
	row                   ReportRow
	first, resp, duration []float64
	spans                 []span // assigned spans, for MaxConcurrent
	ratingSum, good       int
}

type span struct{ from, to time.Time }

type reportBuilder struct {
	s        *Server
	q        ReportQuery
	now      time.Time
	team     rowAcc
	ops      map[string]*rowAcc
	starts   []time.Time // period starts; period i ends at starts[i+1] or q.To
	per      []rowAcc
	online   map[string][]span // operator -> online spans
	triggers map[string]*TriggerReport
	chatted  map[string]bool // visitor -> wrote in a conversation of the range
	currency string
	placed   []*Order // orders in the range
	conv     Conversion
	bot      BotReport
}

func (b *reportBuilder) periods(q ReportQuery) {
	days := 1
	if q.Period == "week" {
		days = 7
	}
	for t := q.From; t.Before(q.To); t = t.AddDate(0, 0, days) {
		b.starts = append(b.starts, t)
	}
	b.per = make([]rowAcc, len(b.starts))
}

// period returns the index of the period holding t (in range).
func (b *reportBuilder) period(t time.Time) int {
	return sort.Search(len(b.starts), func(i int) bool { return b.starts[i].After(t) }) - 1
}

func (b *reportBuilder) periodEnd(i int) time.Time {
	if i+1 < len(b.starts) {
		return b.starts[i+1]
	}
	return b.q.To
}

func (b *reportBuilder) op(id string) *rowAcc {
	r := b.ops[id]
	if r == nil {
		r = &rowAcc{}
		b.ops[id] = r
	}
	return r
}

// rows returns the rows a fact about operator op at time t counts in.
func (b *reportBuilder) rows(op string, t time.Time) []*rowAcc {
	rows := []*rowAcc{&b.team}
	if i := b.period(t); i >= 0 {
		rows = append(rows, &b.per[i])
	}
	if op != "" {
		rows = append(rows, b.op(op))
	}
	return rows
}

// end is where the report's open spans stop: To, or now if earlier.
func (b *reportBuilder) end() time.Time {
	if b.now.Before(b.q.To) {
		return b.now
	}
	return b.q.To
}

// presenceLookback is how far before From presence changes are read, to
// know who was online when the range began.
const presenceLookback = 7 * 24 * time.Hour

func (b *reportBuilder) presence(ctx context.Context) error {
	state := map[string]Presence{}
	since := map[string]time.Time{}
	b.online = map[string][]span{}
	closeSpan := func(op string, at time.Time) {
		if state[op] == Online && at.After(since[op]) {
			b.online[op] = append(b.online[op], span{since[op], at})
		}
	}
	q := ActivityQuery{Kinds: []ActivityKind{PresenceChanged}, From: b.q.From.Add(-presenceLookback), To: b.end()}
	err := b.s.forActivities(ctx, q, func(a Activity) {
		closeSpan(a.OperatorID, a.At)
		state[a.OperatorID], since[a.OperatorID] = Presence(a.Text), a.At
	})
	if err != nil {
		return err
	}
	for op := range state {
		closeSpan(op, b.end())
	}
	for op, spans := range b.online {
		for _, sp := range spans {
			b.op(op).row.OnlineSeconds += overlap(sp, b.q.From, b.end())
			b.team.row.OnlineSeconds += overlap(sp, b.q.From, b.end())
			for i := range b.per {
				b.per[i].row.OnlineSeconds += overlap(sp, b.starts[i], b.periodEnd(i))
			}
		}
	}
	return nil
}

func overlap(sp span, from, to time.Time) float64 {
	start, end := sp.from, sp.to
	if start.Before(from) {
		start = from
	}
	if end.After(to) {
		end = to
	}
	if !end.After(start) {
		return 0
	}
	return end.Sub(start).Seconds()
}

// anyOnline reports whether an operator was online at t.
func (b *reportBuilder) anyOnline(t time.Time) bool {
	for _, spans := range b.online {
		for _, sp := range spans {
			if !t.Before(sp.from) && t.Before(sp.to) {
				return true
			}
		}
	}
	return false
}

func (b *reportBuilder) conversations(ctx context.Context) error {
	b.chatted = map[string]bool{}
	f := ConversationFilter{Since: b.q.From, Before: b.q.To}
	return b.s.forConversations(ctx, f, func(c *Conversation) error {
		ms, err := b.s.store.Messages(ctx, MessageQuery{ConversationID: c.ID})
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				return nil // erased meanwhile
			}
			return err
		}
		b.conversation(c, ms)
		return nil
	})
}

func (b *reportBuilder) conversation(c *Conversation, ms []*Message) {
	var firstVisitor, waiting time.Time // waiting: the first unanswered visitor message
	var firstResp float64
	var resps []float64
	answered, wrote := false, false
	for _, m := range ms {
		switch m.Kind {
		case VisitorText:
			wrote = true
			if firstVisitor.IsZero() {
				firstVisitor = m.CreatedAt
			}
			if waiting.IsZero() {
				waiting = m.CreatedAt
			}
		case OperatorText:
			// An operator's message before the visitor wrote (an
			// invitation) answers nothing.
			if !waiting.IsZero() {
				resps = append(resps, m.CreatedAt.Sub(waiting).Seconds())
				waiting = time.Time{}
			}
			if !answered && !firstVisitor.IsZero() {
				firstResp, answered = m.CreatedAt.Sub(firstVisitor).Seconds(), true
			}
		}
	}
	// An invitation (an operator message before the visitor wrote) is no
	// answer: a chat it opened that nobody answered is missed.
	replied := answered || (firstVisitor.IsZero() && slices.ContainsFunc(ms, func(m *Message) bool { return m.Kind == OperatorText }))
	replied = replied || IsBotID(c.OperatorID) // the bot kept it: it answered, the team was not asked
	if wrote {
		b.chatted[c.VisitorID] = true
	} else if _, ok := b.chatted[c.VisitorID]; !ok {
		b.chatted[c.VisitorID] = false
	}
	i := b.period(c.CreatedAt)
	missed := !replied && (c.Status == Closed || (c.Status == Queued && !b.now.Before(b.periodEnd(i))))
	offline := !b.anyOnline(c.CreatedAt) || !b.s.cfg.BusinessHours.IsOpen(c.CreatedAt)
	for _, r := range b.rows(c.OperatorID, c.CreatedAt) {
		r.row.Conversations++
		if missed {
			r.row.Missed++
		}
		if offline {
			r.row.Offline++
		}
		if answered {
			r.first = append(r.first, firstResp)
		}
		r.resp = append(r.resp, resps...)
		if c.Status == Closed && !c.ClosedAt.IsZero() {
			r.duration = append(r.duration, c.ClosedAt.Sub(c.CreatedAt).Seconds())
		}
		if c.OperatorID != "" && !c.AssignedAt.IsZero() {
			end := c.ClosedAt
			if c.Status != Closed || end.IsZero() {
				end = b.now
			}
			r.spans = append(r.spans, span{c.AssignedAt, end})
		}
	}
}

func (b *reportBuilder) orders(ctx context.Context) error {
	byCurrency := map[string]int{}
	err := b.s.forOrders(ctx, OrderQuery{From: b.q.From, To: b.q.To}, func(o *Order) {
		b.placed = append(b.placed, o)
		byCurrency[o.Currency]++
	})
	if err != nil {
		return err
	}
	for cur, n := range byCurrency {
		if n > byCurrency[b.currency] || (n == byCurrency[b.currency] && cur < b.currency) {
			b.currency = cur
		}
	}
	if len(b.placed) == 0 {
		// No order in the range: the shop's currency from an earlier one,
		// so an empty report still says what its zeros are in.
		earlier, err := b.s.store.Orders(ctx, OrderQuery{From: b.q.From.AddDate(-1, 0, 0), To: b.q.From, Limit: 1})
		if err != nil {
			return err
		}
		if len(earlier) > 0 {
			b.currency = earlier[0].Currency
		}
	}
	for _, o := range b.placed {
		a := o.Attribution
		if !a.Chat() || o.Currency != b.currency {
			continue
		}
		for _, r := range b.rows(a.OperatorID, o.PlacedAt) {
			r.row.Orders++
			r.row.Revenue += o.Total
		}
		if a.TriggerID != "" {
			t := b.trigger(a.TriggerID)
			t.Orders++
			t.Revenue += o.Total
		}
	}
	return nil
}

func (b *reportBuilder) ratings(ctx context.Context) error {
	latest := map[string]Activity{} // conversation -> its latest rating
	q := ActivityQuery{Kinds: []ActivityKind{Rated}, From: b.q.From, To: b.q.To}
	if err := b.s.forActivities(ctx, q, func(a Activity) { latest[a.ConversationID] = a }); err != nil {
		return err
	}
	for _, a := range latest {
		for _, r := range b.rows(a.OperatorID, a.At) {
			r.row.Ratings++
			r.ratingSum += int(a.Value)
			if a.Value >= 4 {
				r.good++
			}
		}
	}
	return nil
}

func (b *reportBuilder) trigger(id string) *TriggerReport {
	t := b.triggers[id]
	if t == nil {
		t = &TriggerReport{ID: id}
		b.triggers[id] = t
	}
	return t
}

func (b *reportBuilder) triggerActivity(ctx context.Context) error {
	q := ActivityQuery{Kinds: []ActivityKind{TriggerShown, InvitationAccepted}, From: b.q.From, To: b.q.To}
	return b.s.forActivities(ctx, q, func(a Activity) {
		if a.TriggerID == "" {
			return // an operator's invitation
		}
		if a.Kind == TriggerShown {
			b.trigger(a.TriggerID).Shown++
		} else {
			b.trigger(a.TriggerID).Accepted++
		}
	})
}

// botActivity counts the bot's conversations of the range and the orders
// attributed to them.
func (b *reportBuilder) botActivity(ctx context.Context) error {
	started, handed := map[string]bool{}, map[string]bool{}
	q := ActivityQuery{Kinds: []ActivityKind{BotStarted, BotHandedOff}, From: b.q.From, To: b.q.To}
	err := b.s.forActivities(ctx, q, func(a Activity) {
		if a.Kind == BotStarted {
			started[a.ConversationID] = true
		} else {
			handed[a.ConversationID] = true
		}
	})
	if err != nil {
		return err
	}
	r := &b.bot
	r.Conversations = len(started)
	for id := range started {
		if handed[id] {
			r.HandedOff++
		} else {
			r.Resolved++
		}
	}
	for _, o := range b.placed {
		a := o.Attribution
		if !a.Chat() || o.Currency != b.currency || !started[a.ConversationID] {
			continue
		}
		if handed[a.ConversationID] {
			r.OrdersHandedOff++
			r.RevenueHandedOff += o.Total
		} else {
			r.OrdersResolved++
			r.RevenueResolved += o.Total
		}
	}
	return nil
}

func (b *reportBuilder) conversion(ctx context.Context) error {
	seen := b.chatted // visitor -> chatted
	if pv, ok := StoreAs[PageViewVisitors](b.s.store); ok {
		ids, err := pv.PageViewVisitors(ctx, b.q.From, b.q.To)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if _, ok := seen[id]; !ok {
				seen[id] = false
			}
		}
	}
	c := &Conversion{}
	for _, o := range b.placed {
		if o.VisitorID == "" {
			continue // the visitor was erased
		}
		chatted := o.Attribution.Chat()
		if chatted {
			seen[o.VisitorID] = true // perhaps in a chat before the range
		} else if _, ok := seen[o.VisitorID]; !ok {
			seen[o.VisitorID] = false
		}
		if chatted {
			c.OrdersChatted++
		} else {
			c.OrdersNotChatted++
		}
	}
	for _, chatted := range seen {
		if chatted {
			c.VisitorsChatted++
		} else {
			c.VisitorsNotChatted++
		}
	}
	c.RateChatted = ratio(c.OrdersChatted, c.VisitorsChatted, 4)
	c.RateNotChatted = ratio(c.OrdersNotChatted, c.VisitorsNotChatted, 4)
	b.conv = *c
	return nil
}

func (b *reportBuilder) report(ctx context.Context) (*Report, error) {
	r := &Report{From: b.q.From, To: b.q.To, Period: b.q.Period, Currency: b.currency, Team: b.team.final(), Conversion: b.conv, Bot: b.bot,
		AttributionWindow: b.s.cfg.AttributionWindow.Seconds()}
	loads, err := b.s.store.OperatorLoads(ctx, b.now)
	if err != nil {
		return nil, fmt.Errorf("chat: report: %w", err)
	}
	profiles := make(map[string]*Operator, len(loads))
	for _, l := range loads { // every operator gets a row, idle ones too
		b.op(l.Operator.ID)
		profiles[l.Operator.ID] = l.Operator
	}
	r.Operators = make([]OperatorReport, 0, len(b.ops)) // [] rather than null in JSON
	for id, acc := range b.ops {
		if IsBotID(id) {
			continue // the bot's figures are in Report.Bot
		}
		or := OperatorReport{ID: id, ReportRow: acc.final()}
		if p := profiles[id]; p != nil {
			or.Name, or.Avatar = p.Name, p.AvatarURL
		}
		r.Operators = append(r.Operators, or)
	}
	slices.SortFunc(r.Operators, func(a, b OperatorReport) int { return cmp.Compare(a.ID, b.ID) })
	r.Periods = make([]PeriodReport, len(b.starts))
	for i, start := range b.starts {
		r.Periods[i] = PeriodReport{Start: start, ReportRow: b.per[i].final()}
	}
	stored, err := b.s.store.Triggers(ctx)
	if err != nil {
		return nil, fmt.Errorf("chat: report: %w", err)
	}
	for _, t := range stored {
		b.trigger(t.ID).Name = t.Name
	}
	r.Triggers = make([]TriggerReport, 0, len(b.triggers))
	for _, t := range b.triggers {
		r.Triggers = append(r.Triggers, *t)
	}
	slices.SortFunc(r.Triggers, func(a, b TriggerReport) int { return cmp.Compare(a.ID, b.ID) })
	return r, nil
}

// final computes the row's statistics from its samples.
func (acc *rowAcc) final() ReportRow {
	row := acc.row
	row.FirstResponseMedian, row.FirstResponseP90 = percentile(acc.first, 50), percentile(acc.first, 90)
	row.ResponseMedian, row.ResponseP90 = percentile(acc.resp, 50), percentile(acc.resp, 90)
	row.DurationMedian = percentile(acc.duration, 50)
	row.MaxConcurrent = maxConcurrent(acc.spans)
	row.OnlineSeconds = math.Round(row.OnlineSeconds)
	if row.Ratings > 0 {
		row.RatingAverage = round(float64(acc.ratingSum)/float64(row.Ratings), 2)
		row.CSAT = ratio(acc.good, row.Ratings, 2)
	}
	return row
}

// percentile is the nearest-rank p-th percentile of sample, 0 for none,
// rounded to milliseconds.
func percentile(sample []float64, p float64) float64 {
	if len(sample) == 0 {
		return 0
	}
	s := slices.Clone(sample)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return round(s[max(rank, 1)-1], 3)
}

// maxConcurrent is the most spans open at one instant.
func maxConcurrent(spans []span) int {
	type edge struct {
		at    time.Time
		delta int
	}
	edges := make([]edge, 0, 2*len(spans))
	for _, sp := range spans {
		edges = append(edges, edge{sp.from, 1}, edge{sp.to, -1})
	}
	// At one instant, ends go before starts: a chat closed as the next
	// one was assigned did not run alongside it.
	slices.SortFunc(edges, func(a, b edge) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return cmp.Compare(a.delta, b.delta)
	})
	n, most := 0, 0
	for _, e := range edges {
		n += e.delta
		most = max(most, n)
	}
	return most
}

func ratio(n, d, places int) float64 {
	if d == 0 {
		return 0
	}
	return round(float64(n)/float64(d), places)
}

func round(x float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(x*p) / p
}

// forActivities calls fn for every activity matching q in ascending At,
// paging by From. Activities at the last instant of a page are read again
// with the next page rather than kept, so none is repeated or skipped.
func (s *Server) forActivities(ctx context.Context, q ActivityQuery, fn func(Activity)) error {
	q.Limit = 5000
	return pageAscending(q.From, q.Limit,
		func(from time.Time) ([]Activity, error) { q.From = from; return s.store.Activities(ctx, q) },
		func(a Activity) time.Time { return a.At }, fn)
}

// forOrders is forActivities for orders.
func (s *Server) forOrders(ctx context.Context, q OrderQuery, fn func(*Order)) error {
	q.Limit = 5000
	return pageAscending(q.From, q.Limit,
		func(from time.Time) ([]*Order, error) { q.From = from; return s.store.Orders(ctx, q) },
		func(o *Order) time.Time { return o.PlacedAt }, fn)
}

func pageAscending[T any](from time.Time, limit int, fetch func(time.Time) ([]T, error), at func(T) time.Time, fn func(T)) error {
	for {
		page, err := fetch(from)
		if err != nil {
			return err
		}
		if len(page) < limit {
			for _, x := range page {
				fn(x)
			}
			return nil
		}
		last := at(page[len(page)-1])
		keep := len(page)
		for keep > 0 && at(page[keep-1]).Equal(last) {
			keep--
		}
		next := last
		if keep == 0 { // a whole page at one instant: take it and move on
			keep, next = len(page), last.Add(time.Nanosecond)
		}
		for _, x := range page[:keep] {
			fn(x)
		}
		from = next
	}
}

// serveReports serves GET {Path}reports to operators: from and to
// (YYYY-MM-DD, inclusive days in the server clock's location; default the
// last 7 days), period (day or week) and format (json or csv).
func (s *Server) serveReports(w http.ResponseWriter, r *http.Request) {
	if op, err := s.cfg.Operators(r); err != nil || op == nil || op.ID == "" {
		http.Error(w, "operator login required", http.StatusUnauthorized)
		return
	}
	q, format, err := s.parseReportQuery(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rep, err := s.Report(r.Context(), q)
	if errors.Is(err, ErrInvalid) {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err != nil {
		s.logErr("report", err)
		http.Error(w, "report unavailable; try again", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="chat-report-%s.csv"`, q.From.Format("2006-01-02")))
		if err := rep.writeCSV(w); err != nil {
			s.logErr("report csv", err)
		}
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(rep); err != nil {
		s.logErr("report json", err)
	}
}

func (s *Server) parseReportQuery(r *http.Request) (ReportQuery, string, error) {
	v := r.URL.Query()
	loc := s.now().Location()
	y, m, d := s.now().Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, loc)
	day := func(name string, def time.Time) (time.Time, error) {
		s := v.Get(name)
		if s == "" {
			return def, nil
		}
		t, err := time.ParseInLocation("2006-01-02", s, loc)
		if err != nil {
			return time.Time{}, fmt.Errorf("%s=%q: want a date like 2026-12-01", name, s)
		}
		return t, nil
	}
	to, err := day("to", today)
	if err != nil {
		return ReportQuery{}, "", err
	}
	from, err := day("from", to.AddDate(0, 0, -6))
	if err != nil {
		return ReportQuery{}, "", err
	}
	if to.Before(from) {
		return ReportQuery{}, "", fmt.Errorf("from=%s is after to=%s", from.Format("2006-01-02"), to.Format("2006-01-02"))
	}
	format := v.Get("format")
	switch format {
	case "":
		format = "json"
	case "json", "csv":
	default:
		return ReportQuery{}, "", fmt.Errorf("format=%q: want json or csv", format)
	}
	period := v.Get("period")
	if period != "" && period != "day" && period != "week" {
		return ReportQuery{}, "", fmt.Errorf("period=%q: want day or week", period)
	}
	return ReportQuery{From: from, To: to.AddDate(0, 0, 1), Period: period}, format, nil
}

// writeCSV writes one row per operator and one for the team. Durations are
// in seconds; revenue is in the currency's major units (12.50), with the
// currency in its own column, as a spreadsheet wants them.
func (rep *Report) writeCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	header := []string{"operator", "name", "conversations", "missed", "offline",
		"first_response_median", "first_response_p90", "response_median", "response_p90",
		"duration_median", "max_concurrent", "online_seconds", "orders", "revenue", "currency",
		"ratings", "rating_average", "csat"}
	if err := cw.Write(header); err != nil {
		return err
	}
	line := func(id, name string, row ReportRow) []string {
		f := func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
		return []string{csvText(id), csvText(name), strconv.Itoa(row.Conversations), strconv.Itoa(row.Missed), strconv.Itoa(row.Offline),
			f(row.FirstResponseMedian), f(row.FirstResponseP90), f(row.ResponseMedian), f(row.ResponseP90),
			f(row.DurationMedian), strconv.Itoa(row.MaxConcurrent), f(row.OnlineSeconds), strconv.Itoa(row.Orders),
			majorUnits(row.Revenue, rep.Currency), rep.Currency, strconv.Itoa(row.Ratings), f(row.RatingAverage), f(row.CSAT)}
	}
	for _, op := range rep.Operators {
		if err := cw.Write(line(op.ID, op.Name, op.ReportRow)); err != nil {
			return err
		}
	}
	if err := cw.Write(line("", "team", rep.Team)); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// zeroDecimal are the ISO 4217 currencies without minor units.
var zeroDecimal = map[string]bool{"BIF": true, "CLP": true, "DJF": true, "GNF": true, "ISK": true, "JPY": true, "KMF": true,
	"KRW": true, "PYG": true, "RWF": true, "UGX": true, "UYI": true, "VND": true, "VUV": true, "XAF": true, "XOF": true, "XPF": true}

// majorUnits writes an amount in minor units in major ones: 1250 EUR is
// "12.50", 1250 JPY "1250".
func majorUnits(minor int64, currency string) string {
	if zeroDecimal[currency] {
		return strconv.FormatInt(minor, 10)
	}
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	return fmt.Sprintf("%s%d.%02d", sign, minor/100, minor%100)
}

// csvText keeps a cell from being read as a formula by spreadsheets, which
// would run text the shop's operators typed (names) as code.
func csvText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
