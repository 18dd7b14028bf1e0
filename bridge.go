package chat

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// The bridge carries events between the nodes of a shop that runs several
// processes, over Config.Broker. Every node publishes what it fans out
// locally to one broker topic and applies what other nodes publish to its
// own sessions. Events carry ids and sequence numbers, not message bodies:
// the receiving node reads the message from the Store once and fans it out.
//
// Publishing never blocks the caller: events go to a bounded outbox that
// one goroutine drains, in order; when the outbox is full (a slow or
// unreachable broker) events are dropped and counted.
//
// The broker is at most once, and an outage may lose any number of events.
// So that every loss is noticed, each node numbers its events (one counter
// per node, in publish order, a dropped or failed event using up its
// number) and sends a heartbeat every SyncInterval. A receiver that sees a
// node's numbers jump, its own included, heals: every session of this node
// catches up its conversations from the Store. After any outage, every
// client so holds every stored message within the broker's reconnect time
// plus one SyncInterval plus the catch-up, with no further traffic.
//
// The heartbeat also carries the operators connected to the node, so that
// presence is the union of an operator's sessions across nodes: a node
// whose last session of an operator ends marks them offline only when no
// other live node has one.

// wireEvent is one bridge event. Kinds: "msg" (a message stored: conv,
// seq, topics), "state" (a conversation changed: conv, topics), "frame" (a
// small frame for one topic: typing, read), "queue" (the queue changed:
// recompute), "ops" (presence or load changed: recompute), "presence" (an
// operator set their presence: nodes with their sessions renew that one),
// "hb" (heartbeat: the node's connected operators), "visits" (live
// visitors changed: live, gone; on a topic of its own, bridge_visits.go,
// and applied from the main topic too, as older versions sent it), "triggers" (triggers edited: reload),
// "kick" (a logout: close the sockets of topic, for a visitor those older
// than generation seq). "sync" (high-water marks of conversations) is sent
// by older versions and still applied.
type wireEvent struct {
	Node string `json:"n"`
	// Num numbers the node's events: 1, 2, 3... A gap means lost events.
	Num    uint64          `json:"#,omitempty"`
	Kind   string          `json:"k"`
	Conv   string          `json:"c,omitempty"`
	Seq    int64           `json:"s,omitempty"`
	Topic  string          `json:"t,omitempty"`
	Topics []string        `json:"ts,omitempty"`
	Frame  json.RawMessage `json:"f,omitempty"`
	Marks  []syncMark      `json:"m,omitempty"`
	// "hb": operators with a session on the sender (all of them, over one
	// or more heartbeats), and operators whose last session there ended.
	Ops  []string `json:"o,omitempty"`
	Left []string `json:"l,omitempty"`
	// "presence": the presence an operator (Ops) set on the sender.
	Presence string `json:"p,omitempty"`
	// "visits": the sender's live visitors that changed, and those gone.
	Live []wireVisit `json:"lv,omitempty"`
	Gone []string    `json:"g,omitempty"`
	// "msg": the quick replies of a bot's message.
	Replies []string `json:"qr,omitempty"`
}

type syncMark struct {
	Conv   string   `json:"c"`
	Seq    int64    `json:"s"`
	Topics []string `json:"ts"`
}

// Bridge limits and timings.
const (
	outboxSize = 4096 // events waiting for the broker
	applyAhead = 16   // received events waiting to be applied while their Store reads run
	// readsAhead bounds the Store reads running at once for received
	// events: enough to overlap round trips (one at a time kept the nodes
	// scenario's receiver 35-70% busy), few enough to leave most of the
	// store's pool to the appends that acks wait for.
	readsAhead     = 4
	publishBatch   = 64              // events one PublishBatch carries at most
	publishTimeout = 5 * time.Second // one Publish; the outbox absorbs the wait
	rosterBytes    = 3000            // operator ids in one heartbeat, well under any broker's payload limit
	liveHeartbeats = 3               // a node unheard for this many SyncIntervals is gone
)

type bridge struct {
	s      *Server
	broker Broker
	node   string
	topic  string
	in     chan []byte // events from other nodes, applied in order
	cancel func()      // ends both subscriptions

	visitsIn  chan []byte    // other nodes' "visits" events (bridge_visits.go)
	visitsOut chan wireEvent // this node's, drained by visitsPublishLoop

	outbox  chan wireEvent // events to publish, drained by publishLoop
	skipped atomic.Bool    // an event was dropped from the outbox: skip a number
	failing atomic.Bool    // the last publish failed (Server.Check reports it)
	heal    chan struct{}  // a gap was seen: healLoop catches sessions up
	reading chan struct{}  // a slot per Store read running for a received event (readAhead)

	mu     sync.Mutex
	peers  map[string]*peer // other nodes (and this one), by node id
	absent map[string]bool  // operators who left here while another node had them
}

