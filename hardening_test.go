package chat_test

// Properties a hostile visitor must not break, tested from outside with raw
// frames and raw HTTP (not the client package, so these tests share none of
// its assumptions). docs/security.md lists the limits they hold.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	ws "github.com/coder/websocket"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/middleware"
	"github.com/shopchat/chat/protocol"
)

// closeStatus reads until the connection ends and returns its close status
// (-1 if it ended without one).
func (c *rawConn) closeStatus() ws.StatusCode {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		if _, _, err := c.ws.Read(ctx); err != nil {
			if ctx.Err() != nil {
				c.t.Fatal("the server did not close the connection")
			}
			return ws.CloseStatus(err)
		}
	}
}

// fillConversation stores n messages of size bytes through c, reads their
// acks and returns their conversation.
func fillConversation(t *testing.T, c *rawConn, n, size int) string {
	t.Helper()
	text := strings.Repeat("x", size)
	conv := ""
	for i := 0; i < n; i += 20 { // a reader that keeps up
		for j := i; j < min(i+20, n); j++ {
			c.send(protocol.ClientFrame{Type: protocol.TypeMessage, ID: fmt.Sprintf("fill-%d", j), Text: text})
		}
		for j := i; j < min(i+20, n); j++ {
			conv = c.until(protocol.TypeAck).Conv
		}
	}
	return conv
}

// 1. A connection that never reads is disconnected once its queue passes
// MaxQueuedBytes, long before it passes SendQueue frames.
func TestQueueBoundedInBytes(t *testing.T) {
	ts := newTestServer(t, func(c *chat.Config) { c.MaxQueuedBytes = 1 << 20 })
	c := visitorRaw(t, ts, ts.visitorClient(t))
	conv := fillConversation(t, c, 200, 3900)
	// 100 history pages of ~800 KB each, unread: 80 MB if nothing bounds it,
	// and only 100 frames, far under SendQueue's 1024.
	for i := range 100 {
		c.send(protocol.ClientFrame{Type: protocol.TypeHistory, ID: fmt.Sprintf("h%d", i), Conv: conv, Limit: 200})
	}
	replies := 0
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		_, data, err := c.ws.Read(ctx)
		if err != nil {
			// A close frame queued behind unread data may never arrive: the
			// server may cut the connection instead. If one came, it says
			// why.
			if got := ws.CloseStatus(err); got != -1 && got != ws.StatusTryAgainLater {
				t.Fatalf("connection ended with status %d, want 1013 after a full queue", got)
			}
			if ctx.Err() != nil {
				t.Fatal("the server never disconnected a reader that did not read")
			}
			break
		}
		if f, _ := protocol.DecodeServer(data); f.Type == protocol.TypeHistory {
			replies++
		}
	}
	if replies >= 100 {
		t.Fatalf("all %d history replies were queued for a reader that did not read", replies)
	}
}

