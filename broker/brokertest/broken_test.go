package brokertest_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// Deliberately broken brokers, each wrong in one way, for
// TestSuiteCatchesBrokenBrokers. They embed the correct in-memory node and
// keep its Close, Dropped and Disrupt unless they break those.

// ignoresCancel: cancel does nothing.
type ignoresCancel struct{ *node }

func (b ignoresCancel) Subscribe(ctx context.Context, topic string, deliver func([]byte)) (func(), error) {
	_, err := b.node.Subscribe(ctx, topic, deliver)
	return func() {}, err
}

// queuesAfterCancel hands payloads to a queue of its own; cancel stops new
// ones, but what was queued is still delivered after cancel returned.
type queuesAfterCancel struct{ *node }

func (b queuesAfterCancel) Subscribe(ctx context.Context, topic string, deliver func([]byte)) (func(), error) {
	ch := make(chan []byte, 1000)
	cancel, err := b.node.Subscribe(ctx, topic, func(p []byte) { ch <- p })
	if err != nil {
		return nil, err
	}
	go func() {
		for p := range ch {
			deliver(p)
		}
	}()
	var once sync.Once
	return func() { cancel(); once.Do(func() { close(ch) }) }, nil
}

// waitsForItself: cancel waits for every deliver call in progress, even
// the one it is called from.
type waitsForItself struct{ *node }

func (b waitsForItself) Subscribe(ctx context.Context, topic string, deliver func([]byte)) (func(), error) {
	var inflight sync.WaitGroup
	cancel, err := b.node.Subscribe(ctx, topic, func(p []byte) {
		inflight.Add(1)
		defer inflight.Done()
		deliver(p)
	})
	if err != nil {
		return nil, err
	}
	return func() { cancel(); inflight.Wait() }, nil
}

// cancelsTopic: cancel cancels every subscription of the topic on the
// node.
type cancelsTopic struct {
	*node
	mu   sync.Mutex
	subs map[string][]func()
}

func (b *cancelsTopic) Subscribe(ctx context.Context, topic string, deliver func([]byte)) (func(), error) {
	cancel, err := b.node.Subscribe(ctx, topic, deliver)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.subs[topic] = append(b.subs[topic], cancel)
	b.mu.Unlock()
	return func() {
		b.mu.Lock()
		all := b.subs[topic]
		delete(b.subs, topic)
		b.mu.Unlock()
		cancel()
		for _, c := range all {
			c()
		}
	}, nil
}

// refcounted subscribes once per topic and counts its subscriptions, but
// a second cancel of one subscription counts down again.
type refcounted struct {
	*node
	mu     sync.Mutex
	topics map[string]*rcTopic
}

type rcTopic struct {
	n     int
	inner func()
	subs  map[int]func([]byte)
	next  int
}

func (b *refcounted) Subscribe(ctx context.Context, topic string, deliver func([]byte)) (func(), error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	tp := b.topics[topic]
	if tp == nil {
		tp = &rcTopic{subs: map[int]func([]byte){}}
		inner, err := b.node.Subscribe(ctx, topic, func(p []byte) {
			b.mu.Lock()
			var ds []func([]byte)
			for _, d := range tp.subs {
				ds = append(ds, d)
			}
			b.mu.Unlock()
			for _, d := range ds {
				d(bytes.Clone(p))
			}
		})
		if err != nil {
			return nil, err
		}
		tp.inner = inner
		b.topics[topic] = tp
	}
	id := tp.next
	tp.next++
	tp.subs[id] = deliver
	tp.n++
	return func() {
		b.mu.Lock()
		delete(tp.subs, id)
		tp.n--
		inner := func() {}
		if tp.n == 0 {
			inner = tp.inner
			delete(b.topics, topic)
		}
		b.mu.Unlock()
		inner()
	}, nil
}

// everyTopic delivers every payload to every subscription.
type everyTopic struct{ *node }

func (b everyTopic) Subscribe(ctx context.Context, _ string, deliver func([]byte)) (func(), error) {
	return b.node.Subscribe(ctx, "*", deliver)
}

func (b everyTopic) Publish(ctx context.Context, _ string, payload []byte) error {
	return b.node.Publish(ctx, "*", payload)
}

