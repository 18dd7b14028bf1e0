package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopchat/chat/protocol"
)

// failAfter guards against hangs; it is never used to synchronise.
const failAfter = 10 * time.Second

// fakeServer speaks just enough of the protocol for the client: a session
// endpoint setting a cookie, and sockets whose hello is answered by a
// per-test script. Every accepted socket is also handed to the test.
type fakeServer struct {
	t        *testing.T
	srv      *httptest.Server
	sessions atomic.Int32
	conns    chan *fakeConn
	n        atomic.Int32 // sockets accepted

	mu      sync.Mutex
	onHello func(fc *fakeConn) // answers hello; default: welcome, synced
	refuse  int                // if set, sockets are refused with this HTTP status
	closeOn func(fc *fakeConn, f protocol.ClientFrame) bool
}

type fakeConn struct {
	t     *testing.T
	n     int // 1 for the first socket
	ws    *websocket.Conn
	hello protocol.ClientFrame
	in    chan protocol.ClientFrame // frames after hello; closed when the socket ends
}

func newFakeServer(t *testing.T) *fakeServer {
	fs := &fakeServer{t: t, conns: make(chan *fakeConn, 64)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /chat/session", func(w http.ResponseWriter, r *http.Request) {
		fs.sessions.Add(1)
		http.SetCookie(w, &http.Cookie{Name: "tok", Value: "visitor-1", Path: "/chat/", HttpOnly: true})
		fmt.Fprint(w, `{"visitor":{"id":"v1"}}`)
	})
	mux.HandleFunc("GET /chat/ws", func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie("tok"); err != nil || c.Value != "visitor-1" {
			http.Error(w, "no visitor token", http.StatusUnauthorized)
			return
		}
		fs.serveSocket(w, r)
	})
	mux.HandleFunc("GET /chat/operator/ws", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer op" {
			http.Error(w, "operator login required", http.StatusUnauthorized)
			return
		}
		fs.serveSocket(w, r)
	})
	fs.srv = httptest.NewServer(mux)
	t.Cleanup(fs.srv.Close)
	return fs
}

func (fs *fakeServer) URL() string { return fs.srv.URL }

func (fs *fakeServer) setHello(f func(fc *fakeConn)) {
	fs.mu.Lock()
	fs.onHello = f
	fs.mu.Unlock()
}

func (fs *fakeServer) setRefuse(status int) {
	fs.mu.Lock()
	fs.refuse = status
	fs.mu.Unlock()
}

func (fs *fakeServer) serveSocket(w http.ResponseWriter, r *http.Request) {
	fs.mu.Lock()
	refuse, onHello := fs.refuse, fs.onHello
	fs.mu.Unlock()
	if refuse != 0 {
		http.Error(w, "refused by test", refuse)
		return
	}
	ws, err := websocket.Accept(w, r, nil) // checks that Origin is our host (403)
	if err != nil {
		return
	}
	defer ws.CloseNow()
	ws.SetReadLimit(1 << 20)
	ctx := context.Background()
	_, data, err := ws.Read(ctx)
	if err != nil {
		return
	}
	fc := &fakeConn{t: fs.t, n: int(fs.n.Add(1)), ws: ws, in: make(chan protocol.ClientFrame, 256)}
	defer close(fc.in)
	if err := json.Unmarshal(data, &fc.hello); err != nil || fc.hello.Type != protocol.TypeHello {
		fs.t.Errorf("first frame is not hello: %s", data)
		return
	}
	fs.conns <- fc
	if onHello == nil {
		fc.send(welcome(protocol.RoleVisitor, "v1"))
		fc.send(protocol.ServerFrame{Type: protocol.TypeSynced, Recovered: true})
	} else {
		onHello(fc)
	}
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			return
		}
		var f protocol.ClientFrame
		if err := json.Unmarshal(data, &f); err != nil {
			fs.t.Errorf("bad client frame %s: %v", data, err)
			return
		}
		fc.in <- f
	}
}

func (fs *fakeServer) nextConn(t *testing.T) *fakeConn {
	t.Helper()
	select {
	case fc := <-fs.conns:
		return fc
	case <-time.After(failAfter):
		t.Fatal("no connection arrived")
		return nil
	}
}

