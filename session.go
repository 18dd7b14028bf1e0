package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shopchat/chat/protocol"
	"github.com/shopchat/chat/transport"
)

// A session is one client connection. Its reader runs in the HTTP handler's
// goroutine; its writer is started only while it has frames to send, so an
// idle session costs one goroutine.
type session struct {
	s       *Server
	conn    transport.Conn
	role    string   // protocol.RoleVisitor or protocol.RoleOperator
	visitor *Visitor // for visitors; the reader may replace it (profile)
	// visitorID is the visitor's id, fixed at connect: the writer reads it
	// instead of visitor, which the reader may replace meanwhile.
	visitorID string
	op        *Operator
	// lastConv: visitors: the conversation last written to. The appender
	// owns it while it runs, the reader otherwise (pipeline.go).
	lastConv   string
	lang       string // visitors: the widget's language, from hello (reader only)
	ip         string
	topics     []string
	tokenGen   int64         // visitors: the token generation the socket was opened with
	authReq    *http.Request // operators: the upgrade request, re-checked with Config.Operators
	saidHello  atomic.Bool   // a hello frame arrived
	helloTimer *time.Timer   // closes a session that says no hello (watchHello)

	mu      sync.Mutex
	queue   []event
	queued  int  // bytes the queue (and the writer's batch in hand) holds
	writing bool // a writer goroutine is draining queue
	// cancelWrite cancels the write in flight, if any: shutdown calls it,
	// so a write blocked on a client that does not read ends at once and
	// the queue the writer holds is freed then, not at WriteTimeout.
	cancelWrite context.CancelFunc
	held        bool // hold the writer until hello's subscriptions are in place
	closed      bool

	// Pipelined messages (pipeline.go).
	pmu       sync.Mutex
	pcond     sync.Cond // on pmu: signalled as the appender answers
	pending   []pendingMessage
	inFlight  int  // queued or being appended, not yet answered
	appending bool // an appender goroutine is running

	// Owned by the writer.
	delivered map[string]int64 // conversation id -> last seq delivered
}

// serveSocket opens a session on t for the principal ss names.
func (s *Server) serveSocket(w http.ResponseWriter, r *http.Request, t Transport, ss *session) {
	ss.s = s
	ss.ip = s.clientIP(r)
	if ss.visitor != nil {
		ss.visitorID = ss.visitor.ID
	}
	ss.delivered = make(map[string]int64)
	ss.pcond.L = &ss.pmu
	if status, msg := s.admit(ss); status != 0 {
		s.add("connections_refused_total", 1)
		http.Error(w, msg, status)
		return
	}
	conn, err := t.Accept(w, r.WithContext(transport.WithOwner(r.Context(), ss.owner())))
	if err != nil {
		s.release(ss)
		s.log.Debug("socket refused", "err", err)
		return
	}
	ss.mu.Lock()
	ss.conn = conn
	closing := ss.closed // Close ran between admit and Accept
	ss.mu.Unlock()
	if closing {
		conn.Close(transport.StatusGoingAway, "server shutting down")
		s.release(ss)
		return
	}
	s.add("connections_total", 1)
	s.watchHello(ss)
	if _, ok := t.(transport.Poster); ok {
		// Its connection writes to this request's response: the handler
		// stays, as the session's reader.
		defer s.release(ss)
		ss.run(s.ctx)
		return
	}
	// The reader moves to a goroutine of its own and the handler returns:
	// net/http then drops the request, its headers and the connection's
	// serving state, which the handler's frames would otherwise keep alive
	// for the connection's whole life, and the reader starts on a small
	// fresh stack instead of the deep one net/http grew. Still one
	// goroutine per idle connection: the handler's has exited.
	go func() {
		defer s.release(ss)
		ss.run(s.ctx)
	}()
}

// owner names the session's principal for the transport (transport.Owner).
func (ss *session) owner() string {
	if ss.op != nil {
		return "o:" + ss.op.ID
	}
	return "v:" + ss.visitorID
}