// foldedTopics names topics as unquoted SQL identifiers would be: folded to
// lower case and cut at 63 bytes.
type foldedTopics struct{ *node }

func fold(topic string) string {
	topic = strings.ToLower(topic)
	if len(topic) > 63 {
		topic = topic[:63]
	}
	return topic
}

func (b foldedTopics) Subscribe(ctx context.Context, topic string, deliver func([]byte)) (func(), error) {
	return b.node.Subscribe(ctx, fold(topic), deliver)
}

func (b foldedTopics) Publish(ctx context.Context, topic string, payload []byte) error {
	return b.node.Publish(ctx, fold(topic), payload)
}

// localOnly never leaves the node.
type localOnly struct{ *node }

func (b localOnly) Publish(ctx context.Context, topic string, payload []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if b.closed.Load() {
		return errClosed
	}
	b.hub.Dispatch(topic, bytes.Clone(payload))
	return nil
}

// late makes a subscription live a little after Subscribe returned.
type late struct{ *node }

func (b *late) Subscribe(ctx context.Context, topic string, deliver func([]byte)) (func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var (
		mu        sync.Mutex
		cancel    func()
		cancelled bool
	)
	time.AfterFunc(20*time.Millisecond, func() {
		c, err := b.node.Subscribe(context.Background(), topic, deliver)
		if err != nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if cancelled {
			c()
			return
		}
		cancel = c
	})
	return func() {
		mu.Lock()
		defer mu.Unlock()
		cancelled = true
		if cancel != nil {
			cancel()
		}
	}, nil
}

// reorders swaps each pair of payloads a subscription gets.
type reorders struct{ *node }

func (b reorders) Subscribe(ctx context.Context, topic string, deliver func([]byte)) (func(), error) {
	var (
		mu   sync.Mutex
		held []byte
	)
	return b.node.Subscribe(ctx, topic, func(p []byte) {
		mu.Lock()
		h := held
		if h == nil {
			held = p
			mu.Unlock()
			return
		}
		held = nil
		mu.Unlock()
		deliver(p)
		deliver(h)
	})
}

// textOnly carries payloads as text: invalid UTF-8 is replaced and a NUL
// ends the payload.
type textOnly struct{ *node }

func (b textOnly) Publish(ctx context.Context, topic string, payload []byte) error {
	s := strings.ToValidUTF8(string(payload), "\uFFFD")
	s, _, _ = strings.Cut(s, "\x00")
	return b.node.Publish(ctx, topic, []byte(s))
}

// smallLimit refuses payloads over 4096 bytes.
type smallLimit struct{ *node }

func (b smallLimit) Publish(ctx context.Context, topic string, payload []byte) error {
	if len(payload) > 4096 {
		return errors.New("payload too large")
	}
	return b.node.Publish(ctx, topic, payload)
}

// sharesBuffers hands every subscription the very slice the publisher
// passed.
type sharesBuffers struct{ *node }

var shared sync.Map // string(payload) -> []byte

func (b sharesBuffers) Publish(ctx context.Context, topic string, payload []byte) error {
	shared.Store(string(payload), payload)
	return b.node.Publish(ctx, topic, payload)
}

func (b sharesBuffers) Subscribe(ctx context.Context, topic string, deliver func([]byte)) (func(), error) {
	return b.node.Subscribe(ctx, topic, func(p []byte) {
		if orig, ok := shared.Load(string(p)); ok {
			p = orig.([]byte)
		}
		deliver(p)
	})
}

// inPublish calls deliver from Publish, with no buffer between them.
type inPublishBroker struct {
	*node
	mu   sync.Mutex
	subs map[string]map[*func([]byte)]struct{}
}

var inPublishBus = struct {
	sync.Mutex
	byBus map[*bus][]*inPublishBroker
}{byBus: map[*bus][]*inPublishBroker{}}

func inPublish(n *node) *inPublishBroker {
	b := &inPublishBroker{node: n, subs: map[string]map[*func([]byte)]struct{}{}}
	inPublishBus.Lock()
	inPublishBus.byBus[n.bus] = append(inPublishBus.byBus[n.bus], b)
	inPublishBus.Unlock()
	return b
}