func (fc *fakeConn) send(f protocol.ServerFrame) {
	data, err := json.Marshal(f)
	if err != nil {
		panic(err)
	}
	fc.ws.Write(context.Background(), websocket.MessageText, data) // errors: the socket is gone
}

func (fc *fakeConn) next(t *testing.T) protocol.ClientFrame {
	t.Helper()
	select {
	case f, ok := <-fc.in:
		if !ok {
			t.Fatalf("connection %d ended while a frame was expected", fc.n)
		}
		return f
	case <-time.After(failAfter):
		t.Fatalf("connection %d: no frame arrived", fc.n)
	}
	return protocol.ClientFrame{}
}

// ack answers a message frame with the stored message.
func (fc *fakeConn) ack(f protocol.ClientFrame, seq int64) protocol.Message {
	m := protocol.Message{ID: fmt.Sprintf("m-%s-%d", f.Conv, seq), Conv: f.Conv, Seq: seq, ClientID: f.ID, Kind: protocol.KindVisitor, Text: f.Text}
	fc.send(protocol.ServerFrame{Type: protocol.TypeAck, ID: f.ID, Conv: f.Conv, Seq: seq, Message: &m})
	return m
}

func welcome(role, me string, convs ...protocol.Conversation) protocol.ServerFrame {
	return protocol.ServerFrame{V: 1, Type: protocol.TypeWelcome, Role: role, Me: &protocol.Person{ID: me}, Conversations: convs, Recovered: true}
}

func conv(id string, epoch, last int64) protocol.Conversation {
	return protocol.Conversation{ID: id, Status: protocol.StatusAssigned, Epoch: epoch, LastSeq: last}
}

func msg(conv string, seq int64, text string) protocol.ServerFrame {
	m := protocol.Message{ID: fmt.Sprintf("m-%s-%d", conv, seq), Conv: conv, Seq: seq, Kind: protocol.KindVisitor, Text: text}
	return protocol.ServerFrame{Type: protocol.TypeMessage, Conv: conv, Seq: seq, Message: &m}
}

var synced = protocol.ServerFrame{Type: protocol.TypeSynced, Recovered: true}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), failAfter)
	t.Cleanup(cancel)
	return ctx
}

