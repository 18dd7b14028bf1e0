package chat

import (
	"context"
	"time"
)

// OperatorStore is the operators role of Store (required).
type OperatorStore interface {
	// PutOperator creates or updates an operator's profile. It leaves the
	// operator's presence as it was (Offline for a new operator).
	// (Checked: op.ID is not empty.)
	PutOperator(ctx context.Context, op *Operator) error
	// Operator returns the operator with id, or ErrNotFound.
	Operator(ctx context.Context, id string) (*Operator, error)
	// SetPresence records an operator's presence, valid until expires (a
	// heartbeat renews it): from expires on it reads Offline; a zero expires
	// never expires. ErrNotFound for an unknown operator. (Checked: p is a
	// defined presence.)
	SetPresence(ctx context.Context, operatorID string, p Presence, expires time.Time) error
	// OperatorLoads returns every operator, ordered by ID, with presence as
	// of now (Offline once expired) and their count of Assigned
	// conversations that are live at now (Conversation.LiveUntil after now).
	OperatorLoads(ctx context.Context, now time.Time) ([]OperatorLoad, error)
}

func (c *checked) PutOperator(ctx context.Context, op *Operator) error {
	if op == nil || op.ID == "" {
		return storeInvalid("operator id is empty")
	}
	return c.Store.PutOperator(ctx, op)
}

func (c *checked) SetPresence(ctx context.Context, operatorID string, p Presence, expires time.Time) error {
	if !p.Valid() {
		return storeInvalid("presence %q", p)
	}
	return c.Store.SetPresence(ctx, operatorID, p, expires)
}