// admit counts a new session against the connection caps.
func (s *Server) admit(ss *session) (int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return http.StatusServiceUnavailable, "chat server shutting down"
	}
	if ss.visitor != nil && s.perVisitor[ss.visitor.ID] >= s.cfg.MaxVisitorConns {
		return http.StatusTooManyRequests, "too many connections for this visitor"
	}
	if ss.op == nil && s.cfg.MaxConnsPerIP > 0 && s.perIP[ss.ip] >= s.cfg.MaxConnsPerIP {
		return http.StatusTooManyRequests, "too many connections from this address"
	}
	s.sessions[ss] = struct{}{}
	s.perIP[ss.ip]++
	if ss.visitor != nil {
		if s.perVisitor[ss.visitor.ID]++; s.perVisitor[ss.visitor.ID] == 1 {
			defer s.emit(Event{Kind: EventVisitorOnline, VisitorID: ss.visitor.ID})
		}
	}
	s.wg.Add(1)
	return 0, ""
}

func (s *Server) release(ss *session) {
	s.mu.Lock()
	delete(s.sessions, ss)
	decrement(s.perIP, ss.ip)
	if ss.visitor != nil {
		if decrement(s.perVisitor, ss.visitor.ID); s.perVisitor[ss.visitor.ID] == 0 {
			defer s.emit(Event{Kind: EventVisitorOffline, VisitorID: ss.visitor.ID})
		}
	}
	s.mu.Unlock()
	s.wg.Done()
}

func decrement(m map[string]int, k string) {
	if m[k] <= 1 {
		delete(m, k)
	} else {
		m[k]--
	}
}

// run reads frames until the connection ends.
func (ss *session) run(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer ss.end()
	defer ss.settle() // no appender outlives the session
	var st readState
	// Reads wait without ctx: a cancellable context would register a
	// callback with it on every Read and keep it registered while the
	// connection idles. Nothing is lost: whatever ends the session (Server
	// Close, a slow consumer, a failed write) closes the connection, which
	// ends the Read.
	readCtx := context.WithoutCancel(ctx)
	for {
		data, err := ss.conn.Read(readCtx)
		if err != nil {
			return
		}
		more := false
		if st.chatting {
			more = ss.frame(ctx, data, &st)
		} else {
			// Until the session sends its first message, frames are handled
			// on a helper goroutine that exits afterwards. hello, page and
			// the rest are deep work (store queries, JSON, the visit's
			// tracking): done here they would grow the reader's stack to
			// 8 KB or more, and the runtime never shrinks it back below
			// 8 KB, since a reader parked in Read (coder/websocket, bufio,
			// poll) already uses more than a quarter of that. A visitor who
			// browses without chatting, the common case, so keeps a 4 KB
			// stack (bench: idle-page); one who chats skips the hand-over.
			done := make(chan bool, 1)
			go func() { done <- ss.frame(ctx, data, &st) }()
			more = <-done
		}
		if !more {
			return
		}
	}
}

// readState is what the reader knows of its session between frames.
type readState struct {
	hello    bool // hello succeeded
	chatting bool // a message frame came after hello: frames are handled inline
}