func (b *inPublishBroker) Subscribe(ctx context.Context, topic string, deliver func([]byte)) (func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d := &deliver
	b.mu.Lock()
	if b.subs[topic] == nil {
		b.subs[topic] = map[*func([]byte)]struct{}{}
	}
	b.subs[topic][d] = struct{}{}
	b.mu.Unlock()
	return func() {
		b.mu.Lock()
		delete(b.subs[topic], d)
		b.mu.Unlock()
	}, nil
}

func (b *inPublishBroker) Publish(ctx context.Context, topic string, payload []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	inPublishBus.Lock()
	nodes := inPublishBus.byBus[b.bus]
	inPublishBus.Unlock()
	for _, n := range nodes {
		n.mu.Lock()
		var ds []func([]byte)
		for d := range n.subs[topic] {
			ds = append(ds, *d)
		}
		n.mu.Unlock()
		for _, d := range ds {
			d(bytes.Clone(payload))
		}
	}
	return nil
}

// ignoresContext publishes and subscribes whatever the context.
type ignoresContext struct{ *node }

func (b ignoresContext) Publish(_ context.Context, topic string, payload []byte) error {
	return b.node.Publish(context.Background(), topic, payload)
}

func (b ignoresContext) Subscribe(_ context.Context, topic string, deliver func([]byte)) (func(), error) {
	return b.node.Subscribe(context.Background(), topic, deliver)
}

// leaksFailedSubscribe subscribes, then notices the context is done and
// returns its error, leaving the subscription in place.
type leaksFailedSubscribe struct{ *node }

func (b leaksFailedSubscribe) Subscribe(ctx context.Context, topic string, deliver func([]byte)) (func(), error) {
	cancel, err := b.node.Subscribe(context.Background(), topic, deliver)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return cancel, nil
}

// panicsAfterClose panics on Publish and Subscribe after Close.
type panicsAfterClose struct{ *node }

func (b panicsAfterClose) Publish(ctx context.Context, topic string, payload []byte) error {
	if b.closed.Load() {
		panic("publish on closed broker")
	}
	return b.node.Publish(ctx, topic, payload)
}

func (b panicsAfterClose) Subscribe(ctx context.Context, topic string, deliver func([]byte)) (func(), error) {
	if b.closed.Load() {
		panic("subscribe on closed broker")
	}
	return b.node.Subscribe(ctx, topic, deliver)
}

// noErrorAfterClose pretends Publish and Subscribe work after Close.
type noErrorAfterClose struct{ *node }

func (b noErrorAfterClose) Publish(ctx context.Context, topic string, payload []byte) error {
	if b.closed.Load() {
		return nil
	}
	return b.node.Publish(ctx, topic, payload)
}

func (b noErrorAfterClose) Subscribe(ctx context.Context, topic string, deliver func([]byte)) (func(), error) {
	if b.closed.Load() {
		return func() {}, nil
	}
	return b.node.Subscribe(ctx, topic, deliver)
}

// deliversAfterClose refuses new calls after Close but keeps delivering to
// the subscriptions it had.
type deliversAfterClose struct{ *node }

func (b deliversAfterClose) Close() error {
	b.closed.Store(true)
	return nil
}

// deadAfterDisrupt never reconnects.
type deadAfterDisrupt struct{ *node }

func (b deadAfterDisrupt) Disrupt(testing.TB) { b.down.Store(true) }

// batchReversed: PublishBatch publishes the batch back to front.
type batchReversed struct{ *node }

func (b batchReversed) PublishBatch(ctx context.Context, topic string, payloads [][]byte) error {
	for i := len(payloads) - 1; i >= 0; i-- {
		if err := b.node.Publish(ctx, topic, payloads[i]); err != nil {
			return err
		}
	}
	return nil
}

// batchFolds: PublishBatch sends identical payloads of a batch once, as
// PostgreSQL does with identical notifications in one transaction.
type batchFolds struct{ *node }

func (b batchFolds) PublishBatch(ctx context.Context, topic string, payloads [][]byte) error {
	seen := map[string]bool{}
	for _, p := range payloads {
		if seen[string(p)] {
			continue
		}
		seen[string(p)] = true
		if err := b.node.Publish(ctx, topic, p); err != nil {
			return err
		}
	}
	return nil
}