func dialVisitor(t *testing.T, fs *fakeServer, opts Options) *Conn {
	t.Helper()
	c, err := DialVisitor(testCtx(t), fs.URL(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func seqs(ms []protocol.Message) []int64 {
	out := make([]int64, len(ms))
	for i, m := range ms {
		out[i] = m.Seq
	}
	return out
}

func texts(ms []protocol.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Text
	}
	return out
}

func hasSeq(conv string, seq int64) func(*Conn) bool {
	return func(c *Conn) bool {
		ms := c.Messages(conv)
		return len(ms) > 0 && ms[len(ms)-1].Seq >= seq
	}
}

func TestDialVisitorWelcomeReplaySynced(t *testing.T) {
	fs := newFakeServer(t)
	fs.setHello(func(fc *fakeConn) {
		fc.send(welcome(protocol.RoleVisitor, "v1", conv("c1", 7, 5)))
		fc.send(msg("c1", 1, "one"))
		fc.send(msg("c1", 3, "three")) // 2 and 4 are notes: visitors see gaps
		fc.send(msg("c1", 5, "five"))
		fc.send(synced)
	})
	var mu sync.Mutex
	var types []string
	c := dialVisitor(t, fs, Options{OnFrame: func(f protocol.ServerFrame) {
		mu.Lock()
		types = append(types, f.Type)
		mu.Unlock()
	}})
	fc := fs.nextConn(t)

	assert.Equal(t, protocol.Version, fc.hello.V)
	assert.Empty(t, fc.hello.Resume, "first hello resumes nothing")
	assert.Empty(t, fc.hello.Status, "visitors send no presence")
	assert.EqualValues(t, 1, fs.sessions.Load(), "one session POST")
	assert.Equal(t, "v1", c.Me().ID)
	assert.Equal(t, []int64{1, 3, 5}, seqs(c.Messages("c1")))
	assert.Equal(t, []string{"one", "three", "five"}, texts(c.Messages("c1")))
	cv, ok := c.Conversation("c1")
	require.True(t, ok)
	assert.EqualValues(t, 7, cv.Epoch)
	assert.Len(t, c.Conversations(), 1)
	assert.True(t, c.Recovered())
	assert.Zero(t, c.Reconnects())
	mu.Lock()
	assert.Equal(t, []string{"welcome", "message", "message", "message", "synced"}, types, "OnFrame sees every frame in order")
	mu.Unlock()
	_, ok = c.Conversation("nope")
	assert.False(t, ok)
	assert.Nil(t, c.Messages("nope"))
}

func TestDedupeBySeq(t *testing.T) {
	fs := newFakeServer(t)
	fs.setHello(func(fc *fakeConn) {
		fc.send(welcome(protocol.RoleVisitor, "v1", conv("c1", 1, 2)))
		fc.send(msg("c1", 1, "one"))
		fc.send(msg("c1", 2, "two"))
		fc.send(synced)
	})
	c := dialVisitor(t, fs, Options{})
	fc := fs.nextConn(t)

	fc.send(msg("c1", 2, "two again"))
	fc.send(msg("c1", 1, "one again"))
	fc.send(msg("c1", 4, "four"))
	fc.send(msg("c1", 3, "three")) // late: inserted in order
	m := protocol.Message{ID: "x", Conv: "c1", Seq: 4, Kind: protocol.KindVisitor, Text: "four via ack"}
	fc.send(protocol.ServerFrame{Type: protocol.TypeAck, ID: "unknown", Conv: "c1", Seq: 4, Message: &m})
	fc.send(msg("c1", 5, "five"))

	require.NoError(t, c.Wait(testCtx(t), hasSeq("c1", 5)))
	ms := c.Messages("c1")
	assert.Equal(t, []int64{1, 2, 3, 4, 5}, seqs(ms))
	assert.Equal(t, []string{"one", "two", "three", "four", "five"}, texts(ms))
	cv, _ := c.Conversation("c1")
	assert.EqualValues(t, 5, cv.LastSeq, "LastSeq follows the messages")
}

func TestConcurrentSendsCorrelateAcks(t *testing.T) {
	fs := newFakeServer(t)
	c := dialVisitor(t, fs, Options{})
	fc := fs.nextConn(t)
	ctx := testCtx(t)

	const n = 20
	type result struct {
		text string
		m    protocol.Message
		err  error
	}
	results := make(chan result, n)
	for i := range n {
		go func() {
			text := fmt.Sprintf("msg %d", i)
			m, err := c.Send(ctx, "c1", text)
			results <- result{text, m, err}
		}()
	}
	frames := make([]protocol.ClientFrame, n)
	ids := make(map[string]bool)
	for i := range frames {
		frames[i] = fc.next(t)
		assert.Equal(t, protocol.TypeMessage, frames[i].Type)
		assert.Equal(t, "c1", frames[i].Conv)
		assert.NotEmpty(t, frames[i].ID)
		assert.False(t, ids[frames[i].ID], "client message ids are unique")
		ids[frames[i].ID] = true
	}
	// Ack in reverse order; seq follows arrival order.
	want := make(map[string]int64)
	for i := n - 1; i >= 0; i-- {
		fc.ack(frames[i], int64(i+1))
		want[frames[i].Text] = int64(i + 1)
	}
	for range n {
		r := <-results
		require.NoError(t, r.err)
		assert.Equal(t, r.text, r.m.Text, "each Send gets its own ack")
		assert.Equal(t, want[r.text], r.m.Seq)
	}
	assert.Len(t, c.Messages("c1"), n)
}

func TestResendPendingAfterDrop(t *testing.T) {
	fs := newFakeServer(t)
	fs.setHello(func(fc *fakeConn) {
		fc.send(welcome(protocol.RoleVisitor, "v1", conv("c1", 9, 1)))
		if fc.n == 1 {
			fc.send(msg("c1", 1, "hi"))
		}
		fc.send(synced)
	})
	c := dialVisitor(t, fs, Options{})
	fc1 := fs.nextConn(t)
	ctx := testCtx(t)

	type result struct {
		m   protocol.Message
		err error
	}
	var first []protocol.ClientFrame
	results := make([]chan result, 4)
	send := func(i int) {
		results[i] = make(chan result, 1)
		go func() {
			m, err := c.Send(ctx, "c1", fmt.Sprintf("pending %d", i))
			results[i] <- result{m, err}
		}()
	}
	for i := range 3 {
		send(i)
		first = append(first, fc1.next(t)) // in this order
	}
	fc1.ws.CloseNow() // drop without acking
	send(3)           // made around the drop: goes after the others

	fc2 := fs.nextConn(t)
	assert.Equal(t, []protocol.ResumePoint{{Conv: "c1", Seq: 1, Epoch: 9}}, fc2.hello.Resume)
	for i := range 4 {
		f := fc2.next(t)
		if i < len(first) {
			assert.Equal(t, first[i].ID, f.ID, "resent with the same client message id, in order")
		}
		assert.Equal(t, fmt.Sprintf("pending %d", i), f.Text)
		fc2.ack(f, int64(i+2))
	}
	for i := range results {
		r := <-results[i]
		require.NoError(t, r.err)
		assert.EqualValues(t, i+2, r.m.Seq)
	}
	assert.Equal(t, 1, c.Reconnects())
	assert.Equal(t, []int64{1, 2, 3, 4, 5}, seqs(c.Messages("c1")))

	// A send made while disconnected goes out after the next resume.
	fc2.ws.CloseNow()
	res := make(chan result, 1)
	go func() {
		m, err := c.Send(ctx, "c1", "later")
		res <- result{m, err}
	}()
	fc3 := fs.nextConn(t)
	f := fc3.next(t)
	assert.Equal(t, "later", f.Text)
	fc3.ack(f, 6)
	r := <-res
	require.NoError(t, r.err)
	assert.EqualValues(t, 6, r.m.Seq)
}

// cutter is an http.Transport whose network connections a test can cut.
type cutter struct {
	mu    sync.Mutex
	conns []net.Conn
	dials int
}

func (ct *cutter) transport() *http.Transport {
	var d net.Dialer
	return &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := d.DialContext(ctx, network, addr)
		if err == nil {
			ct.mu.Lock()
			ct.conns = append(ct.conns, nc)
			ct.dials++
			ct.mu.Unlock()
		}
		return nc, err
	}}
}

