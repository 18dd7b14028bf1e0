package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/shopchat/chat"
)

// Column lists, in the order the scan functions read them.
const (
	visitorCols  = `id, coalesce(customer_id, ''), name, email, created_at, last_seen_at, token_gen, bounced_email`
	operatorCols = `id, name, email, avatar_url, departments, capacity, presence, presence_expires, last_assigned_at`
	convCols     = `id, visitor_id, status, operator_id, department, last_seq, visitor_read_seq, operator_read_seq,
	created_at, queued_at, assigned_at, closed_at, mail_opt_out, language, live_until`
	msgCols    = `id, conversation_id, seq, coalesce(client_id, ''), kind, author_id, author_name, text, created_at`
	searchCols = `m.id, m.conversation_id, m.seq, coalesce(m.client_id, ''), m.kind, m.author_id, m.author_name, m.text,
	m.created_at, snippet(messages_fts, 0, '', '', '` + ellipsis + `', 24), bm25(messages_fts)`
)

// ellipsis marks text left out of a snippet.
const ellipsis = "…"

// bg is the context of the writer's statements: a statement interrupted
// inside a transaction would roll back the whole batch, so the writer
// checks each caller's context before running its write, never during.
var bg = context.Background()

// writeStmts are prepared once on the writer's connection and used only by
// the writer goroutine.
type writeStmts struct {
	begin, commit, rollback             *sql.Stmt
	savepoint, release, rollbackTo      *sql.Stmt
	insVisitor, updVisitor, delVisitor  *sql.Stmt
	putOperator, setPresence, setLastAt *sql.Stmt
	visitorExists, operatorExists       *sql.Stmt
	conv, convStatus, openConvID        *sql.Stmt
	insConv, assign, requeue, closeConv *sql.Stmt
	reopen, readVisitor, readOperator   *sql.Stmt
	mailOptOut, keepLive                *sql.Stmt
	countAssigned, purge                *sql.Stmt
	claim, purgeClaims                  *sql.Stmt
	dupMsg, bumpSeq, insMsg, indexFTS   *sql.Stmt
	unbumpSeq                           *sql.Stmt
	trk                                 trackWrite // tracking.go
	ev                                  eventWrite // events.go

	// ftsLo and ftsHi bound the rowids of messages inserted in the current
	// batch and not yet indexed for search (0: none).
	ftsLo, ftsHi int64
}

