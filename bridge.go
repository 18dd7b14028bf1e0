package chat

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/shopchat/chat/protocol"
)

// The bridge carries events between the nodes of a shop that runs several
// processes, over Config.Broker. Every node publishes what it fans out
// locally to one broker topic and applies what other nodes publish to its
// own sessions. Events carry ids and sequence numbers, not message bodies:
// the receiving node reads the message from the Store once and fans it out.
//
// The broker is at most once. A lost event leaves a gap that the next
// message of that conversation fills (sessions catch up from the Store by
// sequence number); so that the last message of a burst is not stranded, a
// node re-announces the high-water mark of every conversation it appended
// to every SyncInterval, and receivers catch up to it.

// wireEvent is one bridge event. Kinds: "msg" (a message stored: conv,
// seq, topics), "state" (a conversation changed: conv, topics), "frame" (a
// small frame for one topic: typing, read), "queue" (the queue changed:
// recompute), "ops" (presence or load changed: recompute), "sync" (the
// high-water marks of conversations), "visits" (live visitors changed:
// live, gone), "triggers" (triggers edited: reload), "kick" (a logout:
// close the sockets of topic, for a visitor those older than generation seq).
type wireEvent struct {
	Node   string          `json:"n"`
	Kind   string          `json:"k"`
	Conv   string          `json:"c,omitempty"`
	Seq    int64           `json:"s,omitempty"`
	Topic  string          `json:"t,omitempty"`
	Topics []string        `json:"ts,omitempty"`
	Frame  json.RawMessage `json:"f,omitempty"`
	Marks  []syncMark      `json:"m,omitempty"`
	// "visits": the sender's live visitors that changed, and those gone.
	Live []wireVisit `json:"lv,omitempty"`
	Gone []string    `json:"g,omitempty"`
}

type syncMark struct {
	Conv   string   `json:"c"`
	Seq    int64    `json:"s"`
	Topics []string `json:"ts"`
}

type bridge struct {
	s      *Server
	broker Broker
	node   string
	topic  string
	in     chan []byte // events from other nodes, applied in order
	cancel func()

	mu     sync.Mutex
	recent map[string]*recentMark // conversations appended to lately
}

// recentMark is a conversation's high-water mark, re-announced for a few
// syncs after its last message in case a sync event is lost too.
type recentMark struct {
	syncMark
	left int // syncs still to send
}

const syncRepeats = 3

func newBridge(s *Server) *bridge {
	return &bridge{
		s: s, broker: s.cfg.Broker, node: uuid.NewString(), topic: s.cfg.BrokerTopic,
		in: make(chan []byte, 4096), recent: make(map[string]*recentMark),
	}
}

func (b *bridge) start() error {
	ctx, stop := context.WithTimeout(b.s.ctx, 15*time.Second) // bounds the call only
	defer stop()
	cancel, err := b.broker.Subscribe(ctx, b.topic, func(p []byte) {
		select {
		case b.in <- p:
		default:
			b.s.add("bridge_dropped_total", 1) // at most once: the sync repairs it
		}
	})
	if err != nil {
		return err
	}
	b.cancel = cancel
	b.s.wg.Add(2)
	go b.applyLoop()
	go b.syncLoop()
	return nil
}

func (b *bridge) send(ev wireEvent) {
	if b == nil {
		return
	}
	ev.Node = b.node
	data, err := json.Marshal(ev)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(b.s.ctx, 5*time.Second)
	defer cancel()
	if err := b.broker.Publish(ctx, b.topic, data); err != nil {
		b.s.add("bridge_publish_failures_total", 1)
		b.s.log.Debug("broker publish", "err", err, "kind", ev.Kind)
	}
}

// kick announces a logout to the other nodes, now and again syncRepeats
// times a SyncInterval apart: the broker is at most once, and a socket that
// missed it would go on receiving (a revoked token cannot open a new one).
func (b *bridge) kick(ev wireEvent) {
	if b == nil {
		return
	}
	b.send(ev)
	for i := 1; i <= syncRepeats; i++ {
		time.AfterFunc(time.Duration(i)*b.s.cfg.SyncInterval, func() {
			if b.s.ctx.Err() == nil { // not after Close
				b.send(ev)
			}
		})
	}
}

// message announces a stored message to the other nodes.
func (b *bridge) message(m *Message, topics []string) {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.recent[m.ConversationID] = &recentMark{syncMark{Conv: m.ConversationID, Seq: m.Seq, Topics: topics}, syncRepeats}
	b.mu.Unlock()
	b.send(wireEvent{Kind: "msg", Conv: m.ConversationID, Seq: m.Seq, Topics: topics})
}

func (b *bridge) applyLoop() {
	defer b.s.wg.Done()
	for {
		select {
		case <-b.s.ctx.Done():
			b.cancel()
			return
		case p := <-b.in:
			var ev wireEvent
			if json.Unmarshal(p, &ev) != nil || ev.Node == b.node {
				continue // ours was fanned out locally already
			}
			b.apply(ev)
		}
	}
}

// apply fans a remote event out to this node's sessions.
func (b *bridge) apply(ev wireEvent) {
	s := b.s
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	switch ev.Kind {
	case "msg":
		b.deliverThrough(ctx, ev.Conv, ev.Seq, ev.Topics)
	case "sync":
		for _, m := range ev.Marks {
			b.deliverThrough(ctx, m.Conv, m.Seq, m.Topics)
		}
	case "state":
		c, err := s.store.Conversation(ctx, ev.Conv)
		if err != nil {
			return
		}
		for _, t := range ev.Topics {
			s.hub.publish(t, event{kind: evState, conv: c})
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
		s.dispatch(ctx) // an operator elsewhere may have come online
	}
}

// deliverThrough fans out message seq of conv to local sessions of topics,
// reading it from the store once; sessions fill any gap before it.
func (b *bridge) deliverThrough(ctx context.Context, conv string, seq int64, topics []string) {
	local := false
	for _, t := range topics {
		if b.s.hub.has(t) {
			local = true
			break
		}
	}
	if !local {
		return
	}
	ms, err := b.s.store.Messages(ctx, MessageQuery{ConversationID: conv, AfterSeq: seq - 1, Limit: 1})
	if err != nil || len(ms) == 0 {
		return
	}
	for _, t := range topics {
		b.s.hub.publish(t, event{kind: evMessage, msg: ms[0]})
	}
}

// syncLoop re-announces the high-water marks of recently active
// conversations, so a message whose event the broker lost still arrives.
func (b *bridge) syncLoop() {
	defer b.s.wg.Done()
	tick := time.NewTicker(b.s.cfg.SyncInterval)
	defer tick.Stop()
	for {
		select {
		case <-b.s.ctx.Done():
			return
		case <-tick.C:
		}
		b.mu.Lock()
		marks := make([]syncMark, 0, len(b.recent))
		for id, m := range b.recent {
			marks = append(marks, m.syncMark)
			if m.left--; m.left <= 0 {
				delete(b.recent, id)
			}
		}
		b.mu.Unlock()
		// Keep each event well under the smallest broker payload limit.
		for len(marks) > 0 {
			n := min(len(marks), 40)
			b.send(wireEvent{Kind: "sync", Marks: marks[:n]})
			marks = marks[n:]
		}
	}
}
