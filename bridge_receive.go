package chat

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/shopchat/chat/protocol"
)

// received is an event from another node on its way to being applied. A
// "msg" or "state" event's Store read starts as the event arrives (read
// ahead); ready is closed when it is done.
type received struct {
	ev    wireEvent
	ready chan struct{} // nil: nothing was read ahead
	msg   *Message      // "msg": the message, if a session here wants it
	conv  *Conversation // "state": the conversation
}

// receiveLoop decodes the events from other nodes in arrival order, notes
// their numbers (heard) and starts the Store read of each "msg" and
// "state" event, then hands them to applyLoop in the same order. The reads
// of up to readsAhead events so overlap: a node no longer waits one Store
// round trip per message before it looks at the next (the profile of the
// nodes scenario had the single applying goroutine waiting on the Store
// 35-70% of the time at 250 events/s, and the messages behind it queued).
func (b *bridge) receiveLoop(ordered chan<- *received) {
	defer b.s.wg.Done()
	for {
		var p []byte
		select {
		case <-b.s.ctx.Done():
			return
		case p = <-b.in:
		}
		var ev wireEvent
		if json.Unmarshal(p, &ev) != nil {
			continue
		}
		b.heard(ev)
		if ev.Node == b.node {
			continue // ours was fanned out locally already
		}
		r := &received{ev: ev}
		b.readAhead(r)
		select {
		case <-b.s.ctx.Done():
			return
		case ordered <- r:
		}
	}
}

// readAhead starts r's Store read, if it needs one.
func (b *bridge) readAhead(r *received) {
	ev := r.ev
	var read func(ctx context.Context)
	switch ev.Kind {
	case "msg":
		if !b.anyLocal(ev.Topics) {
			return
		}
		read = func(ctx context.Context) {
			ms, err := b.s.messages(ctx, MessageQuery{ConversationID: ev.Conv, AfterSeq: ev.Seq - 1, Limit: 1})
			if err == nil && len(ms) > 0 {
				r.msg = ms[0]
			}
		}
	case "state":
		read = func(ctx context.Context) {
			if c, err := b.s.store.Conversation(ctx, ev.Conv); err == nil {
				r.conv = c
			}
		}
	default:
		return
	}
	r.ready = make(chan struct{})
	select {
	case b.reading <- struct{}{}:
	case <-b.s.ctx.Done():
		close(r.ready)
		return
	}
	b.s.wg.Add(1) // the receive loop holds one: never from zero
	go func() {
		defer b.s.wg.Done()
		defer func() { <-b.reading }()
		defer close(r.ready)
		ctx, cancel := context.WithTimeout(b.s.ctx, 10*time.Second)
		defer cancel()
		read(ctx)
	}()
}

// applyLoop applies the received events in arrival order, each once its
// read ahead is done.
func (b *bridge) applyLoop(ordered <-chan *received) {
	defer b.s.wg.Done()
	defer b.cancel()
	for {
		var r *received
		select {
		case <-b.s.ctx.Done():
			return
		case r = <-ordered:
		}
		if r.ready != nil {
			select {
			case <-b.s.ctx.Done():
				return
			case <-r.ready:
			}
		}
		b.apply(r)
	}
}

// heard notes an event's sender and number, heals on a gap, and keeps the
// sender's roster of operators.
func (b *bridge) heard(ev wireEvent) {
	b.mu.Lock()
	p := b.peers[ev.Node]
	if p == nil {
		p = &peer{}
		b.peers[ev.Node] = p
	}
	gap := ev.Num != 0 && p.last != 0 && ev.Num != p.last+1
	if ev.Num != 0 {
		p.last = ev.Num
	}
	now := time.Now() // wall time, like the heartbeat tickers: not Config.Now, which tests may fake
	p.heard = now
	roster := ev.Kind == "hb"
	if roster {
		if p.ops == nil {
			p.ops = make(map[string]time.Time)
		}
		for _, id := range ev.Ops {
			p.ops[id] = now
		}
		for _, id := range ev.Left {
			delete(p.ops, id)
		}
		live := now.Add(-liveHeartbeats * b.s.cfg.SyncInterval)
		for id, at := range p.ops {
			if at.Before(live) {
				delete(p.ops, id) // not in its heartbeats any more
			}
		}
	}
	b.mu.Unlock()
	if gap {
		b.s.add("bridge_gaps_total", 1)
		b.requestHeal()
	}
	if roster && ev.Node != b.node {
		b.settleAbsent()
	}
}

// apply fans a remote event out to this node's sessions.
func (b *bridge) apply(r *received) {
	s, ev := b.s, r.ev
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	switch ev.Kind {
	case "msg":
		if len(ev.Replies) > 0 { // a bot's quick replies: kept here too, for its frames
			s.bot.rememberReplies(ev.Conv, ev.Seq, cleanReplies(ev.Replies))
		}
		if r.msg != nil { // sessions fill any gap before it
			for _, t := range ev.Topics {
				s.hub.publish(t, event{kind: evMessage, msg: r.msg})
			}
		}
	case "sync":
		for _, m := range ev.Marks {
			b.deliverThrough(ctx, m.Conv, m.Seq, m.Topics)
		}
	case "state":
		if r.conv == nil {
			return
		}
		for _, t := range ev.Topics {
			s.hub.publish(t, event{kind: evState, conv: r.conv})
		}
	case "frame":
		var f protocol.ServerFrame
		if json.Unmarshal(ev.Frame, &f) == nil {
			s.hub.publish(ev.Topic, event{kind: evFrame, frame: &f})
		}
	case "queue":
		s.dispatchMu.Lock()
		s.publishQueueLocal(ctx)
		s.dispatchMu.Unlock()
	case "presence":
		s.adoptPresence(ev.Ops, Presence(ev.Presence))
	case "visits":
		s.applyVisits(ev)
	case "kick": // a logout: close the sockets it names
		if id, ok := strings.CutPrefix(ev.Topic, "v:"); ok {
			s.closeVisitorSessionsLocal(id, ev.Seq)
		} else if id, ok := strings.CutPrefix(ev.Topic, "o:"); ok {
			s.closeOperatorSessions(id)
		}
	case "triggers":
		if err := s.loadTriggers(ctx); err != nil {
			s.logErr("load triggers", err)
		}
	case "ops":
		s.publishOperatorsLocal(ctx)
		s.publishAvailability(ctx)
		// The sender dispatched for its own change already; one node
		// looks again, not every node at once (each assignment anywhere
		// sends "ops"). A node that disagrees on who that is only
		// dispatches once more, or not at all: the live loop retries
		// whatever the sender's dispatch left unfinished.
		if b.remoteDispatcher() {
			s.dispatch(ctx)
		}
	}
}

// deliverThrough fans out message seq of conv to local sessions of topics,
// reading it from the store once; sessions fill any gap before it.
func (b *bridge) deliverThrough(ctx context.Context, conv string, seq int64, topics []string) {
	if !b.anyLocal(topics) {
		return
	}
	ms, err := b.s.messages(ctx, MessageQuery{ConversationID: conv, AfterSeq: seq - 1, Limit: 1})
	if err != nil || len(ms) == 0 {
		return
	}
	for _, t := range topics {
		b.s.hub.publish(t, event{kind: evMessage, msg: ms[0]})
	}
}

// anyLocal reports whether a session here subscribes to one of topics.
func (b *bridge) anyLocal(topics []string) bool {
	for _, t := range topics {
		if b.s.hub.has(t) {
			return true
		}
	}
	return false
}
