package chat

import (
	"context"
	"fmt"
)

// BatchAppender is the batch-append role of Store (optional): several
// appends handed over at once, so that a session with more than one
// message in flight (pipelined acks) costs one round trip, and a store
// with group commit can put them into one transaction. store/memory,
// store/sqlite and store/postgres implement it.
//
// Like AssignedAppender it is found only on the configured store itself,
// never through Unwrap: it is a variant of AppendMessage, and a wrapper's
// own AppendMessage must not be bypassed. Without it the Server appends
// the items one after another.
type BatchAppender interface {
	// AppendBatch stores each item as AppendMessage (OperatorID empty) or
	// AppendAssigned (OperatorID set) would, and returns one result per
	// item, in the same order. Items are applied in slice order: of two
	// items for one conversation the later gets the higher Seq. Each item
	// stands alone: one that fails (ErrConflict, ErrNotFound, a duplicate
	// client id) changes nothing for the others, and its error is in its
	// result. If ctx ends, the items not yet stored fail with ctx.Err()
	// (an item's outcome may then be unknown, as with AppendMessage: client
	// ids make the retry safe). (Checked: as for each single append.)
	AppendBatch(ctx context.Context, items []AppendItem) []AppendResult
}

// AppendItem is one append of a BatchAppender batch.
type AppendItem struct {
	Message *Message
	// OperatorID, if set, makes the item an AppendAssigned by that
	// operator: stored only if the conversation is assigned to them.
	OperatorID string
}

// AppendResult is the outcome of one AppendItem: Appended as the single
// append returns it, or Err.
type AppendResult struct {
	Appended
	Err error
}

func (c *checked) AppendBatch(ctx context.Context, items []AppendItem) []AppendResult {
	results := make([]AppendResult, len(items))
	if c.batch == nil {
		err := c.missing("batch-append")
		for i := range results {
			results[i].Err = err
		}
		return results
	}
	// Hand the store only the well-formed items; a malformed one fails
	// alone, as each item stands alone.
	valid := make([]AppendItem, 0, len(items))
	at := make([]int, 0, len(items))
	for i, it := range items {
		if err := checkMessage(it.Message); err != nil {
			results[i].Err = err
			continue
		}
		valid = append(valid, it)
		at = append(at, i)
	}
	if len(valid) == 0 {
		return results
	}
	stored := c.batch.AppendBatch(ctx, valid)
	for j, i := range at {
		if j >= len(stored) {
			results[i].Err = fmt.Errorf("chat: store: append batch: %d results for %d items", len(stored), len(valid))
			continue
		}
		results[i] = stored[j]
	}
	return results
}
