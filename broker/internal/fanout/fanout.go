// Package fanout is the node-local half of every broker in this module: it
// keeps a node's subscriptions, fans each received payload out to them, and
// runs their deliver functions off the network reader, each subscription
// with its own bounded queue.
//
// A Hub is keyed by the backend's name for a topic (a Redis channel, a NATS
// subject, a PostgreSQL channel). Several subscriptions may share a key;
// the backend subscribes at the server once per key. The backend learns
// which keys to subscribe and unsubscribe from Sync, which it calls after
// the Hub's change hook fires, and tells the Hub when the server has taken
// a subscription with MarkReady; Subscribe waits for that.
//
// Delivery policy. Dispatch never blocks: it appends the payload to each
// subscription's queue, or drops it and counts it (Dropped) when that
// queue already holds Buffer payloads. A goroutine per subscription, started
// when its queue becomes non-empty and ending when it is empty, calls
// deliver for one payload at a time in arrival order. So a slow deliver
// delays and eventually loses only its own subscription's payloads.
package fanout

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/shopchat/chat"
)

// DefaultBuffer is the number of payloads a subscription's queue holds when
// the broker's options set none.
const DefaultBuffer = 256

// closedError is a broker's "closed" error: it names the broker and is
// chat.ErrClosed to errors.Is.
type closedError struct{ msg string }

func (e closedError) Error() string        { return e.msg }
func (e closedError) Is(target error) bool { return target == chat.ErrClosed }

// ClosedError returns the error a closed broker returns from Publish and
// Subscribe: its message is "<name>: broker closed" and it matches
// chat.ErrClosed with errors.Is.
func ClosedError(name string) error { return closedError{name + ": broker closed"} }

// errHubClosed is returned by Add after Close; brokers replace it by their
// own ClosedError.
var errHubClosed = errors.New("fanout: closed")

// IsClosed reports whether err is Add's error for a closed Hub.
func IsClosed(err error) bool { return errors.Is(err, errHubClosed) }

// Hub is one node's set of subscriptions. It is safe for concurrent use.
type Hub struct {
	buffer   int
	onChange func()
	onDrop   func()

	mu     sync.RWMutex
	closed bool
	done   chan struct{}        // closed by Close
	keys   map[string]*keyState // desired: keys with at least one subscription
	actual map[string]bool      // keys the backend was told to subscribe: true once the server has them
	subs   map[*Sub]struct{}    // every live subscription, for Close

	dropped atomic.Uint64
}

type keyState struct {
	subs    []*Sub
	ready   bool
	readyCh chan struct{} // closed when ready
}

// New returns a Hub whose subscriptions queue at most buffer payloads each
// (DefaultBuffer if buffer <= 0). onChange, if not nil, is called (without
// the Hub's locks held) whenever a key gains its first subscription or
// loses its last one: the backend should then call Sync. onDrop, if not
// nil, is called for every dropped payload.
func New(buffer int, onChange, onDrop func()) *Hub {
	if buffer <= 0 {
		buffer = DefaultBuffer
	}
	return &Hub{
		buffer:   buffer,
		onChange: onChange,
		onDrop:   onDrop,
		keys:     map[string]*keyState{},
		actual:   map[string]bool{},
		subs:     map[*Sub]struct{}{},
		done:     make(chan struct{}),
	}
}

// Add registers deliver for key. The subscription receives what Dispatch
// gets for key from now on; Ready tells when the server has it too.
func (h *Hub) Add(key string, deliver func([]byte)) (*Sub, error) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, errHubClosed
	}
	ks := h.keys[key]
	first := ks == nil
	if first {
		ks = &keyState{readyCh: make(chan struct{})}
		if h.actual[key] {
			// Cancelled and wanted again before the backend unsubscribed:
			// the server still has it.
			ks.ready = true
			close(ks.readyCh)
		}
		h.keys[key] = ks
	}
	s := &Sub{hub: h, key: key, deliver: deliver, ready: ks.readyCh}
	ks.subs = append(ks.subs, s)
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	if first && h.onChange != nil {
		h.onChange()
	}
	return s, nil
}

