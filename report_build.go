package chat

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/shopchat/chat/internal/stats"
)

// rowAcc collects one row's samples.
type rowAcc struct {
	row                   ReportRow
	first, resp, duration []float64
	spans                 []stats.Span // assigned spans, for MaxConcurrent
	ratingSum, good       int
}

type reportBuilder struct {
	s        *Server
	q        ReportQuery
	now      time.Time
	team     rowAcc
	ops      map[string]*rowAcc
	starts   []time.Time // period starts; period i ends at starts[i+1] or q.To
	per      []rowAcc
	online   map[string][]stats.Span // operator -> online spans
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
	b.online = map[string][]stats.Span{}
	closeSpan := func(op string, at time.Time) {
		if state[op] == Online && at.After(since[op]) {
			b.online[op] = append(b.online[op], stats.Span{From: since[op], To: at})
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
			b.op(op).row.OnlineSeconds += stats.Overlap(sp, b.q.From, b.end())
			b.team.row.OnlineSeconds += stats.Overlap(sp, b.q.From, b.end())
			for i := range b.per {
				b.per[i].row.OnlineSeconds += stats.Overlap(sp, b.starts[i], b.periodEnd(i))
			}
		}
	}
	return nil
}

// anyOnline reports whether an operator was online at t.
func (b *reportBuilder) anyOnline(t time.Time) bool {
	for _, spans := range b.online {
		for _, sp := range spans {
			if !t.Before(sp.From) && t.Before(sp.To) {
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
			r.spans = append(r.spans, stats.Span{From: c.AssignedAt, To: end})
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
	if pv, ok := b.s.store.pageViewVisitorsRole(); ok {
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
	c.RateChatted = stats.Ratio(c.OrdersChatted, c.VisitorsChatted, 4)
	c.RateNotChatted = stats.Ratio(c.OrdersNotChatted, c.VisitorsNotChatted, 4)
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
	row.FirstResponseMedian, row.FirstResponseP90 = stats.Percentile(acc.first, 50), stats.Percentile(acc.first, 90)
	row.ResponseMedian, row.ResponseP90 = stats.Percentile(acc.resp, 50), stats.Percentile(acc.resp, 90)
	row.DurationMedian = stats.Percentile(acc.duration, 50)
	row.MaxConcurrent = stats.MaxConcurrent(acc.spans)
	row.OnlineSeconds = math.Round(row.OnlineSeconds)
	if row.Ratings > 0 {
		row.RatingAverage = stats.Round(float64(acc.ratingSum)/float64(row.Ratings), 2)
		row.CSAT = stats.Ratio(acc.good, row.Ratings, 2)
	}
	return row
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
