package chat

import "context"

// Labeler is the labels role of Store (optional): labels (tags) on
// visitors, such as "vip" or "wholesale", which the shop's code sets with
// (*Server).SetVisitorLabels. store/memory, store/sqlite and store/postgres
// provide it; erasing a visitor (DeleteVisitor) erases their labels.
type Labeler interface {
	// SetVisitorLabels replaces the visitor's labels with labels (the
	// Server passes them checked, sorted and without duplicates; empty
	// clears them). ErrNotFound for an unknown visitor.
	SetVisitorLabels(ctx context.Context, visitorID string, labels []string) error
	// VisitorLabels returns the visitor's labels as last set (nil for
	// none). ErrNotFound for an unknown visitor.
	VisitorLabels(ctx context.Context, visitorID string) ([]string, error)
}

func (c *checked) SetVisitorLabels(ctx context.Context, visitorID string, labels []string) error {
	if visitorID == "" {
		return storeInvalid("visitor id is empty")
	}
	if c.labels == nil {
		return c.missing("labels")
	}
	return c.labels.SetVisitorLabels(ctx, visitorID, labels)
}

func (c *checked) VisitorLabels(ctx context.Context, visitorID string) ([]string, error) {
	if c.labels == nil {
		return nil, c.missing("labels")
	}
	return c.labels.VisitorLabels(ctx, visitorID)
}
