package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/shopchat/chat"
)

// Visitors.

const visitorCols = `id, customer_id, name, email, created_at, last_seen_at, token_gen, bounced_email`

func scanVisitor(row pgx.Row) (*chat.Visitor, error) {
	var v chat.Visitor
	var seen *time.Time
	if err := row.Scan(&v.ID, &v.CustomerID, &v.Name, &v.Email, &v.CreatedAt, &seen, &v.TokenGen, &v.BouncedEmail); err != nil {
		return nil, err
	}
	v.CreatedAt = v.CreatedAt.UTC()
	v.LastSeenAt = timeOf(seen)
	return &v, nil
}

// CreateVisitor implements chat.Store.
func (s *Store) CreateVisitor(ctx context.Context, v *chat.Visitor) error {
	return s.write(ctx, fmt.Sprintf("create visitor %q", v.ID), func() error {
		_, err := s.pool.Exec(ctx, `INSERT INTO chat_visitors (`+visitorCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			v.ID, v.CustomerID, v.Name, v.Email, v.CreatedAt, nullTime(v.LastSeenAt), v.TokenGen, v.BouncedEmail)
		switch {
		case isConstraint(err, "chat_visitors_pkey"):
			return conflict("visitor", v.ID, "already exists")
		case isConstraint(err, "chat_visitors_customer"):
			return conflict("customer", v.CustomerID, "bound to another visitor")
		}
		return err
	})
}

// Visitor implements chat.Store.
func (s *Store) Visitor(ctx context.Context, id string) (*chat.Visitor, error) {
	if !storable(id) {
		return nil, notFound("visitor", id)
	}
	var v *chat.Visitor
	err := s.read(ctx, fmt.Sprintf("visitor %q", id), func() (err error) {
		v, err = scanVisitor(s.pool.QueryRow(ctx, `SELECT `+visitorCols+` FROM chat_visitors WHERE id = $1`, id))
		return err
	})
	return v, err
}

// VisitorByCustomer implements chat.Store.
func (s *Store) VisitorByCustomer(ctx context.Context, customerID string) (*chat.Visitor, error) {
	if customerID == "" || !storable(customerID) {
		return nil, notFound("customer", customerID)
	}
	var v *chat.Visitor
	err := s.read(ctx, fmt.Sprintf("visitor of customer %q", customerID), func() (err error) {
		v, err = scanVisitor(s.pool.QueryRow(ctx, `SELECT `+visitorCols+` FROM chat_visitors WHERE customer_id = $1 AND customer_id <> ''`, customerID))
		return err
	})
	return v, err
}

// UpdateVisitor implements chat.Store.
func (s *Store) UpdateVisitor(ctx context.Context, v *chat.Visitor) error {
	if !storable(v.ID) {
		return notFound("visitor", v.ID)
	}
	return s.write(ctx, fmt.Sprintf("update visitor %q", v.ID), func() error {
		tag, err := s.pool.Exec(ctx, `UPDATE chat_visitors
			SET customer_id = $2, name = $3, email = $4, created_at = $5, last_seen_at = $6,
			    token_gen = greatest(token_gen, $7), bounced_email = $8
			WHERE id = $1`,
			v.ID, v.CustomerID, v.Name, v.Email, v.CreatedAt, nullTime(v.LastSeenAt), v.TokenGen, v.BouncedEmail)
		if isConstraint(err, "chat_visitors_customer") {
			return conflict("customer", v.CustomerID, "bound to another visitor")
		}
		if err == nil && tag.RowsAffected() == 0 {
			return notFound("visitor", v.ID)
		}
		return err
	})
}

// DeleteVisitor implements chat.Store. The visitor's conversations and
// their messages and their page views go with it (ON DELETE CASCADE), in
// one transaction with erasing their activities and clearing their orders.
func (s *Store) DeleteVisitor(ctx context.Context, id string) error {
	if !storable(id) {
		return notFound("visitor", id)
	}
	return s.write(ctx, fmt.Sprintf("delete visitor %q", id), func() error {
		return s.inTx(ctx, func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, `DELETE FROM chat_visitors WHERE id = $1`, id)
			if err == nil && tag.RowsAffected() == 0 {
				return notFound("visitor", id)
			}
			if err != nil {
				return err
			}
			return eraseVisitor(ctx, tx, id)
		})
	})
}

// storable reports whether the database can hold s as text: PostgreSQL
// text is valid UTF-8 without NUL bytes. Lookups of an id it cannot hold
// report ErrNotFound without asking the server.
func storable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}
