package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shopchat/chat"
)

// Column lists, in the order the scan functions read them.
const (
	pageViewCols = `visitor_id, url, title, referrer, utm_source, utm_medium, utm_campaign, utm_term, utm_content, at`
	activityCols = `kind, visitor_id, conversation_id, operator_id, trigger_id, value, text, at`
	orderCols    = `id, visitor_id, total, currency, placed_at, channel, conversation_id, operator_id, trigger_id, touched_at`
	cannedCols   = `id, operator_id, shortcut, title, body, updated_at`
)

// unstorable returns an ErrInvalid naming what, if any of fields is text
// PostgreSQL cannot hold (see storable), so that a batch is refused before
// anything reaches the server.
func unstorable(what string, fields ...string) error {
	for _, f := range fields {
		if !storable(f) {
			return fmt.Errorf("postgres: %s: text is not UTF-8 or holds a NUL byte: %w", what, chat.ErrInvalid)
		}
	}
	return nil
}

// Page views.

// AddPageViews implements chat.Store. The batch is one INSERT of arrays,
// so it is stored whole or not at all; views of unknown visitors are left
// out by the join.
func (s *Store) AddPageViews(ctx context.Context, views []chat.PageView) error {
	n := len(views)
	cols := [9][]string{}
	for i := range cols {
		cols[i] = make([]string, n)
	}
	ats := make([]time.Time, n)
	for i, v := range views {
		fields := [9]string{v.VisitorID, v.URL, v.Title, v.Referrer, v.UTM.Source, v.UTM.Medium, v.UTM.Campaign, v.UTM.Term, v.UTM.Content}
		if err := unstorable(fmt.Sprintf("page view %d", i), fields[:]...); err != nil {
			return err
		}
		for c, f := range fields {
			cols[c][i] = f
		}
		ats[i] = v.At
	}
	if n == 0 {
		return nil
	}
	const insert = `INSERT INTO chat_page_views (` + pageViewCols + `)
		SELECT ` + pageViewCols + ` FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
			$6::text[], $7::text[], $8::text[], $9::text[], $10::timestamptz[]) WITH ORDINALITY
			AS u (` + pageViewCols + `, n)
		WHERE EXISTS (SELECT 1 FROM chat_visitors v WHERE v.id = u.visitor_id)
		ORDER BY n` // identities follow the batch's order
	return s.write(ctx, "add page views", func() error {
		args := []any{cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6], cols[7], cols[8], ats}
		_, err := s.pool.Exec(ctx, insert, args...)
		if isCode(err, codeForeignKeyViolation) {
			// A visitor was erased between the join and the insert; the
			// join now leaves their views out.
			_, err = s.pool.Exec(ctx, insert, args...)
		}
		return err
	})
}

// PageViews implements chat.Store.
func (s *Store) PageViews(ctx context.Context, visitorID string, limit int) ([]chat.PageView, error) {
	if !storable(visitorID) { // no row can match
		return []chat.PageView{}, nil
	}
	return collect(ctx, s, "page views", scanPageView, `SELECT `+pageViewCols+` FROM chat_page_views
		WHERE visitor_id = $1 ORDER BY at DESC, seq DESC LIMIT $2`, visitorID, limit)
}

func scanPageView(row pgx.Row) (chat.PageView, error) {
	var v chat.PageView
	err := row.Scan(&v.VisitorID, &v.URL, &v.Title, &v.Referrer,
		&v.UTM.Source, &v.UTM.Medium, &v.UTM.Campaign, &v.UTM.Term, &v.UTM.Content, &v.At)
	v.At = v.At.UTC()
	return v, err
}

// PageViewVisitors implements chat.PageViewVisitors: the ids, ascending,
// of the visitors with a view in from <= At < to. ErrInvalid if to is
// before from.
func (s *Store) PageViewVisitors(ctx context.Context, from, to time.Time) ([]string, error) {
	// A range of chat_page_views_at (004), which covers it; visitor_id is
	// COLLATE "C", so the order is Go's.
	return collect(ctx, s, "page view visitors", scanID, `SELECT DISTINCT visitor_id FROM chat_page_views
		WHERE at >= $1 AND at < $2 ORDER BY visitor_id`, from, to)
}

func scanID(row pgx.Row) (string, error) {
	var id string
	err := row.Scan(&id)
	return id, err
}

// Activities.