// 1. N sockets doing the worst they can (asking for the largest history
// pages and never reading) leave the heap within QueuedBytesBudget plus a
// margin, however much they ask for.
func TestMemoryBoundedUnderSlowReaders(t *testing.T) {
	const (
		budget  = 16 << 20
		sockets = 16 // one visitor's MaxVisitorConns
		asks    = 30 // history pages of ~600 KB each per socket: ~290 MB unbounded
	)
	m := &countingMetrics{}
	ts := newTestServer(t, func(c *chat.Config) {
		// Each socket may hold more than the budget: the budget must hold.
		c.QueuedBytesBudget, c.MaxQueuedBytes, c.Metrics = budget, 64<<20, m
	})
	hc := ts.visitorClient(t)
	first := visitorRaw(t, ts, hc)
	conv := fillConversation(t, first, 200, 3000)
	conns := []*rawConn{first}
	for len(conns) < sockets {
		conns = append(conns, visitorRaw(t, ts, hc))
	}

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	for i, c := range conns {
		for j := range asks {
			c.send(protocol.ClientFrame{Type: protocol.TypeHistory, ID: fmt.Sprintf("h%d-%d", i, j), Conv: conv, Limit: 200})
		}
	}
	// Wait until the server is done with them: every request handled, or
	// its socket dropped (which drops the requests it had not read).
	for deadline, last, still := time.Now().Add(2*time.Minute), -1.0, 0; still < 20; {
		if time.Now().After(deadline) {
			t.Fatal("the server did not settle")
		}
		n := m.get("frames_total")
		if n == last {
			still++
		} else {
			last, still = n, 0
		}
		time.Sleep(50 * time.Millisecond) // a condition poll: a quiet second
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	const bound = budget + 16<<20 // the budget, plus writers' frames in hand and slack
	t.Logf("heap growth with %d unread sockets asking for %d pages each: %.1f MiB (bound %d MiB); disconnected by the budget: %v, by their own queue: %v",
		sockets, asks, float64(growth)/(1<<20), bound>>20, m.get("queue_budget_disconnects_total"), m.get("slow_consumer_disconnects_total"))
	if growth > bound {
		t.Fatalf("heap grew %d MiB, more than the %d MiB bound", growth>>20, bound>>20)
	}
	if m.get("queue_budget_disconnects_total") == 0 {
		t.Fatal("no slow reader was disconnected by the budget")
	}
}

// 3. A visitor cannot make the shop mail a stranger over and over.
func TestVisitorMailRateLimited(t *testing.T) {
	rec := newRecorder()
	m := &countingMetrics{}
	ts := newTestServer(t, func(c *chat.Config) { c.Notifier, c.Metrics = rec, m })
	v := visitorRaw(t, ts, ts.visitorClient(t))
	v.send(protocol.ClientFrame{Type: protocol.TypeMessage, ID: "m1", Text: "Win a prize: https://phish.example"})
	conv := v.until(protocol.TypeAck).Conv
	limited := 0
	for i := range 10 {
		reply, _ := v.call(protocol.ClientFrame{Type: protocol.TypeTranscript, ID: fmt.Sprintf("t%d", i), Conv: conv, Email: "victim@example.com"}, "")
		if reply.Type == protocol.TypeError {
			if reply.Code != protocol.CodeRateLimited {
				t.Fatalf("transcript %d: %+v", i, reply)
			}
			limited++
		}
	}
	if limited < 7 {
		t.Fatalf("%d of 10 transcripts to a typed address were refused, want at least 7", limited)
	}
	if got := m.get("visitor_mail_rate_limited_total"); got != float64(limited) {
		t.Fatalf("visitor_mail_rate_limited_total = %v, want %d", got, limited)
	}
}

// 4. Per-address connection caps are on by default; the address comes from
// X-Forwarded-For only through a trusted proxy.
func TestConnectionCapPerAddressByDefault(t *testing.T) {
	defaults := func(c *chat.Config) { c.MaxConnsPerIP, c.NewVisitorsPerMinute = 0, -1 }
	ts := newTestServer(t, defaults)
	var status int
	for i := 0; i < 100 && status != http.StatusTooManyRequests; i++ {
		_, status = ts.dialToken(t, ts.URL, "/chat/ws", newToken(t, ts))
	}
	if status != http.StatusTooManyRequests {
		t.Fatal("100 visitor sockets from one address were all accepted")
	}
	// A forged X-Forwarded-For from an untrusted peer changes nothing.
	c, resp, err := ws.Dial(testCtx(t), ts.wsURL("/chat/ws"), &ws.DialOptions{HTTPHeader: http.Header{
		"Cookie": {"shopchat_visitor=" + newToken(t, ts)}, "X-Forwarded-For": {"203.0.113.9"}}})
	if err == nil {
		c.CloseNow()
		t.Fatal("a forged X-Forwarded-For escaped the cap")
	} else if resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("forged X-Forwarded-For: %v", err)
	}

	// Behind a trusted proxy each client has its own cap.
	proxied := newTestServer(t, defaults, func(c *chat.Config) { c.TrustedProxies = []string{"127.0.0.0/8"} })
	for i := range 100 {
		c, resp, err := ws.Dial(testCtx(t), proxied.wsURL("/chat/ws"), &ws.DialOptions{HTTPHeader: http.Header{
			"Cookie": {"shopchat_visitor=" + newToken(t, proxied)}, "X-Forwarded-For": {fmt.Sprintf("198.51.100.%d", i)}}})
		if err != nil {
			t.Fatalf("client %d behind the trusted proxy: %v (%v)", i, err, resp)
		}
		defer c.CloseNow()
	}
}

