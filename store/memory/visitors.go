package memory

import (
	"context"

	"github.com/shopchat/chat"
)

// Visitors.

func copyVisitor(v *chat.Visitor) *chat.Visitor {
	c := *v
	return &c
}

// CreateVisitor implements chat.Store.
func (s *Store) CreateVisitor(_ context.Context, v *chat.Visitor) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.visitors[v.ID]; ok {
		return conflict("visitor", v.ID, "already exists")
	}
	if v.CustomerID != "" {
		if _, ok := s.customers[v.CustomerID]; ok {
			return conflict("customer", v.CustomerID, "bound to another visitor")
		}
		s.customers[v.CustomerID] = v.ID
	}
	s.visitors[v.ID] = copyVisitor(v)
	return nil
}

// Visitor implements chat.Store.
func (s *Store) Visitor(_ context.Context, id string) (*chat.Visitor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.visitors[id]
	if !ok {
		return nil, notFound("visitor", id)
	}
	return copyVisitor(v), nil
}

// VisitorByCustomer implements chat.Store.
func (s *Store) VisitorByCustomer(_ context.Context, customerID string) (*chat.Visitor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.customers[customerID]
	if !ok || customerID == "" {
		return nil, notFound("customer", customerID)
	}
	return copyVisitor(s.visitors[id]), nil
}

// UpdateVisitor implements chat.Store.
func (s *Store) UpdateVisitor(_ context.Context, v *chat.Visitor) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.visitors[v.ID]
	if !ok {
		return notFound("visitor", v.ID)
	}
	if v.CustomerID != old.CustomerID {
		if v.CustomerID != "" {
			if _, taken := s.customers[v.CustomerID]; taken {
				return conflict("customer", v.CustomerID, "bound to another visitor")
			}
			s.customers[v.CustomerID] = v.ID
		}
		if old.CustomerID != "" {
			delete(s.customers, old.CustomerID)
		}
	}
	nv := copyVisitor(v)
	nv.TokenGen = max(nv.TokenGen, old.TokenGen) // a stale copy never revives revoked tokens
	s.visitors[v.ID] = nv
	return nil
}

// Erasure and retention.

// DeleteVisitor implements chat.Store. It removes the visitor, their
// customer binding, all their conversations with their messages, their
// page views and activities; an operator assigned to one of their
// conversations has one Active conversation fewer. Their orders stay with
// VisitorID cleared.
func (s *Store) DeleteVisitor(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.visitors[id]
	if !ok {
		return notFound("visitor", id)
	}
	for cid, c := range s.convs {
		if c.c.VisitorID == id {
			s.deleteConv(cid, c)
		}
	}
	delete(s.open, id)
	s.eraseTracking(id)
	delete(s.labels, id)
	if v.CustomerID != "" && s.customers[v.CustomerID] == id {
		delete(s.customers, v.CustomerID)
	}
	delete(s.visitors, id)
	return nil
}
