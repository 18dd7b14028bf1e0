package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"
)

// maxBatch caps how many writes share one transaction.
const maxBatch = 512

// request is one write waiting for the writer goroutine.
type request struct {
	ctx    context.Context
	fn     func(w *writeStmts) error
	append bool // fn only inserts messages (see writeStmts.inserted)
	err    error
	done   chan struct{} // buffered 1: the writer never blocks on it
}

var requestPool = sync.Pool{New: func() any { return &request{done: make(chan struct{}, 1)} }}

// write runs fn in the writer goroutine, inside a transaction shared with
// other concurrent writes (group commit), and returns once that transaction
// has committed (fn's error, or the commit's). fn runs in its own
// savepoint: if it fails, its changes are rolled back and the other writes
// of the batch are unaffected.
//
// fn runs on another goroutine: it must not touch memory the caller may
// change meanwhile (copy inputs first), and it reports results through
// variables the caller reads only after write returns nil.
//
// If ctx ends before fn has started, fn never runs. If it ends while the
// batch is committing, write returns ctx.Err() and the outcome is unknown,
// as with any database: appends are made safe to retry by client ids.
func (s *Store) write(ctx context.Context, fn func(w *writeStmts) error) error {
	return s.submit(ctx, fn, false)
}

// writeAppend is write for a fn that inserts messages and reports each
// with w.inserted, so the batch indexes them for search in one statement.
func (s *Store) writeAppend(ctx context.Context, fn func(w *writeStmts) error) error {
	return s.submit(ctx, fn, true)
}