func (ct *cutter) cut() {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	for _, nc := range ct.conns {
		nc.Close()
	}
	ct.conns = nil
}

func TestNetworkCutThroughHTTPClient(t *testing.T) {
	fs := newFakeServer(t)
	var ct cutter
	tr := ct.transport()
	defer tr.CloseIdleConnections()
	// No Jar: the client adds one to a copy, keeping the Transport.
	c := dialVisitor(t, fs, Options{HTTPClient: &http.Client{Transport: tr}})
	fc1 := fs.nextConn(t)
	ctx := testCtx(t)

	done := make(chan error, 1)
	go func() {
		_, err := c.Send(ctx, "", "through a flaky network")
		done <- err
	}()
	f1 := fc1.next(t)
	ct.cut()

	fc2 := fs.nextConn(t)
	f2 := fc2.next(t)
	assert.Equal(t, f1.ID, f2.ID)
	f2.Conv = "c-new" // the server picks the visitor's conversation
	fc2.ack(f2, 1)
	require.NoError(t, <-done)
	assert.Equal(t, []string{"through a flaky network"}, texts(c.Messages("c-new")))
	assert.EqualValues(t, 1, fs.sessions.Load(), "the token cookie survived the reconnect")
	ct.mu.Lock()
	assert.GreaterOrEqual(t, ct.dials, 2, "dials went through Options.HTTPClient")
	ct.mu.Unlock()
}

