package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	ws "github.com/coder/websocket"

	"github.com/shopchat/chat/protocol"
)

// Relay is the baseline: a bare relay written directly on coder/websocket
// that speaks the subset of the protocol the load generator uses (session,
// hello -> welcome, replay, synced; message -> ack and forward to the
// conversation's peer). It decodes, stamps a sequence number, keeps the
// message in memory and forwards it, with nothing else: no store interface,
// no rate limits, no queues, no routing beyond round-robin. Each
// connection's reader runs in its HTTP handler goroutine, the plain way to
// use the library, and writes go straight to the peer under its lock.
type Relay struct {
	mu        sync.Mutex
	ops       []*relayConn // connected operators, in connection order
	next      int
	visitors  map[string]*relayConn // latest connection of each visitor
	operators map[string]*relayConn
	byVisitor map[string]*relayConv
	convs     map[string]*relayConv
}

type relayConn struct {
	c    *ws.Conn
	wmu  sync.Mutex
	id   string
	role string
}

type relayConv struct {
	mu      sync.Mutex
	id      string
	visitor string
	op      string
	msgs    []protocol.Message
}

// NewRelay returns the baseline relay handler, mounted at /chat/.
func NewRelay() *Relay {
	return &Relay{
		visitors: make(map[string]*relayConn), operators: make(map[string]*relayConn),
		byVisitor: make(map[string]*relayConv), convs: make(map[string]*relayConv),
	}
}

const relayCookie = "bench_visitor"

