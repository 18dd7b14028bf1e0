package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/shopchat/chat"
)

// ready fails once the store is closed.
func (s *Store) ready() error {
	if s.closed.Load() {
		return errClosed
	}
	return nil
}

// CreateVisitor implements chat.Store.
func (s *Store) CreateVisitor(ctx context.Context, v *chat.Visitor) error {
	vv := *v
	return s.write(ctx, func(w *writeStmts) error {
		_, err := w.insVisitor.ExecContext(bg, vv.ID, nullIfEmpty(vv.CustomerID), vv.Name, vv.Email,
			micros(vv.CreatedAt), micros(vv.LastSeenAt), vv.TokenGen, vv.BouncedEmail)
		switch {
		case isUnique(err, "visitors.customer_id"):
			return conflict("customer", vv.CustomerID, "bound to another visitor")
		case isUnique(err, "visitors.id"):
			return conflict("visitor", vv.ID, "already exists")
		}
		return dbErr("create visitor", err)
	})
}

// Visitor implements chat.Store.
func (s *Store) Visitor(ctx context.Context, id string) (*chat.Visitor, error) {
	if err := s.ready(); err != nil {
		return nil, err
	}
	v, err := scanVisitor(s.r.visitor.QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("visitor", id)
	}
	return v, dbErr("visitor", err)
}

// VisitorByCustomer implements chat.Store.
func (s *Store) VisitorByCustomer(ctx context.Context, customerID string) (*chat.Visitor, error) {
	if err := s.ready(); err != nil {
		return nil, err
	}
	if customerID == "" {
		return nil, notFound("customer", customerID)
	}
	v, err := scanVisitor(s.r.visitorByCustomer.QueryRowContext(ctx, customerID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("customer", customerID)
	}
	return v, dbErr("visitor by customer", err)
}

// UpdateVisitor implements chat.Store.
func (s *Store) UpdateVisitor(ctx context.Context, v *chat.Visitor) error {
	vv := *v
	return s.write(ctx, func(w *writeStmts) error {
		res, err := w.updVisitor.ExecContext(bg, nullIfEmpty(vv.CustomerID), vv.Name, vv.Email,
			micros(vv.CreatedAt), micros(vv.LastSeenAt), vv.TokenGen, vv.BouncedEmail, vv.ID)
		if isUnique(err, "visitors.customer_id") {
			return conflict("customer", vv.CustomerID, "bound to another visitor")
		}
		if err != nil {
			return dbErr("update visitor", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return notFound("visitor", vv.ID)
		}
		return nil
	})
}

// DeleteVisitor implements chat.Store. Foreign keys cascade to the
// visitor's conversations and their messages and to their page views, and
// triggers remove the messages from the search index, all in one
// transaction with erasing their activities and clearing their orders.
func (s *Store) DeleteVisitor(ctx context.Context, id string) error {
	return s.write(ctx, func(w *writeStmts) error {
		if err := w.trk.eraseVisitor(id); err != nil {
			return err
		}
		res, err := w.delVisitor.ExecContext(bg, id)
		if err != nil {
			return dbErr("delete visitor", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return notFound("visitor", id)
		}
		return nil
	})
}
