package chat_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/client"
	"github.com/shopchat/chat/protocol"
)

// cutter hands out HTTP clients whose connections it can cut, as a flaky
// network would.
type cutter struct {
	mu    sync.Mutex
	conns map[string][]net.Conn
}

func (c *cutter) client(name string) *http.Client {
	jar, _ := cookiejar.New(nil)
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err == nil {
				c.mu.Lock()
				c.conns[name] = append(c.conns[name], conn)
				c.mu.Unlock()
			}
			return conn, err
		},
	}
	return &http.Client{Jar: jar, Transport: tr}
}

// cut closes every connection of name, abruptly.
func (c *cutter) cut(name string) {
	c.mu.Lock()
	conns := c.conns[name]
	c.conns[name] = nil
	c.mu.Unlock()
	for _, conn := range conns {
		conn.Close()
	}
}

// TestNoLossUnderRandomCuts runs over both transports: WebSocket and the
// widget's fallback, Server-Sent Events down and POST up.
func TestNoLossUnderRandomCuts(t *testing.T) {
	for _, sse := range []bool{false, true} {
		name := map[bool]string{false: "websocket", true: "sse"}[sse]
		t.Run(name, func(t *testing.T) { testNoLossUnderRandomCuts(t, sse) })
	}
}

func testNoLossUnderRandomCuts(t *testing.T, sse bool) {
	const perSide, cuts = 500, 50
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	cutAt := map[int]string{}
	for len(cutAt) < cuts {
		cutAt[rng.IntN(2*perSide)] = []string{"visitor", "operator", "both"}[rng.IntN(3)]
	}

	ts := newTestServer(t)
	ctx := testCtx(t)
	net := &cutter{conns: map[string][]net.Conn{}}
	v, err := client.DialVisitor(ctx, ts.URL, client.Options{HTTPClient: net.client("visitor"), SSE: sse})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	op, err := client.DialOperator(ctx, ts.URL, client.Options{HTTPClient: net.client("operator"), SSE: sse, Header: http.Header{"X-Operator": {"alice"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	first, err := v.Send(ctx, "", "v-0")
	if err != nil {
		t.Fatal(err)
	}
	conv := first.Conv
	waitText(t, op, conv, "v-0")

	// Both sides send concurrently; the counter decides where cuts fall.
	var mu sync.Mutex
	sent := 1
	tick := func() {
		mu.Lock()
		n := sent
		sent++
		mu.Unlock()
		switch cutAt[n] {
		case "visitor":
			net.cut("visitor")
		case "operator":
			net.cut("operator")
		case "both":
			net.cut("visitor")
			net.cut("operator")
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 1; i < perSide; i++ {
			tick()
			if _, err := v.Send(ctx, "", fmt.Sprintf("v-%d", i)); err != nil {
				errs <- fmt.Errorf("visitor send %d: %w", i, err)
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < perSide; i++ {
			tick()
			if _, err := op.Send(ctx, conv, fmt.Sprintf("o-%d", i)); err != nil {
				errs <- fmt.Errorf("operator send %d: %w", i, err)
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	// The store holds every message exactly once, numbered without gaps.
	stored, err := ts.Store.Messages(ctx, chat.MessageQuery{ConversationID: conv})
	if err != nil {
		t.Fatal(err)
	}
	texts := map[string]int{}
	for i, m := range stored {
		if m.Seq != int64(i+1) {
			t.Fatalf("stored seq %d at index %d: gap or disorder", m.Seq, i)
		}
		if m.Kind != chat.SystemEvent {
			texts[m.Text]++
		}
	}
	want := map[string]bool{}
	for i := 0; i < perSide; i++ {
		want[fmt.Sprintf("v-%d", i)] = true
		want[fmt.Sprintf("o-%d", i)] = true
	}
	for text := range want {
		if texts[text] != 1 {
			t.Errorf("store holds %q %d times", text, texts[text])
		}
	}
	if len(texts) != len(want) {
		t.Errorf("store holds %d distinct texts, want %d", len(texts), len(want))
	}
	last := stored[len(stored)-1].Seq

	// Each side ends up holding every message exactly once, in order.
	for name, c := range map[string]*client.Conn{"visitor": v, "operator": op} {
		err := c.Wait(ctx, func(c *client.Conn) bool {
			ms := c.Messages(conv)
			return len(ms) > 0 && ms[len(ms)-1].Seq == last
		})
		if err != nil {
			t.Fatalf("%s never caught up to seq %d: %v", name, last, err)
		}
		ms := c.Messages(conv)
		if len(ms) != len(stored) {
			t.Errorf("%s holds %d messages, store has %d", name, len(ms), len(stored))
		}
		for i, m := range ms {
			if i < len(stored) && (m.Seq != stored[i].Seq || m.Text != stored[i].Text) {
				t.Fatalf("%s message %d is seq %d %q, store has seq %d %q", name, i, m.Seq, m.Text, stored[i].Seq, stored[i].Text)
			}
		}
		t.Logf("%s reconnected %d times", name, c.Reconnects())
	}
	if v.Reconnects() == 0 || op.Reconnects() == 0 {
		t.Errorf("cuts did not force reconnects: visitor %d, operator %d", v.Reconnects(), op.Reconnects())
	}
}

func TestConnectDisconnectLeavesNoGoroutines(t *testing.T) {
	for _, sse := range []bool{false, true} {
		name := map[bool]string{false: "websocket", true: "sse"}[sse]
		t.Run(name, func(t *testing.T) { testConnectDisconnectLeavesNoGoroutines(t, sse) })
	}
}

func testConnectDisconnectLeavesNoGoroutines(t *testing.T, sse bool) {
	ts := newTestServer(t)
	ctx := testCtx(t)
	hc := ts.visitorClient(t)
	cycle := func() {
		c, err := client.DialVisitor(ctx, ts.URL, client.Options{HTTPClient: hc, SSE: sse})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	cycle()
	hc.CloseIdleConnections()
	baseline := settledGoroutines(t, -1)
	for range 1000 {
		cycle()
	}
	hc.CloseIdleConnections()
	if got := settledGoroutines(t, baseline); got > baseline {
		t.Fatalf("goroutines: %d after 1,000 connects and disconnects, baseline %d", got, baseline)
	}
	// The server saw them all go.
	op := ts.operator(t, "alice", nil)
	if _, err := op.Send(ctx, "nope", "x"); !isCode(err, protocol.CodeNotFound) {
		t.Fatalf("server unusable after the cycles: %v", err)
	}
}

// settledGoroutines waits until the goroutine count reaches want (or, with
// want < 0, stops changing) and returns it. Connection teardown finishes
// asynchronously, so the count is read until it settles, for at most 10s.
func settledGoroutines(t testing.TB, want int) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	prev := -1
	for {
		runtime.GC()
		n := runtime.NumGoroutine()
		if (want >= 0 && n <= want) || (want < 0 && n == prev) || time.Now().After(deadline) {
			return n
		}
		prev = n
		time.Sleep(50 * time.Millisecond)
	}
}
