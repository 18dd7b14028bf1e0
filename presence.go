package chat

import (
	"context"
	"time"
)

// presenceSweep requeues the conversations of operators who have been
// offline for Config.RequeueOffline: their presence expired (their node
// died and stopped its heartbeats) or they left. Every node sweeps; the
// Store's atomic Requeue lets exactly one of them move each conversation.
func (s *Server) presenceSweep() {
	defer s.wg.Done()
	tick := time.NewTicker(max(s.cfg.PresenceTTL/3, 10*time.Millisecond))
	defer tick.Stop()
	offlineSince := map[string]time.Time{}
	last := map[string]Presence{}
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-tick.C:
		}
		s.requeueOffline(s.ctx, offlineSince, last)
	}
}

// requeueOffline is one sweep. offlineSince and last carry state between
// sweeps: when each operator with conversations was first seen offline, and
// each operator's presence at the last sweep.
func (s *Server) requeueOffline(ctx context.Context, offlineSince map[string]time.Time, last map[string]Presence) {
	loads, err := s.store.OperatorLoads(ctx, s.now())
	if err != nil {
		s.logErr("presence sweep", err)
		return
	}
	now := s.now()
	for _, l := range loads {
		// An operator whose node died never says goodbye: their presence
		// just expires. Record it, so reports' online time ends here
		// rather than at the report's end. Every node may record it once;
		// a repeated "offline" changes no report.
		if was, seen := last[l.Operator.ID]; seen && was != Offline && l.Presence == Offline {
			s.recordPresence(ctx, l.Operator.ID, Offline)
		}
		last[l.Operator.ID] = l.Presence
	}
	moved := false
	for _, l := range loads {
		id := l.Operator.ID
		if l.Presence != Offline || l.Active == 0 {
			delete(offlineSince, id)
			continue
		}
		since, seen := offlineSince[id]
		if !seen {
			offlineSince[id] = now
			continue
		}
		if now.Sub(since) < s.cfg.RequeueOffline {
			continue
		}
		convs, err := s.store.Conversations(ctx, ConversationFilter{OperatorID: id, Status: []Status{Assigned}, Limit: 1000})
		if err != nil {
			s.logErr("presence sweep", err, "operator", id)
			continue
		}
		for _, c := range convs {
			c2, err := s.store.Requeue(ctx, c.ID, id, c.Department, now)
			if err != nil {
				continue // another node moved it, or it closed
			}
			moved = true
			if c3, err := s.systemMessage(ctx, c.ID, l.Operator.Name+" is offline; the conversation waits for another operator"); err == nil {
				c2 = c3
			}
			s.publishState(c2, id)
		}
		delete(offlineSince, id)
	}
	if moved {
		s.dispatch(ctx)
		s.publishOperators(ctx)
	}
}
