package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/shopchat/chat"
)

// Group commit of appends (issue 19). Every append (AppendMessage,
// AppendAssigned, AppendBatch) goes to one batcher goroutine per Store,
// which takes whatever is queued, up to maxAppendBatch, and stores it with
// one call of chat_append_batch (migration 011): one round trip, one
// statement, one commit. While a batch commits the next one gathers, so
// under load many sessions share a commit and alone an append commits at
// once.

// maxAppendBatch caps the items of one chat_append_batch call.
const maxAppendBatch = 256

// errClosed is returned by appends after Close.
var errClosed = errors.New("postgres: store closed")

// appendReq is one append waiting for the batcher. Its inputs are copied
// from the caller's Message, which the caller may change meanwhile; res is
// read by the caller only after done is signalled.
type appendReq struct {
	ctx        context.Context
	convID     string
	operatorID string
	id         string
	clientID   string
	kind       string
	authorID   string
	authorName string
	text       string
	createdAt  time.Time
	res        chat.AppendResult
	done       chan struct{} // buffered 1: the batcher never blocks on it
}

// op names the append in errors, as the single appends always have.
func (r *appendReq) op() string { return fmt.Sprintf("append to conversation %q", r.convID) }

func (r *appendReq) finish(res chat.AppendResult) {
	r.res = res
	r.done <- struct{}{}
}

// batcher state of a Store.
type batcher struct {
	reqs    chan *appendReq
	closing chan struct{} // closed by Close
	stopped chan struct{} // closed when the batcher goroutine has returned
}

func (s *Store) startBatcher() {
	s.b = batcher{
		reqs:    make(chan *appendReq, maxAppendBatch),
		closing: make(chan struct{}),
		stopped: make(chan struct{}),
	}
	go s.batchAppends()
}

// stopBatcher makes later appends fail with errClosed and waits for the
// batch in progress, if any.
func (s *Store) stopBatcher() {
	s.closeOnce.Do(func() { close(s.b.closing) })
	<-s.b.stopped
}

// AppendBatch implements chat.BatchAppender on the group-commit batcher:
// the items enter its queue in slice order, so of two items for one
// conversation the later gets the higher seq, whether they share a batch
// or not.
func (s *Store) AppendBatch(ctx context.Context, items []chat.AppendItem) []chat.AppendResult {
	out := make([]chat.AppendResult, len(items))
	reqs := make([]*appendReq, len(items))
	for i, it := range items {
		if err := refuseEarly(it.Message, it.OperatorID); err != nil {
			out[i].Err = err
			continue
		}
		reqs[i] = newAppendReq(ctx, it.Message, it.OperatorID)
	}
	s.submit(ctx, reqs, out)
	for i, res := range out {
		if res.Err == nil && !res.Duplicate {
			m := items[i].Message
			m.ID, m.Seq = res.Message.ID, res.Message.Seq
		}
	}
	return out
}

// appendMessage appends m through the batcher; if operatorID is set, only
// into a conversation assigned to that operator.
func (s *Store) appendMessage(ctx context.Context, m *chat.Message, operatorID string) (chat.Appended, error) {
	res := s.AppendBatch(ctx, []chat.AppendItem{{Message: m, OperatorID: operatorID}})[0]
	return res.Appended, res.Err
}

// refuseEarly fails an append that no database call is needed to refuse,
// with the errors the database would give: an id that no row can have, or
// a value PostgreSQL cannot store (which would fail the whole batch).
func refuseEarly(m *chat.Message, operatorID string) error {
	switch {
	case !storable(m.ConversationID):
		return notFound("conversation", m.ConversationID)
	case !storable(operatorID): // no operator has that id, so none is assigned
		return conflict("conversation", m.ConversationID, "not assigned to that operator")
	case !storable(m.ID) || !storable(m.ClientID) || !storable(string(m.Kind)) || !storable(m.AuthorID) ||
		!storable(m.AuthorName) || !storable(m.Text):
		return fmt.Errorf("postgres: append to conversation %q: value not storable: %w", m.ConversationID, chat.ErrInvalid)
	}
	return nil
}

