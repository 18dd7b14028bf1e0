package chat

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// TriggerStore is the triggers role of Store (optional).
//
// Without it New uses an in-process stand-in on a single node (console
// edits are lost on restart; Config.Triggers are seeded again), and
// refuses to start with a Broker.
type TriggerStore interface {
	// PutTrigger creates or replaces (by ID) a trigger. The Server
	// validates rules before storing them. (Checked: t.ID is not empty.)
	PutTrigger(ctx context.Context, t *Trigger) error
	// DeleteTrigger deletes a trigger. ErrNotFound if unknown.
	DeleteTrigger(ctx context.Context, id string) error
	// Triggers returns every trigger, ordered by ID.
	Triggers(ctx context.Context) ([]*Trigger, error)
}

func (c *checked) PutTrigger(ctx context.Context, t *Trigger) error {
	if t == nil || t.ID == "" {
		return storeInvalid("trigger id is empty")
	}
	if c.triggers == nil {
		return c.missing("triggers")
	}
	return c.triggers.PutTrigger(ctx, t)
}

func (c *checked) DeleteTrigger(ctx context.Context, id string) error {
	if c.triggers == nil {
		return c.missing("triggers")
	}
	return c.triggers.DeleteTrigger(ctx, id)
}

func (c *checked) Triggers(ctx context.Context) ([]*Trigger, error) {
	if c.triggers == nil {
		return nil, c.missing("triggers")
	}
	return c.triggers.Triggers(ctx)
}

// triggersStandIn is the in-process TriggerStore for a store without the
// triggers role.
type triggersStandIn struct {
	mu       sync.Mutex
	triggers map[string]*Trigger
}

func (s *triggersStandIn) PutTrigger(_ context.Context, t *Trigger) error {
	s.mu.Lock()
	s.triggers[t.ID] = copyOf(t)
	s.mu.Unlock()
	return nil
}

func (s *triggersStandIn) DeleteTrigger(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.triggers[id]; !ok {
		return fmt.Errorf("chat: trigger %q: %w", id, ErrNotFound)
	}
	delete(s.triggers, id)
	return nil
}

func (s *triggersStandIn) Triggers(context.Context) ([]*Trigger, error) {
	s.mu.Lock()
	out := make([]*Trigger, 0, len(s.triggers))
	for _, t := range s.triggers {
		out = append(out, copyOf(t))
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b *Trigger) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

func (s *triggersStandIn) eraseVisitor(string) {}
func (s *triggersStandIn) purge(time.Time)     {}
