package brokertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopchat/chat"
)

type opener = func(testing.TB) chat.Broker

// topics returns a function naming topics unique to one case.
func topics() func(name string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	prefix := "brokertest-" + hex.EncodeToString(b) + "-"
	return func(name string) string { return prefix + name }
}

// testCtx returns a context for the case's calls, ended when the case
// ends.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// sink collects what a subscription delivers, in order. Its deliver never
// blocks; it records an overflow instead (a case bug, not the broker's).
type sink struct {
	name     string
	ch       chan []byte
	overflow atomic.Bool
	// after, once set, makes deliver count calls in late: used to check
	// that nothing arrives after cancel or Close returned.
	after atomic.Bool
	late  atomic.Int64
}

func newSink(name string) *sink {
	return &sink{name: name, ch: make(chan []byte, 8192)}
}

func (s *sink) deliver(p []byte) {
	if s.after.Load() {
		s.late.Add(1)
	}
	select {
	case s.ch <- p:
	default:
		s.overflow.Store(true)
	}
}

// next waits for the next payload; ok is false after waitTimeout.
func (s *sink) next() (p []byte, ok bool) {
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	select {
	case p := <-s.ch:
		return p, true
	case <-timer.C:
		return nil, false
	}
}

// expect fails the case unless the next payload s gets is want.
func (s *sink) expect(t testing.TB, want []byte) []byte {
	t.Helper()
	got, ok := s.next()
	if !ok {
		s.checkOverflow(t)
		t.Fatalf("%s: payload %s not delivered within %v", s.name, show(want), waitTimeout)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: got payload %s, want %s", s.name, show(got), show(want))
	}
	return got
}

func (s *sink) expectString(t testing.TB, want string) {
	t.Helper()
	s.expect(t, []byte(want))
}

// expectSkipping waits for want, discarding payloads that start with skip.
func (s *sink) expectSkipping(t testing.TB, want []byte, skip string) {
	t.Helper()
	for {
		got, ok := s.next()
		if !ok {
			t.Fatalf("%s: payload %s not delivered within %v", s.name, show(want), waitTimeout)
		}
		if bytes.HasPrefix(got, []byte(skip)) {
			continue
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: got payload %s, want %s", s.name, show(got), show(want))
		}
		return
	}
}

// checkLate fails the case if deliver was called after s.after was set.
// The barrier the case waited for went through another subscription,
// whose deliver runs independently of s's, so first give a late call a
// moment to show.
func (s *sink) checkLate(t testing.TB, after string) {
	t.Helper()
	settle()
	if n := s.late.Load(); n > 0 {
		t.Errorf("%s: deliver was called %d time(s) after %s returned", s.name, n, after)
	}
}

func (s *sink) checkOverflow(t testing.TB) {
	t.Helper()
	if s.overflow.Load() {
		t.Errorf("%s: the test's own buffer overflowed (more than %d payloads delivered)", s.name, cap(s.ch))
	}
}

// settle gives deliver calls already under way (on other goroutines than
// the one a case waited on) a moment to happen, before a check that
// something did not happen. It is never needed for a correct broker to
// pass, only for a broken one to fail reliably.
func settle() { time.Sleep(graceTimeout) }

// show formats a payload for a failure message.
func show(p []byte) string {
	if len(p) > 48 {
		return fmt.Sprintf("%q... (%d bytes)", p[:48], len(p))
	}
	return strconv.Quote(string(p))
}

func subscribe(t testing.TB, b chat.Broker, topic string, deliver func([]byte)) (cancel func()) {
	t.Helper()
	ctx, stop := context.WithTimeout(context.Background(), waitTimeout)
	defer stop()
	cancel, err := b.Subscribe(ctx, topic, deliver)
	if err != nil {
		t.Fatalf("Subscribe(%q): %v", topic, err)
	}
	if cancel == nil {
		t.Fatalf("Subscribe(%q) returned a nil cancel func", topic)
	}
	t.Cleanup(cancel)
	return cancel
}

func publish(t testing.TB, b chat.Broker, topic string, payload []byte) {
	t.Helper()
	ctx, stop := context.WithTimeout(context.Background(), waitTimeout)
	defer stop()
	if err := b.Publish(ctx, topic, payload); err != nil {
		t.Fatalf("Publish(%q, %s): %v", topic, show(payload), err)
	}
}

func publishString(t testing.TB, b chat.Broker, topic, payload string) {
	t.Helper()
	publish(t, b, topic, []byte(payload))
}

// waitFor waits for ch to be closed or to yield a value.
func waitFor[T any](ch <-chan T) bool {
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	select {
	case <-ch:
		return true
	case <-timer.C:
		return false
	}
}

// gate is a channel a blocked deliver waits on; open is safe to call more
// than once, and the case registers it as a cleanup so that nothing stays
// blocked after the case.
type gate struct {
	ch   chan struct{}
	once sync.Once
}

func newGate(t testing.TB) *gate {
	g := &gate{ch: make(chan struct{})}
	t.Cleanup(g.open)
	return g
}

func (g *gate) open() { g.once.Do(func() { close(g.ch) }) }

// safely runs f, turning a panic into an error of the case.
func safely(t testing.TB, what string, f func()) (panicked bool) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s panicked: %v", what, r)
			panicked = true
		}
	}()
	f()
	return false
}

// errorsFrom collects errors reported by helper goroutines, to report them
// from the case's goroutine.
type errorsFrom struct {
	mu   sync.Mutex
	msgs []string
}

func (e *errorsFrom) add(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.msgs) < 20 {
		e.msgs = append(e.msgs, fmt.Sprintf(format, args...))
	}
}

func (e *errorsFrom) report(t testing.TB) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, m := range e.msgs {
		t.Error(m)
	}
}
