package memory

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/shopchat/chat"
)

// Operators.

func copyOperator(op *chat.Operator) *chat.Operator {
	c := *op
	c.Departments = slices.Clone(op.Departments)
	return &c
}

// PutOperator implements chat.Store.
func (s *Store) PutOperator(_ context.Context, op *chat.Operator) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o, ok := s.operators[op.ID]; ok {
		o.op = *copyOperator(op)
		return nil
	}
	s.operators[op.ID] = &operator{op: *copyOperator(op), presence: chat.Offline, assigned: make(map[string]*conversation)}
	return nil
}

// Operator implements chat.Store.
func (s *Store) Operator(_ context.Context, id string) (*chat.Operator, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.operators[id]
	if !ok {
		return nil, notFound("operator", id)
	}
	return copyOperator(&o.op), nil
}

// SetPresence implements chat.Store. A zero expires never expires.
func (s *Store) SetPresence(_ context.Context, operatorID string, p chat.Presence, expires time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.operators[operatorID]
	if !ok {
		return notFound("operator", operatorID)
	}
	o.presence, o.expires = p, expires
	return nil
}

// OperatorLoads implements chat.Store. A presence is current while now is
// before its expiry.
func (s *Store) OperatorLoads(_ context.Context, now time.Time) ([]chat.OperatorLoad, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	loads := make([]chat.OperatorLoad, 0, len(s.operators))
	for _, o := range s.operators {
		p := o.presence
		if !o.expires.IsZero() && !now.Before(o.expires) {
			p = chat.Offline
		}
		loads = append(loads, chat.OperatorLoad{
			Operator:       copyOperator(&o.op),
			Presence:       p,
			Active:         o.live(now),
			LastAssignedAt: o.lastAssigned,
		})
	}
	slices.SortFunc(loads, func(a, b chat.OperatorLoad) int { return cmp.Compare(a.Operator.ID, b.Operator.ID) })
	return loads, nil
}

// live counts o's Assigned conversations that are live at now; s.mu held.
func (o *operator) live(now time.Time) int {
	n := 0
	for _, c := range o.assigned {
		if c.c.Live(now) {
			n++
		}
	}
	return n
}

// unassign drops conversation c from its operator's set; s.mu held.
func (s *Store) unassign(c *conversation) {
	if op, ok := s.operators[c.c.OperatorID]; ok && c.c.Status == chat.Assigned {
		delete(op.assigned, c.c.ID)
	}
}