func (r *Relay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	switch req.URL.Path {
	case "/chat/session":
		id := randomID()
		http.SetCookie(w, &http.Cookie{Name: relayCookie, Value: id, Path: "/chat/", HttpOnly: true})
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"visitor":{"id":"` + id + `"}}`))
	case "/chat/ws":
		ck, err := req.Cookie(relayCookie)
		if err != nil {
			http.Error(w, "no visitor", http.StatusUnauthorized)
			return
		}
		r.serve(w, req, &relayConn{id: ck.Value, role: protocol.RoleVisitor})
	case "/chat/operator/ws":
		id := req.Header.Get(OperatorHeader)
		if id == "" {
			http.Error(w, "no operator", http.StatusUnauthorized)
			return
		}
		r.serve(w, req, &relayConn{id: id, role: protocol.RoleOperator})
	default:
		http.NotFound(w, req)
	}
}

func randomID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (r *Relay) serve(w http.ResponseWriter, req *http.Request, rc *relayConn) {
	c, err := ws.Accept(w, req, nil)
	if err != nil {
		return
	}
	c.SetReadLimit(32768)
	rc.c = c
	defer r.leave(rc)
	ctx := context.Background()
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			return
		}
		f, err := protocol.DecodeClient(data)
		if err != nil {
			continue
		}
		switch f.Type {
		case protocol.TypeHello:
			r.hello(rc, f)
		case protocol.TypeMessage:
			r.message(rc, f)
		case protocol.TypePage:
			// Nothing is tracked, as a bare relay would; acked as the
			// server acks it, so the idle-page scenario can run here too.
			if f.ID != "" {
				rc.send(&protocol.ServerFrame{Type: protocol.TypeAck, ID: f.ID})
			}
		}
	}
}

func (r *Relay) leave(rc *relayConn) {
	rc.c.CloseNow()
	r.mu.Lock()
	defer r.mu.Unlock()
	if rc.role == protocol.RoleVisitor {
		if r.visitors[rc.id] == rc {
			delete(r.visitors, rc.id)
		}
		return
	}
	if r.operators[rc.id] == rc {
		delete(r.operators, rc.id)
	}
	for i, o := range r.ops {
		if o == rc {
			r.ops = append(r.ops[:i], r.ops[i+1:]...)
			break
		}
	}
}

func (rc *relayConn) send(f *protocol.ServerFrame) {
	data, err := json.Marshal(f)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rc.wmu.Lock()
	defer rc.wmu.Unlock()
	if rc.c.Write(ctx, ws.MessageText, data) != nil {
		rc.c.CloseNow()
	}
}

func (r *Relay) hello(rc *relayConn, f protocol.ClientFrame) {
	welcome := &protocol.ServerFrame{V: protocol.Version, Type: protocol.TypeWelcome, Role: rc.role, Me: &protocol.Person{ID: rc.id, Name: rc.id}, Recovered: true}
	var mine []*relayConv
	r.mu.Lock()
	if rc.role == protocol.RoleVisitor {
		r.visitors[rc.id] = rc
		if cv := r.byVisitor[rc.id]; cv != nil {
			mine = append(mine, cv)
		}
	} else {
		r.operators[rc.id] = rc
		r.ops = append(r.ops, rc)
		for _, cv := range r.convs {
			if cv.op == rc.id {
				mine = append(mine, cv)
			}
		}
	}
	r.mu.Unlock()
	for _, cv := range mine {
		cv.mu.Lock()
		welcome.Conversations = append(welcome.Conversations, cv.state())
		cv.mu.Unlock()
	}
	rc.send(welcome)
	after := make(map[string]int64)
	for _, p := range f.Resume {
		after[p.Conv] = p.Seq
	}
	for _, cv := range mine {
		cv.mu.Lock()
		for i := range cv.msgs[min(int(after[cv.id]), len(cv.msgs)):] {
			m := &cv.msgs[int(after[cv.id])+i]
			rc.send(&protocol.ServerFrame{Type: protocol.TypeMessage, Conv: cv.id, Seq: m.Seq, Message: m})
		}
		cv.mu.Unlock()
	}
	rc.send(&protocol.ServerFrame{Type: protocol.TypeSynced, Recovered: true})
}

func (cv *relayConv) state() protocol.Conversation {
	return protocol.Conversation{ID: cv.id, Status: protocol.StatusAssigned, Epoch: 1, LastSeq: int64(len(cv.msgs)),
		Operator: &protocol.Person{ID: cv.op, Name: cv.op}, Visitor: &protocol.Person{ID: cv.visitor}}
}

func (r *Relay) message(rc *relayConn, f protocol.ClientFrame) {
	var cv *relayConv
	var assignedTo *relayConn
	r.mu.Lock()
	if rc.role == protocol.RoleVisitor {
		cv = r.byVisitor[rc.id]
		if cv == nil && len(r.ops) > 0 {
			op := r.ops[r.next%len(r.ops)]
			r.next++
			cv = &relayConv{id: randomID(), visitor: rc.id, op: op.id}
			r.byVisitor[rc.id] = cv
			r.convs[cv.id] = cv
			assignedTo = op
		}
	} else {
		cv = r.convs[f.Conv]
		if cv != nil && cv.op != rc.id {
			cv = nil
		}
	}
	r.mu.Unlock()
	if cv == nil {
		rc.send(&protocol.ServerFrame{Type: protocol.TypeError, ID: f.ID, Ref: f.Type, Code: protocol.CodeNotFound, Error: "no conversation"})
		return
	}
	cv.mu.Lock()
	defer cv.mu.Unlock()
	if assignedTo != nil {
		st := cv.state()
		assignedTo.send(&protocol.ServerFrame{Type: protocol.TypeState, Conv: cv.id, Conversation: &st})
	}
	kind := protocol.KindVisitor
	if rc.role == protocol.RoleOperator {
		kind = protocol.KindOperator
	}
	seq := int64(len(cv.msgs)) + 1
	cv.msgs = append(cv.msgs, protocol.Message{
		ID: cv.id + "-" + strconv.FormatInt(seq, 10), Conv: cv.id, Seq: seq, ClientID: f.ID, Kind: kind,
		Author: &protocol.Person{ID: rc.id, Name: rc.id}, Text: f.Text, Time: time.Now(),
	})
	m := &cv.msgs[len(cv.msgs)-1]
	rc.send(&protocol.ServerFrame{Type: protocol.TypeAck, ID: f.ID, Conv: cv.id, Seq: seq, Message: m})
	peerID, peers := cv.op, r.operators
	if rc.role == protocol.RoleOperator {
		peerID, peers = cv.visitor, r.visitors
	}
	r.mu.Lock()
	peer := peers[peerID]
	r.mu.Unlock()
	if peer != nil {
		peer.send(&protocol.ServerFrame{Type: protocol.TypeMessage, Conv: cv.id, Seq: seq, Message: m})
	}
}
