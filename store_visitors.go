package chat

import "context"

// VisitorStore is the visitors role of Store (required).
type VisitorStore interface {
	// CreateVisitor inserts v. ErrConflict if v.ID exists or v.CustomerID
	// is non-empty and bound to another visitor. (Checked: v.ID is not
	// empty.)
	CreateVisitor(ctx context.Context, v *Visitor) error
	// Visitor returns the visitor with id, or ErrNotFound.
	Visitor(ctx context.Context, id string) (*Visitor, error)
	// VisitorByCustomer returns the visitor bound to the shop's customer id,
	// or ErrNotFound. (Checked: customerID is not empty; the empty id is
	// ErrNotFound without calling the store.)
	VisitorByCustomer(ctx context.Context, customerID string) (*Visitor, error)
	// UpdateVisitor replaces the stored visitor with v (matched by ID),
	// except that TokenGen keeps the higher of the stored and v's value, so
	// a stale copy never revives revoked tokens. ErrNotFound if it does not
	// exist; ErrConflict if v.CustomerID is bound to another visitor.
	UpdateVisitor(ctx context.Context, v *Visitor) error
	// DeleteVisitor erases a visitor and everything about them the store
	// keeps: their conversations and messages, and, if it provides the
	// tracking role, page views and activities; if it provides the orders
	// role, their orders stay (the shop's revenue) with VisitorID cleared.
	// It serves data-rights (erasure) requests. ErrNotFound if unknown.
	DeleteVisitor(ctx context.Context, id string) error
}

func (c *checked) CreateVisitor(ctx context.Context, v *Visitor) error {
	if v == nil || v.ID == "" {
		return storeInvalid("visitor id is empty")
	}
	return c.Store.CreateVisitor(ctx, v)
}

func (c *checked) VisitorByCustomer(ctx context.Context, customerID string) (*Visitor, error) {
	if customerID == "" {
		return nil, storeErr("visitor by customer id \"\"", ErrNotFound)
	}
	return c.Store.VisitorByCustomer(ctx, customerID)
}

func (c *checked) UpdateVisitor(ctx context.Context, v *Visitor) error {
	if v == nil {
		return storeInvalid("visitor is nil")
	}
	return c.Store.UpdateVisitor(ctx, v)
}

// DeleteVisitor also erases the visitor from the in-process stand-ins,
// which the store cannot know of.
func (c *checked) DeleteVisitor(ctx context.Context, id string) error {
	if err := c.Store.DeleteVisitor(ctx, id); err != nil {
		return err
	}
	for _, e := range c.standIns {
		e.eraseVisitor(id)
	}
	return nil
}