// remove unregisters s; it reports whether s was registered.
func (h *Hub) remove(s *Sub) bool {
	h.mu.Lock()
	if _, ok := h.subs[s]; !ok {
		h.mu.Unlock()
		return false
	}
	delete(h.subs, s)
	ks := h.keys[s.key]
	last := false
	if ks != nil {
		for i, x := range ks.subs {
			if x == s {
				ks.subs = append(ks.subs[:i:i], ks.subs[i+1:]...)
				break
			}
		}
		if len(ks.subs) == 0 {
			delete(h.keys, s.key)
			last = true
		}
	}
	h.mu.Unlock()
	if last && h.onChange != nil {
		h.onChange()
	}
	return true
}

// Sync returns the keys the backend must subscribe (wanted, not yet
// subscribed) and unsubscribe (subscribed, no longer wanted), and records
// that the backend is about to do so. Call it from one goroutine at a time.
func (h *Hub) Sync() (subscribe, unsubscribe []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k := range h.keys {
		if _, ok := h.actual[k]; !ok {
			subscribe = append(subscribe, k)
			h.actual[k] = false
		}
	}
	for k := range h.actual {
		if h.keys[k] == nil {
			unsubscribe = append(unsubscribe, k)
			delete(h.actual, k)
		}
	}
	return subscribe, unsubscribe
}

// Subscribed returns the keys the backend was told to subscribe.
func (h *Hub) Subscribed() []string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	keys := make([]string, 0, len(h.actual))
	for k := range h.actual {
		keys = append(keys, k)
	}
	return keys
}

// MarkReady records that the server has the subscriptions to keys: the
// Subscribe calls waiting for them return. Keys the backend was not told
// to subscribe (since the last Reset) are ignored.
func (h *Hub) MarkReady(keys ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, k := range keys {
		h.markReady(k)
	}
}

func (h *Hub) markReady(k string) {
	if _, ok := h.actual[k]; !ok {
		return // not subscribed (any more): a stale confirmation
	}
	h.actual[k] = true
	if ks := h.keys[k]; ks != nil && !ks.ready {
		ks.ready = true
		close(ks.readyCh)
	}
}

// MarkAllReady is MarkReady for every key the backend was told to
// subscribe.
func (h *Hub) MarkAllReady() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k := range h.actual {
		h.markReady(k)
	}
}

// Unready records that the connection to the server was lost: new
// subscriptions wait until the backend marks their key ready again.
// Existing subscriptions stay registered and receive again once the
// backend has resubscribed.
func (h *Hub) Unready() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k := range h.actual {
		h.actual[k] = false
	}
	for _, ks := range h.keys {
		if ks.ready {
			ks.ready = false
			ks.readyCh = make(chan struct{})
		}
	}
}

// Reset is Unready for a backend whose new connection has no
// subscriptions: the next Sync returns every wanted key.
func (h *Hub) Reset() {
	h.Unready()
	h.mu.Lock()
	clear(h.actual)
	h.mu.Unlock()
}

// Dispatch queues payload for every subscription to key and returns how
// many took it. It never blocks on a deliver function. The first
// subscription gets payload itself, the others copies, so Dispatch owns
// payload from the call on.
func (h *Hub) Dispatch(key string, payload []byte) int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	ks := h.keys[key]
	if ks == nil {
		return 0
	}
	if payload == nil {
		payload = []byte{}
	}
	n := 0
	for i, s := range ks.subs {
		p := payload
		if i > 0 {
			p = bytes.Clone(payload)
		}
		if s.enqueue(p) {
			n++
		} else {
			h.dropped.Add(1)
			if h.onDrop != nil {
				h.onDrop()
			}
		}
	}
	return n
}

// Dropped returns how many payloads were dropped because a subscription's
// queue was full.
func (h *Hub) Dropped() uint64 { return h.dropped.Load() }

// Done is closed when Close is called: a Subscribe waiting for Ready
// should give up.
func (h *Hub) Done() <-chan struct{} { return h.done }

// Closed reports whether Close was called.
func (h *Hub) Closed() bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.closed
}

