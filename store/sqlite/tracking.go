package sqlite

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"time"

	"github.com/shopchat/chat"
)

// Column lists, in the order the scan functions read them.
const (
	pageViewCols = `visitor_id, url, title, referrer, utm_source, utm_medium, utm_campaign, utm_term, utm_content, at`
	activityCols = `kind, visitor_id, conversation_id, operator_id, trigger_id, value, text, at`
	orderCols    = `id, visitor_id, total, currency, placed_at, channel, conversation_id, operator_id, trigger_id, touched_at`
	cannedCols   = `id, operator_id, shortcut, title, text, updated_at`
)

// trackWrite are the tracking statements of the writer's connection,
// prepared and closed with writeStmts.
type trackWrite struct {
	insPageView, insActivity           *sql.Stmt
	insOrder, order                    *sql.Stmt
	putCanned, delCanned               *sql.Stmt
	putTrigger, delTrigger             *sql.Stmt
	eraseActivities, clearVisitorOrder *sql.Stmt
}

func (t *trackWrite) prepare(ctx context.Context, c *sql.Conn) error {
	return prepareAll(ctx, c.PrepareContext, map[**sql.Stmt]string{
		// Views of a visitor the store does not know are skipped, not
		// refused: the visitor may have been erased since the view.
		&t.insPageView: `INSERT INTO page_views (` + pageViewCols + `)
SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10 WHERE EXISTS (SELECT 1 FROM visitors WHERE id = ?1)`,
		&t.insActivity: `INSERT INTO activities (` + activityCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		&t.insOrder:    `INSERT INTO orders (` + orderCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		&t.order:       `SELECT ` + orderCols + ` FROM orders WHERE id = ?`,
		&t.putCanned: `INSERT INTO canned (` + cannedCols + `) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET operator_id = excluded.operator_id, shortcut = excluded.shortcut,
	title = excluded.title, text = excluded.text, updated_at = excluded.updated_at`,
		&t.delCanned:  `DELETE FROM canned WHERE id = ?`,
		&t.putTrigger: `INSERT INTO triggers (id, doc) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc`,
		&t.delTrigger: `DELETE FROM triggers WHERE id = ?`,
		// "!= ''" lets SQLite use the partial indexes.
		&t.eraseActivities:   `DELETE FROM activities WHERE visitor_id = ? AND visitor_id != ''`,
		&t.clearVisitorOrder: `UPDATE orders SET visitor_id = '' WHERE visitor_id = ? AND visitor_id != ''`,
	})
}

func (t *trackWrite) close() []error {
	return closeAll(t.insPageView, t.insActivity, t.insOrder, t.order, t.putCanned, t.delCanned,
		t.putTrigger, t.delTrigger, t.eraseActivities, t.clearVisitorOrder)
}

// eraseVisitor runs in DeleteVisitor's write: it deletes the visitor's
// activities and keeps their orders, the shop's revenue, without the
// visitor. Page views go by the foreign key's cascade.
func (t *trackWrite) eraseVisitor(id string) error {
	if _, err := t.eraseActivities.ExecContext(bg, id); err != nil {
		return dbErr("delete visitor's activities", err)
	}
	_, err := t.clearVisitorOrder.ExecContext(bg, id)
	return dbErr("clear visitor's orders", err)
}

// trackRead are the fixed tracking queries of the read pool, prepared and
// closed with readStmts.
type trackRead struct {
	pageViews, pageViewVisitors, canned, triggers *sql.Stmt
}

func (t *trackRead) prepare(ctx context.Context, db *sql.DB) error {
	return prepareAll(ctx, db.PrepareContext, map[**sql.Stmt]string{
		&t.pageViews: `SELECT ` + pageViewCols + ` FROM page_views WHERE visitor_id = ? ORDER BY at DESC, rid DESC LIMIT ?`,
		// A range of page_views_at (0005), which covers it.
		&t.pageViewVisitors: `SELECT DISTINCT visitor_id FROM page_views WHERE at >= ? AND at < ? ORDER BY visitor_id`,
		&t.canned: `SELECT ` + cannedCols + ` FROM canned WHERE operator_id = '' OR operator_id = ?
ORDER BY shortcut, operator_id`,
		&t.triggers: `SELECT id, doc FROM triggers ORDER BY id`,
	})
}

func (t *trackRead) close() []error {
	return closeAll(t.pageViews, t.pageViewVisitors, t.canned, t.triggers)
}

// Page views.

// AddPageViews implements chat.Store: one write, so the batch is stored
// whole or not at all.
func (s *Store) AddPageViews(ctx context.Context, views []chat.PageView) error {
	if len(views) == 0 {
		return nil
	}
	vs := slices.Clone(views) // the writer may still run it after write returns on ctx's end
	return s.write(ctx, func(w *writeStmts) error {
		for _, v := range vs {
			if _, err := w.trk.insPageView.ExecContext(bg, v.VisitorID, v.URL, v.Title, v.Referrer,
				v.UTM.Source, v.UTM.Medium, v.UTM.Campaign, v.UTM.Term, v.UTM.Content, micros(v.At)); err != nil {
				return dbErr("add page views", err)
			}
		}
		return nil
	})
}