func newAppendReq(ctx context.Context, m *chat.Message, operatorID string) *appendReq {
	id := m.ID
	if id == "" {
		id = uuid.NewString()
	}
	return &appendReq{
		ctx: ctx, convID: m.ConversationID, operatorID: operatorID,
		id: id, clientID: m.ClientID, kind: string(m.Kind), authorID: m.AuthorID, authorName: m.AuthorName,
		text: m.Text, createdAt: m.CreatedAt,
		done: make(chan struct{}, 1),
	}
}

// submit queues the non-nil reqs in order and waits until each has its
// result, which it puts in out (out[i] for reqs[i]). If ctx ends first,
// those without one get ctx.Err() (their outcome is unknown: a queued item
// may still be stored).
func (s *Store) submit(ctx context.Context, reqs []*appendReq, out []chat.AppendResult) {
	queued := 0
	for i, r := range reqs {
		if r == nil {
			continue
		}
		var err error
		select {
		case s.b.reqs <- r:
			queued = i + 1
			continue
		case <-s.b.closing:
			err = errClosed
		case <-ctx.Done():
			err = ctx.Err()
		}
		// Not queued: neither are the later items, which must not overtake it.
		for j, r := range reqs[i:] {
			if r != nil {
				out[i+j].Err = err
			}
		}
		break
	}
	for i, r := range reqs[:queued] {
		if r == nil {
			continue
		}
		select {
		case <-r.done:
			out[i] = r.res
			continue
		case <-ctx.Done():
		case <-s.b.stopped:
		}
		select {
		case <-r.done: // finished after all
			out[i] = r.res
		default:
			// r is left to the batcher (done is buffered) and the GC.
			out[i].Err = ctx.Err()
			if s.isStopped() {
				out[i].Err = errClosed
			}
		}
	}
}

func (s *Store) isStopped() bool {
	select {
	case <-s.b.stopped:
		return true
	default:
		return false
	}
}

// batchAppends is the batcher goroutine.
func (s *Store) batchAppends() {
	defer close(s.b.stopped)
	batch := make([]*appendReq, 0, maxAppendBatch)
	for {
		select {
		case r := <-s.b.reqs:
			batch = append(batch[:0], r)
		case <-s.b.closing:
			return
		}
		// Take everyone already waiting; then yield once, so senders that
		// are runnable but have not reached their send yet (their previous
		// append just completed) join this batch instead of the next.
		for yielded := false; len(batch) < maxAppendBatch; {
			select {
			case r := <-s.b.reqs:
				batch = append(batch, r)
				continue
			default:
			}
			if yielded {
				break
			}
			runtime.Gosched()
			yielded = true
		}
		s.commitAppends(batch)
		clear(batch)
	}
}

// commitAppends stores a batch and signals each request.
//
// If the batch statement fails with an error of the server (a deadlock, a
// value it refuses), it has rolled back as a whole: the items are then
// stored one by one, so that only a bad item fails. If the failure may have
// reached the server without an answer (a lost connection), the outcome is
// unknown and every item fails with it, as a single append would: client
// ids make the retry safe.
func (s *Store) commitAppends(batch []*appendReq) {
	live := make([]*appendReq, 0, len(batch))
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.finish(chat.AppendResult{Err: err})
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	// One lock order for all batches, on every node: by conversation id
	// (stable, so one conversation's items keep their order).
	slices.SortStableFunc(live, func(a, b *appendReq) int { return cmp.Compare(a.convID, b.convID) })

	ctx, stop := batchContext(live)
	defer stop()
	err := s.storeAppends(ctx, live)
	if err != nil && pgconn.SafeToRetry(err) {
		err = s.storeAppends(ctx, live)
	}
	if err == nil {
		return
	}
	var pe *pgconn.PgError
	if len(live) == 1 || !errors.As(err, &pe) {
		for _, r := range live {
			// A caller who gave up gets its own reason: the statement
			// failed because every caller's context ended.
			if ctxErr := r.ctx.Err(); ctxErr != nil {
				r.finish(chat.AppendResult{Err: ctxErr})
				continue
			}
			r.finish(chat.AppendResult{Err: s.mapErr(r.op(), err)})
		}
		return
	}
	for _, r := range live {
		if err := r.ctx.Err(); err != nil {
			r.finish(chat.AppendResult{Err: err})
			continue
		}
		err := s.write(r.ctx, r.op(), func() error { return s.storeAppends(r.ctx, []*appendReq{r}) })
		if err != nil {
			r.finish(chat.AppendResult{Err: err})
		}
	}
}

