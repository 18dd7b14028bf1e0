package chat

import (
	"context"
	"errors"
	"time"

	"github.com/shopchat/chat/protocol"
)

// capacity is op's effective capacity.
func (s *Server) capacity(op *Operator) int {
	if op.Capacity > 0 {
		return op.Capacity
	}
	return s.cfg.DefaultCapacity
}

// dispatch assigns live queued conversations, oldest first, to operators
// the Router picks among those online with free capacity (the visitor's last
// operator first), then publishes the queue's new positions. Conversations
// whose visitor is away wait for a reply and are not routed. The Store's atomic Assign keeps it correct when
// several nodes dispatch at once; the mutex keeps one node from racing
// itself.
//
// A round that failed (a Store error) or left a live conversation queued
// while an operator with room was a candidate (the Router passed them
// over, or the Store reported a conflict) marks routing unfinished: the
// live loop retries it (routeLiveChanges), as no other event may come.
func (s *Server) dispatch(ctx context.Context) {
	s.dispatchMu.Lock()
	defer s.dispatchMu.Unlock()
	s.dispatchRounds.Add(1)
	left, err := s.assignQueued(ctx)
	if err != nil && s.ctx.Err() == nil { // not the Server closing
		s.add("dispatch_failures_total", 1)
		s.logErr("dispatch", err)
	}
	s.routeUnfinished.Store(left || err != nil)
	s.publishQueueLocked(ctx)
}

// assignQueued is dispatch's work. left reports whether a live
// conversation stayed queued although an operator with room was online.
func (s *Server) assignQueued(ctx context.Context) (left bool, err error) {
	queue, err := s.store.Queue(ctx)
	if err != nil {
		return false, err
	}
	queue, _ = splitQueue(queue, s.now())
	if len(queue) == 0 {
		return false, nil
	}
	loads, err := s.store.OperatorLoads(ctx, s.now())
	if err != nil {
		return false, err
	}
	byID := make(map[string]*Candidate, len(loads))
	for _, l := range loads {
		if l.Presence != Online {
			continue
		}
		c := &Candidate{OperatorLoad: l, Capacity: s.capacity(l.Operator)}
		if c.Active < c.Capacity {
			byID[l.Operator.ID] = c
		}
	}
	for _, conv := range queue {
		if len(byID) == 0 {
			return left, nil
		}
		cands := make([]Candidate, 0, len(byID))
		for _, l := range loads { // keep the Store's stable order
			if c, ok := byID[l.Operator.ID]; ok {
				cands = append(cands, *c)
			}
		}
		ranked := s.router.Rank(ctx, conv, cands)
		if len(ranked) > 1 {
			ranked = preferFirst(ranked, s.lastOperator(ctx, conv))
		}
		placed := false
		for _, id := range ranked {
			cand, ok := byID[id]
			if !ok {
				continue // the Router returned someone who cannot take it
			}
			assigned, err := s.store.Assign(ctx, conv.ID, "", id, cand.Capacity, s.now())
			if errors.Is(err, ErrCapacity) {
				delete(byID, id) // filled up meanwhile (another node)
				continue
			}
			if errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound) {
				break // taken or closed meanwhile (or so it seems: left says to look again)
			}
			if err != nil {
				return true, err
			}
			placed = true
			s.noteDequeue(conv)
			s.observe("routing_wait_seconds", s.now().Sub(conv.QueuedAt).Seconds())
			cand.Active++
			cand.LastAssignedAt = s.now()
			if cand.Active >= cand.Capacity {
				delete(byID, id)
			}
			if err := s.announceAssigned(ctx, assigned, ""); err != nil {
				s.logErr("announce assignment", err, "conversation", conv.ID)
			}
			break
		}
		if !placed && len(byID) > 0 {
			left = true
		}
	}
	return left, nil
}

// noteDequeue updates the moving average of the time between conversations
// leaving the queue, which the wait estimate multiplies by the position.
// Called with dispatchMu held.
func (s *Server) noteDequeue(c ...*Conversation) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.lastDequeue.IsZero() {
		gap := now.Sub(s.lastDequeue)
		if len(c) > 0 && now.Sub(c[0].QueuedAt) < gap {
			gap = now.Sub(c[0].QueuedAt) // it was not waiting the whole gap
		}
		s.dequeueGap = (7*s.dequeueGap + 3*max(gap, 0)) / 10
	}
	s.lastDequeue = now
}

