package postgres

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/broker/brokertest"
)

// dsnEnv names the server the tests use. CI sets it; without it the tests
// that need PostgreSQL skip.
const dsnEnv = "SHOPCHAT_POSTGRES_DSN"

func testDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(dsnEnv)
	if dsn == "" {
		t.Skip("set SHOPCHAT_POSTGRES_DSN to run the PostgreSQL broker tests")
	}
	return dsn
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// node is one broker under test. Its connections carry an
// application_name of their own, so Disrupt can terminate them all.
type node struct {
	*Broker
	dsn, app string
}

func open(t testing.TB, dsn string, opts ...Option) node {
	t.Helper()
	app := "shopchat-test-" + randomHex(6)
	opts = append([]Option{WithPoolConfig(func(c *pgxpool.Config) {
		c.ConnConfig.RuntimeParams["application_name"] = app
	})}, opts...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := New(ctx, dsn, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return node{Broker: b, dsn: dsn, app: app}
}

// Disrupt terminates the node's server sessions, the listening one and
// the pooled ones, and waits until the listener has reconnected.
func (n node) Disrupt(t testing.TB) {
	t.Helper()
	before := n.reconnects.Load()
	adminExec(t, n.dsn, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", n.app)
	waitUntil(t, "the listening connection to be re-established", func() bool { return n.reconnects.Load() > before })
}

func adminExec(t testing.TB, dsn, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("admin connection: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("admin: %s: %v", sql, err)
	}
}

func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestConformance(t *testing.T) {
	dsn := testDSN(t)
	brokertest.Run(t, func(t testing.TB) chat.Broker { return open(t, dsn) })
}

func TestChannelNames(t *testing.T) {
	b := &Broker{prefix: DefaultPrefix}
	ident := regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)
	seen := map[string]string{}
	for _, topic := range []string{"", "a", "A", "conv.1", strings.Repeat("x", 5000), "nul\x00", "日本"} {
		ch := b.channel(topic)
		if !ident.MatchString(ch) || len(ch) > 63 {
			t.Errorf("channel(%q) = %q: not a plain identifier of at most 63 bytes", topic, ch)
		}
		if prev, ok := seen[ch]; ok {
			t.Errorf("topics %q and %q share channel %q", prev, topic, ch)
		}
		seen[ch] = topic
		if b.channel(topic) != ch {
			t.Errorf("channel(%q) is not deterministic", topic)
		}
	}
	long := &Broker{prefix: strings.Repeat("p", 22)}
	if n := len(long.channel("t")); n != 63 {
		t.Errorf("with the longest prefix the channel has %d bytes, want 63", n)
	}
}

func TestEncoding(t *testing.T) {
	utf8Server := &Broker{rawUTF8: true}
	otherServer := &Broker{rawUTF8: false}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	for _, tc := range []struct {
		payload           []byte
		rawUTF8, rawOther bool
	}{
		{[]byte(`{"seq":1}`), true, true},
		{[]byte{}, true, true},
		{[]byte("ção"), true, false},
		{[]byte("nul\x00"), false, false},
		{[]byte("\xff"), false, false},
		{all, false, false},
	} {
		for _, c := range []struct {
			b   *Broker
			raw bool
		}{{utf8Server, tc.rawUTF8}, {otherServer, tc.rawOther}} {
			enc := c.b.encode(tc.payload)
			if raw := enc[0] == 't'; raw != c.raw {
				t.Errorf("encode(%q) with rawUTF8=%v = %q: text mode %v, want %v", tc.payload, c.b.rawUTF8, enc, raw, c.raw)
			}
			if strings.IndexByte(enc, 0) >= 0 {
				t.Errorf("encode(%q) contains NUL", tc.payload)
			}
			got, err := decode(enc)
			if err != nil || !bytes.Equal(got, tc.payload) {
				t.Errorf("decode(encode(%q)) = %q, %v", tc.payload, got, err)
			}
		}
	}
	for _, bad := range []string{"", "x123", "b!!!"} {
		if _, err := decode(bad); err == nil {
			t.Errorf("decode(%q): no error", bad)
		}
	}
}

// TestPayloadLimit: payloads whose encoding exceeds NOTIFY's limit are
// refused with chat.ErrInvalid before they reach the server; those just
// under it go through.
func TestPayloadLimit(t *testing.T) {
	dsn := testDSN(t)
	b := open(t, dsn)
	ctx := context.Background()
	topic := "limit-" + randomHex(4)
	got := make(chan []byte, 4)
	cancel, err := b.Subscribe(ctx, topic, func(p []byte) { got <- p })
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()

	text := bytes.Repeat([]byte("a"), MaxEncodedPayload-1) // "t" + 7998
	binary := bytes.Repeat([]byte{0xff}, 5997)             // "b" + 7996 of base64
	for _, p := range [][]byte{text, binary} {
		if err := b.Publish(ctx, topic, p); err != nil {
			t.Fatalf("Publish of %d bytes: %v", len(p), err)
		}
		select {
		case q := <-got:
			if !bytes.Equal(p, q) {
				t.Errorf("%d-byte payload changed in transit", len(p))
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%d-byte payload not delivered", len(p))
		}
	}
	for _, p := range [][]byte{append(text, 'a'), append(binary, 0xff, 0xff, 0xff, 0xff)} {
		err := b.Publish(ctx, topic, p)
		if !errors.Is(err, chat.ErrInvalid) {
			t.Errorf("Publish of %d bytes: error %v, want chat.ErrInvalid", len(p), err)
		}
	}
}

// TestForeignNotification: a NOTIFY on a broker's channel that no broker
// sent (not in its encoding) is ignored, and delivery goes on.
func TestForeignNotification(t *testing.T) {
	dsn := testDSN(t)
	b := open(t, dsn)
	ctx := context.Background()
	topic := "foreign-" + randomHex(4)
	got := make(chan []byte, 4)
	cancel, err := b.Subscribe(ctx, topic, func(p []byte) { got <- p })
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	adminExec(t, dsn, "SELECT pg_notify($1, 'not ours')", b.channel(topic))
	if err := b.Publish(ctx, topic, []byte("ours")); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-got:
		if string(p) != "ours" {
			t.Errorf("got %q, want %q", p, "ours")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("payload not delivered")
	}
	if n := b.malformed.Load(); n != 1 {
		t.Errorf("malformed = %d, want 1", n)
	}
}

// TestReconnectRelistens: after the listening session is terminated, the
// broker reconnects and LISTENs again to every channel that has a
// subscription, before Disrupt (which waits for the reconnect) returns.
func TestReconnectRelistens(t *testing.T) {
	dsn := testDSN(t)
	a, c := open(t, dsn), open(t, dsn)
	brokertest.ResubscribesAfterDisrupt(t, a, c)
}

func TestNewErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := New(ctx, "postgres://127.0.0.1:1/x?sslmode=disable&connect_timeout=2"); err == nil {
		t.Error("New with an unreachable server: no error")
	}
	if _, err := New(ctx, "postgres://127.0.0.1:1/x", WithPrefix("Bad-Prefix")); err == nil || !strings.Contains(err.Error(), "prefix") {
		t.Errorf("New with an invalid prefix: error %v", err)
	}
	if _, err := New(ctx, "::not a dsn::"); err == nil {
		t.Error("New with an invalid DSN: no error")
	}
}

// TestCloseStopsGoroutines: after use, a disruption and Close, no
// goroutine is left.
func TestCloseStopsGoroutines(t *testing.T) {
	addr := testDSN(t)
	brokertest.CloseLeavesNoGoroutines(t, func(t testing.TB) chat.Broker { return open(t, addr) })
}
