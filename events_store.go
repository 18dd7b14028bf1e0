package chat

import "context"

// EventLog is an optional Store role: an append-only log of Events with a
// global position, which the Server writes and the shop's code reads with
// (*Server).Events and (*Server).FollowEvents, resuming from the last
// position it handled. The Server detects it once, in New (through
// StoreAs, so wrappers with Unwrap keep it). store/memory, store/sqlite and
// store/postgres implement it.
type EventLog interface {
	// AppendEvents appends evs in their order, giving each the next
	// position (Event.Pos, set on the caller's values). Positions increase
	// in the order appends commit, so a reader that has seen position p
	// never later finds a new event below p. An event whose ID is already
	// in the log is skipped (its Pos is left 0): a retried append stores
	// each event once. ErrInvalid (and nothing stored) for an event with an
	// empty ID or Kind.
	AppendEvents(ctx context.Context, evs []Event) error
	// Events returns the events with Pos > after, ascending, at most limit
	// (0 means 100).
	Events(ctx context.Context, after int64, limit int) ([]Event, error)
}