// peer is what a node knows of another node (or itself) from its events.
type peer struct {
	last  uint64               // number of the last event received
	heard time.Time            // when it was received
	ops   map[string]time.Time // operators connected there: when a heartbeat last said so
}

func newBridge(s *Server) *bridge {
	return &bridge{
		s: s, broker: s.cfg.Broker, node: uuid.NewString(), topic: s.cfg.BrokerTopic,
		in: make(chan []byte, 4096), outbox: make(chan wireEvent, outboxSize), heal: make(chan struct{}, 1),
		visitsIn: make(chan []byte, visitsQueue), visitsOut: make(chan wireEvent, visitsQueue),
		reading: make(chan struct{}, readsAhead),
		peers:   make(map[string]*peer), absent: make(map[string]bool),
	}
}

func (b *bridge) start() error {
	ctx, stop := context.WithTimeout(b.s.ctx, 15*time.Second) // bounds the call only
	defer stop()
	cancel, err := b.broker.Subscribe(ctx, b.topic, func(p []byte) {
		select {
		case b.in <- p:
		default:
			b.s.add("bridge_dropped_total", 1)
			b.requestHeal() // at most once: the catch-up repairs it
		}
	})
	if err != nil {
		return err
	}
	cancelVisits, err := b.subscribeVisits(ctx)
	if err != nil {
		cancel()
		return err
	}
	b.cancel = func() { cancel(); cancelVisits() }
	b.s.wg.Add(7)
	ordered := make(chan *received, applyAhead)
	go b.receiveLoop(ordered)
	go b.applyLoop(ordered)
	go b.publishLoop()
	go b.heartbeatLoop()
	go b.healLoop()
	go b.visitsApplyLoop()
	go b.visitsPublishLoop()
	return nil
}

// send queues ev for the other nodes. It never blocks: when the outbox is
// full the event is dropped and counted, and the gap it leaves in this
// node's numbering makes the receivers catch up from the Store.
func (b *bridge) send(ev wireEvent) {
	if b == nil {
		return
	}
	select {
	case b.outbox <- ev:
	default:
		b.skipped.Store(true)
		b.s.add("bridge_outbox_dropped_total", 1)
	}
}

// publishLoop publishes the outbox in order, numbering the events. What
// queued while a publish was on its way goes in the next one, in one round
// trip when the Broker is a BatchPublisher: one round trip per event kept
// the loop waiting on the broker most of the time at a few hundred events
// a second (the nodes scenario's profile), and the events behind it
// queued. A failed publish is counted per event; the first failure of an
// outage is logged at warn level, its end at info level.
func (b *bridge) publishLoop() {
	defer b.s.wg.Done()
	var num uint64
	failing, failed := false, 0
	batch := make([]wireEvent, 0, publishBatch)
	payloads := make([][]byte, 0, publishBatch)
	for {
		payloads = payloads[:0]
		if batch = b.nextBatch(b.outbox, batch[:0]); batch == nil {
			return
		}
		for _, ev := range batch {
			if b.skipped.Swap(false) {
				num++ // the receivers see a gap where the dropped events were
			}
			num++
			ev.Node, ev.Num = b.node, num
			if data, err := json.Marshal(ev); err == nil {
				payloads = append(payloads, data)
			}
		}
		n, err := b.publish(b.topic, payloads)
		switch {
		case n > 0 && b.s.ctx.Err() == nil:
			b.s.add("bridge_publish_failures_total", float64(n))
			if !failing {
				b.s.log.Warn("broker publish failing; other nodes catch up from the store once it is back", "err", err, "kind", batch[0].Kind)
			}
			failing = true
			failed += n
			b.failing.Store(true)
		case n == 0 && failing:
			b.s.log.Info("broker publish recovered", "failed", failed)
			failing, failed = false, 0
			b.failing.Store(false)
		}
	}
}

// nextBatch waits for an event on ch, then appends it and whatever else
// is queued, up to publishBatch, to batch. Nil once the Server closes.
func (b *bridge) nextBatch(ch <-chan wireEvent, batch []wireEvent) []wireEvent {
	select {
	case <-b.s.ctx.Done():
		return nil
	case ev := <-ch:
		batch = append(batch, ev)
	}
	for len(batch) < publishBatch {
		select {
		case ev := <-ch:
			batch = append(batch, ev)
		default:
			return batch
		}
	}
	return batch
}

// publish sends payloads to topic in order, each within publishTimeout,
// and returns how many failed (all of them when a batch fails) and the
// last error.
func (b *bridge) publish(topic string, payloads [][]byte) (failed int, err error) {
	if bp, ok := b.broker.(BatchPublisher); ok && len(payloads) > 1 {
		ctx, cancel := context.WithTimeout(b.s.ctx, publishTimeout)
		defer cancel()
		if err := bp.PublishBatch(ctx, topic, payloads); err != nil {
			return len(payloads), err
		}
		return 0, nil
	}
	for _, p := range payloads {
		ctx, cancel := context.WithTimeout(b.s.ctx, publishTimeout)
		if e := b.broker.Publish(ctx, topic, p); e != nil {
			failed, err = failed+1, e
		}
		cancel()
	}
	return failed, err
}

