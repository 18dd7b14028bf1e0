package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/shopchat/chat"
)

var _ chat.PageViewVisitors = (*Store)(nil)

// Default limits of the tracking queries when the caller passes 0.
const (
	defaultPageViews = 50
	defaultReport    = 10000 // ActivityQuery.Limit and OrderQuery.Limit
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("memory: "+format+": %w", append(args, chat.ErrInvalid)...)
}

// Page views.

// AddPageViews implements chat.Store. The batch is checked whole before
// anything is stored.
func (s *Store) AddPageViews(_ context.Context, views []chat.PageView) error {
	for i, v := range views {
		if v.VisitorID == "" || v.URL == "" {
			return invalid("page view %d has no visitor id or URL", i)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range views {
		if _, ok := s.visitors[v.VisitorID]; ok {
			s.pageViews[v.VisitorID] = append(s.pageViews[v.VisitorID], v)
		}
	}
	return nil
}

// PageViews implements chat.Store.
func (s *Store) PageViews(_ context.Context, visitorID string, limit int) ([]chat.PageView, error) {
	if limit <= 0 {
		limit = defaultPageViews
	}
	s.mu.Lock()
	out := slices.Clone(s.pageViews[visitorID])
	s.mu.Unlock()
	// Views are kept in insertion order: reversed, a stable sort by At
	// descending puts the later insertion first among equal times.
	slices.Reverse(out)
	slices.SortStableFunc(out, func(a, b chat.PageView) int { return b.At.Compare(a.At) })
	if out == nil {
		out = []chat.PageView{} // none is an empty list, as in the SQL stores
	}
	return head(out, limit), nil
}

// PageViewVisitors implements chat.PageViewVisitors: the ids, ascending,
// of the visitors with a view in from <= At < to. ErrInvalid if to is
// before from.
func (s *Store) PageViewVisitors(_ context.Context, from, to time.Time) ([]string, error) {
	if to.Before(from) {
		return nil, invalid("page view range ends (%v) before it starts (%v)", to, from)
	}
	s.mu.Lock()
	ids := []string{}
	for id, views := range s.pageViews {
		if slices.ContainsFunc(views, func(v chat.PageView) bool { return !v.At.Before(from) && v.At.Before(to) }) {
			ids = append(ids, id)
		}
	}
	s.mu.Unlock()
	slices.Sort(ids)
	return ids, nil
}

// Activities.

// AddActivities implements chat.Store. The batch is checked whole before
// anything is stored.
func (s *Store) AddActivities(_ context.Context, as []chat.Activity) error {
	for i, a := range as {
		if a.Kind == "" {
			return invalid("activity %d has no kind", i)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.activities = append(s.activities, as...)
	return nil
}

// Activities implements chat.Store.
func (s *Store) Activities(_ context.Context, q chat.ActivityQuery) ([]chat.Activity, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = defaultReport
	}
	s.mu.Lock()
	out := []chat.Activity{}
	for _, a := range s.activities {
		switch {
		case len(q.Kinds) > 0 && !slices.Contains(q.Kinds, a.Kind),
			q.VisitorID != "" && a.VisitorID != q.VisitorID,
			q.ConversationID != "" && a.ConversationID != q.ConversationID,
			q.OperatorID != "" && a.OperatorID != q.OperatorID,
			q.TriggerID != "" && a.TriggerID != q.TriggerID,
			!inRange(a.At, q.From, q.To):
			continue
		}
		out = append(out, a)
	}
	s.mu.Unlock()
	// Stable: equal times keep insertion order.
	slices.SortStableFunc(out, func(a, b chat.Activity) int { return a.At.Compare(b.At) })
	return head(out, limit), nil
}

// Orders.

func copyOrder(o *chat.Order) *chat.Order {
	c := *o
	return &c
}

// PutOrder implements chat.Store.
func (s *Store) PutOrder(_ context.Context, o *chat.Order) (*chat.Order, bool, error) {
	if o.ID == "" {
		return nil, false, invalid("order id is empty")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if prev, ok := s.orders[o.ID]; ok {
		return copyOrder(prev), false, nil
	}
	s.orders[o.ID] = copyOrder(o)
	return copyOrder(o), true, nil
}

// Orders implements chat.Store.
func (s *Store) Orders(_ context.Context, q chat.OrderQuery) ([]*chat.Order, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = defaultReport
	}
	s.mu.Lock()
	out := []*chat.Order{}
	for _, o := range s.orders {
		if (q.VisitorID == "" || o.VisitorID == q.VisitorID) && inRange(o.PlacedAt, q.From, q.To) {
			out = append(out, copyOrder(o))
		}
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b *chat.Order) int {
		return cmp.Or(a.PlacedAt.Compare(b.PlacedAt), cmp.Compare(a.ID, b.ID))
	})
	return head(out, limit), nil
}

// head returns the first n of xs (all if fewer), capped so that appending
// to it cannot reach the rest.
func head[T any](xs []T, n int) []T {
	n = min(n, len(xs))
	return xs[:n:n]
}

// inRange reports whether from <= t < to, a zero bound not limiting.
func inRange(t, from, to time.Time) bool {
	return (from.IsZero() || !t.Before(from)) && (to.IsZero() || t.Before(to))
}

// Canned responses.

func copyCanned(c *chat.CannedResponse) *chat.CannedResponse {
	cc := *c
	return &cc
}

// PutCanned implements chat.Store.
func (s *Store) PutCanned(_ context.Context, c *chat.CannedResponse) error {
	if c.ID == "" || c.Shortcut == "" || c.Text == "" {
		return invalid("canned response %q needs an id, a shortcut and a text", c.ID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.canned {
		if o.ID != c.ID && o.OperatorID == c.OperatorID && o.Shortcut == c.Shortcut {
			return conflict("canned shortcut", c.Shortcut, "used by "+o.ID)
		}
	}
	s.canned[c.ID] = copyCanned(c)
	return nil
}

// DeleteCanned implements chat.Store.
func (s *Store) DeleteCanned(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.canned[id]; !ok {
		return notFound("canned response", id)
	}
	delete(s.canned, id)
	return nil
}

// CannedResponses implements chat.Store.
func (s *Store) CannedResponses(_ context.Context, operatorID string) ([]*chat.CannedResponse, error) {
	s.mu.Lock()
	out := []*chat.CannedResponse{}
	for _, c := range s.canned {
		if c.OperatorID == "" || c.OperatorID == operatorID {
			out = append(out, copyCanned(c))
		}
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b *chat.CannedResponse) int {
		return cmp.Or(cmp.Compare(a.Shortcut, b.Shortcut), cmp.Compare(a.OperatorID, b.OperatorID))
	})
	return out, nil
}

// Triggers.

func copyTrigger(t *chat.Trigger) *chat.Trigger {
	c := *t
	return &c
}

// PutTrigger implements chat.Store.
func (s *Store) PutTrigger(_ context.Context, t *chat.Trigger) error {
	if t.ID == "" {
		return invalid("trigger id is empty")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.triggers[t.ID] = copyTrigger(t)
	return nil
}

// DeleteTrigger implements chat.Store.
func (s *Store) DeleteTrigger(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.triggers[id]; !ok {
		return notFound("trigger", id)
	}
	delete(s.triggers, id)
	return nil
}

// Triggers implements chat.Store.
func (s *Store) Triggers(_ context.Context) ([]*chat.Trigger, error) {
	s.mu.Lock()
	out := make([]*chat.Trigger, 0, len(s.triggers))
	for _, t := range s.triggers {
		out = append(out, copyTrigger(t))
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b *chat.Trigger) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// eraseTracking removes visitor id's page views and activities and clears
// the VisitorID of their orders, which stay as the shop's revenue; s.mu
// must be held.
func (s *Store) eraseTracking(id string) {
	delete(s.pageViews, id)
	s.activities = slices.DeleteFunc(s.activities, func(a chat.Activity) bool { return a.VisitorID == id })
	for _, o := range s.orders {
		if o.VisitorID == id {
			o.VisitorID = ""
		}
	}
}
