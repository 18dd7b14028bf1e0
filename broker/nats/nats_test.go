package nats

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/broker/brokertest"
)

// urlEnv names the server the tests use. CI sets it; without it the tests
// that need NATS skip.
const urlEnv = "SHOPCHAT_NATS_URL"

func testURL(t testing.TB) string {
	t.Helper()
	url := os.Getenv(urlEnv)
	if url == "" {
		t.Skip("set SHOPCHAT_NATS_URL to run the NATS broker tests")
	}
	return url
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// node is one broker under test.
type node struct{ *Broker }

func open(t testing.TB, url string, opts ...Option) node {
	t.Helper()
	opts = append([]Option{WithNATSOptions(natsgo.ReconnectWait(50 * time.Millisecond))}, opts...)
	b, err := New(url, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return node{b}
}

// Disrupt closes the node's connection to the server (nats.go's
// ForceReconnect) and waits until the broker has reconnected and the
// server has its subscriptions again.
func (n node) Disrupt(t testing.TB) {
	t.Helper()
	before := n.reconnects.Load()
	if err := n.nc.ForceReconnect(); err != nil {
		t.Fatalf("ForceReconnect: %v", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for n.reconnects.Load() == before {
		if time.Now().After(deadline) {
			t.Fatal("not reconnected within 20s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestConformance(t *testing.T) {
	url := testURL(t)
	brokertest.Run(t, func(t testing.TB) chat.Broker { return open(t, url) })
}

func TestSubjects(t *testing.T) {
	b := &Broker{prefix: DefaultPrefix}
	valid := regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)
	seen := map[string]string{}
	for _, tc := range []struct {
		topic string
		plain bool
	}{
		{"conv-1", true},
		{"conv.1", true},
		{"Conv.1", true},
		{"", false},
		{"*", false},
		{">", false},
		{"conv.*", false},
		{"a..b", false},
		{".a", false},
		{"with space", false},
		{"h." + strings.Repeat("0", 40), true},
		{strings.Repeat("x", maxPlain), true},
		{strings.Repeat("x", maxPlain+1), false},
		{"日本", false},
	} {
		subj := b.subject(tc.topic)
		if !valid.MatchString(subj) {
			t.Errorf("subject(%q) = %q: not a literal subject", tc.topic, subj)
		}
		if plain := strings.HasPrefix(subj, "shopchat.t."); plain != tc.plain {
			t.Errorf("subject(%q) = %q: plain %v, want %v", tc.topic, subj, plain, tc.plain)
		}
		if prev, ok := seen[subj]; ok {
			t.Errorf("topics %q and %q share subject %q", prev, tc.topic, subj)
		}
		seen[subj] = tc.topic
	}
}

// TestPrefix: brokers with different prefixes do not hear each other; a
// plain NATS client can publish to a broker's subject.
func TestPrefix(t *testing.T) {
	url := testURL(t)
	a := open(t, url, WithPrefix("shop-a"))
	b := open(t, url, WithPrefix("shop-b.chat"))
	ctx := context.Background()
	topic := "prefix-" + randomHex(4)
	got := make(chan string, 4)
	for _, n := range []node{a, b} {
		cancel, err := n.Subscribe(ctx, topic, func(p []byte) { got <- n.prefix + ":" + string(p) })
		if err != nil {
			t.Fatal(err)
		}
		defer cancel()
	}
	if err := a.Publish(ctx, topic, []byte("1")); err != nil {
		t.Fatal(err)
	}
	if err := b.nc.Publish("shop-b.chat.t."+topic, []byte("2")); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for range 2 {
		select {
		case p := <-got:
			seen[p] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("only %v delivered", seen)
		}
	}
	if !seen["shop-a:1"] || !seen["shop-b.chat:2"] {
		t.Errorf("delivered %v; want shop-a:1 and shop-b.chat:2, each to its own prefix", seen)
	}
	if _, err := New(url, WithPrefix("bad prefix")); err == nil {
		t.Error("New with an invalid prefix: no error")
	}
}

// TestReconnectResubscribes: after a reconnect the server has every
// subscription again before Disrupt (which waits for the broker to
// confirm) returns, and the user's own handlers still run.
func TestReconnectResubscribes(t *testing.T) {
	url := testURL(t)
	var userReconnects atomic.Int64
	a := open(t, url, WithNATSOptions(natsgo.ReconnectHandler(func(*natsgo.Conn) { userReconnects.Add(1) })))
	c := open(t, url)
	brokertest.ResubscribesAfterDisrupt(t, a, c)
	if userReconnects.Load() == 0 {
		t.Error("the ReconnectHandler passed with WithNATSOptions was not called")
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New("nats://127.0.0.1:1", WithNATSOptions(natsgo.Timeout(time.Second))); err == nil {
		t.Error("New with an unreachable server: no error")
	}
}

// TestCloseStopsGoroutines: after use, a disruption and Close, no
// goroutine is left.
func TestCloseStopsGoroutines(t *testing.T) {
	addr := testURL(t)
	brokertest.CloseLeavesNoGoroutines(t, func(t testing.TB) chat.Broker { return open(t, addr) })
}