// frame handles one frame read by run and reports whether to read on. It
// is kept out of run so that the stack of a reader parked in Read holds
// only run's small frame: the runtime shrinks an idle connection's stack
// only while little of it is in use.
//
//go:noinline
func (ss *session) frame(ctx context.Context, data []byte, st *readState) bool {
	defer ss.s.add("frames_total", 1) // handled: what it queued is queued
	// Every frame counts, valid or not, against its sender and its address.
	allowed := ss.s.allowFrame(ss)
	f, err := protocol.DecodeClient(data)
	if !allowed || err != nil || f.Type != protocol.TypeMessage {
		// Handled and answered after the messages still in flight, as if
		// each had been handled before the next frame was read.
		ss.settle()
	}
	if !allowed {
		ss.s.add("frames_rate_limited_total", 1)
		ss.sendError(f.ID, f.Type, protocol.CodeRateLimited, "too many frames; slow down")
		return true
	}
	if err != nil {
		var fe *protocol.FrameError
		errors.As(err, &fe)
		ss.sendError(f.ID, fe.Type, fe.Code, fe.Error())
		return true
	}
	if f.Type == protocol.TypeHello {
		if ss.saidHello.CompareAndSwap(false, true) {
			ss.helloTimer.Stop() // it said hello in time, however long hello takes
			ss.helloTimer = nil  // the reader's alone: frees it for an idle session
		}
		if f.V != protocol.Version {
			ss.sendError(f.ID, f.Type, protocol.CodeVersion, fmt.Sprintf("this server speaks protocol version %d", protocol.Version))
			ss.closeAfterFlush(ctx, transport.StatusPolicy, "unsupported protocol version")
			return false
		}
		if st.hello {
			ss.sendError(f.ID, f.Type, protocol.CodeConflict, "hello was already sent")
			return true
		}
		if err := ss.hello(ctx, f); err != nil {
			ss.fail(f, err)
			ss.closeAfterFlush(ctx, transport.StatusTryAgainLater, "could not start session")
			return false
		}
		st.hello = true
		return true
	}
	if !st.hello {
		ss.sendError(f.ID, f.Type, protocol.CodeInvalid, "send hello first")
		return true
	}
	if f.Type == protocol.TypeMessage {
		st.chatting = true
	}
	if err := ss.handle(ctx, f); err != nil {
		ss.fail(f, err)
	}
	return true
}

// closeAfterFlush has the writer send what is queued, then close with
// code; the reader waits for that, ignoring further frames.
func (ss *session) closeAfterFlush(ctx context.Context, code transport.StatusCode, reason string) {
	ss.push(event{kind: evClose, code: code, reason: reason})
	for {
		if _, err := ss.conn.Read(ctx); err != nil {
			return
		}
	}
}

// end tears the session down after its reader stopped.
func (ss *session) end() {
	if ss.helloTimer != nil {
		ss.helloTimer.Stop()
	}
	ss.mu.Lock()
	if !ss.closed {
		ss.dropQueue()
	}
	ss.closed = true
	ss.mu.Unlock()
	ss.s.hub.unsubscribe(ss, ss.topics...)
	ss.conn.Close(transport.StatusNormal, "")
	if ss.op != nil {
		ss.s.operatorLeft(ss.op)
	} else if ss.saidHello.Load() {
		ss.s.widgetClosed(ss.visitorID)
	}
}

// shutdown closes the connection from outside the reader (server close,
// slow consumer); the reader then sees the error and calls end.
func (ss *session) shutdown(code transport.StatusCode, reason string) {
	ss.mu.Lock()
	if ss.closed {
		ss.mu.Unlock()
		return
	}
	ss.dropQueue()
	ss.closed = true
	conn := ss.conn
	cancelWrite := ss.cancelWrite
	ss.mu.Unlock()
	if cancelWrite != nil && code == transport.StatusTryAgainLater {
		// A client that fell behind is not reading: its close frame would
		// wait behind the write. Others (a logout) get their close status.
		cancelWrite()
	}
	if conn != nil { // nil: not accepted yet; serveSocket sees closed
		go conn.Close(code, reason)
	}
}

// push queues ev for the writer without blocking. A session whose queue
// would pass Config.SendQueue frames or Config.MaxQueuedBytes bytes is
// disconnected (it resumes); so is the slowest session when all together
// would pass Config.QueuedBytesBudget.
func (ss *session) push(evs ...event) {
	size := 0
	for i := range evs {
		if err := evs[i].encode(); err != nil {
			ss.s.logErr("encode frame", err)
			return
		}
		size += evs[i].size()
	}
	ss.mu.Lock()
	if ss.closed {
		ss.mu.Unlock()
		return
	}
	if len(ss.queue)+len(evs) > ss.s.cfg.SendQueue || ss.queued+size > ss.s.cfg.MaxQueuedBytes {
		ss.mu.Unlock()
		ss.s.add("slow_consumer_disconnects_total", 1)
		ss.shutdown(transport.StatusTryAgainLater, "too slow: reconnect and resume")
		return
	}
	ss.queue = append(ss.queue, evs...)
	ss.queued += size
	start := !ss.writing && !ss.held
	if start {
		ss.writing = true
	}
	ss.mu.Unlock()
	if ss.s.queuedBytes.Add(int64(size)) > ss.s.cfg.QueuedBytesBudget {
		ss.s.shedSlowest()
	}
	if start {
		go ss.drain()
	}
}