// 4. Starting visitors is rate-limited per address, and a bare page view
// stores no visitor.
func TestVisitorCreationLimited(t *testing.T) {
	ts := newTestServer(t, func(c *chat.Config) { c.NewVisitorsPerMinute = 0 })
	refused := 0
	for range 40 {
		if resp := rawPost(t, ts.URL+"/chat/session", "", nil); resp.StatusCode == http.StatusTooManyRequests {
			refused++
		}
	}
	if refused == 0 {
		t.Fatal("40 new visitors from one address in a burst were all started")
	}

	open := newTestServer(t)
	track := middleware.Track(open.Chat)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := httptest.NewRequest(http.MethodGet, "/product/1", nil)
	r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64)")
	w := httptest.NewRecorder()
	track.ServeHTTP(w, r)
	c := visitorCookie(w.Result())
	if c == nil {
		t.Fatal("Track set no visitor cookie")
	}
	id, _, _ := strings.Cut(c.Value, ".")
	if _, err := open.Store.Visitor(testCtx(t), id); !errors.Is(err, chat.ErrNotFound) {
		t.Fatalf("a bare page view stored a visitor: %v", err)
	}
	// The widget's first connection stores it, with the page it came from.
	conn, _ := open.dialToken(t, open.URL, "/chat/ws", c.Value)
	conn.hello()
	if _, err := open.Store.Visitor(testCtx(t), id); err != nil {
		t.Fatalf("the widget's visitor after connecting: %v", err)
	}
}

// 5. Every frame counts, valid or not, against the visitor across all
// their sockets.
func TestFrameLimitAcrossSocketsCountsBadFrames(t *testing.T) {
	ts := newTestServer(t, func(c *chat.Config) { c.MaxFramesPerSecond = 1 }) // bursts of 2
	hc := ts.visitorClient(t)
	a := ts.dialRaw(t, hc, "/chat/ws", nil)
	b := ts.dialRaw(t, hc, "/chat/ws", nil)
	a.send(protocol.ClientFrame{V: protocol.Version, Type: protocol.TypeHello})
	b.send(protocol.ClientFrame{V: protocol.Version, Type: protocol.TypeHello})
	a.until(protocol.TypeSynced)
	b.until(protocol.TypeSynced)
	// The two hellos spent the visitor's burst: malformed frames on either
	// socket are refused by the limit, not parsed.
	limited := 0
	for range 6 { // 1 token a second: a slow machine refills a few, not all
		a.sendRaw(`{"type":`)
		if f := a.until(protocol.TypeError); f.Code == protocol.CodeRateLimited {
			limited++
		}
	}
	if limited == 0 {
		t.Fatal("malformed frames on a second socket were not counted against the visitor")
	}
}

