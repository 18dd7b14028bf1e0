package chat

import "context"

// Labeler is an optional Store role: labels (tags) on visitors, such as
// "vip" or "wholesale", which the shop's code sets with
// (*Server).SetVisitorLabels. The Server detects it once, in New (through
// StoreAs). store/memory, store/sqlite and store/postgres implement it;
// erasing a visitor (DeleteVisitor) erases their labels.
type Labeler interface {
	// SetVisitorLabels replaces the visitor's labels with labels (the
	// Server passes them checked, sorted and without duplicates; empty
	// clears them). ErrNotFound for an unknown visitor.
	SetVisitorLabels(ctx context.Context, visitorID string, labels []string) error
	// VisitorLabels returns the visitor's labels as last set (nil for
	// none). ErrNotFound for an unknown visitor.
	VisitorLabels(ctx context.Context, visitorID string) ([]string, error)
}