// written releases the bytes of an event the writer is done with.
func (ss *session) written(size int) {
	ss.mu.Lock()
	if !ss.closed {
		ss.queued -= size
		ss.s.queuedBytes.Add(-int64(size))
	}
	ss.mu.Unlock()
}

// dropQueue forgets what is queued and releases its bytes. Called with
// ss.mu held, as the session closes.
func (ss *session) dropQueue() {
	ss.queue = nil
	ss.s.queuedBytes.Add(-int64(ss.queued))
	ss.queued = 0
}

// release lets a held writer start.
func (ss *session) unhold() {
	ss.mu.Lock()
	ss.held = false
	start := !ss.writing && len(ss.queue) > 0 && !ss.closed
	if start {
		ss.writing = true
	}
	ss.mu.Unlock()
	if start {
		go ss.drain()
	}
}

// drain writes queued events until the queue is empty, then exits.
func (ss *session) drain() {
	var batch []event
	for {
		ss.mu.Lock()
		if len(ss.queue) == 0 || ss.closed {
			ss.writing = false
			ss.mu.Unlock()
			return
		}
		batch, ss.queue = ss.queue, batch[:0]
		ss.mu.Unlock()
		for i := range batch {
			err := ss.process(&batch[i])
			ss.written(batch[i].size())
			if err != nil {
				if !errors.Is(err, transport.ErrClosed) {
					ss.s.logErr("session write", err)
				}
				ss.shutdown(transport.StatusTryAgainLater, "delivery failed: reconnect and resume")
				ss.mu.Lock()
				ss.writing = false
				ss.mu.Unlock()
				return
			}
			batch[i] = event{}
		}
	}
}

// process turns one event into frames. It runs in the writer only, which
// owns delivered: each message reaches the client once, in sequence order,
// with any gap filled from the store.
func (ss *session) process(ev *event) error {
	switch ev.kind {
	case evFrame:
		return ss.writeData(ev.data)
	case evMessage:
		return ss.deliver(ev.msg)
	case evAck:
		if err := ss.catchUp(ev.msg.ConversationID, ev.msg.Seq); err != nil {
			return err
		}
		if ev.msg.Seq > ss.delivered[ev.msg.ConversationID] {
			ss.delivered[ev.msg.ConversationID] = ev.msg.Seq
		}
		return ss.write(ev.frame)
	case evState:
		c := ev.conv
		if err := ss.write(&protocol.ServerFrame{Type: protocol.TypeState, Conv: c.ID, Conversation: ss.s.conversationFrame(c, ss.role)}); err != nil {
			return err
		}
		if ss.owns(c) {
			return ss.catchUp(c.ID, c.LastSeq+1)
		}
		return nil
	case evClose:
		ss.shutdown(ev.code, ev.reason)
		return nil
	case evHeal:
		return ss.heal()
	case evReplay:
		if ev.after < ss.delivered[ev.convID] {
			ev.after = ss.delivered[ev.convID]
		}
		ss.delivered[ev.convID] = ev.after
		return ss.catchUp(ev.convID, 0)
	}
	return nil
}

// owns reports whether the session's principal takes part in c.
func (ss *session) owns(c *Conversation) bool {
	if ss.visitorID != "" {
		return c.VisitorID == ss.visitorID
	}
	return c.OperatorID == ss.op.ID && c.Status == Assigned
}

// deliver sends m unless already delivered, filling any gap before it.
func (ss *session) deliver(m *Message) error {
	if m.Seq <= ss.delivered[m.ConversationID] {
		return nil
	}
	if err := ss.catchUp(m.ConversationID, m.Seq); err != nil {
		return err
	}
	return ss.writeMessage(m)
}