// AddActivities implements chat.Store: one INSERT of arrays, stored whole
// or not at all.
func (s *Store) AddActivities(ctx context.Context, as []chat.Activity) error {
	n := len(as)
	cols := [6][]string{}
	for i := range cols {
		cols[i] = make([]string, n)
	}
	values := make([]int64, n)
	ats := make([]time.Time, n)
	for i, a := range as {
		fields := [6]string{string(a.Kind), a.VisitorID, a.ConversationID, a.OperatorID, a.TriggerID, a.Text}
		if err := unstorable(fmt.Sprintf("activity %d", i), fields[:]...); err != nil {
			return err
		}
		for c, f := range fields {
			cols[c][i] = f
		}
		values[i], ats[i] = a.Value, a.At
	}
	if n == 0 {
		return nil
	}
	return s.write(ctx, "add activities", func() error {
		_, err := s.pool.Exec(ctx, `INSERT INTO chat_activities (`+activityCols+`)
			SELECT `+activityCols+` FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
				$6::bigint[], $7::text[], $8::timestamptz[]) WITH ORDINALITY AS u (`+activityCols+`, n)
			ORDER BY n`,
			cols[0], cols[1], cols[2], cols[3], cols[4], values, cols[5], ats)
		return err
	})
}

// Activities implements chat.Store.
func (s *Store) Activities(ctx context.Context, q chat.ActivityQuery) ([]chat.Activity, error) {
	if unstorable("", q.VisitorID, q.ConversationID, q.OperatorID, q.TriggerID) != nil { // no row can match
		return []chat.Activity{}, nil
	}
	var w where
	if len(q.Kinds) > 0 {
		w.and("kind = ANY ($%d)", strs(q.Kinds))
	}
	if q.VisitorID != "" {
		w.and("visitor_id = $%d AND visitor_id <> ''", q.VisitorID) // <> '': the partial index
	}
	if q.ConversationID != "" {
		w.and("conversation_id = $%d AND conversation_id <> ''", q.ConversationID)
	}
	if q.OperatorID != "" {
		w.and("operator_id = $%d", q.OperatorID)
	}
	if q.TriggerID != "" {
		w.and("trigger_id = $%d", q.TriggerID)
	}
	w.period("at", q.From, q.To)
	w.args = append(w.args, q.Limit)
	return collect(ctx, s, "activities", scanActivity, fmt.Sprintf(`SELECT `+activityCols+` FROM chat_activities
		WHERE %s ORDER BY at, seq LIMIT $%d`, w, len(w.args)), w.args...)
}

func scanActivity(row pgx.Row) (chat.Activity, error) {
	var a chat.Activity
	var kind string
	err := row.Scan(&kind, &a.VisitorID, &a.ConversationID, &a.OperatorID, &a.TriggerID, &a.Value, &a.Text, &a.At)
	a.Kind, a.At = chat.ActivityKind(kind), a.At.UTC()
	return a, err
}

// eraseVisitor runs in DeleteVisitor's transaction: it deletes the
// visitor's activities and keeps their orders, the shop's revenue, without
// the visitor. Page views go by the foreign key's cascade.
func eraseVisitor(ctx context.Context, tx pgx.Tx, id string) error {
	if _, err := tx.Exec(ctx, `DELETE FROM chat_activities WHERE visitor_id = $1 AND visitor_id <> ''`, id); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `UPDATE chat_orders SET visitor_id = '' WHERE visitor_id = $1 AND visitor_id <> ''`, id)
	return err
}

// Helpers.

// deleteByID runs the DELETE statement del for id: ErrNotFound (as kind)
// if it deleted nothing.
func (s *Store) deleteByID(ctx context.Context, kind, del, id string) error {
	if !storable(id) {
		return notFound(kind, id)
	}
	return s.write(ctx, fmt.Sprintf("delete %s %q", kind, id), func() error {
		tag, err := s.pool.Exec(ctx, del, id)
		if err == nil && tag.RowsAffected() == 0 {
			return notFound(kind, id)
		}
		return err
	})
}

// collect runs query as a read and scans every row. It never returns a nil
// slice without an error, so an empty result encodes as [] in JSON.
func collect[T any](ctx context.Context, s *Store, op string, scan func(pgx.Row) (T, error), query string, args ...any) ([]T, error) {
	var out []T
	err := s.read(ctx, op, func() error {
		rows, err := s.pool.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (T, error) { return scan(row) })
		return err
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []T{}
	}
	return out, nil
}

// where builds the WHERE clause of a query from the filters in use; each
// condition has one %d for its argument's number.
type where struct {
	conds []string
	args  []any
}

func (w *where) and(cond string, arg any) {
	w.args = append(w.args, arg)
	w.conds = append(w.conds, fmt.Sprintf(cond, len(w.args)))
}

// period keeps rows whose column is in [from, to); a zero bound is open.
func (w *where) period(column string, from, to time.Time) {
	if !from.IsZero() {
		w.and(column+" >= $%d", from)
	}
	if !to.IsZero() {
		w.and(column+" < $%d", to)
	}
}

func (w where) String() string {
	if len(w.conds) == 0 {
		return "true"
	}
	return strings.Join(w.conds, " AND ")
}

// strs converts a list of a string type to a text[] argument.
func strs[S ~string](xs []S) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
}
