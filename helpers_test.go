package chat_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	ws "github.com/coder/websocket"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/protocol"
	"github.com/shopchat/chat/store/memory"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef-test-secret")

// testOperators authenticates "X-Operator: id" against a fixed team; an
// operator's capacity and department come from the team table.
var testTeam = map[string]*chat.Operator{
	"alice": {ID: "alice", Name: "Alice", AvatarURL: "https://example.test/alice.png", Capacity: 2, Departments: []string{"sales"}},
	"bob":   {ID: "bob", Name: "Bob", AvatarURL: "https://example.test/bob.png", Capacity: 2, Departments: []string{"support"}},
	"carol": {ID: "carol", Name: "Carol", Capacity: 2},
}

func testOperators(r *http.Request) (*chat.Operator, error) {
	if op := testTeam[r.Header.Get("X-Operator")]; op != nil {
		return op, nil
	}
	return nil, chat.ErrUnauthorized
}

type testServer struct {
	*httptest.Server
	Chat  *chat.Server
	Store fullStore // Config.Store behind chat.Checked
}

// fullStore is a Store with every role, as chat.Checked returns it.
type fullStore interface {
	chat.Store
	chat.TrackingStore
	chat.OrderStore
	chat.CannedStore
	chat.TriggerStore
	chat.ClaimStore
	chat.Searcher
}

// newTestServer starts a chat server on loopback with a memory store; edit
// cfg to change defaults.
func newTestServer(t testing.TB, edit ...func(*chat.Config)) *testServer {
	t.Helper()
	cfg := chat.Config{
		Store:              memory.New(),
		Secret:             testSecret,
		Operators:          testOperators,
		SneakPeek:          true,
		MaxFramesPerSecond: 100000,
		// Every test client comes from 127.0.0.1: the per-address limits
		// are off here and tested on their own (hardening_test.go).
		MaxConnsPerIP:           -1,
		MaxFramesPerSecondPerIP: -1,
		NewVisitorsPerMinute:    -1,
	}
	for _, e := range edit {
		e(&cfg)
	}
	srv, err := chat.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/chat/", srv.Handler())
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
		hs.Close()
	})
	return &testServer{Server: hs, Chat: srv, Store: chat.Checked(cfg.Store).(fullStore)}
}

func (ts *testServer) wsURL(path string) string {
	return "ws" + strings.TrimPrefix(ts.URL, "http") + path
}

// visitorClient returns an HTTP client holding a fresh visitor's token.
func (ts *testServer) visitorClient(t testing.TB) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	resp, err := hc.Post(ts.URL+"/chat/session", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("session: %s", resp.Status)
	}
	return hc
}

// rawConn is a bare WebSocket for tests that send what no client would.
type rawConn struct {
	t  testing.TB
	ws *ws.Conn
}

func (ts *testServer) dialRaw(t testing.TB, hc *http.Client, path string, header http.Header) *rawConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := ws.Dial(ctx, ts.wsURL(path), &ws.DialOptions{HTTPClient: hc, HTTPHeader: header})
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (HTTP %d)", path, err, status)
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { c.CloseNow() })
	return &rawConn{t: t, ws: c}
}

func (c *rawConn) sendRaw(data string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.ws.Write(ctx, ws.MessageText, []byte(data)); err != nil {
		c.t.Fatal(err)
	}
}

func (c *rawConn) send(f protocol.ClientFrame) {
	c.t.Helper()
	data, _ := json.Marshal(f)
	c.sendRaw(string(data))
}

// next reads the next frame.
func (c *rawConn) next() protocol.ServerFrame {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, data, err := c.ws.Read(ctx)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	f, err := protocol.DecodeServer(data)
	if err != nil {
		c.t.Fatal(err)
	}
	return f
}

// until reads frames until one of type typ arrives, returning it.
func (c *rawConn) until(typ string) protocol.ServerFrame {
	c.t.Helper()
	for {
		if f := c.next(); f.Type == typ {
			return f
		}
	}
}

// hello opens the session and reads through synced.
func (c *rawConn) hello() protocol.ServerFrame {
	c.t.Helper()
	c.send(protocol.ClientFrame{V: protocol.Version, Type: protocol.TypeHello})
	w := c.until(protocol.TypeWelcome)
	c.until(protocol.TypeSynced)
	return w
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// countingMetrics counts Metrics.Add calls by name and signals when a
// counter reaches a target. The zero value is ready.
type countingMetrics struct {
	mu      sync.Mutex
	counts  map[string]float64
	waitFor string
	target  float64
	reached chan struct{}
}

func (m *countingMetrics) Add(name string, d float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.counts == nil {
		m.counts = map[string]float64{}
	}
	m.counts[name] += d
	if m.reached != nil && name == m.waitFor && m.counts[name] >= m.target {
		close(m.reached)
		m.reached = nil
	}
}

func (m *countingMetrics) Observe(string, float64) {}

func (m *countingMetrics) get(name string) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.counts[name]
}

// await returns a channel closed once counter name reaches n.
func (m *countingMetrics) await(name string, n float64) <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	ch := make(chan struct{})
	if m.counts[name] >= n {
		close(ch)
		return ch
	}
	m.waitFor, m.target, m.reached = name, n, ch
	return ch
}