// batchContext returns the context of a batch's statement: it ends once
// every request's context has ended, so that a batch stuck on a lock holds
// up the appends queued behind it no longer than its callers wait.
func batchContext(reqs []*appendReq) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var waiting atomic.Int64
	waiting.Store(int64(len(reqs)))
	stops := make([]func() bool, len(reqs))
	for i, r := range reqs {
		stops[i] = context.AfterFunc(r.ctx, func() {
			if waiting.Add(-1) == 0 {
				cancel()
			}
		})
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel()
	}
}

const appendBatchSQL = `SELECT * FROM chat_append_batch($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`

// The codes of chat_append_batch.
const (
	appendStored = iota
	appendDuplicate
	appendClosed
	appendNotAssigned
	appendNoConversation
)

// appendBatchCols is the number of columns chat_append_batch returns.
const appendBatchCols = 2 + 9 + 15

// storeAppends stores reqs with one chat_append_batch call and finishes
// each of them, or returns the statement's error and finishes none.
func (s *Store) storeAppends(ctx context.Context, reqs []*appendReq) error {
	n := len(reqs)
	conv, op, id, client, kind := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	author, name, body, search := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	at := make([]time.Time, n)
	for i, r := range reqs {
		conv[i], op[i], id[i], client[i], kind[i] = r.convID, r.operatorID, r.id, r.clientID, r.kind
		author[i], name[i], body[i], at[i], search[i] = r.authorID, r.authorName, r.text, r.createdAt, searchText(r.text)
	}
	rows, err := s.pool.Query(ctx, appendBatchSQL, conv, op, id, client, kind, author, name, body, at, search)
	if err != nil {
		return err
	}
	results := make([]chat.AppendResult, n)
	seen := 0
	skip := make([]any, appendBatchCols)
	for rows.Next() {
		var i, code int
		skip[0], skip[1] = &i, &code
		if err := rows.Scan(skip...); err != nil {
			rows.Close()
			return err
		}
		if i < 1 || i > n {
			rows.Close()
			return fmt.Errorf("chat_append_batch returned item %d of %d", i, n)
		}
		r, res := reqs[i-1], &results[i-1]
		seen++
		switch code {
		case appendStored, appendDuplicate:
			var m chat.Message
			var mkind string
			c, cdest, finish := s.convScanner()
			dest := append([]any{&i, &code, &m.ID, &m.ConversationID, &m.Seq, &m.ClientID, &mkind, &m.AuthorID,
				&m.AuthorName, &m.Text, &m.CreatedAt}, cdest...)
			if err := rows.Scan(dest...); err != nil {
				rows.Close()
				return err
			}
			m.Kind, m.CreatedAt = chat.MessageKind(mkind), m.CreatedAt.UTC()
			finish()
			res.Appended = chat.Appended{Message: &m, Conversation: c, Duplicate: code == appendDuplicate}
		case appendClosed:
			res.Err = conflict("conversation", r.convID, "closed")
		case appendNotAssigned:
			res.Err = conflict("conversation", r.convID, fmt.Sprintf("not assigned to %q", r.operatorID))
		case appendNoConversation:
			res.Err = notFound("conversation", r.convID)
		default:
			rows.Close()
			return fmt.Errorf("chat_append_batch returned code %d", code)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if seen != n {
		return fmt.Errorf("chat_append_batch returned %d results for %d items", seen, n)
	}
	for i, r := range reqs {
		r.finish(results[i])
	}
	return nil
}
