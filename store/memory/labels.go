package memory

import (
	"context"
	"slices"
)

// SetVisitorLabels implements chat.Labeler.
func (s *Store) SetVisitorLabels(_ context.Context, visitorID string, labels []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.visitors[visitorID]; !ok {
		return notFound("visitor", visitorID)
	}
	if s.labels == nil {
		s.labels = make(map[string][]string)
	}
	s.labels[visitorID] = slices.Clone(labels)
	return nil
}

// VisitorLabels implements chat.Labeler.
func (s *Store) VisitorLabels(_ context.Context, visitorID string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.visitors[visitorID]; !ok {
		return nil, notFound("visitor", visitorID)
	}
	return slices.Clone(s.labels[visitorID]), nil
}