// publishQueue tells queued visitors whose position changed, and all
// operators, about the queue.
func (s *Server) publishQueue(ctx context.Context) {
	s.dispatchMu.Lock()
	defer s.dispatchMu.Unlock()
	s.publishQueueLocked(ctx)
}

func (s *Server) publishQueueLocked(ctx context.Context) {
	s.publishQueueLocal(ctx)
	s.bridge.send(wireEvent{Kind: "queue"})
}

// publishQueueLocal does publishQueueLocked's work for this node's sessions
// only (other nodes recompute on the bridge's "queue" event).
func (s *Server) publishQueueLocal(ctx context.Context) {
	queue, err := s.store.Queue(ctx)
	if err != nil {
		s.logErr("queue", err)
		return
	}
	var moved []*Conversation
	live, waiting := splitQueue(queue, s.now())
	s.set("queue_live", float64(len(live)))
	s.set("queue_waiting_for_reply", float64(len(waiting)))
	s.mu.Lock()
	old := s.queueSpots
	s.queueSpots = make(map[string]int, len(live))
	for i, c := range live {
		s.queueSpots[c.ID] = i + 1
		if old[c.ID] != i+1 {
			moved = append(moved, c)
		}
	}
	s.mu.Unlock()
	for _, c := range moved {
		s.hub.publish(visitorTopic(c.VisitorID), event{kind: evState, conv: c})
	}
	frames := s.queueFramesOf(ctx, queue)
	s.hub.publish(teamTopic, event{kind: evFrame, frame: &protocol.ServerFrame{Type: protocol.TypeQueue, Conversations: frames}})
}

const maxQueueFrame = 100

func (s *Server) queueFrames(ctx context.Context) ([]protocol.Conversation, error) {
	queue, err := s.store.Queue(ctx)
	if err != nil {
		return nil, err
	}
	return s.queueFramesOf(ctx, queue), nil
}

// queueFramesOf lists the live queue, then the conversations waiting for a
// reply, each oldest first and capped at maxQueueFrame.
func (s *Server) queueFramesOf(_ context.Context, queue []*Conversation) []protocol.Conversation {
	live, waiting := splitQueue(queue, s.now())
	out := make([]protocol.Conversation, 0, min(len(live), maxQueueFrame)+min(len(waiting), maxQueueFrame))
	for _, part := range [][]*Conversation{live, waiting} {
		for _, c := range part[:min(len(part), maxQueueFrame)] {
			out = append(out, *s.conversationFrame(c, protocol.RoleOperator))
		}
	}
	return out
}

// operatorFrames lists the team with presence and load.
func (s *Server) operatorFrames(ctx context.Context) ([]protocol.Operator, error) {
	loads, err := s.store.OperatorLoads(ctx, s.now())
	if err != nil {
		return nil, err
	}
	out := make([]protocol.Operator, 0, len(loads))
	for _, l := range loads {
		if IsBotID(l.Operator.ID) {
			continue // the bot is no teammate to transfer to
		}
		out = append(out, protocol.Operator{
			Person:      protocol.Person{ID: l.Operator.ID, Name: l.Operator.Name, Avatar: l.Operator.AvatarURL},
			Presence:    string(l.Presence),
			Active:      l.Active,
			Capacity:    s.capacity(l.Operator),
			Departments: l.Operator.Departments,
		})
	}
	return out, nil
}

func (s *Server) publishOperators(ctx context.Context) {
	s.publishOperatorsLocal(ctx)
	s.bridge.send(wireEvent{Kind: "ops"})
}

func (s *Server) publishOperatorsLocal(ctx context.Context) {
	ops, err := s.operatorFrames(ctx)
	if err != nil {
		s.logErr("operators", err)
		return
	}
	s.hub.publish(teamTopic, event{kind: evFrame, frame: &protocol.ServerFrame{Type: protocol.TypeOperators, Operators: ops}})
}

// operator returns an operator's profile, cached.
func (s *Server) operator(ctx context.Context, id string) (*Operator, error) {
	s.mu.Lock()
	op := s.opProfiles[id]
	s.mu.Unlock()
	if op != nil {
		return op, nil
	}
	op, err := s.store.Operator(ctx, id)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, userErr(ErrNotFound, "no such operator")
		}
		return nil, err
	}
	s.mu.Lock()
	s.opProfiles[id] = op
	s.mu.Unlock()
	return op, nil
}

// operatorConnected reports whether the operator is online or away.
func (s *Server) operatorConnected(ctx context.Context, id string) (bool, error) {
	loads, err := s.store.OperatorLoads(ctx, s.now())
	if err != nil {
		return false, err
	}
	for _, l := range loads {
		if l.Operator.ID == id {
			return l.Presence != Offline, nil
		}
	}
	return false, nil
}