// PageViews implements chat.Store.
func (s *Store) PageViews(ctx context.Context, visitorID string, limit int) ([]chat.PageView, error) {
	if err := s.ready(); err != nil {
		return nil, err
	}
	return collect(ctx, s, "page views", scanPageView, s.r.trk.pageViews, "", visitorID, limit)
}

func scanPageView(sc scanner) (chat.PageView, error) {
	var v chat.PageView
	var at int64
	err := sc.Scan(&v.VisitorID, &v.URL, &v.Title, &v.Referrer,
		&v.UTM.Source, &v.UTM.Medium, &v.UTM.Campaign, &v.UTM.Term, &v.UTM.Content, &at)
	v.At = fromMicros(at)
	return v, err
}

// PageViewVisitors implements chat.PageViewVisitors: the ids, ascending,
// of the visitors with a view in from <= At < to. ErrInvalid if to is
// before from.
func (s *Store) PageViewVisitors(ctx context.Context, from, to time.Time) ([]string, error) {
	if err := s.ready(); err != nil {
		return nil, err
	}
	return collect(ctx, s, "page view visitors", scanID, s.r.trk.pageViewVisitors, "", micros(from), micros(to))
}

func scanID(sc scanner) (string, error) {
	var id string
	err := sc.Scan(&id)
	return id, err
}

// Activities.

// AddActivities implements chat.Store: one write, so the batch is stored
// whole or not at all.
func (s *Store) AddActivities(ctx context.Context, as []chat.Activity) error {
	if len(as) == 0 {
		return nil
	}
	batch := slices.Clone(as)
	return s.write(ctx, func(w *writeStmts) error {
		for _, a := range batch {
			if _, err := w.trk.insActivity.ExecContext(bg, string(a.Kind), a.VisitorID, a.ConversationID,
				a.OperatorID, a.TriggerID, a.Value, a.Text, micros(a.At)); err != nil {
				return dbErr("add activities", err)
			}
		}
		return nil
	})
}

// Activities implements chat.Store.
func (s *Store) Activities(ctx context.Context, q chat.ActivityQuery) ([]chat.Activity, error) {
	if err := s.ready(); err != nil {
		return nil, err
	}
	var w where
	if len(q.Kinds) > 0 {
		w.in("kind", anys(q.Kinds))
	}
	if q.VisitorID != "" {
		w.and("visitor_id = ? AND visitor_id != ''", q.VisitorID) // != '': the partial index
	}
	if q.ConversationID != "" {
		w.and("conversation_id = ? AND conversation_id != ''", q.ConversationID)
	}
	if q.OperatorID != "" {
		w.and("operator_id = ?", q.OperatorID)
	}
	if q.TriggerID != "" {
		w.and("trigger_id = ?", q.TriggerID)
	}
	w.period("at", q.From, q.To)
	query := `SELECT ` + activityCols + ` FROM activities` + w.String() + ` ORDER BY at, rid LIMIT ?`
	return collect(ctx, s, "activities", scanActivity, nil, query, append(w.args, q.Limit)...)
}

func scanActivity(sc scanner) (chat.Activity, error) {
	var a chat.Activity
	var kind string
	var at int64
	err := sc.Scan(&kind, &a.VisitorID, &a.ConversationID, &a.OperatorID, &a.TriggerID, &a.Value, &a.Text, &at)
	a.Kind, a.At = chat.ActivityKind(kind), fromMicros(at)
	return a, err
}

// Helpers.

// deleteByID runs the DELETE statement st(w) for id: ErrNotFound (as
// kind) if it deleted nothing.
func (s *Store) deleteByID(ctx context.Context, kind, id string, st func(w *writeStmts) *sql.Stmt) error {
	return s.write(ctx, func(w *writeStmts) error {
		res, err := st(w).ExecContext(bg, id)
		if err != nil {
			return dbErr("delete "+kind, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return notFound(kind, id)
		}
		return nil
	})
}

// collect runs the prepared st, or query on the read pool if st is nil,
// and scans every row. It never returns a nil slice without an error, so an
// empty result encodes as [] in JSON.
func collect[T any](ctx context.Context, s *Store, op string, scan func(scanner) (T, error),
	st *sql.Stmt, query string, args ...any) ([]T, error) {
	var rows *sql.Rows
	var err error
	if st != nil {
		rows, err = st.QueryContext(ctx, args...)
	} else {
		rows, err = s.rdb.QueryContext(ctx, query, args...)
	}
	if err != nil {
		return nil, dbErr(op, err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, dbErr(op, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(op, err)
	}
	return out, nil
}

// where builds the WHERE clause of a query from the filters in use.
type where struct {
	conds []string
	args  []any
}

func (w *where) and(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

// in keeps rows whose column is any of vals (at least one).
func (w *where) in(column string, vals []any) {
	w.and(column+" IN (?"+strings.Repeat(", ?", len(vals)-1)+")", vals...)
}

// anys converts a list of a string type to query arguments.
func anys[S ~string](xs []S) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
}

// period keeps rows whose column is in [from, to); a zero bound is open.
func (w *where) period(column string, from, to time.Time) {
	if !from.IsZero() {
		w.and(column+" >= ?", micros(from))
	}
	if !to.IsZero() {
		w.and(column+" < ?", micros(to))
	}
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}