// catchUp delivers stored messages after the last delivered one and before
// seq (all of them if seq is 0).
func (ss *session) catchUp(convID string, before int64) error {
	const page = 100 // what one replay holds at a time: at most ~0.5 MB of text
	for {
		last := ss.delivered[convID]
		if before != 0 && last >= before-1 {
			return nil
		}
		ms, err := ss.s.messages(ss.s.ctx, MessageQuery{ConversationID: convID, AfterSeq: last, Limit: page})
		if err != nil {
			return fmt.Errorf("catch up %s: %w", convID, err)
		}
		for _, m := range ms {
			if before != 0 && m.Seq >= before {
				return nil
			}
			if err := ss.writeMessage(m); err != nil {
				return err
			}
		}
		if len(ms) < page {
			return nil
		}
	}
}

func (ss *session) writeMessage(m *Message) error {
	ss.delivered[m.ConversationID] = m.Seq
	if ss.s.cfg.Metrics != nil && !m.CreatedAt.IsZero() {
		// Stored to written to this client, replays included (they are
		// late deliveries too).
		ss.s.cfg.Metrics.Observe("message_delivery_seconds", max(0, ss.s.now().Sub(m.CreatedAt).Seconds()))
	}
	if ss.visitorID != "" && !m.Kind.VisibleToVisitor() {
		return nil
	}
	return ss.write(&protocol.ServerFrame{Type: protocol.TypeMessage, Conv: m.ConversationID, Seq: m.Seq, Message: ss.s.messageFrame(m)})
}

func (ss *session) write(f *protocol.ServerFrame) error {
	data, err := json.Marshal(f)
	if err != nil {
		return err
	}
	return ss.writeData(data)
}

func (ss *session) writeData(data []byte) error {
	ctx, cancel := context.WithTimeout(ss.s.ctx, ss.s.cfg.WriteTimeout)
	defer cancel()
	ss.mu.Lock()
	if ss.closed {
		ss.mu.Unlock()
		return transport.ErrClosed
	}
	ss.cancelWrite = cancel
	ss.mu.Unlock()
	err := ss.conn.Write(ctx, data)
	ss.mu.Lock()
	ss.cancelWrite = nil
	ss.mu.Unlock()
	return err
}

// sendError queues an error frame answering the frame with id and type.
func (ss *session) sendError(id, ref, code, msg string) {
	ss.push(event{kind: evFrame, frame: &protocol.ServerFrame{Type: protocol.TypeError, ID: id, Ref: ref, Code: code, Error: msg}})
}

// fail answers f with the error frame for err.
func (ss *session) fail(f protocol.ClientFrame, err error) {
	code, msg := errorCode(err)
	if code == protocol.CodeUnavailable || code == protocol.CodeInternal {
		ss.s.logErr("frame failed", err, "type", f.Type)
	}
	ss.sendError(f.ID, f.Type, code, msg)
}

// errorCode maps an error to a stable code and a message safe to show: the
// text of our own sentinel errors, never a store's internals.
func errorCode(err error) (string, string) {
	for _, m := range []struct {
		err  error
		code string
	}{
		{ErrInvalid, protocol.CodeInvalid},
		{ErrNotFound, protocol.CodeNotFound},
		{ErrForbidden, protocol.CodeForbidden},
		{ErrConflict, protocol.CodeConflict},
		{ErrCapacity, protocol.CodeCapacity},
		{ErrRateLimited, protocol.CodeRateLimited},
	} {
		if errors.Is(err, m.err) {
			var pe *publicError
			if errors.As(err, &pe) {
				return m.code, pe.msg
			}
			return m.code, m.err.Error()
		}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return protocol.CodeUnavailable, "try again"
	}
	return protocol.CodeUnavailable, "the chat service could not complete that; try again"
}

// publicError carries a message meant for the client along with a sentinel.
type publicError struct {
	sentinel error
	msg      string
}

func (e *publicError) Error() string { return e.msg }
func (e *publicError) Unwrap() error { return e.sentinel }

func userErr(sentinel error, format string, args ...any) error {
	return &publicError{sentinel: sentinel, msg: fmt.Sprintf(format, args...)}
}
