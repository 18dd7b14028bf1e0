package chat

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// MaxLabels is how many labels a visitor may carry; MaxLabelLength is the
// longest label, in bytes.
const (
	MaxLabels      = 20
	MaxLabelLength = 40
)

// SetVisitorLabels replaces the labels of visitor visitorID ("vip",
// "wholesale") and returns them as stored: trimmed, sorted, without
// duplicates. Empty clears them. ErrInvalid for more than MaxLabels, or a
// label that is empty, longer than MaxLabelLength, not text or holds a
// comma; ErrNotFound for an unknown visitor; a *MissingRoleError
// (ErrUnsupported) if the Store has no Labeler.
func (s *Server) SetVisitorLabels(ctx context.Context, visitorID string, labels []string) ([]string, error) {
	clean := make([]string, 0, len(labels))
	for _, label := range labels {
		label = strings.TrimSpace(label)
		if label == "" || len(label) > MaxLabelLength || !validText(label) || strings.ContainsAny(label, ",\n\r\t") {
			return nil, invalidf("label %q is empty, longer than %d bytes, not text or holds a comma", label, MaxLabelLength)
		}
		clean = append(clean, label)
	}
	slices.Sort(clean)
	clean = slices.Compact(clean)
	if len(clean) > MaxLabels {
		return nil, invalidf("%d labels; at most %d", len(clean), MaxLabels)
	}
	if err := s.store.SetVisitorLabels(ctx, visitorID, clean); err != nil {
		return nil, fmt.Errorf("chat: set visitor labels: %w", err)
	}
	s.emit(Event{Kind: EventVisitorLabels, VisitorID: visitorID, Labels: clean})
	return clean, nil
}

// VisitorLabels returns the labels of visitor visitorID, sorted.
// ErrNotFound for an unknown visitor; a *MissingRoleError
// (ErrUnsupported) if the Store has no Labeler.
func (s *Server) VisitorLabels(ctx context.Context, visitorID string) ([]string, error) {
	labels, err := s.store.VisitorLabels(ctx, visitorID)
	if err != nil {
		return nil, fmt.Errorf("chat: visitor labels: %w", err)
	}
	return labels, nil
}
