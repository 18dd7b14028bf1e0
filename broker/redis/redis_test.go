package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/broker/brokertest"
)

// addrEnv names the server the tests use. CI sets it; without it the tests
// that need Redis skip.
const addrEnv = "SHOPCHAT_REDIS_ADDR"

func testAddr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv(addrEnv)
	if addr == "" {
		t.Skip("set SHOPCHAT_REDIS_ADDR to run the Redis broker tests")
	}
	return addr
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// node is one broker under test. Its connections carry a client name of
// their own, so Disrupt can kill them all.
type node struct {
	*Broker
	addr, name string
}

func open(t testing.TB, addr string, opts ...Option) node {
	t.Helper()
	name := "shopchat-test-" + randomHex(6)
	opts = append([]Option{WithRedisOptions(func(o *goredis.Options) { o.ClientName = name })}, opts...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := New(ctx, addr, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return node{Broker: b, addr: addr, name: name}
}

// Disrupt kills the node's connections, pub/sub and pooled, with CLIENT
// KILL, and waits until the pub/sub connection is back.
func (n node) Disrupt(t testing.TB) {
	t.Helper()
	before := n.reconnects.Load()
	if killed := killClients(t, n.addr, n.name); killed == 0 {
		t.Fatalf("no connection named %s to kill", n.name)
	}
	deadline := time.Now().Add(20 * time.Second)
	for n.reconnects.Load() == before {
		if time.Now().After(deadline) {
			t.Fatal("the pub/sub connection was not re-established within 20s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// killClients kills every connection named name and returns how many.
func killClients(t testing.TB, addr, name string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin := goredis.NewClient(&goredis.Options{Addr: addr})
	defer admin.Close()
	list, err := admin.ClientList(ctx).Result()
	if err != nil {
		t.Fatalf("CLIENT LIST: %v", err)
	}
	killed := 0
	for _, line := range strings.Split(list, "\n") {
		var id, cname string
		for _, f := range strings.Fields(line) {
			k, v, _ := strings.Cut(f, "=")
			switch k {
			case "id":
				id = v
			case "name":
				cname = v
			}
		}
		if cname != name {
			continue
		}
		if err := admin.Do(ctx, "CLIENT", "KILL", "ID", id).Err(); err != nil {
			t.Fatalf("CLIENT KILL ID %s: %v", id, err)
		}
		killed++
	}
	return killed
}

func TestConformance(t *testing.T) {
	addr := testAddr(t)
	brokertest.Run(t, func(t testing.TB) chat.Broker { return open(t, addr) })
}

// TestPrefix: brokers with different prefixes do not hear each other;
// the channel is the prefix and the topic.
func TestPrefix(t *testing.T) {
	addr := testAddr(t)
	a := open(t, addr, WithPrefix("shop-a:"))
	b := open(t, addr, WithPrefix("shop-b:"))
	ctx := context.Background()
	topic := "prefix-" + randomHex(4)
	got := make(chan string, 4)
	for _, n := range []node{a, b} {
		cancel, err := n.Subscribe(ctx, topic, func(p []byte) { got <- n.prefix + string(p) })
		if err != nil {
			t.Fatal(err)
		}
		defer cancel()
	}
	if err := a.Publish(ctx, topic, []byte("1")); err != nil {
		t.Fatal(err)
	}
	// A plain PUBLISH on the channel reaches b's subscriber too.
	if err := b.client.Publish(ctx, "shop-b:"+topic, "2").Err(); err != nil {
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
	if !seen["shop-a:1"] || !seen["shop-b:2"] {
		t.Errorf("delivered %v; want shop-a:1 and shop-b:2, each to its own prefix", seen)
	}
}

// TestReconnectResubscribes: after its connections are killed, the broker
// subscribes again to every channel that has a subscription, and to no
// other, before Disrupt (which waits for the reconnect) returns.
func TestReconnectResubscribes(t *testing.T) {
	addr := testAddr(t)
	a, c := open(t, addr), open(t, addr)
	ctx := context.Background()
	topics := brokertest.ResubscribesAfterDisrupt(t, a, c)
	// The server's view: the pub/sub connection has exactly these.
	n, err := c.client.PubSubNumSub(ctx, a.prefix+topics[0]).Result()
	if err != nil {
		t.Fatal(err)
	}
	if n[a.prefix+topics[0]] != 1 {
		t.Errorf("PUBSUB NUMSUB %s = %d, want 1", topics[0], n[a.prefix+topics[0]])
	}
}

// TestHealthCheckReplacesSilentConnection: a pub/sub connection on which
// nothing arrives, not even the replies to the broker's PINGs, is
// replaced. CLIENT PAUSE makes Redis hold the replies.
func TestHealthCheckReplacesSilentConnection(t *testing.T) {
	addr := testAddr(t)
	a := open(t, addr, WithHealthCheck(100*time.Millisecond))
	ctx := context.Background()
	topic := "health-" + randomHex(4)
	got := make(chan string, 10)
	cancel, err := a.Subscribe(ctx, topic, func(p []byte) { got <- string(p) })
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	admin := goredis.NewClient(&goredis.Options{Addr: addr})
	defer admin.Close()
	before := a.reconnects.Load()
	if err := admin.Do(ctx, "CLIENT", "PAUSE", "600", "ALL").Err(); err != nil {
		t.Skipf("CLIENT PAUSE: %v", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for a.reconnects.Load() == before {
		if time.Now().After(deadline) {
			t.Fatal("the silent pub/sub connection was not replaced within 20s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := a.Publish(ctx, topic, []byte("after")); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-got:
		if p != "after" {
			t.Errorf("got %q", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nothing delivered after the reconnect")
	}
}

func TestNewErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := New(ctx, "127.0.0.1:1"); err == nil {
		t.Error("New with an unreachable server: no error")
	}
	if _, err := New(ctx, "redis://:x:y@/nonsense:::"); err == nil {
		t.Error("New with an invalid URL: no error")
	}
}

// TestCloseStopsGoroutines: after use, a disruption and Close, no
// goroutine is left.
func TestCloseStopsGoroutines(t *testing.T) {
	addr := testAddr(t)
	brokertest.CloseLeavesNoGoroutines(t, func(t testing.TB) chat.Broker { return open(t, addr) })
}
