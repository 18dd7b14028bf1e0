package chat_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/protocol"
	"github.com/shopchat/chat/store/memory"
	"github.com/shopchat/chat/store/sqlite"
)

// pipelineStores are the stores the pipelining tests run on: with the
// batch-append role (memory, sqlite) and without it (the Server's
// one-at-a-time stand-in).
var pipelineStores = map[string]func(t *testing.T) chat.Store{
	"memory": func(*testing.T) chat.Store { return memory.New() },
	"sqlite": func(t *testing.T) chat.Store {
		s, err := sqlite.Open(filepath.Join(t.TempDir(), "chat.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	},
	"without batch-append": func(*testing.T) chat.Store { return newCoreOnly() },
}

// pipelinedPair is a visitor with an open conversation assigned to
// operator alice, both on raw sockets.
func pipelinedPair(t *testing.T, open func(t *testing.T) chat.Store) (ts *testServer, v, op *rawConn, conv string) {
	t.Helper()
	ts = newTestServer(t, func(c *chat.Config) { c.Store = open(t) })
	op = operatorRaw(t, ts, "alice")
	v = visitorRaw(t, ts, ts.visitorClient(t))
	first, _ := v.call(protocol.ClientFrame{Type: protocol.TypeMessage, ID: "open", Text: "hello"}, "")
	if first.Type != protocol.TypeAck {
		t.Fatalf("opening message: %+v", first)
	}
	conv = first.Conv
	for assigned, greeted := false, false; !assigned || !greeted; {
		f := op.next()
		assigned = assigned || f.Type == protocol.TypeState && f.Conv == conv && f.Conversation != nil && f.Conversation.Status == protocol.StatusAssigned
		greeted = greeted || f.Type == protocol.TypeMessage && f.Conv == conv && f.Message != nil && f.Message.Text == "hello"
	}
	return ts, v, op, conv
}

// received is what a raw socket got: answers (acks and errors to frames
// with ids) in arrival order, and message frames by kind.
type received struct {
	answers []protocol.ServerFrame
	byKind  map[string][]protocol.ServerFrame
}

// receive reads c until it has n answers and want messages of kind.
func receive(c *rawConn, n int, kind string, want int) received {
	c.t.Helper()
	r := received{byKind: map[string][]protocol.ServerFrame{}}
	for len(r.answers) < n || len(r.byKind[kind]) < want {
		f := c.next()
		switch {
		case (f.Type == protocol.TypeAck || f.Type == protocol.TypeError) && f.ID != "":
			r.answers = append(r.answers, f)
		case f.Type == protocol.TypeMessage && f.Message != nil:
			r.byKind[f.Message.Kind] = append(r.byKind[f.Message.Kind], f)
		}
	}
	return r
}

// checkAcks fails unless got are the acks of prefix0, prefix1, ... in conv,
// in that order, with rising seqs.
func checkAcks(t *testing.T, got []protocol.ServerFrame, prefix, conv string) {
	t.Helper()
	var last int64
	for i, f := range got {
		if f.Type != protocol.TypeAck || f.ID != fmt.Sprintf("%s%d", prefix, i) || f.Conv != conv || f.Seq <= last {
			t.Fatalf("answer %d: %+v; want the ack of %s%d in %s after seq %d", i, f, prefix, i, conv, last)
		}
		last = f.Seq
	}
}

// checkReceived fails unless got are the messages format(0), format(1),
// ... once each, in order, with rising seqs.
func checkReceived(t *testing.T, got []protocol.ServerFrame, format string) {
	t.Helper()
	var last int64
	for i, f := range got {
		if f.Message.Text != fmt.Sprintf(format, i) || f.Seq <= last {
			t.Fatalf("message %d received: seq %d %q after seq %d; want %q", i, f.Seq, f.Message.Text, last, fmt.Sprintf(format, i))
		}
		last = f.Seq
	}
}

// TestPipelinedMessagesAckInOrder: a visitor sends 200 messages without
// waiting for acks while the operator sends 100 the same way; each side
// gets its acks in frame order with rising sequence numbers, the other
// side receives every message once, in order, and the appenders are gone
// afterwards (an idle session keeps one goroutine).
func TestPipelinedMessagesAckInOrder(t *testing.T) {
	for name, open := range pipelineStores {
		t.Run(name, func(t *testing.T) {
			_, v, op, conv := pipelinedPair(t, open)
			baseline := settledGoroutines(t, -1)
			const fromVisitor, fromOperator = 200, 100
			done := make(chan received)
			go func() {
				for i := range fromOperator {
					op.send(protocol.ClientFrame{Type: protocol.TypeMessage, ID: fmt.Sprintf("o%d", i), Conv: conv, Text: fmt.Sprintf("answer %d", i)})
				}
				done <- receive(op, fromOperator, protocol.KindVisitor, fromVisitor)
			}()
			for i := range fromVisitor {
				v.send(protocol.ClientFrame{Type: protocol.TypeMessage, ID: fmt.Sprintf("v%d", i), Text: fmt.Sprintf("question %d", i)})
			}
			atVisitor := receive(v, fromVisitor, protocol.KindOperator, fromOperator)
			atOperator := <-done
			checkAcks(t, atVisitor.answers, "v", conv)
			checkAcks(t, atOperator.answers, "o", conv)
			checkReceived(t, atVisitor.byKind[protocol.KindOperator], "answer %d")
			checkReceived(t, atOperator.byKind[protocol.KindVisitor], "question %d")
			if got := settledGoroutines(t, baseline); got > baseline {
				t.Errorf("goroutines: %d after the burst, %d before: an appender outlived its messages", got, baseline)
			}
		})
	}
}

// storedTexts returns the texts of conv's messages of kind, in seq order.
func storedTexts(t *testing.T, ts *testServer, conv string, kind chat.MessageKind) []string {
	t.Helper()
	ms, err := ts.Store.Messages(testCtx(t), chat.MessageQuery{ConversationID: conv, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		if m.Kind == kind {
			out = append(out, m.Text)
		}
	}
	return out
}

func questions(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("question %d", i))
	}
	return out
}

// TestPipelinedCloseWaitsForMessages: a close in the middle of a visitor's
// pipelined messages takes effect after the messages before it are stored
// and acked; the messages after it start a new conversation, as they would
// one at a time. Nothing is lost or stored twice.
func TestPipelinedCloseWaitsForMessages(t *testing.T) {
	for name, open := range pipelineStores {
		t.Run(name, func(t *testing.T) {
			ts, v, _, conv := pipelinedPair(t, open)
			for i := range 100 {
				if i == 50 {
					v.send(protocol.ClientFrame{Type: protocol.TypeClose, ID: "bye", Conv: conv})
				}
				v.send(protocol.ClientFrame{Type: protocol.TypeMessage, ID: fmt.Sprintf("v%d", i), Text: fmt.Sprintf("question %d", i)})
			}
			got := receive(v, 101, "", 0).answers
			checkAcks(t, got[:50], "v", conv)
			if got[50].ID != "bye" || got[50].Type != protocol.TypeAck {
				t.Fatalf("answer 50: %+v; want the close's ack", got[50])
			}
			next := got[51].Conv
			if next == conv {
				t.Fatalf("a message after the close went into the closed conversation: %+v", got[51])
			}
			after := got[51:]
			for i := range after {
				after[i].ID = fmt.Sprintf("x%d", i)
			}
			checkAcks(t, after, "x", next)
			assertTexts(t, storedTexts(t, ts, conv, chat.VisitorText), append([]string{"hello"}, questions(0, 50)...), "the closed conversation")
			assertTexts(t, storedTexts(t, ts, next, chat.VisitorText), questions(50, 100), "the new conversation")
		})
	}
}

// TestPipelinedOperatorCloseMidStream: the operator closes the conversation
// while the visitor's pipelined messages arrive. Every message is acked;
// those acked into the old conversation are stored there, before the
// close, the rest in one new conversation, each once, in order.
func TestPipelinedOperatorCloseMidStream(t *testing.T) {
	for name, open := range pipelineStores {
		t.Run(name, func(t *testing.T) {
			ts, v, op, conv := pipelinedPair(t, open)
			closed := make(chan struct{})
			go func() {
				defer close(closed)
				for {
					f := op.next()
					if f.Type == protocol.TypeMessage && f.Message != nil && f.Message.Text == "question 30" {
						op.send(protocol.ClientFrame{Type: protocol.TypeClose, ID: "done", Conv: conv})
						if a := receive(op, 1, "", 0).answers[0]; a.ID != "done" || a.Type != protocol.TypeAck {
							t.Errorf("the operator's close: %+v", a)
						}
						return
					}
				}
			}()
			for i := range 100 {
				v.send(protocol.ClientFrame{Type: protocol.TypeMessage, ID: fmt.Sprintf("v%d", i), Text: fmt.Sprintf("question %d", i)})
			}
			got := receive(v, 100, "", 0).answers
			<-closed
			k := 0
			for k < len(got) && got[k].Conv == conv {
				k++
			}
			if k < 31 {
				t.Fatalf("only %d messages acked in the conversation, but the operator saw question 30 there", k)
			}
			checkAcks(t, got[:k], "v", conv)
			if k < len(got) {
				rest := got[k:]
				next := rest[0].Conv
				for i := range rest {
					if rest[i].ID != fmt.Sprintf("v%d", k+i) {
						t.Fatalf("answer %d: %+v, want the ack of v%d", k+i, rest[i], k+i)
					}
					rest[i].ID = fmt.Sprintf("x%d", i)
				}
				checkAcks(t, rest, "x", next)
				assertTexts(t, storedTexts(t, ts, next, chat.VisitorText), questions(k, 100), "the new conversation")
			}
			assertTexts(t, storedTexts(t, ts, conv, chat.VisitorText), append([]string{"hello"}, questions(0, k)...), "the closed conversation")
			c, err := ts.Store.Conversation(testCtx(t), conv)
			if err != nil || c.Status != chat.Closed {
				t.Fatalf("conversation after the operator's close: %+v %v", c, err)
			}
		})
	}
}

// TestPipelinedRetries: a client id repeated inside one pipelined burst,
// and again in a later one, gets the original's ack every time and is
// stored once.
func TestPipelinedRetries(t *testing.T) {
	for name, open := range pipelineStores {
		t.Run(name, func(t *testing.T) {
			ts, v, _, conv := pipelinedPair(t, open)
			ids := []string{"r0", "r1", "r0", "r2", "r1", "r0"}
			for _, id := range ids {
				v.send(protocol.ClientFrame{Type: protocol.TypeMessage, ID: id, Text: "text of " + id})
			}
			got := receive(v, len(ids), "", 0).answers
			v.send(protocol.ClientFrame{Type: protocol.TypeMessage, ID: "r1", Text: "text of r1"})
			got = append(got, receive(v, 1, "", 0).answers...)
			ids = append(ids, "r1")
			seqOf := map[string]int64{}
			for i, f := range got {
				if f.Type != protocol.TypeAck || f.ID != ids[i] || f.Conv != conv {
					t.Fatalf("answer %d: %+v, want the ack of %s", i, f, ids[i])
				}
				if first, ok := seqOf[f.ID]; ok && first != f.Seq {
					t.Errorf("retry of %s acked with seq %d, the original %d", f.ID, f.Seq, first)
				}
				seqOf[f.ID] = f.Seq
			}
			assertTexts(t, storedTexts(t, ts, conv, chat.VisitorText), []string{"hello", "text of r0", "text of r1", "text of r2"}, "stored")
		})
	}
}

func assertTexts(t *testing.T, got, want []string, what string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: %d messages %q; want %d %q", what, len(got), got, len(want), want)
	}
}

// batchCounting is memory.Store counting its AppendBatch calls and items.
type batchCounting struct {
	*memory.Store
	calls, items, largest atomic.Int64
}

func (s *batchCounting) AppendBatch(ctx context.Context, items []chat.AppendItem) []chat.AppendResult {
	s.calls.Add(1)
	s.items.Add(int64(len(items)))
	for n := int64(len(items)); ; {
		l := s.largest.Load()
		if n <= l || s.largest.CompareAndSwap(l, n) {
			break
		}
	}
	return s.Store.AppendBatch(ctx, items)
}

// TestPipelinedMessagesUseAppendBatch: a session's messages to a known
// conversation reach a store with the batch-append role through
// AppendBatch, each once.
func TestPipelinedMessagesUseAppendBatch(t *testing.T) {
	store := &batchCounting{Store: memory.New()}
	_, v, _, _ := pipelinedPair(t, func(*testing.T) chat.Store { return store })
	for i := range 100 {
		v.send(protocol.ClientFrame{Type: protocol.TypeMessage, ID: fmt.Sprintf("v%d", i), Text: fmt.Sprintf("question %d", i)})
	}
	receive(v, 100, "", 0)
	if store.items.Load() != 100 {
		t.Fatalf("AppendBatch stored %d items in %d calls; want the 100 messages", store.items.Load(), store.calls.Load())
	}
	t.Logf("100 pipelined messages: %d AppendBatch calls, the largest of %d", store.calls.Load(), store.largest.Load())
}
