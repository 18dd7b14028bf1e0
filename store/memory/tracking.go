package memory

import (
	"context"
	"slices"
	"time"

	"github.com/shopchat/chat"
)

// Page views.

// AddPageViews implements chat.Store. The batch is checked whole before
// anything is stored.
func (s *Store) AddPageViews(_ context.Context, views []chat.PageView) error {
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
	s.mu.Lock()
	defer s.mu.Unlock()
	s.activities = append(s.activities, as...)
	return nil
}

// Activities implements chat.Store.
func (s *Store) Activities(_ context.Context, q chat.ActivityQuery) ([]chat.Activity, error) {
	s.mu.Lock()
	out := []chat.Activity{}
	for _, a := range s.activities {
		if q.Match(a) {
			out = append(out, a)
		}
	}
	s.mu.Unlock()
	// Stable: equal times keep insertion order.
	slices.SortStableFunc(out, func(a, b chat.Activity) int { return a.At.Compare(b.At) })
	return head(out, q.Limit), nil
}

// head returns the first n of xs (all if fewer), capped so that appending
// to it cannot reach the rest.
func head[T any](xs []T, n int) []T {
	n = min(n, len(xs))
	return xs[:n:n]
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