// 5. Binary frames close the socket with 1003; a socket that never says
// hello is closed.
func TestBinaryFramesAndSilentSockets(t *testing.T) {
	ts := newTestServer(t)
	hc := ts.visitorClient(t)
	c := ts.dialRaw(t, hc, "/chat/ws", nil)
	c.hello()
	if err := c.ws.Write(testCtx(t), ws.MessageBinary, []byte(`{"type":"typing"}`)); err != nil {
		t.Fatal(err)
	}
	if got := c.closeStatus(); got != ws.StatusUnsupportedData {
		t.Fatalf("binary frame: closed with %d, want 1003", got)
	}
	hasty := newTestServer(t, func(c *chat.Config) { c.HelloTimeout = 100 * time.Millisecond })
	silent := hasty.dialRaw(t, hasty.visitorClient(t), "/chat/ws", nil)
	if got := silent.closeStatus(); got != ws.StatusPolicyViolation {
		t.Fatalf("socket without hello: closed with %d, want 1008", got)
	}
}

// 6. Text that is not UTF-8 is refused with "invalid", and nothing is stored.
func TestInvalidUTF8Refused(t *testing.T) {
	ts := newTestServer(t)
	c := visitorRaw(t, ts, ts.visitorClient(t))
	c.sendRaw("{\"type\":\"message\",\"id\":\"bad\",\"text\":\"caf\xe9 \xff\xfe\"}")
	if f := c.until(protocol.TypeError); f.Code != protocol.CodeInvalid || f.Ref != protocol.TypeMessage {
		t.Fatalf("invalid UTF-8: %+v, want code invalid for the message", f)
	}
	c.send(protocol.ClientFrame{Type: protocol.TypeMessage, ID: "good", Text: "café"})
	if ack := c.until(protocol.TypeAck); ack.Seq != 1 || ack.Message.Text != "café" {
		t.Fatalf("the next valid message: %+v, want seq 1 (nothing stored before it)", ack)
	}
}

// 1. One history request makes the server hold at most one bounded page;
// paging with before still reaches every message.
func TestHistoryPageBoundedInBytes(t *testing.T) {
	ts := newTestServer(t)
	c := visitorRaw(t, ts, ts.visitorClient(t))
	conv := fillConversation(t, c, 200, 3900)
	seen, before, pages := 0, int64(0), 0
	for {
		reply, _ := c.call(protocol.ClientFrame{Type: protocol.TypeHistory, ID: fmt.Sprintf("p%d", pages), Conv: conv, Limit: 200, Before: before}, "")
		pages++
		text := 0
		for _, m := range reply.Messages {
			text += len(m.Text)
		}
		if text > 256<<10 {
			t.Fatalf("a history page carried %d bytes of text", text)
		}
		seen += len(reply.Messages)
		if !reply.More {
			break
		}
		before = reply.Messages[0].Seq
	}
	if seen != 200 || pages < 3 {
		t.Fatalf("paged through %d messages in %d pages, want 200 in several", seen, pages)
	}
}

// 6. A page URL that is not UTF-8 is not recorded, and a referrer that is
// not is dropped: Track stores no mangled text.
func TestTrackRefusesInvalidUTF8(t *testing.T) {
	ts := newTestServer(t)
	track := middleware.Track(ts.Chat)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	get := func(uri, referrer, cookie string) *http.Response {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RequestURI = uri
		r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64)")
		r.Header.Set("Referer", referrer)
		if cookie != "" {
			r.Header.Set("Cookie", "shopchat_visitor="+cookie)
		}
		w := httptest.NewRecorder()
		track.ServeHTTP(w, r)
		return w.Result()
	}
	token := visitorCookie(get("/first", "", "")).Value
	get("/caf\xe9", "", token)
	get("/ok", "https://ex.example/\xff", token)
	conn, _ := ts.dialToken(t, ts.URL, "/chat/ws", token) // stores the visitor and its views
	conn.hello()
	chat.FlushPageViews(ts.Chat)
	id, _, _ := strings.Cut(token, ".")
	views, err := ts.Store.PageViews(testCtx(t), id, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range views {
		got = append(got, v.URL+" <"+v.Referrer+">")
	}
	if strings.Join(got, ", ") != "/ok <>, /first <>" {
		t.Fatalf("stored views: %q, want /ok without its referrer and /first", got)
	}
}
