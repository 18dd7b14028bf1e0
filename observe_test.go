package chat_test

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/shopchat/chat"
)

// observingMetrics records Observe calls and signals each on observed.
type observingMetrics struct {
	mu       sync.Mutex
	values   map[string][]float64
	observed chan string
}

func (m *observingMetrics) Add(string, float64) {}

func (m *observingMetrics) Observe(name string, v float64) {
	m.mu.Lock()
	m.values[name] = append(m.values[name], v)
	m.mu.Unlock()
	select {
	case m.observed <- name:
	default:
	}
}

func (m *observingMetrics) get(name string) []float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]float64(nil), m.values[name]...)
}

// await waits until name has been observed n times.
func (m *observingMetrics) await(t testing.TB, name string, n int) {
	t.Helper()
	timeout := time.After(30 * time.Second) // guards a hang; never synchronises
	for len(m.get(name)) < n {
		select {
		case <-m.observed:
		case <-timeout:
			t.Fatalf("%s observed %d times, want %d", name, len(m.get(name)), n)
		}
	}
}

// TestMetricsObserve: the observations doc.go lists are made, with
// durations in seconds: one store_append_seconds per message sent (the
// visitor's and the operator's), one routing_wait_seconds per assignment
// from the queue, one notify_seconds per Notify call.
func TestMetricsObserve(t *testing.T) {
	m := &observingMetrics{values: map[string][]float64{}, observed: make(chan string, 100)}
	rec := newRecorder()
	ts := newTestServer(t, func(c *chat.Config) { c.Metrics = m; c.Notifier = rec; c.MissedReplyDelay = time.Hour })
	ctx := testCtx(t)
	alice := ts.operator(t, "alice", nil)
	v := ts.visitor(t, nil)
	q, err := v.Send(ctx, "", "Hello")
	if err != nil {
		t.Fatal(err)
	}
	waitText(t, alice, q.Conv, q.Text)
	if _, err := alice.Send(ctx, q.Conv, "Hi, how can I help?"); err != nil {
		t.Fatal(err)
	}
	m.await(t, "store_append_seconds", 2)
	m.await(t, "routing_wait_seconds", 1)
	rec.await(t, chat.MessagePosted)
	m.await(t, "notify_seconds", 1)
	for _, name := range []string{"store_append_seconds", "routing_wait_seconds", "notify_seconds"} {
		for _, v := range m.get(name) {
			if v < 0 || v > 60 {
				t.Errorf("%s observed %v, not a plausible duration in seconds", name, v)
			}
		}
	}
}

// TestTriggerFieldsJSON: the typed trigger fields encode as the plain
// strings stored and sent before, and stored triggers decode into them.
func TestTriggerFieldsJSON(t *testing.T) {
	tr := chat.Trigger{ID: "t", Once: chat.OnceVisitor, Action: chat.ActionSuggest, Visitor: chat.VisitorReturning}
	b, err := json.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	if raw["Once"] != "visitor" || raw["Action"] != "suggest" || raw["Visitor"] != "returning" {
		t.Errorf("encoded as %s", b)
	}
	var old chat.Trigger
	if err := json.Unmarshal([]byte(`{"ID":"t","Once":"session","Action":"message","Visitor":"new"}`), &old); err != nil {
		t.Fatal(err)
	}
	if old.Once != chat.OnceSession || old.Action != chat.ActionMessage || old.Visitor != chat.VisitorNew {
		t.Errorf("decoded %+v", old)
	}
}
