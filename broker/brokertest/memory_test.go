package brokertest_test

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/broker/internal/fanout"
)

// bus is an in-memory backend: the nodes opened on one bus reach each
// other, as processes sharing one Redis would.
type bus struct {
	mu    sync.RWMutex
	nodes map[*node]struct{}
}

func newBus() *bus { return &bus{nodes: map[*node]struct{}{}} }

var errClosed = fanout.ClosedError("memory")

// node is a correct chat.Broker on a bus. It has Close, Dropped and
// Disrupt.
type node struct {
	bus    *bus
	hub    *fanout.Hub
	closed atomic.Bool
	down   atomic.Bool // disrupted: receives nothing
}

func (bs *bus) open(buffer int) *node {
	n := &node{bus: bs}
	var hub *fanout.Hub
	hub = fanout.New(buffer, func() {
		// No server: a key is live as soon as it is wanted.
		hub.Sync()
		hub.MarkAllReady()
	}, nil)
	n.hub = hub
	bs.mu.Lock()
	bs.nodes[n] = struct{}{}
	bs.mu.Unlock()
	return n
}

func (n *node) Publish(ctx context.Context, topic string, payload []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if n.closed.Load() {
		return errClosed
	}
	n.bus.mu.RLock()
	defer n.bus.mu.RUnlock()
	for m := range n.bus.nodes {
		if !m.down.Load() {
			m.hub.Dispatch(topic, bytes.Clone(payload))
		}
	}
	return nil
}

// PublishBatch publishes each payload in turn, under one lock: in order,
// as one batch.
func (n *node) PublishBatch(ctx context.Context, topic string, payloads [][]byte) error {
	for _, p := range payloads {
		if err := n.Publish(ctx, topic, p); err != nil {
			return err
		}
	}
	return nil
}

func (n *node) Subscribe(ctx context.Context, topic string, deliver func([]byte)) (func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s, err := n.hub.Add(topic, deliver)
	if err != nil {
		return nil, errClosed
	}
	select {
	case <-s.Ready():
	case <-ctx.Done():
		s.Cancel()
		return nil, ctx.Err()
	case <-n.hub.Done():
		s.Cancel()
		return nil, errClosed
	}
	return s.Cancel, nil
}

func (n *node) Close() error {
	if n.closed.Swap(true) {
		return nil
	}
	n.bus.mu.Lock()
	delete(n.bus.nodes, n)
	n.bus.mu.Unlock()
	n.hub.Close()
	return nil
}

func (n *node) Dropped() uint64 { return n.hub.Dropped() }

// Disrupt loses whatever is published while the node is "disconnected",
// which here is no time at all.
func (n *node) Disrupt(testing.TB) {
	n.down.Store(true)
	n.down.Store(false)
}

var (
	_ chat.Broker         = (*node)(nil)
	_ chat.BatchPublisher = (*node)(nil)
)