func (s *Store) submit(ctx context.Context, fn func(w *writeStmts) error, append bool) error {
	if s.closed.Load() {
		return errClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	r := requestPool.Get().(*request)
	r.ctx, r.fn, r.append, r.err = ctx, fn, append, nil
	select {
	case s.reqs <- r:
	case <-s.closing:
		r.ctx, r.fn = nil, nil
		requestPool.Put(r)
		return errClosed
	case <-ctx.Done():
		r.ctx, r.fn = nil, nil
		requestPool.Put(r)
		return ctx.Err()
	}
	select {
	case <-r.done:
		err := r.err
		r.ctx, r.fn, r.err = nil, nil, nil
		requestPool.Put(r)
		return err
	case <-ctx.Done():
		// The writer still signals r.done (buffered); r is left to the GC.
		return ctx.Err()
	}
}

// writer is the single goroutine that writes. It takes every request that
// is waiting, up to maxBatch, runs them in one transaction and commits
// once: while a batch commits, the next one gathers, so under load many
// writes share one commit, and alone a write commits at once.
func (s *Store) writer() {
	defer close(s.stopped)
	batch := make([]*request, 0, maxBatch)
	for {
		select {
		case r := <-s.reqs:
			batch = append(batch[:0], r)
		case <-s.closing:
			return
		}
		// Take everyone already waiting; then yield once, so senders that
		// are runnable but have not reached their send yet (their previous
		// write just completed) join this batch instead of the next.
		for yielded := false; len(batch) < maxBatch; {
			select {
			case r := <-s.reqs:
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
		s.commit(batch)
		clear(batch)
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
}

// checkpointInterval is the least time between background checkpoints.
const checkpointInterval = 50 * time.Millisecond

// checkpointer copies committed pages from the WAL into the database file
// on its own connection, after writes and at most every
// checkpointInterval, so the writer does not stall on checkpoints (in
// synchronous=NORMAL, the only fsyncs) unless this one falls 32 MiB
// behind. A PASSIVE checkpoint blocks neither
// the writer nor readers. Close's last connection does a final one.
func (s *Store) checkpointer() {
	defer close(s.cpDone)
	for {
		select {
		case <-s.kick:
		case <-s.closing:
			return
		}
		// Errors are not fatal: the next attempt, the writer's own
		// autocheckpoint or Close catch up.
		_, _ = s.cdb.ExecContext(bg, "PRAGMA wal_checkpoint(PASSIVE)")
		select {
		case <-time.After(checkpointInterval):
		case <-s.closing:
			return
		}
	}
}

// commit runs a batch in one IMMEDIATE transaction and signals each
// request. With more than one request, each runs in a savepoint, so a
// failing one is rolled back alone. Messages inserted by appends are
// indexed for search in one statement before the commit, and before any
// other kind of write (which might delete them) runs.
func (s *Store) commit(batch []*request) {
	w := &s.w
	w.ftsLo, w.ftsHi = 0, 0
	live := batch[:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			r.done <- struct{}{}
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	// abort rolls the transaction back and fails every request.
	abort := func(err error) {
		_, _ = w.rollback.ExecContext(bg)
		for _, r := range live {
			r.err = err
			r.done <- struct{}{}
		}
	}
	if _, err := w.begin.ExecContext(bg); err != nil {
		abort(fmt.Errorf("sqlite: begin transaction: %w", err))
		return
	}
	savepoints := len(live) > 1
	for _, r := range live {
		if !r.append {
			if err := w.index(); err != nil {
				abort(err)
				return
			}
		}
		// Appends, the hot path, leave nothing behind when they fail (they
		// undo their own sequence bump), so they skip the savepoint and its
		// two statements; other writes get one.
		sp := savepoints && !r.append
		if sp {
			if _, err := w.savepoint.ExecContext(bg); err != nil {
				abort(fmt.Errorf("sqlite: savepoint: %w", err))
				return
			}
		}
		r.err = r.fn(w)
		var must errMustAbort
		if errors.As(r.err, &must) {
			abort(must.err)
			return
		}
		switch {
		case r.err != nil && !savepoints:
			_, _ = w.rollback.ExecContext(bg)
			r.done <- struct{}{}
			return
		case r.err != nil && !sp:
			// A failed append: nothing to undo.
		case r.err != nil:
			_, err := w.rollbackTo.ExecContext(bg)
			if err == nil {
				_, err = w.release.ExecContext(bg)
			}
			if err != nil {
				// SQLite rolled the whole transaction back (I/O error,
				// disk full): every write of the batch is lost.
				abort(fmt.Errorf("sqlite: transaction aborted (after %v): %w", r.err, err))
				return
			}
		case sp:
			if _, err := w.release.ExecContext(bg); err != nil {
				abort(fmt.Errorf("sqlite: release savepoint: %w", err))
				return
			}
		}
	}
	if err := w.index(); err != nil {
		abort(err)
		return
	}
	if _, err := w.commit.ExecContext(bg); err != nil {
		abort(fmt.Errorf("sqlite: commit: %w", err))
		return
	}
	for _, r := range live {
		r.done <- struct{}{}
	}
}

// inserted records that the current batch inserted message rid.
func (w *writeStmts) inserted(rid int64) {
	if w.ftsLo == 0 {
		w.ftsLo = rid
	}
	w.ftsLo, w.ftsHi = min(w.ftsLo, rid), max(w.ftsHi, rid)
}

// index adds the messages inserted since the last call to the search
// index. Rowids grow (max+1), so every row in [ftsLo, ftsHi] was inserted
// since then; a row whose savepoint rolled back is simply not there.
func (w *writeStmts) index() error {
	if w.ftsLo == 0 {
		return nil
	}
	lo, hi := w.ftsLo, w.ftsHi
	w.ftsLo, w.ftsHi = 0, 0
	if _, err := w.indexFTS.ExecContext(bg, lo, hi); err != nil {
		return fmt.Errorf("sqlite: index messages for search: %w", err)
	}
	return nil
}

// prepareAll prepares each query into its *sql.Stmt.
func prepareAll(ctx context.Context, prep func(context.Context, string) (*sql.Stmt, error), stmts map[**sql.Stmt]string) error {
	for p, q := range stmts {
		st, err := prep(ctx, q)
		if err != nil {
			return fmt.Errorf("%w\n%s", err, q)
		}
		*p = st
	}
	return nil
}

func closeAll(stmts ...*sql.Stmt) []error {
	var errs []error
	for _, st := range stmts {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errs
}

// errMustAbort is returned by a write that could not leave the
// transaction clean: the whole batch is rolled back and fails with err.
type errMustAbort struct{ err error }

func (e errMustAbort) Error() string { return e.err.Error() }
func (e errMustAbort) Unwrap() error { return e.err }
