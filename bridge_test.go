package chat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/client"
	"github.com/shopchat/chat/store/memory"
)

// lossyBus is an in-process broker whose nodes reach each other; the test
// makes it lose chosen events or fail every publish.
type lossyBus struct {
	mu   sync.Mutex
	subs map[*busSub]struct{}
	// onPublish, if set, sees every payload published, with its topic.
	onPublish func(topic string, payload []byte)
	// lose, if set, is asked about every payload: true loses it.
	lose    func(payload []byte) bool
	failing atomic.Bool
}

func (b *lossyBus) Publish(ctx context.Context, topic string, payload []byte) error {
	if b.failing.Load() {
		return errors.New("broker unreachable")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.onPublish != nil {
		b.onPublish(topic, payload)
	}
	if b.lose != nil && b.lose(payload) {
		return nil
	}
	for s := range b.subs {
		if s.topic == topic {
			s.deliver(bytes.Clone(payload))
		}
	}
	return nil
}

func (b *lossyBus) Subscribe(ctx context.Context, topic string, deliver func([]byte)) (func(), error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.subs == nil {
		b.subs = map[*busSub]struct{}{}
	}
	key := &busSub{topic: topic, deliver: deliver}
	b.subs[key] = struct{}{}
	return func() { b.mu.Lock(); delete(b.subs, key); b.mu.Unlock() }, nil
}

// loseNext makes the bus lose the next event of kind.
func (b *lossyBus) loseNext(kind string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lose = func(p []byte) bool {
		var ev struct {
			Kind string `json:"k"`
		}
		if json.Unmarshal(p, &ev) == nil && ev.Kind == kind {
			b.lose = nil
			return true
		}
		return false
	}
}

// logRecords keeps the Server's log records.
type logRecords struct {
	mu      sync.Mutex
	records []slog.Record
}

func (l *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecords) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.records = append(l.records, r)
	l.mu.Unlock()
	return nil
}
func (l *logRecords) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecords) WithGroup(string) slog.Handler      { return l }

func (l *logRecords) count(level slog.Level, msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.records {
		if r.Level == level && r.Message == msg {
			n++
		}
	}
	return n
}