func TestEpochChangeDropsMessages(t *testing.T) {
	fs := newFakeServer(t)
	fs.setHello(func(fc *fakeConn) {
		if fc.n == 1 {
			fc.send(welcome(protocol.RoleVisitor, "v1", conv("c1", 1, 3), conv("c2", 5, 2)))
			fc.send(msg("c1", 1, "old 1"))
			fc.send(msg("c1", 2, "old 2"))
			fc.send(msg("c1", 3, "old 3"))
			fc.send(msg("c2", 1, "c2 old 1"))
			fc.send(msg("c2", 2, "c2 old 2"))
			fc.send(synced)
			return
		}
		// The store lost history: c1 has a new epoch, and c2 is missing
		// from welcome but replayed from the start.
		w := welcome(protocol.RoleVisitor, "v1", conv("c1", 2, 2))
		w.Recovered = false
		fc.send(w)
		fc.send(msg("c1", 1, "new 1"))
		fc.send(msg("c1", 2, "new 2"))
		fc.send(msg("c2", 1, "c2 new 1"))
		fc.send(protocol.ServerFrame{Type: protocol.TypeSynced})
	})
	c := dialVisitor(t, fs, Options{})
	fc1 := fs.nextConn(t)
	require.Equal(t, []int64{1, 2, 3}, seqs(c.Messages("c1")))
	fc1.ws.CloseNow()

	fc2 := fs.nextConn(t)
	assert.ElementsMatch(t, []protocol.ResumePoint{{Conv: "c1", Seq: 3, Epoch: 1}, {Conv: "c2", Seq: 2, Epoch: 5}}, fc2.hello.Resume)
	require.NoError(t, c.Wait(testCtx(t), func(c *Conn) bool { return c.Reconnects() == 1 }))
	assert.Equal(t, []string{"new 1", "new 2"}, texts(c.Messages("c1")))
	assert.Equal(t, []string{"c2 new 1"}, texts(c.Messages("c2")))
	cv, _ := c.Conversation("c1")
	assert.EqualValues(t, 2, cv.Epoch)
	assert.False(t, c.Recovered())
}

func TestWait(t *testing.T) {
	fs := newFakeServer(t)
	c := dialVisitor(t, fs, Options{})
	fc := fs.nextConn(t)

	waited := make(chan error, 1)
	go func() {
		waited <- c.Wait(testCtx(t), func(c *Conn) bool {
			for _, m := range c.Messages("c1") {
				if m.Text == "the one" {
					return true
				}
			}
			return false
		})
	}()
	fc.send(msg("c1", 1, "not yet"))
	fc.send(msg("c1", 2, "the one"))
	require.NoError(t, <-waited)

	require.NoError(t, c.Wait(testCtx(t), func(*Conn) bool { return true }), "a condition that holds returns at once")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, c.Wait(ctx, func(*Conn) bool { return false }), context.Canceled)

	closed := make(chan error, 1)
	go func() { closed <- c.Wait(context.Background(), func(*Conn) bool { return false }) }()
	c.Close()
	assert.ErrorIs(t, <-closed, ErrClosed)
}

func TestErrorFramesAndRequests(t *testing.T) {
	fs := newFakeServer(t)
	c := dialVisitor(t, fs, Options{})
	fc := fs.nextConn(t)
	ctx := testCtx(t)

	errc := make(chan error, 1)
	go func() {
		_, err := c.Send(ctx, "c1", "too fast")
		errc <- err
	}()
	f := fc.next(t)
	fc.send(protocol.ServerFrame{Type: protocol.TypeError, ID: f.ID, Ref: f.Type, Code: protocol.CodeRateLimited, Error: "too many frames; slow down"})
	err := <-errc
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, protocol.CodeRateLimited, e.Code)
	assert.Equal(t, "too many frames; slow down", e.Message)

	// History is correlated by id; its messages join the state.
	type page struct {
		ms   []protocol.Message
		more bool
		err  error
	}
	pages := make(chan page, 1)
	go func() {
		ms, more, err := c.History(ctx, "c1", 3, 2)
		pages <- page{ms, more, err}
	}()
	f = fc.next(t)
	assert.Equal(t, protocol.TypeHistory, f.Type)
	assert.EqualValues(t, 3, f.Before)
	assert.Equal(t, 2, f.Limit)
	cv := conv("c1", 4, 9)
	fc.send(protocol.ServerFrame{Type: protocol.TypeHistory, ID: f.ID, Conv: "c1", Conversation: &cv,
		Messages: []protocol.Message{*msg("c1", 1, "a").Message, *msg("c1", 2, "b").Message}, More: true})
	p := <-pages
	require.NoError(t, p.err)
	assert.True(t, p.more)
	assert.Equal(t, []string{"a", "b"}, texts(p.ms))
	assert.Equal(t, []string{"a", "b"}, texts(c.Messages("c1")))

	// MarkRead waits for its ack; Typing does not wait at all.
	go func() { errc <- c.MarkRead(ctx, "c1", 2) }()
	f = fc.next(t)
	assert.Equal(t, protocol.TypeRead, f.Type)
	assert.EqualValues(t, 2, f.Seq)
	fc.send(protocol.ServerFrame{Type: protocol.TypeError, ID: f.ID, Ref: f.Type, Code: protocol.CodeInvalid, Error: "seq 2 is not a message of this conversation"})
	require.ErrorAs(t, <-errc, &e)
	assert.Equal(t, protocol.CodeInvalid, e.Code)

	require.NoError(t, c.Typing(ctx, "", true, "dra"))
	f = fc.next(t)
	assert.Equal(t, protocol.ClientFrame{Type: protocol.TypeTyping, Typing: true, Draft: "dra"}, f)

	// A send whose ctx ends stops waiting.
	short, cancel := context.WithCancel(ctx)
	go func() {
		_, err := c.Send(short, "c1", "abandoned")
		errc <- err
	}()
	fc.next(t)
	cancel()
	assert.ErrorIs(t, <-errc, context.Canceled)
}

