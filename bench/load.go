package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shopchat/chat/client"
	"github.com/shopchat/chat/protocol"
)

// Target is a running server under test.
type Target struct {
	URL string // http://127.0.0.1:port
	// OperatorURL, if set, is where operators connect (another node).
	OperatorURL string
	Stats       func(gc bool) (Stats, error) // the server process's own figures
	// Label prefixes the names of the profiles saved from this target
	// (RunScenario: scenario, server and run), so that runs do not
	// overwrite each other's.
	Label string
}

// HTTPStats reads a bench server's /debug/stats.
func HTTPStats(base string) func(bool) (Stats, error) {
	// Generous: a node under load may take long to collect garbage on request.
	hc := &http.Client{Timeout: 3 * time.Minute}
	return func(gc bool) (Stats, error) {
		u := base + "/debug/stats"
		if gc {
			u += "?gc=1"
		}
		resp, err := hc.Get(u)
		if err != nil {
			return Stats{}, err
		}
		defer resp.Body.Close()
		var s Stats
		return s, json.NewDecoder(resp.Body).Decode(&s)
	}
}

// checkLoopback refuses any target that is not on loopback.
func checkLoopback(base string) error {
	u, err := url.Parse(base)
	if err != nil {
		return err
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); (ip == nil || !ip.IsLoopback()) && host != "localhost" {
		return fmt.Errorf("load generator targets loopback only, not %q", host)
	}
	return nil
}

// gate is a dialer whose connections can all be cut at once, and whose
// new dials can be held: the storm scenario drops every visitor and lets
// them all back in at the same instant.
type gate struct {
	mu    sync.Mutex
	open  chan struct{} // closed while the gate is open
	conns map[net.Conn]struct{}
	d     net.Dialer
}

func newGate() *gate {
	g := &gate{open: make(chan struct{}), conns: make(map[net.Conn]struct{})}
	close(g.open)
	return g
}

func (g *gate) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	g.mu.Lock()
	open := g.open
	g.mu.Unlock()
	select {
	case <-open:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	c, err := g.d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	gc := &gatedConn{Conn: c, g: g}
	g.mu.Lock()
	g.conns[gc] = struct{}{}
	g.mu.Unlock()
	return gc, nil
}

// hold makes new dials wait; cut closes every connection.
func (g *gate) hold() {
	g.mu.Lock()
	g.open = make(chan struct{})
	g.mu.Unlock()
}

func (g *gate) release() {
	g.mu.Lock()
	close(g.open)
	g.mu.Unlock()
}

func (g *gate) cut() int {
	g.mu.Lock()
	conns := make([]net.Conn, 0, len(g.conns))
	for c := range g.conns {
		conns = append(conns, c)
	}
	g.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	return len(conns)
}

type gatedConn struct {
	net.Conn
	g    *gate
	once sync.Once
}

func (c *gatedConn) Close() error {
	c.once.Do(func() {
		c.g.mu.Lock()
		delete(c.g.conns, c)
		c.g.mu.Unlock()
	})
	return c.Conn.Close()
}

// env is one load generator run against one target.
type env struct {
	Target
	tr   *http.Transport
	gate *gate
	opTr *http.Transport
}

func newEnv(t Target) (*env, error) {
	if err := checkLoopback(t.URL); err != nil {
		return nil, err
	}
	g := newGate()
	tr := &http.Transport{DialContext: g.dial, MaxIdleConns: 1 << 16, MaxIdleConnsPerHost: 1 << 16, IdleConnTimeout: 30 * time.Second}
	opTr := &http.Transport{MaxIdleConnsPerHost: 64}
	return &env{Target: t, tr: tr, gate: g, opTr: opTr}, nil
}

func (e *env) close() {
	e.tr.CloseIdleConnections()
	e.opTr.CloseIdleConnections()
}

// session makes a visitor's HTTP client holding a fresh visitor token.
func (e *env) session(ctx context.Context) (*http.Client, error) {
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Transport: e.tr}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.URL+"/chat/session", nil)
	req.Header.Set("Origin", e.URL)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("session: HTTP %d", resp.StatusCode)
	}
	return hc, nil
}

