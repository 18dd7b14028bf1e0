package chat

import "context"

// AssignedAppender is the assigned-append role of Store (optional): an
// append that checks the operator's assignment in its own transaction, so
// an operator's message costs one write instead of a read plus a write,
// and an operator unassigned between the two can never slip a message in.
// store/memory, store/sqlite and store/postgres implement it.
//
// Unlike the other roles it is found only on the configured store itself,
// never through Unwrap: it is a variant of AppendMessage, and a wrapper's
// own AppendMessage must not be bypassed. Without it the Server reads the
// conversation, checks the assignment and calls AppendMessage.
type AssignedAppender interface {
	// AppendAssigned is AppendMessage for a message written by operator
	// operatorID: it stores m only if the conversation is Assigned to
	// operatorID, and returns ErrConflict otherwise (Queued, Closed or
	// someone else's). A retry (a client id already used) is recognised
	// first and returns the original with Duplicate set, as AppendMessage
	// does. ErrNotFound for an unknown conversation. (Checked:
	// operatorID is not empty and m.Kind is defined.)
	AppendAssigned(ctx context.Context, m *Message, operatorID string) (Appended, error)
}

func (c *checked) AppendAssigned(ctx context.Context, m *Message, operatorID string) (Appended, error) {
	if operatorID == "" {
		return Appended{}, storeInvalid("append assigned: operator id is empty")
	}
	if err := checkMessage(m); err != nil {
		return Appended{}, err
	}
	if c.assigned == nil {
		return Appended{}, c.missing("assigned-append")
	}
	return c.assigned.AppendAssigned(ctx, m, operatorID)
}
