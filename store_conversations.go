package chat

import (
	"context"
	"time"
)

// ConversationStore is the conversations role of Store (required).
type ConversationStore interface {
	// CreateConversation inserts c with Status Queued, and sets c.Status,
	// c.Epoch and c.LastSeq (0) on the caller's value. c.ID, c.VisitorID,
	// c.Department, c.CreatedAt, c.QueuedAt and c.LiveUntil are set by the
	// caller. If c.OperatorID is set, c starts Assigned to that operator
	// instead (AssignedAt = c.CreatedAt, no capacity check) and is never in
	// the Queue: the Server creates a bot's conversation so, and routing on
	// any node must not take it in between. ErrConflict if the ID exists or
	// the visitor already has a conversation that is not Closed;
	// ErrNotFound for an unknown visitor or operator. (Checked: c.ID is not
	// empty.)
	CreateConversation(ctx context.Context, c *Conversation) error
	// Conversation returns the conversation with id, or ErrNotFound.
	Conversation(ctx context.Context, id string) (*Conversation, error)
	// OpenConversation returns the visitor's conversation that is not
	// Closed, or ErrNotFound.
	OpenConversation(ctx context.Context, visitorID string) (*Conversation, error)
	// Conversations lists conversations matching f, newest (CreatedAt, then
	// ID) first. (Checked: f.Limit is above 0.)
	Conversations(ctx context.Context, f ConversationFilter) ([]*Conversation, error)
	// Queue returns the Queued conversations in FIFO order: by QueuedAt,
	// then ID.
	Queue(ctx context.Context) ([]*Conversation, error)

	// Assign atomically gives conversation id to operator to and returns it.
	// It succeeds only if the conversation's current operator is from ("" for
	// a Queued conversation, the assignee for a transfer) and it is not
	// Closed; otherwise ErrConflict. If capacity > 0 and the operator
	// already has capacity Assigned conversations live at at (LiveUntil
	// after at), ErrCapacity: a conversation whose visitor is away takes no
	// live slot. Under concurrent calls a conversation never goes to two
	// operators and no operator exceeds capacity. ErrNotFound for an
	// unknown conversation or operator.
	Assign(ctx context.Context, id, from, to string, capacity int, at time.Time) (*Conversation, error)
	// Requeue atomically puts an Assigned conversation whose operator is from
	// back at the tail of the queue (QueuedAt = at), clearing OperatorID and
	// setting Department to department (empty clears it). ErrConflict if its
	// operator is not from or it is not Assigned; ErrNotFound if unknown.
	Requeue(ctx context.Context, id, from, department string, at time.Time) (*Conversation, error)
	// CloseConversation closes an open conversation (ClosedAt = at). It keeps
	// OperatorID, the last operator who had it, for history and reports.
	// ErrConflict if it is already Closed; ErrNotFound if unknown.
	CloseConversation(ctx context.Context, id string, at time.Time) (*Conversation, error)
	// ReopenConversation puts a Closed conversation back at the tail of the
	// queue (QueuedAt = at), clearing OperatorID and ClosedAt. ErrConflict if
	// it is not Closed or its visitor has another open conversation;
	// ErrNotFound if unknown.
	ReopenConversation(ctx context.Context, id string, at time.Time) (*Conversation, error)
	// MarkRead raises a read receipt to seq (never lowers it); by is
	// VisitorText for the visitor's receipt and OperatorText for the
	// operator's. ErrNotFound if unknown. (Checked: by is one of the two.)
	MarkRead(ctx context.Context, id string, by MessageKind, seq int64) (*Conversation, error)

	// KeepLive marks the open conversations of the given visitors live
	// until until: it raises their LiveUntil to until, never lowers it, so
	// nodes renewing the same visitor at once agree. Visitors without an
	// open conversation (or unknown) are skipped. Every node calls it for
	// the visitors whose widgets it holds, as a heartbeat.
	KeepLive(ctx context.Context, visitorIDs []string, until time.Time) error

	// SetMailOptOut records whether the conversation's visitor wants no
	// missed-reply mail about it. ErrNotFound if unknown.
	SetMailOptOut(ctx context.Context, id string, optOut bool) (*Conversation, error)

	// PurgeClosed deletes conversations closed before cutoff, with their
	// messages, and claims (if the store provides the claims role) that
	// expired before cutoff, and returns how many conversations it
	// deleted. It serves a retention period. Open conversations are never
	// purged.
	PurgeClosed(ctx context.Context, cutoff time.Time) (int, error)
}

// defaultConversations is ConversationFilter.Limit when it is 0.
const defaultConversations = 50

func (c *checked) CreateConversation(ctx context.Context, conv *Conversation) error {
	if conv == nil || conv.ID == "" {
		return storeInvalid("conversation id is empty")
	}
	return c.Store.CreateConversation(ctx, conv)
}

func (c *checked) Conversations(ctx context.Context, f ConversationFilter) ([]*Conversation, error) {
	f.Limit = limitOr(f.Limit, defaultConversations)
	return c.Store.Conversations(ctx, f)
}

func (c *checked) MarkRead(ctx context.Context, id string, by MessageKind, seq int64) (*Conversation, error) {
	if by != VisitorText && by != OperatorText {
		return nil, storeInvalid("read receipt by %q", by)
	}
	return c.Store.MarkRead(ctx, id, by, seq)
}

// PurgeClosed also drops the stand-ins' claims that expired before cutoff.
func (c *checked) PurgeClosed(ctx context.Context, cutoff time.Time) (int, error) {
	n, err := c.Store.PurgeClosed(ctx, cutoff)
	if err == nil {
		for _, e := range c.standIns {
			e.purge(cutoff)
		}
	}
	return n, err
}
