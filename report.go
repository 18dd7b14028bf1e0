package chat

import (
	"context"
	"fmt"
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