// operatorJoined records a new operator session and its presence.
func (s *Server) operatorJoined(ctx context.Context, op *Operator, p Presence) error {
	s.mu.Lock()
	s.opSessions[op.ID]++
	first := s.opSessions[op.ID] == 1
	startHeartbeat := !s.heartbeat && !s.closed
	if startHeartbeat {
		s.heartbeat = true
		s.wg.Add(1)
	}
	s.mu.Unlock()
	if startHeartbeat {
		go s.heartbeatLoop()
	}
	if first {
		s.bridge.operatorHere(op.ID, true)
	}
	return s.setPresence(ctx, op, p)
}

// operatorLeft records the end of an operator session. Presence is the
// union of the operator's sessions on every node: they go offline with
// their last session here unless another live node has one, which keeps
// renewing their presence (and, when it ends, the bridge settles it).
func (s *Server) operatorLeft(op *Operator) {
	s.mu.Lock()
	decrement(s.opSessions, op.ID)
	last := s.opSessions[op.ID] == 0
	if last {
		delete(s.opPresence, op.ID)
	}
	s.mu.Unlock()
	if !last {
		return
	}
	s.bridge.operatorHere(op.ID, false)
	if s.bridge.connectedElsewhere(op.ID) {
		s.bridge.leftHere(op.ID)
		return
	}
	s.operatorOffline(op.ID)
}

// operatorOffline stores that operator id went offline, unless a session
// of theirs began here meanwhile.
func (s *Server) operatorOffline(id string) {
	s.mu.Lock()
	back := s.opSessions[id] > 0
	s.mu.Unlock()
	if back {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.store.SetPresence(ctx, id, Offline, s.now()); err != nil {
		s.logErr("presence", err, "operator", id)
	}
	s.recordPresence(ctx, id, Offline)
	s.publishOperators(ctx)
	s.publishAvailability(ctx)
}

func (s *Server) setPresence(ctx context.Context, op *Operator, p Presence) error {
	s.mu.Lock()
	previous, known := s.opPresence[op.ID]
	s.opPresence[op.ID] = p
	s.mu.Unlock()
	if err := s.store.SetPresence(ctx, op.ID, p, s.now().Add(s.cfg.PresenceTTL)); err != nil {
		return err
	}
	if !known || previous != p { // another tab joining changes nothing
		s.recordPresence(ctx, op.ID, p)
	}
	// Other nodes with sessions of this operator renew this presence from
	// now on, rather than each its own.
	s.bridge.send(wireEvent{Kind: "presence", Ops: []string{op.ID}, Presence: string(p)})
	s.publishOperators(ctx)
	s.publishAvailability(ctx)
	if p == Online {
		s.dispatch(ctx)
	}
	return nil
}

// adoptPresence takes on presence p, set on another node, for the
// operators with sessions here, so that this node's heartbeats renew it.
func (s *Server) adoptPresence(ids []string, p Presence) {
	if p != Online && p != Away {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if _, here := s.opPresence[id]; here {
			s.opPresence[id] = p
		}
	}
}

// heartbeatLoop renews connected operators' presence until none is left.
func (s *Server) heartbeatLoop() {
	defer s.wg.Done()
	tick := time.NewTicker(s.cfg.PresenceTTL / 3)
	defer tick.Stop()
	for {
		select {
		case <-s.ctx.Done():
			s.mu.Lock()
			s.heartbeat = false
			s.mu.Unlock()
			return
		case <-tick.C:
		}
		s.mu.Lock()
		if len(s.opPresence) == 0 {
			s.heartbeat = false
			s.mu.Unlock()
			return
		}
		renew := make(map[string]Presence, len(s.opPresence))
		for id, p := range s.opPresence {
			renew[id] = p
		}
		s.mu.Unlock()
		for id, p := range renew {
			if err := s.store.SetPresence(s.ctx, id, p, s.now().Add(s.cfg.PresenceTTL)); err != nil {
				s.logErr("presence heartbeat", err, "operator", id)
			}
		}
	}
}

// recordPresence keeps an operator's presence change for reports' online
// time. A lost record skews a report, not the chat: it is only logged.
func (s *Server) recordPresence(ctx context.Context, operatorID string, p Presence) {
	s.record(ctx, Activity{Kind: PresenceChanged, OperatorID: operatorID, Text: string(p), At: s.now()})
}
