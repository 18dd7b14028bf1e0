package chat

import (
	"context"
	"hash/fnv"
	"maps"
	"slices"
	"strconv"
	"time"
)

// A conversation is live while its visitor is on the site: a widget of
// theirs is connected to some node, or was within the grace period
// (Config.PresenceTTL, the same grace an operator's presence has). Every
// node renews Conversation.LiveUntil for the visitors it holds, every third
// of the grace period, so a dead node's visitors stop being live by
// themselves. Only live conversations take capacity and are routed; the
// others wait in the "Waiting for reply" list.

// liveBatch caps the visitors renewed in one Store.KeepLive call.
const liveBatch = 500

// liveUntil is the LiveUntil a visitor connected now earns.
func (s *Server) liveUntil() time.Time { return s.now().Add(s.cfg.PresenceTTL) }

// liveLoop renews this node's visitors every third of the grace period,
// and has liveRoute route what their comings and goings changed. Routing
// runs in its own goroutine: a long dispatch (a busy store) must never
// delay a renewal past the grace period, or live visitors would stop
// counting against capacity.
func (s *Server) liveLoop() {
	defer s.wg.Done()
	tick := time.NewTicker(max(s.cfg.PresenceTTL/3, 10*time.Millisecond))
	defer tick.Stop()
	kick := make(chan struct{}, 1)
	s.wg.Add(1)
	go s.liveRoute(kick)
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-tick.C:
		}
		s.keepLive(s.ctx)
		select {
		case kick <- struct{}{}:
		default: // a routing round is pending already
		}
	}
}

// liveRoute runs a routing round per kick until the Server closes.
func (s *Server) liveRoute(kick <-chan struct{}) {
	defer s.wg.Done()
	var last uint64
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-kick:
		}
		s.routeLiveChanges(s.ctx, &last)
	}
}

// keepLive renews the conversations of the visitors connected to this node.
func (s *Server) keepLive(ctx context.Context) {
	s.mu.Lock()
	ids := slices.Collect(maps.Keys(s.perVisitor))
	s.mu.Unlock()
	until := s.liveUntil()
	for chunk := range slices.Chunk(ids, liveBatch) {
		if err := s.store.KeepLive(ctx, chunk, until); err != nil {
			s.logErr("keep live", err)
			return
		}
	}
}

// routeLiveChanges dispatches and republishes if the queue's live/waiting
// split or an operator's live load changed since the last round (a visitor
// left or came back, on any node). last carries the state's fingerprint
// between rounds.
func (s *Server) routeLiveChanges(ctx context.Context, last *uint64) {
	queue, err := s.store.Queue(ctx)
	if err != nil {
		s.logErr("live sweep", err)
		return
	}
	loads, err := s.store.OperatorLoads(ctx, s.now())
	if err != nil {
		s.logErr("live sweep", err)
		return
	}
	now := s.now()
	h := fnv.New64a()
	for _, c := range queue {
		h.Write([]byte(c.ID))
		if c.Live(now) {
			h.Write([]byte{1})
		}
	}
	for _, l := range loads {
		h.Write([]byte(l.Operator.ID + ":" + strconv.Itoa(l.Active) + ";"))
	}
	if sum := h.Sum64(); sum != *last {
		*last = sum
		s.dispatch(ctx)
		s.publishOperators(ctx)
	}
}

// visitorBack makes a returning visitor's open conversation c live at once
// (not at the next renewal) and routes it: a conversation that waited for
// a reply joins the live queue, one still assigned counts again.
func (s *Server) visitorBack(ctx context.Context, c *Conversation) {
	if c == nil || !c.Open() || c.Live(s.now()) {
		return
	}
	if err := s.store.KeepLive(ctx, []string{c.VisitorID}, s.liveUntil()); err != nil {
		s.logErr("keep live", err, "conversation", c.ID)
		return
	}
	s.dispatch(ctx)
	s.publishOperators(ctx)
}

// lastOperator is the operator the visitor of queued conversation c last
// talked to: the one of their latest conversation that had one. Routing
// prefers them. "" if none.
func (s *Server) lastOperator(ctx context.Context, c *Conversation) string {
	if c.OperatorID != "" {
		return c.OperatorID
	}
	list, err := s.store.Conversations(ctx, ConversationFilter{VisitorID: c.VisitorID, Limit: 5})
	if err != nil {
		return ""
	}
	for _, prev := range list {
		if prev.OperatorID != "" && !IsBotID(prev.OperatorID) { // the bot is nobody to return to
			return prev.OperatorID
		}
	}
	return ""
}

// preferFirst moves id to the front of ranked, if it is there.
func preferFirst(ranked []string, id string) []string {
	i := slices.Index(ranked, id)
	if i <= 0 {
		return ranked
	}
	out := append([]string{id}, ranked[:i]...)
	return append(out, ranked[i+1:]...)
}

// splitQueue returns the queue's live conversations and those waiting for a
// reply, each in FIFO order.
func splitQueue(queue []*Conversation, now time.Time) (live, waiting []*Conversation) {
	for _, c := range queue {
		if c.Live(now) {
			live = append(live, c)
		} else {
			waiting = append(waiting, c)
		}
	}
	return live, waiting
}
