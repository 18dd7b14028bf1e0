package chat

import (
	"context"
	"time"

	"github.com/shopchat/chat/protocol"
	"github.com/shopchat/chat/transport"
)

// requestHeal has healLoop catch every session up from the Store.
func (b *bridge) requestHeal() {
	select {
	case b.heal <- struct{}{}:
	default: // one is pending already
	}
}

// healLoop catches every session of this node up from the Store when a
// gap was seen. Requests that arrive while it waits are served by the next
// heal; it waits SyncInterval after a heal, and twice as long after each
// heal that another request followed at once, up to 8 SyncIntervals, so a
// broker that keeps losing events does not turn into a store that reads
// every session's conversations every SyncInterval.
func (b *bridge) healLoop() {
	defer b.s.wg.Done()
	streak := 0
	for {
		select {
		case <-b.s.ctx.Done():
			return
		case <-b.heal:
		}
		n := b.s.healSessions()
		b.s.add("bridge_heals_total", 1)
		b.s.log.Info("broker events were lost; sessions catch up from the store", "sessions", n)
		select {
		case <-b.s.ctx.Done():
			return
		case <-time.After(b.s.cfg.SyncInterval << min(streak, 3)):
		}
		if len(b.heal) > 0 {
			streak++
		} else {
			streak = 0
		}
	}
}

// healSessions has every session of this node catch up from the Store,
// and recomputes the queue and the operator list: broker events were lost.
// It returns the number of sessions.
func (s *Server) healSessions() int {
	live := s.hub.sessions() // those past hello: their welcome is queued first
	for _, ss := range live {
		ss.push(event{kind: evHeal})
	}
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	s.dispatchMu.Lock()
	s.publishQueueLocal(ctx)
	s.dispatchMu.Unlock()
	s.publishOperatorsLocal(ctx)
	return len(live)
}

// heal runs in the writer: it resends the state of the session's
// conversations (an operator's assigned ones, a visitor's followed ones)
// and delivers every stored message it lacks of those and of every other
// conversation it was following.
func (ss *session) heal() error {
	s := ss.s
	var list []*Conversation
	if ss.visitorID == "" {
		var err error
		list, err = s.store.Conversations(s.ctx, ConversationFilter{OperatorID: ss.opID(), Status: []Status{Assigned}, Limit: 500})
		if err != nil {
			s.logErr("heal", err)
			return nil // the next heal or message retries; the session lives on
		}
	} else {
		// A logout's kick may be among the lost events.
		if v, err := s.store.Visitor(s.ctx, ss.visitorID); err == nil && v.TokenGen > ss.tokenGen {
			ss.shutdown(transport.StatusPolicy, "logged out")
			return nil
		}
		for id := range ss.delivered {
			c, err := s.store.Conversation(s.ctx, id)
			if err != nil {
				s.logErr("heal", err)
				return nil
			}
			list = append(list, c)
		}
	}
	follow := make(map[string]bool, len(ss.delivered)+len(list))
	for id := range ss.delivered {
		follow[id] = true
	}
	for _, c := range list {
		if err := ss.write(&protocol.ServerFrame{Type: protocol.TypeState, Conv: c.ID, Conversation: s.conversationFrame(c, ss.role)}); err != nil {
			return err
		}
		follow[c.ID] = true
	}
	for id := range follow {
		if err := ss.catchUp(id, 0); err != nil {
			return err
		}
	}
	return nil
}

func (ss *session) opID() string {
	if ss.op == nil {
		return ""
	}
	return ss.op.ID
}
