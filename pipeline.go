package chat

import (
	"context"
	"errors"

	"github.com/shopchat/chat/protocol"
)

// Pipelined messages. The reader does not wait for a message's commit: it
// checks the frame, queues it and reads on. An appender goroutine, started
// when the first message is queued and gone when none is left (an idle
// session keeps one goroutine, the reader), takes everything queued, stores
// it with one store call (Server.appendBatch: one transaction with group
// commit) and acks and publishes in frame order. Any other frame waits
// until the queued messages are answered (settle), so its effect, and its
// answer, come after theirs, as when the reader handled each frame itself.

// maxInFlight bounds a session's messages read but not yet answered: at
// the bound the reader waits (backpressure, and the memory a client can
// make the session hold stays bounded).
const maxInFlight = 32

// pendingMessage is a message frame read but not yet answered.
type pendingMessage struct {
	f   protocol.ClientFrame
	m   *Message
	err error // refused before the append: answered in its turn
}

// queueMessage hands a message frame's message m (or the reason err it is
// refused) to the appender, waiting while maxInFlight are in flight. A
// refusal with nothing ahead of it is returned at once, for the reader to
// answer.
func (ss *session) queueMessage(ctx context.Context, p pendingMessage) error {
	ss.pmu.Lock()
	for ss.inFlight >= maxInFlight {
		ss.pcond.Wait()
	}
	if p.err != nil && !ss.appending {
		ss.pmu.Unlock()
		return p.err
	}
	ss.pending = append(ss.pending, p)
	ss.inFlight++
	start := !ss.appending
	ss.appending = true
	ss.pmu.Unlock()
	if start {
		go ss.appendPending(ctx)
	}
	return nil
}

// settle waits until every queued message is answered. The reader calls it
// before any other frame, and before the session ends.
func (ss *session) settle() {
	ss.pmu.Lock()
	for ss.appending {
		ss.pcond.Wait()
	}
	ss.pmu.Unlock()
}

// appendPending is the appender: it answers what is queued, batch by
// batch, until nothing is, then exits. While it runs it owns lastConv.
func (ss *session) appendPending(ctx context.Context) {
	for {
		ss.pmu.Lock()
		batch := ss.pending
		ss.pending = nil
		if len(batch) == 0 {
			ss.appending = false
			ss.pcond.Broadcast()
			ss.pmu.Unlock()
			return
		}
		ss.pmu.Unlock()
		ss.appendMessages(ctx, batch)
		ss.pmu.Lock()
		ss.inFlight -= len(batch)
		ss.pcond.Broadcast()
		ss.pmu.Unlock()
	}
}

// appendMessages stores and answers batch in order: each run of messages
// whose conversation is known goes to the store in one call; a visitor's
// message that needs more (finding or opening a conversation) takes the
// one-at-a-time path in its turn.
func (ss *session) appendMessages(ctx context.Context, batch []pendingMessage) {
	// Without the batch-append role a run is stored one message after
	// another anyway: runs of one ack each message as soon as it is stored.
	maxRun := len(batch)
	if _, ok := ss.s.store.batchAppender(); !ok {
		maxRun = 1
	}
	for len(batch) > 0 {
		n := 0
		for n < min(len(batch), maxRun) && ss.batchable(batch[n]) {
			n++
		}
		if n == 0 {
			ss.appendOne(ctx, batch[0])
			batch = batch[1:]
			continue
		}
		ss.appendRun(ctx, batch[:n])
		batch = batch[n:]
	}
}

// batchable reports whether p's conversation is known without asking the
// store: an operator names it; a visitor's goes to the conversation the
// session last wrote to (an append that finds it closed says so).
func (ss *session) batchable(p pendingMessage) bool {
	if p.err != nil {
		return false
	}
	if ss.op != nil {
		return true
	}
	return ss.lastConv != "" && (p.f.Conv == "" || p.f.Conv == ss.lastConv)
}

// appendRun stores run, all batchable, with one store call and answers
// each in order. A visitor's message refused because the conversation
// closed meanwhile goes the one-at-a-time way, which starts a new
// conversation, as it would have unbatched.
func (ss *session) appendRun(ctx context.Context, run []pendingMessage) {
	items := make([]AppendItem, len(run))
	for i, p := range run {
		items[i].Message = p.m
		if ss.op != nil {
			p.m.ConversationID, items[i].OperatorID = p.f.Conv, ss.op.ID
		} else {
			p.m.ConversationID = ss.lastConv
		}
	}
	results := ss.s.appendBatch(ctx, items)
	for i, p := range run {
		r := results[i]
		switch {
		case ss.op != nil && r.Err == nil:
			ss.operatorAppended(p.f, p.m, r.Appended)
		case r.Err == nil:
			ss.acked(p.m, r.Appended)
			ss.visitorAppended(ctx, r.Appended, false)
		case ss.op == nil && errors.Is(r.Err, ErrConflict):
			ss.appendOne(ctx, p)
		default:
			ss.fail(p.f, r.Err)
		}
	}
}

// appendOne stores and answers a visitor's message p by itself, or answers
// its refusal.
func (ss *session) appendOne(ctx context.Context, p pendingMessage) {
	err := p.err
	if err == nil {
		err = ss.appendVisitorMessage(ctx, p.m, p.f.Conv, p.f.Department)
	}
	if err != nil {
		ss.fail(p.f, err)
	}
}
