package chat

import "context"

// EventLog is the events role of Store (optional): an append-only log of
// Events with a global position, which the Server writes and the shop's
// code reads with (*Server).Events and (*Server).FollowEvents, resuming
// from the last position it handled. store/memory, store/sqlite and
// store/postgres provide it. Without it the Server has no event log (no
// stand-in: an in-process log would not survive the restart it is for).
type EventLog interface {
	// AppendEvents appends evs in their order, giving each the next
	// position (Event.Pos, set on the caller's values). Positions increase
	// in the order appends commit, so a reader that has seen position p
	// never later finds a new event below p. An event whose ID is already
	// in the log is skipped (its Pos is left 0): a retried append stores
	// each event once. (Checked: every event has an ID and a Kind.)
	AppendEvents(ctx context.Context, evs []Event) error
	// Events returns the events with Pos > after, ascending, at most limit.
	// (Checked: after >= 0; a limit of 0 becomes 100.)
	Events(ctx context.Context, after int64, limit int) ([]Event, error)
}

func (c *checked) AppendEvents(ctx context.Context, evs []Event) error {
	for _, ev := range evs {
		if ev.ID == "" || ev.Kind == "" {
			return storeInvalid("event needs an ID and a Kind")
		}
	}
	if c.events == nil {
		return c.missing("events")
	}
	return c.events.AppendEvents(ctx, evs)
}

func (c *checked) Events(ctx context.Context, after int64, limit int) ([]Event, error) {
	if after < 0 {
		return nil, storeInvalid("event position %d is negative", after)
	}
	if c.events == nil {
		return nil, c.missing("events")
	}
	return c.events.Events(ctx, after, limitOr(limit, 100))
}