// kick announces a logout to the other nodes, now and again kickRepeats
// times a SyncInterval apart: the broker is at most once, and a socket that
// missed it would go on receiving (a revoked token cannot open a new one).
// A node that saw a gap also checks its visitors' tokens when it heals.
func (b *bridge) kick(ev wireEvent) {
	if b == nil {
		return
	}
	const kickRepeats = 3
	b.send(ev)
	for i := 1; i <= kickRepeats; i++ {
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
	b.send(wireEvent{Kind: "msg", Conv: m.ConversationID, Seq: m.Seq, Topics: topics, Replies: b.s.bot.quickReplies(m)})
}

// heartbeatLoop sends a heartbeat every SyncInterval: it reveals lost
// events to the receivers (their numbers jump) and tells them which
// operators are connected here. It also settles the presence of operators
// who left here while another node had them.
func (b *bridge) heartbeatLoop() {
	defer b.s.wg.Done()
	tick := time.NewTicker(b.s.cfg.SyncInterval)
	defer tick.Stop()
	for {
		select {
		case <-b.s.ctx.Done():
			return
		case <-tick.C:
		}
		b.heartbeat()
		b.settleAbsent()
		b.forgetGone()
	}
}

// forgetGone forgets nodes unheard for a long time (they stopped, or
// restarted under a new id): a node that comes back is heard anew.
func (b *bridge) forgetGone() {
	gone := time.Now().Add(-100 * liveHeartbeats * b.s.cfg.SyncInterval)
	b.mu.Lock()
	defer b.mu.Unlock()
	for node, p := range b.peers {
		if p.heard.Before(gone) {
			delete(b.peers, node)
		}
	}
}

// heartbeat sends this node's roster of connected operators, in as many
// events as it takes (at least one: the heartbeat itself).
func (b *bridge) heartbeat() {
	b.s.mu.Lock()
	ops := make([]string, 0, len(b.s.opSessions))
	for id := range b.s.opSessions {
		ops = append(ops, id)
	}
	b.s.mu.Unlock()
	for first := true; first || len(ops) > 0; first = false {
		n, size := 0, 0
		for n < len(ops) && size+len(ops[n]) < rosterBytes {
			size += len(ops[n]) + 3
			n++
		}
		if n == 0 && len(ops) > 0 {
			n = 1 // an absurdly long id still goes, alone
		}
		b.send(wireEvent{Kind: "hb", Ops: ops[:n]})
		ops = ops[n:]
	}
}

// operatorHere tells the other nodes at once that operator id's first
// session here began (present) or their last one ended.
func (b *bridge) operatorHere(id string, present bool) {
	if b == nil {
		return
	}
	if present {
		b.mu.Lock()
		delete(b.absent, id)
		b.mu.Unlock()
		b.send(wireEvent{Kind: "hb", Ops: []string{id}})
		return
	}
	b.send(wireEvent{Kind: "hb", Left: []string{id}})
}

// remoteDispatcher reports whether this node dispatches on another node's
// change: whether its id is the smallest of the live nodes it has heard
// (itself included).
func (b *bridge) remoteDispatcher() bool {
	live := time.Now().Add(-liveHeartbeats * b.s.cfg.SyncInterval)
	b.mu.Lock()
	defer b.mu.Unlock()
	for node, p := range b.peers {
		if node < b.node && p.heard.After(live) {
			return false
		}
	}
	return true
}

// connectedElsewhere reports whether another live node has a session of
// operator id, by the heartbeats heard.
func (b *bridge) connectedElsewhere(id string) bool {
	if b == nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.connectedElsewhereLocked(id)
}

func (b *bridge) connectedElsewhereLocked(id string) bool {
	live := time.Now().Add(-liveHeartbeats * b.s.cfg.SyncInterval)
	for node, p := range b.peers {
		if at, ok := p.ops[id]; ok && node != b.node && at.After(live) {
			return true
		}
	}
	return false
}

// leftHere records that operator id's last session here ended while
// another node had one: if that one ends too (or its node goes quiet),
// settleAbsent marks them offline.
func (b *bridge) leftHere(id string) {
	b.mu.Lock()
	b.absent[id] = true
	b.mu.Unlock()
}

// settleAbsent marks offline the operators who left here while another
// node had them, once no live node has them any more. Two nodes whose
// sessions of one operator end at once both end up here.
func (b *bridge) settleAbsent() {
	var gone []string
	b.mu.Lock()
	for id := range b.absent {
		if !b.connectedElsewhereLocked(id) {
			gone = append(gone, id)
			delete(b.absent, id)
		}
	}
	b.mu.Unlock()
	for _, id := range gone {
		b.s.operatorOffline(id)
	}
}
