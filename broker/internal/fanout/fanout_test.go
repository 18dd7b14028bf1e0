package fanout

import (
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopchat/chat"
)

func isReady(s *Sub) bool {
	select {
	case <-s.Ready():
		return true
	default:
		return false
	}
}

func TestReadiness(t *testing.T) {
	var changes atomic.Int64
	h := New(4, func() { changes.Add(1) }, nil)
	s1, err := h.Add("k", func([]byte) {})
	if err != nil {
		t.Fatal(err)
	}
	if changes.Load() != 1 {
		t.Errorf("first Add: %d change calls, want 1", changes.Load())
	}
	sub, unsub := h.Sync()
	if !slices.Equal(sub, []string{"k"}) || len(unsub) != 0 {
		t.Fatalf("Sync = %v, %v", sub, unsub)
	}
	if isReady(s1) {
		t.Fatal("ready before MarkReady")
	}
	h.MarkReady("k", "unknown")
	if !isReady(s1) {
		t.Fatal("not ready after MarkReady")
	}
	s2, _ := h.Add("k", func([]byte) {})
	if !isReady(s2) || changes.Load() != 1 {
		t.Error("a second subscription to a ready key must be ready at once, with no change call")
	}

	// Lost connection: new subscriptions wait for the backend again.
	h.Unready()
	s3, _ := h.Add("k", func([]byte) {})
	if isReady(s3) {
		t.Error("ready while the connection is down")
	}
	h.MarkAllReady()
	if !isReady(s3) {
		t.Error("not ready after MarkAllReady")
	}

	// Cancelled and wanted again before the backend unsubscribed: ready.
	s1.Cancel()
	s2.Cancel()
	s3.Cancel()
	s4, _ := h.Add("k", func([]byte) {})
	if !isReady(s4) {
		t.Error("re-added key still subscribed at the server is not ready")
	}
	if sub, unsub := h.Sync(); len(sub)+len(unsub) != 0 {
		t.Errorf("Sync = %v, %v; want nothing to do", sub, unsub)
	}
	s4.Cancel()
	if sub, unsub := h.Sync(); len(sub) != 0 || !slices.Equal(unsub, []string{"k"}) {
		t.Errorf("Sync = %v, %v; want k unsubscribed", sub, unsub)
	}
	h.MarkReady("k") // a stale confirmation
	s5, _ := h.Add("k", func([]byte) {})
	if isReady(s5) {
		t.Error("a stale confirmation made a new subscription ready")
	}

	// A new connection has nothing: Sync returns every wanted key.
	h.Sync()
	h.MarkReady("k")
	h.Reset()
	if sub, _ := h.Sync(); !slices.Equal(sub, []string{"k"}) {
		t.Errorf("after Reset, Sync = %v; want k", sub)
	}
	h.Close()
	select {
	case <-h.Done():
	default:
		t.Error("Done not closed by Close")
	}
	if _, err := h.Add("k", func([]byte) {}); !IsClosed(err) {
		t.Errorf("Add after Close: %v", err)
	}
}

func TestDispatchDropsWhenFull(t *testing.T) {
	var drops atomic.Int64
	h := New(2, nil, func() { drops.Add(1) })
	release := make(chan struct{})
	got := make(chan string, 10)
	s, _ := h.Add("k", func(p []byte) {
		got <- string(p)
		<-release
	})
	h.Dispatch("k", []byte("0"))
	if p := <-got; p != "0" {
		t.Fatalf("got %q", p)
	}
	for _, p := range []string{"1", "2", "3", "4"} {
		h.Dispatch("k", []byte(p))
	}
	if h.Dropped() != 2 || drops.Load() != 2 {
		t.Errorf("Dropped = %d, hook %d; want 2 (buffer 2 behind a blocked deliver)", h.Dropped(), drops.Load())
	}
	close(release)
	for _, want := range []string{"1", "2"} {
		if p := <-got; p != want {
			t.Errorf("got %q, want %q", p, want)
		}
	}
	s.Cancel()
}

func TestCancelWaitsForDeliver(t *testing.T) {
	h := New(4, nil, nil)
	entered, release := make(chan struct{}), make(chan struct{})
	s, _ := h.Add("k", func([]byte) {
		close(entered)
		<-release
	})
	h.Dispatch("k", []byte("x"))
	<-entered
	cancelled := make(chan struct{})
	go func() {
		s.Cancel()
		close(cancelled)
	}()
	select {
	case <-cancelled:
		t.Fatal("Cancel returned while deliver was running on another goroutine")
	case <-time.After(20 * time.Millisecond):
	}
	close(release)
	<-cancelled
}

func TestCancelFromDeliver(t *testing.T) {
	h := New(4, nil, nil)
	var s *Sub
	var calls atomic.Int64
	done := make(chan struct{})
	s, _ = h.Add("k", func([]byte) {
		calls.Add(1)
		s.Cancel()
		s.Cancel()
		close(done)
	})
	h.Dispatch("k", []byte("1"))
	h.Dispatch("k", []byte("2"))
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Cancel from deliver deadlocked")
	}
	if h.Dispatch("k", []byte("3")) != 0 || calls.Load() != 1 {
		t.Errorf("delivered after Cancel: %d calls", calls.Load())
	}
}

func TestGoid(t *testing.T) {
	a := goid()
	if a == 0 || a != goid() {
		t.Fatalf("goid() = %d, then %d", a, goid())
	}
	ch := make(chan uint64)
	go func() { ch <- goid() }()
	if b := <-ch; b == 0 || b == a {
		t.Errorf("another goroutine's id = %d (this one's %d)", b, a)
	}
}

func TestClosedError(t *testing.T) {
	err := ClosedError("x broker")
	if !errors.Is(err, chat.ErrClosed) || err.Error() != "x broker: broker closed" {
		t.Errorf("ClosedError = %v, Is(chat.ErrClosed) = %v", err, errors.Is(err, chat.ErrClosed))
	}
}