// busNodes starts nodes A (visitors) and B (operator alice) on one memory
// store and one lossy bus, with a conversation between them.
func busNodes(t *testing.T, ctx context.Context, bus chat.Broker, edit func(node int, c *chat.Config)) (a *testServer, op, v *client.Conn, conv string) {
	t.Helper()
	store := memory.New()
	var nodes [2]*testServer
	for i := range nodes {
		nodes[i] = newTestServer(t, func(c *chat.Config) {
			c.Store, c.Broker, c.SyncInterval = store, bus, 50*time.Millisecond
			if edit != nil {
				edit(i, c)
			}
		})
	}
	op, err := client.DialOperator(ctx, nodes[1].URL, client.Options{Header: http.Header{"X-Operator": {"alice"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { op.Close() })
	v, err = client.DialVisitor(ctx, nodes[0].URL, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	m, err := v.Send(ctx, "", "hello")
	if err != nil {
		t.Fatal(err)
	}
	waitOwnedBy(t, store, m.Conv, "alice")
	if err := op.Wait(ctx, func(c *client.Conn) bool { return containsSeq(c.Messages(m.Conv), m.Seq) }); err != nil {
		t.Fatal(err)
	}
	return nodes[0], op, v, m.Conv
}

// The broker loses the event of a conversation's last message: the other
// node notices the gap in the sender's numbering at its next heartbeat and
// its operator gets the message with no further traffic.
func TestBridgeHealsALostEvent(t *testing.T) {
	ctx := testCtx(t)
	bus := &lossyBus{}
	_, op, v, conv := busNodes(t, ctx, bus, nil)
	bus.loseNext("msg")
	last, err := v.Send(ctx, conv, "the last word, whose event is lost")
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Wait(ctx, func(c *client.Conn) bool { return containsSeq(c.Messages(conv), last.Seq) }); err != nil {
		t.Fatalf("the operator never got the message whose event was lost: %v", err)
	}
}

// heldBus is a lossyBus that is also a chat.BatchPublisher: it records the
// size of every batch, and holds every publish while held is set.
type heldBus struct {
	lossyBus
	held    atomic.Pointer[chan struct{}]
	batchMu sync.Mutex
	batches []int
}

func (b *heldBus) wait(ctx context.Context) error {
	if h := b.held.Load(); h != nil {
		select {
		case <-*h:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (b *heldBus) Publish(ctx context.Context, topic string, payload []byte) error {
	if err := b.wait(ctx); err != nil {
		return err
	}
	return b.lossyBus.Publish(ctx, topic, payload)
}

func (b *heldBus) PublishBatch(ctx context.Context, topic string, payloads [][]byte) error {
	if err := b.wait(ctx); err != nil {
		return err
	}
	b.batchMu.Lock()
	b.batches = append(b.batches, len(payloads))
	b.batchMu.Unlock()
	for _, p := range payloads {
		if err := b.lossyBus.Publish(ctx, topic, p); err != nil {
			return err
		}
	}
	return nil
}

func (b *heldBus) largestBatch() int {
	b.batchMu.Lock()
	defer b.batchMu.Unlock()
	return slices.Max(append([]int{0}, b.batches...))
}

// Events that queue while a publish is on its way go out together, in one
// PublishBatch, and the other node applies them all, in order, with no
// heal: none is lost or reordered by the batching or by the receiving
// node's reads ahead.
func TestBridgeBatchesWhatQueued(t *testing.T) {
	ctx := testCtx(t)
	bus := &heldBus{}
	metrics := &countingMetrics{}
	_, op, v, conv := busNodes(t, ctx, bus, func(node int, c *chat.Config) {
		if node == 1 { // B, the operator's node, receives the visitor's messages
			c.Metrics = metrics
		}
	})
	release := make(chan struct{})
	bus.held.Store(&release)
	var seqs []int64
	for range 10 {
		m, err := v.Send(ctx, conv, "while the broker is slow")
		if err != nil {
			t.Fatalf("not acked while the broker holds publishes: %v", err)
		}
		seqs = append(seqs, m.Seq)
	}
	bus.held.Store(nil)
	close(release)
	last := seqs[len(seqs)-1]
	if err := op.Wait(ctx, func(c *client.Conn) bool { return containsSeq(c.Messages(conv), last) }); err != nil {
		t.Fatalf("the operator never got the messages: %v", err)
	}
	var got []int64
	for _, m := range op.Messages(conv) {
		if m.Seq >= seqs[0] {
			got = append(got, m.Seq)
		}
	}
	if !slices.Equal(got, seqs) {
		t.Errorf("operator got seqs %v, want %v", got, seqs)
	}
	if n := bus.largestBatch(); n < 2 {
		t.Errorf("largest batch published: %d events, want the queued ones together", n)
	}
	if n := metrics.get("bridge_gaps_total"); n != 0 {
		t.Errorf("the receiving node saw %v gaps in the numbering", n)
	}
}

// While the broker fails, acks go on, every failed publish is counted, and
// a warning is logged once per outage; once it is back the other node's
// operator gets every message.
func TestBrokerPublishFailuresWarnOncePerOutage(t *testing.T) {
	ctx := testCtx(t)
	bus := &lossyBus{}
	logs := &logRecords{}
	metrics := &countingMetrics{}
	_, op, v, conv := busNodes(t, ctx, bus, func(node int, c *chat.Config) {
		if node == 0 { // A, the visitors' node, publishes their messages
			c.Logger, c.Metrics = slog.New(logs), metrics
		}
	})
	const failingWarn, recoveredInfo = "broker publish failing; other nodes catch up from the store once it is back", "broker publish recovered"
	for outage := 1; outage <= 2; outage++ {
		bus.failing.Store(true)
		var last int64
		for i := range 5 {
			m, err := v.Send(ctx, conv, "while the broker fails")
			if err != nil {
				t.Fatalf("outage %d: message %d not acked: %v", outage, i, err)
			}
			last = m.Seq
		}
		waitFor(t, ctx, "the failed publishes counted", func() bool { return metrics.get("bridge_publish_failures_total") >= float64(5*outage) })
		if n := logs.count(slog.LevelWarn, failingWarn); n != outage {
			t.Fatalf("outage %d: %d warnings logged, want one per outage", outage, n)
		}
		bus.failing.Store(false)
		waitFor(t, ctx, "the recovery logged", func() bool { return logs.count(slog.LevelInfo, recoveredInfo) == outage })
		if err := op.Wait(ctx, func(c *client.Conn) bool { return containsSeq(c.Messages(conv), last) }); err != nil {
			t.Fatalf("outage %d: the operator never got the messages sent while the broker failed: %v", outage, err)
		}
	}
}

// An operator whose sessions on two nodes end at once goes offline: each
// node first leaves their presence to the other, then sees the other's
// session end too.
func TestOperatorLeavingTwoNodesAtOnceGoesOffline(t *testing.T) {
	ctx := testCtx(t)
	bus := &lossyBus{}
	store := memory.New()
	var nodes [2]*testServer
	var conns [2]*client.Conn
	for i := range nodes {
		nodes[i] = newTestServer(t, func(c *chat.Config) { c.Store, c.Broker, c.SyncInterval = store, bus, 50*time.Millisecond })
	}
	for i := range nodes {
		c, err := client.DialOperator(ctx, nodes[i].URL, client.Options{Header: http.Header{"X-Operator": {"alice"}}})
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c
	}
	for i := range nodes {
		waitFor(t, ctx, "each node hears of the other's session", func() bool { return chat.ConnectedElsewhere(nodes[i].Chat, "alice") })
	}
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() { defer wg.Done(); c.Close() }()
	}
	wg.Wait()
	waitFor(t, ctx, "alice offline", func() bool { return presenceOf(t, ctx, store, "alice") == chat.Offline })
}

// An operator on two nodes who sets "away" on one stays away: the other
// node renews "away" too, instead of turning them online again at its next
// heartbeat.
func TestPresenceSetOnOneNodeIsRenewedByAll(t *testing.T) {
	ctx := testCtx(t)
	bus := &lossyBus{}
	store := memory.New()
	var nodes [2]*testServer
	var conns [2]*client.Conn
	for i := range nodes {
		nodes[i] = newTestServer(t, func(c *chat.Config) {
			c.Store, c.Broker, c.SyncInterval, c.PresenceTTL = store, bus, 50*time.Millisecond, 300*time.Millisecond
		})
		c, err := client.DialOperator(ctx, nodes[i].URL, client.Options{Header: http.Header{"X-Operator": {"alice"}}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		conns[i] = c
	}
	if err := conns[0].SetPresence(ctx, "away"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "node B renewing away", func() bool { p, _ := chat.LocalPresence(nodes[1].Chat, "alice"); return p == chat.Away })
	if p := presenceOf(t, ctx, store, "alice"); p != chat.Away {
		t.Fatalf("alice is %s after setting away", p)
	}
	if err := conns[1].SetPresence(ctx, "online"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "node A renewing online", func() bool { p, _ := chat.LocalPresence(nodes[0].Chat, "alice"); return p == chat.Online })
}

// Live-visitor announcements go on a topic of their own, un-numbered, and
// a flood of them (which overflows the node's queue for them) heals no
// session: on the main topic every drop healed every session from the
// store, which at five nodes kept PostgreSQL busy re-reading visitors.
func TestVisitAnnouncementsNeverHeal(t *testing.T) {
	ctx := testCtx(t)
	bus := &lossyBus{}
	type published struct {
		topic, kind string
		num         uint64
	}
	var (
		seenMu    sync.Mutex
		seen      []published
		announced = make(chan struct{})
	)
	bus.onPublish = func(topic string, p []byte) {
		var ev struct {
			Kind string `json:"k"`
			Num  uint64 `json:"#"`
		}
		if json.Unmarshal(p, &ev) == nil {
			seenMu.Lock()
			seen = append(seen, published{topic, ev.Kind, ev.Num})
			if ev.Kind == "visits" && announced != nil {
				close(announced)
				announced = nil
			}
			seenMu.Unlock()
		}
	}
	metrics := &countingMetrics{}
	_, op, v, conv := busNodes(t, ctx, bus, func(node int, c *chat.Config) {
		if node == 1 {
			c.Metrics = metrics
		}
	})
	seenMu.Lock()
	wait := announced
	seenMu.Unlock()
	// The visitor's widget on A reports its page: A announces the visit.
	if err := v.Page(ctx, "/p/1", "Grinder", ""); err != nil {
		t.Fatal(err)
	}
	select {
	case <-wait:
	case <-ctx.Done():
		t.Fatal("node A never announced its visit")
	}
	seenMu.Lock()
	for _, p := range seen {
		switch {
		case p.kind == "visits" && (p.topic != "shopchat.visits" || p.num != 0):
			t.Errorf("a visits event went to topic %q with number %d; want shopchat.visits, unnumbered", p.topic, p.num)
		case p.kind != "visits" && p.topic != "shopchat":
			t.Errorf("a %s event went to topic %q", p.kind, p.topic)
		}
	}
	seenMu.Unlock()

	// A flood from a node that does not exist, far more than B queues.
	for i := range 20000 {
		p := fmt.Appendf(nil, `{"n":"flood","k":"visits","g":["gone-%d"]}`, i)
		if err := bus.Publish(ctx, "shopchat.visits", p); err != nil {
			t.Fatal(err)
		}
	}
	m, err := v.Send(ctx, conv, "after the flood")
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Wait(ctx, func(c *client.Conn) bool { return containsSeq(c.Messages(conv), m.Seq) }); err != nil {
		t.Fatalf("the operator never got the message after the flood: %v", err)
	}
	if n := metrics.get("bridge_heals_total"); n != 0 {
		t.Errorf("node B healed %v times after a flood of visit announcements", n)
	}
	if n := metrics.get("bridge_dropped_total"); n != 0 {
		t.Errorf("node B dropped %v events of the main topic", n)
	}
	t.Logf("announcements dropped by B: %v", metrics.get("bridge_visits_dropped_total"))
}