func (w *writeStmts) prepare(ctx context.Context, c *sql.Conn) error {
	if err := w.trk.prepare(ctx, c); err != nil {
		return err
	}
	if err := w.ev.prepare(ctx, c); err != nil {
		return err
	}
	return prepareAll(ctx, c.PrepareContext, map[**sql.Stmt]string{
		&w.begin:      `BEGIN IMMEDIATE`,
		&w.commit:     `COMMIT`,
		&w.rollback:   `ROLLBACK`,
		&w.savepoint:  `SAVEPOINT item`,
		&w.release:    `RELEASE item`,
		&w.rollbackTo: `ROLLBACK TO item`,

		&w.insVisitor: `INSERT INTO visitors (id, customer_id, name, email, created_at, last_seen_at, token_gen, bounced_email) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		&w.updVisitor: `UPDATE visitors SET customer_id = ?, name = ?, email = ?, created_at = ?, last_seen_at = ?, token_gen = max(token_gen, ?), bounced_email = ? WHERE id = ?`,
		&w.delVisitor: `DELETE FROM visitors WHERE id = ?`,

		&w.putOperator: `INSERT INTO operators (id, name, email, avatar_url, departments, capacity) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET name = excluded.name, email = excluded.email, avatar_url = excluded.avatar_url,
	departments = excluded.departments, capacity = excluded.capacity`,
		&w.setPresence:    `UPDATE operators SET presence = ?, presence_expires = ? WHERE id = ?`,
		&w.setLastAt:      `UPDATE operators SET last_assigned_at = ? WHERE id = ?`,
		&w.visitorExists:  `SELECT 1 FROM visitors WHERE id = ?`,
		&w.operatorExists: `SELECT 1 FROM operators WHERE id = ?`,

		&w.conv:       `SELECT ` + convCols + ` FROM conversations WHERE id = ?`,
		&w.convStatus: `SELECT status FROM conversations WHERE id = ?`,
		&w.openConvID: `SELECT id FROM conversations WHERE visitor_id = ? AND status != 'closed'`,
		&w.insConv: `INSERT INTO conversations (id, visitor_id, status, operator_id, department, created_at, queued_at, assigned_at, closed_at, language, live_until)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		&w.assign:    `UPDATE conversations SET status = 'assigned', operator_id = ?, assigned_at = ? WHERE id = ? RETURNING ` + convCols,
		&w.requeue:   `UPDATE conversations SET status = 'queued', operator_id = '', department = ?, queued_at = ? WHERE id = ? RETURNING ` + convCols,
		&w.closeConv: `UPDATE conversations SET status = 'closed', closed_at = ? WHERE id = ? RETURNING ` + convCols,
		&w.reopen: `UPDATE conversations SET status = 'queued', operator_id = '', queued_at = ?, closed_at = ? WHERE id = ?
RETURNING ` + convCols,
		&w.readVisitor:   `UPDATE conversations SET visitor_read_seq = max(visitor_read_seq, ?) WHERE id = ? RETURNING ` + convCols,
		&w.readOperator:  `UPDATE conversations SET operator_read_seq = max(operator_read_seq, ?) WHERE id = ? RETURNING ` + convCols,
		&w.mailOptOut:    `UPDATE conversations SET mail_opt_out = ? WHERE id = ? RETURNING ` + convCols,
		&w.keepLive:      `UPDATE conversations SET live_until = ?1 WHERE visitor_id = ?2 AND status != 'closed' AND live_until < ?1`,
		&w.countAssigned: `SELECT count(*) FROM conversations WHERE operator_id = ? AND status = 'assigned' AND live_until > ?`,
		&w.purge: `DELETE FROM conversations WHERE id IN
	(SELECT id FROM conversations WHERE status = 'closed' AND closed_at < ? LIMIT ?)`,
		// Takes a key that is free or expired (claims.expires <= now);
		// an unexpired claim leaves no row changed.
		&w.claim: `INSERT INTO claims (key, expires) VALUES (?1, ?2)
ON CONFLICT (key) DO UPDATE SET expires = excluded.expires WHERE claims.expires <= ?3`,
		&w.purgeClaims: `DELETE FROM claims WHERE expires < ?`,

		&w.dupMsg: `SELECT ` + msgCols + ` FROM messages WHERE conversation_id = ? AND client_id = ?`,
		// The hot path in one statement: bump the sequence of an open
		// conversation (assigned to operator ?3, if set) unless the client
		// id was used (no row: slow path).
		&w.bumpSeq: `UPDATE conversations SET last_seq = last_seq + 1
WHERE id = ?1 AND status != 'closed' AND (?3 = '' OR (status = 'assigned' AND operator_id = ?3))
	AND NOT EXISTS (SELECT 1 FROM messages WHERE conversation_id = ?1 AND client_id = ?2)
RETURNING ` + convCols,
		// Undoes bumpSeq when the insert after it fails, so an append
		// leaves nothing behind without the cost of a savepoint.
		&w.unbumpSeq: `UPDATE conversations SET last_seq = last_seq - 1 WHERE id = ?`,
		&w.insMsg: `INSERT INTO messages (id, conversation_id, seq, client_id, kind, author_id, author_name, text, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		&w.indexFTS: `INSERT INTO messages_fts (rowid, text) SELECT rid, text FROM messages WHERE rid BETWEEN ? AND ?`,
	})
}

func (w *writeStmts) close() []error {
	return append(append(w.trk.close(), w.ev.close()...), closeAll(w.begin, w.commit, w.rollback, w.savepoint, w.release, w.rollbackTo,
		w.insVisitor, w.updVisitor, w.delVisitor, w.putOperator, w.setPresence, w.setLastAt,
		w.visitorExists, w.operatorExists, w.conv, w.convStatus, w.openConvID, w.insConv,
		w.assign, w.requeue, w.closeConv, w.reopen, w.readVisitor, w.readOperator, w.mailOptOut, w.keepLive,
		w.countAssigned, w.purge, w.claim, w.purgeClaims, w.dupMsg, w.bumpSeq, w.insMsg, w.indexFTS, w.unbumpSeq)...)
}

// readStmts are prepared on the read pool.
type readStmts struct {
	visitor, visitorByCustomer, operator, loads *sql.Stmt
	conv, convExists, openConv, queue           *sql.Stmt
	msgsAsc, msgsDesc                           *sql.Stmt
	search, searchVisitor                       *sql.Stmt
	trk                                         trackRead // tracking.go
}

func (r *readStmts) prepare(ctx context.Context, db *sql.DB) error {
	if err := r.trk.prepare(ctx, db); err != nil {
		return err
	}
	return prepareAll(ctx, db.PrepareContext, map[**sql.Stmt]string{
		&r.visitor:           `SELECT ` + visitorCols + ` FROM visitors WHERE id = ?`,
		&r.visitorByCustomer: `SELECT ` + visitorCols + ` FROM visitors WHERE customer_id = ?`,
		&r.operator:          `SELECT ` + operatorCols + ` FROM operators WHERE id = ?`,
		&r.loads: `SELECT ` + operatorCols + `,
	(SELECT count(*) FROM conversations c WHERE c.operator_id = o.id AND c.status = 'assigned' AND c.live_until > ?)
FROM operators o ORDER BY o.id`,
		&r.conv:       `SELECT ` + convCols + ` FROM conversations WHERE id = ?`,
		&r.convExists: `SELECT 1 FROM conversations WHERE id = ?`,
		&r.openConv:   `SELECT ` + convCols + ` FROM conversations WHERE visitor_id = ? AND status != 'closed'`,
		&r.queue:      `SELECT ` + convCols + ` FROM conversations WHERE status = 'queued' ORDER BY queued_at, id`,
		&r.msgsAsc: `SELECT ` + msgCols + ` FROM messages
WHERE conversation_id = ? AND seq > ? AND seq < ? ORDER BY seq LIMIT ?`,
		&r.msgsDesc: `SELECT ` + msgCols + ` FROM messages
WHERE conversation_id = ? AND seq > ? AND seq < ? ORDER BY seq DESC LIMIT ?`,
		&r.search: `SELECT ` + searchCols + ` FROM messages_fts JOIN messages m ON m.rid = messages_fts.rowid
WHERE messages_fts MATCH ? ORDER BY messages_fts.rank, m.rid DESC LIMIT ?`,
		&r.searchVisitor: `SELECT ` + searchCols + ` FROM messages_fts JOIN messages m ON m.rid = messages_fts.rowid
JOIN conversations c ON c.id = m.conversation_id
WHERE messages_fts MATCH ? AND c.visitor_id = ? AND m.kind != 'note' ORDER BY messages_fts.rank, m.rid DESC LIMIT ?`,
	})
}

func (r *readStmts) close() []error {
	return append(r.trk.close(), closeAll(r.visitor, r.visitorByCustomer, r.operator, r.loads, r.conv, r.convExists,
		r.openConv, r.queue, r.msgsAsc, r.msgsDesc, r.search, r.searchVisitor)...)
}

// Times are stored as Unix microseconds. The zero time.Time has its own
// value (year 1) and reads back as the zero time.

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time {
	t := time.UnixMicro(us).UTC()
	if t.IsZero() {
		return time.Time{}
	}
	return t
}

// zeroMicros is the stored form of the zero time.
var zeroMicros = micros(time.Time{})

// nullIfEmpty stores "" as NULL, for columns with partial unique indexes.
func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

type scanner interface{ Scan(dest ...any) error }

func scanVisitor(sc scanner) (*chat.Visitor, error) {
	var v chat.Visitor
	var created, seen int64
	if err := sc.Scan(&v.ID, &v.CustomerID, &v.Name, &v.Email, &created, &seen, &v.TokenGen, &v.BouncedEmail); err != nil {
		return nil, err
	}
	v.CreatedAt, v.LastSeenAt = fromMicros(created), fromMicros(seen)
	return &v, nil
}

// operatorRow is an operator with its stored presence.
type operatorRow struct {
	op           chat.Operator
	presence     chat.Presence
	expires      time.Time
	lastAssigned time.Time
}

func scanOperator(sc scanner, extra ...any) (*operatorRow, error) {
	var o operatorRow
	var deps string
	var expires, last int64
	var presence string
	dest := append([]any{&o.op.ID, &o.op.Name, &o.op.Email, &o.op.AvatarURL, &deps, &o.op.Capacity, &presence, &expires, &last}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return nil, err
	}
	if deps != "" && deps != "[]" {
		if err := json.Unmarshal([]byte(deps), &o.op.Departments); err != nil {
			return nil, err
		}
	}
	o.presence = chat.Presence(presence)
	o.expires, o.lastAssigned = fromMicros(expires), fromMicros(last)
	return &o, nil
}

func (s *Store) scanConv(sc scanner) (*chat.Conversation, error) {
	var c chat.Conversation
	var status string
	var created, queued, assigned, closed, live int64
	if err := sc.Scan(&c.ID, &c.VisitorID, &status, &c.OperatorID, &c.Department, &c.LastSeq,
		&c.VisitorReadSeq, &c.OperatorReadSeq, &created, &queued, &assigned, &closed, &c.MailOptOut, &c.Language, &live); err != nil {
		return nil, err
	}
	c.Status = chat.Status(status)
	c.Epoch = s.epoch
	c.CreatedAt, c.QueuedAt = fromMicros(created), fromMicros(queued)
	c.AssignedAt, c.ClosedAt = fromMicros(assigned), fromMicros(closed)
	c.LiveUntil = fromMicros(live)
	return &c, nil
}

func scanMessage(sc scanner, extra ...any) (*chat.Message, error) {
	var m chat.Message
	var kind string
	var created int64
	dest := append([]any{&m.ID, &m.ConversationID, &m.Seq, &m.ClientID, &kind, &m.AuthorID, &m.AuthorName, &m.Text, &created}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return nil, err
	}
	m.Kind = chat.MessageKind(kind)
	m.CreatedAt = fromMicros(created)
	return &m, nil
}