func (e *env) visitor(ctx context.Context, hc *http.Client, onFrame func(protocol.ServerFrame)) (*client.Conn, error) {
	if hc == nil {
		jar, _ := cookiejar.New(nil)
		hc = &http.Client{Jar: jar, Transport: e.tr}
	}
	return client.DialVisitor(ctx, e.URL, client.Options{HTTPClient: hc, OnFrame: onFrame, MaxBackoff: time.Second})
}

func (e *env) operator(ctx context.Context, id string, onFrame func(protocol.ServerFrame)) (*client.Conn, error) {
	jar, _ := cookiejar.New(nil)
	url := e.URL
	if e.OperatorURL != "" {
		url = e.OperatorURL
	}
	return client.DialOperator(ctx, url, client.Options{
		HTTPClient: &http.Client{Jar: jar, Transport: e.opTr},
		Header:     http.Header{OperatorHeader: {id}}, OnFrame: onFrame,
	})
}

// parallel runs f(i) for i in [0, n) on up to conc goroutines and returns
// the first error.
func parallel(n, conc int, f func(i int) error) error {
	var next atomic.Int64
	var first atomic.Value
	var wg sync.WaitGroup
	for w := 0; w < min(conc, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || first.Load() != nil {
					return
				}
				if err := f(i); err != nil {
					first.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := first.Load().(error); err != nil {
		return err
	}
	return nil
}

func closeAll(cs []*client.Conn) {
	parallel(len(cs), 64, func(i int) error {
		if cs[i] != nil {
			cs[i].Close()
		}
		return nil
	})
}

// Latency summarises a distribution, in milliseconds.
type Latency struct {
	N                             int
	P50, P90, P99, P999, Max, Avg float64
}

func summarize(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	slices.Sort(ds)
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	q := func(p float64) float64 { return ms(ds[min(len(ds)-1, int(p*float64(len(ds))))]) }
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return Latency{N: len(ds), P50: q(.50), P90: q(.90), P99: q(.99), P999: q(.999), Max: ms(ds[len(ds)-1]), Avg: ms(sum / time.Duration(len(ds)))}
}

func (l Latency) String() string {
	return fmt.Sprintf("p50 %.2f p90 %.2f p99 %.2f p999 %.2f max %.2f ms", l.P50, l.P90, l.P99, l.P999, l.Max)
}

// recorder collects delivery latencies keyed by message number, noticing
// duplicates.
type recorder struct {
	mu   sync.Mutex
	lat  []time.Duration
	got  map[int64]int64 // message number -> when it was received (unix nanos)
	dups int
}

func newRecorder() *recorder { return &recorder{got: make(map[int64]int64)} }

// text is a load message: "B|k|scheduled-unix-nanos|" padded to size.
func text(k int64, sched time.Time, size int) string {
	s := "B|" + strconv.FormatInt(k, 10) + "|" + strconv.FormatInt(sched.UnixNano(), 10) + "|"
	if len(s) < size {
		s += strings.Repeat("x", size-len(s))
	}
	return s
}

func parseText(t string) (k, sched int64, ok bool) {
	if !strings.HasPrefix(t, "B|") {
		return 0, 0, false
	}
	parts := strings.SplitN(t[2:], "|", 3)
	if len(parts) < 3 {
		return 0, 0, false
	}
	k, err1 := strconv.ParseInt(parts[0], 10, 64)
	sched, err2 := strconv.ParseInt(parts[1], 10, 64)
	return k, sched, err1 == nil && err2 == nil
}

// frame records a received message frame written by the other side.
func (r *recorder) frame(f protocol.ServerFrame, fromKind string) {
	if f.Type != protocol.TypeMessage || f.Message == nil || f.Message.Kind != fromKind {
		return
	}
	k, sched, ok := parseText(f.Message.Text)
	if !ok {
		return
	}
	now := time.Now().UnixNano()
	r.mu.Lock()
	if _, dup := r.got[k]; dup {
		r.dups++
	} else {
		r.got[k] = now
		r.lat = append(r.lat, time.Duration(now-sched))
	}
	r.mu.Unlock()
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}
