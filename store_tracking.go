package chat

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// TrackingStore is the tracking role of Store (optional): page views and
// the activity log (triggers shown, invitations, ratings, presence
// changes) that triggers, invitations and reports read back.
//
// Without it New uses an in-process stand-in on a single node, which keeps
// the latest maxStandIn page views and activities in memory (lost on
// restart), and refuses to start with a Broker.
type TrackingStore interface {
	// AddPageViews stores a batch of page views. Views of visitors the
	// store does not know are skipped (the visitor may have been erased).
	// (Checked: every view has a VisitorID and a URL; else nothing is
	// stored.)
	AddPageViews(ctx context.Context, views []PageView) error
	// PageViews returns a visitor's page views, newest (At, then
	// insertion) first, at most limit. (Checked: limit is above 0; 0
	// means 50.)
	PageViews(ctx context.Context, visitorID string, limit int) ([]PageView, error)
	// AddActivities appends a batch of activities. (Checked: every
	// activity has a Kind; else nothing is stored.)
	AddActivities(ctx context.Context, as []Activity) error
	// Activities returns the activities matching q in ascending At (then
	// insertion) order. (Checked: q.Limit is above 0; 0 means 10,000.)
	Activities(ctx context.Context, q ActivityQuery) ([]Activity, error)
}

// Limit defaults Checked fills in.
const (
	defaultPageViews = 50
	defaultReport    = 10000 // ActivityQuery.Limit and OrderQuery.Limit
)

// Match reports whether a is one of the activities q selects, apart from
// q.Limit: the one definition of ActivityQuery's filters, for stores that
// filter in Go.
func (q ActivityQuery) Match(a Activity) bool {
	return (len(q.Kinds) == 0 || slices.Contains(q.Kinds, a.Kind)) &&
		(q.VisitorID == "" || a.VisitorID == q.VisitorID) &&
		(q.ConversationID == "" || a.ConversationID == q.ConversationID) &&
		(q.OperatorID == "" || a.OperatorID == q.OperatorID) &&
		(q.TriggerID == "" || a.TriggerID == q.TriggerID) &&
		inRange(a.At, q.From, q.To)
}

// inRange reports whether from <= t < to, a zero bound not bounding.
func inRange(t, from, to time.Time) bool {
	return (from.IsZero() || !t.Before(from)) && (to.IsZero() || t.Before(to))
}

func (c *checked) AddPageViews(ctx context.Context, views []PageView) error {
	for i, v := range views {
		if v.VisitorID == "" || v.URL == "" {
			return storeInvalid("page view %d has no visitor id or URL", i)
		}
	}
	if c.tracking == nil {
		return c.missing("tracking")
	}
	return c.tracking.AddPageViews(ctx, views)
}

func (c *checked) PageViews(ctx context.Context, visitorID string, limit int) ([]PageView, error) {
	if c.tracking == nil {
		return nil, c.missing("tracking")
	}
	return c.tracking.PageViews(ctx, visitorID, limitOr(limit, defaultPageViews))
}

func (c *checked) AddActivities(ctx context.Context, as []Activity) error {
	for i, a := range as {
		if a.Kind == "" {
			return storeInvalid("activity %d: kind is empty", i)
		}
	}
	if c.tracking == nil {
		return c.missing("tracking")
	}
	return c.tracking.AddActivities(ctx, as)
}

func (c *checked) Activities(ctx context.Context, q ActivityQuery) ([]Activity, error) {
	if c.tracking == nil {
		return nil, c.missing("tracking")
	}
	q.Limit = limitOr(q.Limit, defaultReport)
	return c.tracking.Activities(ctx, q)
}

// PageViewVisitors is found on the store, not the stand-in: reports then
// count only visitors who chatted.
func (c *checked) PageViewVisitors(ctx context.Context, from, to time.Time) ([]string, error) {
	if c.pageViewVisitors == nil {
		return nil, c.missing("page-view-visitors")
	}
	if !from.IsZero() && !to.IsZero() && to.Before(from) {
		return nil, storeInvalid("page view range ends (%v) before it starts (%v)", to, from)
	}
	return c.pageViewVisitors.PageViewVisitors(ctx, from, to)
}

// maxStandIn bounds what each in-process stand-in keeps: past it, the
// oldest quarter goes.
const maxStandIn = 100_000

// trackingStandIn is the in-process TrackingStore for a store without the
// tracking role.
type trackingStandIn struct {
	core       Store // to skip views of unknown visitors, as a store does
	mu         sync.Mutex
	views      []PageView // in insertion order
	activities []Activity // in insertion order
}

func (t *trackingStandIn) AddPageViews(ctx context.Context, views []PageView) error {
	known := map[string]bool{}
	for _, v := range views {
		if _, ok := known[v.VisitorID]; ok {
			continue
		}
		_, err := t.core.Visitor(ctx, v.VisitorID)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		known[v.VisitorID] = err == nil
	}
	t.mu.Lock()
	for _, v := range views {
		if known[v.VisitorID] {
			t.views = append(t.views, v)
		}
	}
	t.views = bounded(t.views)
	t.mu.Unlock()
	return nil
}

func (t *trackingStandIn) PageViews(_ context.Context, visitorID string, limit int) ([]PageView, error) {
	t.mu.Lock()
	out := []PageView{}
	for i := len(t.views) - 1; i >= 0; i-- { // newest insertion first among equal times
		if t.views[i].VisitorID == visitorID {
			out = append(out, t.views[i])
		}
	}
	t.mu.Unlock()
	slices.SortStableFunc(out, func(a, b PageView) int { return b.At.Compare(a.At) })
	return out[:min(limit, len(out))], nil
}

func (t *trackingStandIn) AddActivities(_ context.Context, as []Activity) error {
	t.mu.Lock()
	t.activities = bounded(append(t.activities, as...))
	t.mu.Unlock()
	return nil
}

func (t *trackingStandIn) Activities(_ context.Context, q ActivityQuery) ([]Activity, error) {
	t.mu.Lock()
	out := []Activity{}
	for _, a := range t.activities {
		if q.Match(a) {
			out = append(out, a)
		}
	}
	t.mu.Unlock()
	slices.SortStableFunc(out, func(a, b Activity) int { return a.At.Compare(b.At) })
	return out[:min(q.Limit, len(out))], nil
}

func (t *trackingStandIn) eraseVisitor(id string) {
	t.mu.Lock()
	t.views = slices.DeleteFunc(t.views, func(v PageView) bool { return v.VisitorID == id })
	t.activities = slices.DeleteFunc(t.activities, func(a Activity) bool { return a.VisitorID == id })
	t.mu.Unlock()
}

func (t *trackingStandIn) purge(time.Time) {}

// bounded drops the oldest quarter of xs once it holds more than
// maxStandIn.
func bounded[T any](xs []T) []T {
	if len(xs) <= maxStandIn {
		return xs
	}
	return slices.Clone(xs[len(xs)-maxStandIn*3/4:])
}