func dialOperator(t *testing.T, fs *fakeServer, opts Options) *Conn {
	t.Helper()
	opts.Header = http.Header{"Authorization": {"Bearer op"}}
	c, err := DialOperator(testCtx(t), fs.URL(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestOperator(t *testing.T) {
	fs := newFakeServer(t)
	fs.setHello(func(fc *fakeConn) {
		w := welcome(protocol.RoleOperator, "alice", conv("c1", 1, 0))
		w.Operators = []protocol.Operator{{Person: protocol.Person{ID: "alice"}, Presence: fc.hello.Status, Capacity: 5}}
		fc.send(w)
		fc.send(protocol.ServerFrame{Type: protocol.TypeQueue, Conversations: []protocol.Conversation{{ID: "q1", Status: protocol.StatusQueued, Epoch: 1}}})
		fc.send(synced)
	})
	c := dialOperator(t, fs, Options{Status: protocol.PresenceAway})
	fc1 := fs.nextConn(t)
	ctx := testCtx(t)

	assert.Equal(t, protocol.PresenceAway, fc1.hello.Status)
	assert.Equal(t, "alice", c.Me().ID)
	require.Len(t, c.Queue(), 1)
	assert.Equal(t, "q1", c.Queue()[0].ID)
	require.Len(t, c.Operators(), 1)
	assert.Equal(t, protocol.PresenceAway, c.Operators()[0].Presence)

	errc := make(chan error, 1)
	go func() { errc <- c.Accept(ctx, "q1") }()
	f := fc1.next(t)
	assert.Equal(t, protocol.ClientFrame{Type: protocol.TypeAccept, ID: f.ID, Conv: "q1"}, f)
	fc1.send(protocol.ServerFrame{Type: protocol.TypeQueue})
	fc1.send(protocol.ServerFrame{Type: protocol.TypeAck, ID: f.ID, Conv: "q1"})
	require.NoError(t, <-errc)
	assert.Empty(t, c.Queue())

	go func() { errc <- c.Transfer(ctx, "c1", TransferTo{Operator: "bob", Comment: "VIP"}) }()
	f = fc1.next(t)
	assert.Equal(t, protocol.ClientFrame{Type: protocol.TypeTransfer, ID: f.ID, Conv: "c1", Operator: "bob", Comment: "VIP"}, f)
	fc1.send(protocol.ServerFrame{Type: protocol.TypeError, ID: f.ID, Ref: f.Type, Code: protocol.CodeConflict, Error: "Bob is offline"})
	var e *Error
	require.ErrorAs(t, <-errc, &e)
	assert.Equal(t, protocol.CodeConflict, e.Code)

	notes := make(chan protocol.Message, 1)
	go func() {
		m, err := c.Note(ctx, "c1", "internal")
		assert.NoError(t, err)
		notes <- m
	}()
	f = fc1.next(t)
	assert.Equal(t, protocol.TypeNote, f.Type)
	fc1.ack(f, 1)
	assert.Equal(t, "internal", (<-notes).Text)

	go func() { errc <- c.SetPresence(ctx, protocol.PresenceOnline) }()
	f = fc1.next(t)
	assert.Equal(t, protocol.ClientFrame{Type: protocol.TypePresence, ID: f.ID, Status: "online"}, f)
	fc1.send(protocol.ServerFrame{Type: protocol.TypeAck, ID: f.ID})
	require.NoError(t, <-errc)

	// A request that is not safe to repeat fails when its connection
	// drops, and is not resent.
	go func() { errc <- c.CloseConversation(ctx, "c1") }()
	f = fc1.next(t)
	assert.Equal(t, protocol.TypeClose, f.Type)
	fc1.ws.CloseNow()
	assert.ErrorIs(t, <-errc, ErrDisconnected)

	fc2 := fs.nextConn(t)
	assert.Equal(t, protocol.PresenceOnline, fc2.hello.Status, "reconnects keep the presence set")
	assert.Equal(t, []protocol.ResumePoint{{Conv: "c1", Seq: 1, Epoch: 1}}, fc2.hello.Resume)
	require.NoError(t, c.Wait(ctx, func(c *Conn) bool { return c.Reconnects() == 1 }))
	go func() { errc <- c.Reopen(ctx, "c1") }()
	f = fc2.next(t)
	assert.Equal(t, protocol.TypeReopen, f.Type, "the close was not resent")
	fc2.send(protocol.ServerFrame{Type: protocol.TypeAck, ID: f.ID})
	require.NoError(t, <-errc)
}

func TestUnauthorized(t *testing.T) {
	fs := newFakeServer(t)
	_, err := DialOperator(testCtx(t), fs.URL(), Options{})
	require.ErrorIs(t, err, ErrUnauthorized)
	assert.Contains(t, err.Error(), "401")

	_, err = DialVisitor(testCtx(t), fs.URL(), Options{Origin: "https://evil.example"})
	require.ErrorIs(t, err, ErrUnauthorized, "a refused Origin is a 403")
	assert.Contains(t, err.Error(), "403")

	fs.setRefuse(http.StatusServiceUnavailable)
	_, err = DialVisitor(testCtx(t), fs.URL(), Options{})
	require.Error(t, err)
	assert.NotErrorIs(t, err, ErrUnauthorized)
	assert.Contains(t, err.Error(), "503")
}

func TestHelloRefused(t *testing.T) {
	fs := newFakeServer(t)
	fs.setHello(func(fc *fakeConn) {
		fc.send(protocol.ServerFrame{Type: protocol.TypeError, Ref: "hello", Code: protocol.CodeVersion, Error: "this server speaks protocol version 2"})
		fc.ws.Close(websocket.StatusPolicyViolation, "unsupported protocol version")
	})
	_, err := DialVisitor(testCtx(t), fs.URL(), Options{})
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, protocol.CodeVersion, e.Code)
}

func TestTooLargeIsNotResent(t *testing.T) {
	fs := newFakeServer(t)
	c := dialVisitor(t, fs, Options{})
	fc1 := fs.nextConn(t)
	ctx := testCtx(t)

	errc := make(chan error, 1)
	go func() {
		_, err := c.Send(ctx, "c1", strings.Repeat("x", 5000))
		errc <- err
	}()
	fc1.next(t)
	fc1.ws.Close(websocket.StatusMessageTooBig, "frame too large")
	assert.ErrorIs(t, <-errc, ErrTooLarge)

	fc2 := fs.nextConn(t)
	go func() {
		_, err := c.Send(ctx, "c1", "small")
		errc <- err
	}()
	f := fc2.next(t)
	assert.Equal(t, "small", f.Text, "the large frame was not resent")
	fc2.ack(f, 1)
	require.NoError(t, <-errc)
}

func TestDialContextOnlyBoundsDial(t *testing.T) {
	fs := newFakeServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	c, err := DialVisitor(ctx, fs.URL(), Options{})
	require.NoError(t, err)
	defer c.Close()
	cancel()
	fc := fs.nextConn(t)

	errc := make(chan error, 1)
	go func() {
		_, err := c.Send(testCtx(t), "c1", "still connected")
		errc <- err
	}()
	f := fc.next(t) // fails if cancelling the dial context killed the socket
	fc.ack(f, 1)
	require.NoError(t, <-errc)
	assert.Zero(t, c.Reconnects())
}

func TestNoReconnect(t *testing.T) {
	fs := newFakeServer(t)
	c := dialVisitor(t, fs, Options{NoReconnect: true})
	fc := fs.nextConn(t)
	ctx := testCtx(t)

	errc := make(chan error, 1)
	go func() {
		_, err := c.Send(ctx, "c1", "into the void")
		errc <- err
	}()
	fc.next(t)
	fc.ws.Close(websocket.StatusTryAgainLater, "too slow")
	assert.ErrorIs(t, <-errc, ErrDisconnected)
	assert.ErrorIs(t, c.Wait(ctx, func(*Conn) bool { return false }), ErrDisconnected)
	_, err := c.Send(ctx, "c1", "after")
	assert.ErrorIs(t, err, ErrDisconnected)
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	base := runtime.NumGoroutine()
	func() {
		fs := newFakeServer(t)
		defer fs.srv.Close()
		c, err := DialVisitor(testCtx(t), fs.URL(), Options{}) // its own HTTP client
		require.NoError(t, err)
		fc1 := fs.nextConn(t)
		ctx := testCtx(t)

		errc := make(chan error, 1)
		go func() {
			_, err := c.Send(ctx, "c1", "hi")
			errc <- err
		}()
		fc1.next(t)
		fc1.ws.CloseNow()
		fc2 := fs.nextConn(t)
		fc2.ack(fc2.next(t), 1)
		require.NoError(t, <-errc)

		// Close while reconnecting against a server that refuses, with a
		// send pending.
		fs.setRefuse(http.StatusServiceUnavailable)
		go func() {
			_, err := c.Send(ctx, "c1", "never")
			errc <- err
		}()
		fc2.next(t)
		fc2.ws.CloseNow()
		require.NoError(t, c.Close())
		assert.ErrorIs(t, <-errc, ErrClosed)
		_, err = c.Send(ctx, "c1", "after close")
		assert.ErrorIs(t, err, ErrClosed)
		require.NoError(t, c.Close(), "Close is idempotent")
	}()

	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		runtime.Gosched()
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base {
		pprof.Lookup("goroutine").WriteTo(os.Stderr, 1)
		t.Fatalf("%d goroutines after Close, %d before", n, base)
	}
}

func TestBadBaseURL(t *testing.T) {
	for _, u := range []string{"ftp://x", "http://", "::"} {
		_, err := DialVisitor(context.Background(), u, Options{})
		assert.Error(t, err, u)
	}
	assert.True(t, errors.Is(fmt.Errorf("x: %w", ErrClosed), ErrClosed))
}

// A message the server answers "unavailable" (its store failed over) is
// sent again with the same client id until acked.
func TestSendRetriesUnavailable(t *testing.T) {
	fs := newFakeServer(t)
	c := dialVisitor(t, fs, Options{MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
	fc := fs.nextConn(t)
	ctx := testCtx(t)

	type result struct {
		m   protocol.Message
		err error
	}
	res := make(chan result, 1)
	go func() {
		m, err := c.Send(ctx, "c1", "during a failover")
		res <- result{m, err}
	}()
	first := fc.next(t)
	for range 3 {
		fc.send(protocol.ServerFrame{Type: protocol.TypeError, ID: first.ID, Ref: first.Type, Code: protocol.CodeUnavailable, Error: "temporarily unavailable"})
		again := fc.next(t)
		require.Equal(t, protocol.TypeMessage, again.Type)
		require.Equal(t, first.ID, again.ID, "the retry keeps the client message id")
		require.Equal(t, first.Text, again.Text)
	}
	fc.ack(first, 1)
	r := <-res
	require.NoError(t, r.err)
	assert.EqualValues(t, 1, r.m.Seq)

	// Requests not safe to repeat are not retried.
	errc := make(chan error, 1)
	go func() { errc <- c.CloseConversation(ctx, "c1") }()
	f := fc.next(t)
	fc.send(protocol.ServerFrame{Type: protocol.TypeError, ID: f.ID, Ref: f.Type, Code: protocol.CodeUnavailable, Error: "temporarily unavailable"})
	var e *Error
	require.ErrorAs(t, <-errc, &e)
	assert.Equal(t, protocol.CodeUnavailable, e.Code)
}
