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
	var st routeState
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-kick:
		}
		s.routeLiveChanges(s.ctx, &st)
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

// maxRetryRounds caps the rounds between two retries of an unfinished
// dispatch that nothing else changed.
const maxRetryRounds = 8

// routeState is what routeLiveChanges keeps between rounds.
type routeState struct {
	last uint64 // the fingerprint of the queue and the operators' loads
	// An unfinished dispatch (Server.routeUnfinished) is retried after
	// waitRounds rounds, doubling up to maxRetryRounds while retries change
	// nothing (a Router that keeps passing an operator over, a Store that
	// keeps failing).
	waited, waitRounds int
}

// routeLiveChanges dispatches and republishes if the queue's live/waiting
// split or an operator's presence, capacity or live load changed since the
// last round (a visitor left or came back, an operator's presence was
// renewed after it had lapsed, on any node). It also retries this node's
// last dispatch if that was unfinished and a live conversation still waits
// beside an operator with room. It reads nothing beyond the queue and the
// loads it compares.
func (s *Server) routeLiveChanges(ctx context.Context, st *routeState) {
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
	sum, routable := s.routeFingerprint(queue, loads, s.now())
	retry := false
	if routable && s.routeUnfinished.Load() {
		st.waited++
		retry = st.waited >= max(st.waitRounds, 1)
	} else {
		st.waited, st.waitRounds = 0, 1
	}
	switch {
	case sum != st.last:
		st.last, st.waited = sum, 0
		s.dispatch(ctx)
		s.publishOperators(ctx)
	case retry:
		st.waited, st.waitRounds = 0, min(2*max(st.waitRounds, 1), maxRetryRounds)
		s.dispatch(ctx) // an assignment publishes the operators itself
	}
}

// routeFingerprint hashes what routing depends on: the queue with each
// conversation's live flag, and each operator's presence, capacity and
// live load. routable reports whether a live conversation is queued while
// an online operator has room.
func (s *Server) routeFingerprint(queue []*Conversation, loads []OperatorLoad, now time.Time) (sum uint64, routable bool) {
	h := fnv.New64a()
	liveQueued := false
	for _, c := range queue {
		h.Write([]byte(c.ID))
		if c.Live(now) {
			h.Write([]byte{1})
			liveQueued = true
		}
	}
	room := false
	for _, l := range loads {
		capacity := s.capacity(l.Operator)
		h.Write([]byte(l.Operator.ID + ":" + string(l.Presence) + ":" + strconv.Itoa(capacity) + ":" + strconv.Itoa(l.Active) + ";"))
		if l.Presence == Online && l.Active < capacity {
			room = true
		}
	}
	return h.Sum64(), liveQueued && room
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