// Close unregisters every subscription and waits for their deliver calls
// in progress to return (except one on the calling goroutine, when Close is
// called from a deliver function). Add fails from now on. Close is
// idempotent.
func (h *Hub) Close() {
	h.mu.Lock()
	if !h.closed {
		h.closed = true
		close(h.done)
	}
	subs := make([]*Sub, 0, len(h.subs))
	for s := range h.subs {
		subs = append(subs, s)
	}
	clear(h.subs)
	clear(h.keys)
	h.mu.Unlock()
	for _, s := range subs {
		s.stop()
	}
}

// Subscribe is a broker's Subscribe: it adds a subscription for key and
// returns once the backend confirmed it (Ready), failing when ctx ends
// first or the hub closes. name labels errors ("redis broker"), waiting
// says what confirmation it waited for, and errClosed is the broker's
// ErrClosed.
func (h *Hub) Subscribe(ctx context.Context, key string, deliver func([]byte), name, waiting string, errClosed error) (cancel func(), err error) {
	if deliver == nil {
		return nil, fmt.Errorf("%w: %s: nil deliver func", chat.ErrInvalid, name)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: subscribe: %w", name, err)
	}
	s, err := h.Add(key, deliver)
	if err != nil {
		return nil, errClosed
	}
	select {
	case <-s.Ready():
		return s.Cancel, nil
	case <-ctx.Done():
		s.Cancel()
		return nil, fmt.Errorf("%s: subscribe: %s: %w", name, waiting, ctx.Err())
	case <-h.Done():
		s.Cancel()
		return nil, errClosed
	}
}

// Sub is one subscription.
type Sub struct {
	hub     *Hub
	key     string
	deliver func([]byte)
	ready   chan struct{}

	mu      sync.Mutex
	queue   [][]byte
	head    int
	stopped bool
	running bool          // a drain goroutine is running
	idle    chan struct{} // closed when that goroutine ends
	goid    uint64        // that goroutine's id
}

// Ready is closed when the server has the subscription (the backend called
// MarkReady for its key).
func (s *Sub) Ready() <-chan struct{} { return s.ready }

// Cancel unregisters s and discards its queue. When it returns, deliver is
// not running and will not be called again — except that when Cancel is
// called from s's own deliver function it does not wait for that call to
// return. It is idempotent and safe from any goroutine.
func (s *Sub) Cancel() {
	s.hub.remove(s)
	s.stop()
}

func (s *Sub) enqueue(p []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return true // cancelled between lookup and here: not a drop
	}
	if len(s.queue)-s.head >= s.hub.buffer {
		return false
	}
	s.queue = append(s.queue, p)
	if !s.running {
		s.running = true
		s.idle = make(chan struct{})
		go s.drain(s.idle)
	}
	return true
}

func (s *Sub) drain(idle chan struct{}) {
	id := goid()
	s.mu.Lock()
	s.goid = id
	for {
		if s.stopped || s.head == len(s.queue) {
			s.running = false
			s.queue, s.head = s.queue[:0], 0
			if cap(s.queue) > 4*DefaultBuffer {
				s.queue = nil // do not keep a burst's worth of slots for ever
			}
			s.goid = 0
			close(idle)
			s.mu.Unlock()
			return
		}
		p := s.queue[s.head]
		s.queue[s.head] = nil
		s.head++
		s.mu.Unlock()
		s.deliver(p)
		s.mu.Lock()
	}
}

// stop discards the queue and waits for a running deliver (unless it runs
// on this goroutine).
func (s *Sub) stop() {
	s.mu.Lock()
	s.stopped = true
	for i := s.head; i < len(s.queue); i++ {
		s.queue[i] = nil
	}
	s.queue, s.head = nil, 0
	running, idle, id := s.running, s.idle, s.goid
	s.mu.Unlock()
	if !running {
		return
	}
	// id is 0 while the goroutine has not started: then it cannot be this
	// one, and it will see stopped and end without calling deliver.
	if id != 0 && id == goid() {
		return // called from our own deliver
	}
	<-idle
}

// goid returns the current goroutine's id, parsed from the first line of
// its stack trace ("goroutine 42 [running]:"). It lets Cancel tell a call
// from the subscription's own deliver function, which must not wait for
// itself, from a call on any other goroutine, which must.
func goid() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	id, _ := strconv.ParseUint(string(b), 10, 64)
	return id
}
