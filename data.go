package chat

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/shopchat/chat/protocol"
)

// DeleteVisitor erases a visitor and everything stored about them, for a
// data-rights (erasure) request, and disconnects their live sessions.
// ErrNotFound if the visitor is unknown.
func (s *Server) DeleteVisitor(ctx context.Context, id string) error {
	files, err := s.visitorAttachments(ctx, id)
	if err != nil {
		return err
	}
	if err := s.store.DeleteVisitor(ctx, id); err != nil {
		return err
	}
	// The store took the sent attachments' metadata with the
	// conversations; the unsent ones and every blob go now.
	if _, err := s.deleteAttachments(ctx, files); err != nil {
		return fmt.Errorf("chat: visitor erased, but deleting their files failed (the attachment sweep retries): %w", err)
	}
	s.forgetVisit(id)
	s.closeVisitorSessions(id, math.MaxInt64) // every token's, on every node
	s.dispatch(ctx)                           // their conversations' operators have slots free
	s.publishOperators(ctx)
	return nil
}

// retentionLoop purges conversations closed longer ago than
// Config.Retention.
func (s *Server) retentionLoop() {
	defer s.wg.Done()
	every := min(s.cfg.Retention/10, time.Hour)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		n, err := s.store.PurgeClosed(s.ctx, s.now().Add(-s.cfg.Retention))
		if err != nil {
			s.logErr("retention purge", err)
		} else if n > 0 {
			s.log.Info("retention purge", "conversations", n)
			if _, err := s.SweepAttachments(s.ctx); err != nil { // their blobs
				s.logErr("attachment sweep", err)
			}
		}
		select {
		case <-s.ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// ErrUnsupported is returned by Search when the Store has no full-text
// search (it does not implement Searcher).
var ErrUnsupported = fmt.Errorf("%w: the store does not support this", ErrInvalid)

// Search runs a full-text search over past messages if the Store supports
// it (implements Searcher). With q.VisitorID set it sees only what that
// visitor may see.
func (s *Server) Search(ctx context.Context, q SearchQuery) ([]SearchHit, error) {
	searcher, ok := s.store.searcher()
	if !ok {
		return nil, ErrUnsupported
	}
	return searcher.Search(ctx, q)
}

func (ss *session) onSearch(ctx context.Context, f protocol.ClientFrame) error {
	q := SearchQuery{Text: f.Text, Limit: f.Limit}
	if ss.visitor != nil {
		q.VisitorID = ss.visitor.ID
	}
	hits, err := ss.s.Search(ctx, q)
	if err != nil {
		if err == ErrUnsupported {
			return userErr(ErrInvalid, "search is not available")
		}
		return err
	}
	reply := &protocol.ServerFrame{Type: protocol.TypeSearch, ID: f.ID, Hits: make([]protocol.SearchHit, 0, len(hits))}
	for _, h := range hits {
		if err := ss.s.withAttachments(ctx, []*Message{h.Message}); err != nil { // thumbnails in results
			return err
		}
		reply.Hits = append(reply.Hits, protocol.SearchHit{Message: *ss.s.messageFrame(h.Message), Snippet: h.Snippet})
	}
	ss.push(event{kind: evFrame, frame: reply})
	return nil
}
