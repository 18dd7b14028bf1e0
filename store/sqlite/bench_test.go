package sqlite_test

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopchat/chat"
)

// BenchmarkAppendParallel measures acknowledged appends (each returns
// after its commit) from many concurrent senders, each writing to its own
// conversation, as visitors and operators do. It reports msgs/s and the
// p50/p99 latency of one AppendMessage.
//
//	go test -run '^$' -bench AppendParallel -benchtime 20000x ./store/sqlite/
//	go test -run '^$' -bench AppendParallel -benchtime 20000x -cpu 2 ./store/sqlite/
func BenchmarkAppendParallel(b *testing.B) {
	s := openTemp(b)
	const convs = 512
	for i := range convs {
		v := &chat.Visitor{ID: fmt.Sprintf("v%d", i), CreatedAt: t0, LastSeenAt: t0}
		if err := s.CreateVisitor(ctx, v); err != nil {
			b.Fatal(err)
		}
		c := &chat.Conversation{ID: fmt.Sprintf("c%d", i), VisitorID: v.ID, CreatedAt: t0, QueuedAt: t0}
		if err := s.CreateConversation(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
	var (
		worker atomic.Int64
		mu     sync.Mutex
		lats   []time.Duration
	)
	b.SetParallelism(32) // 32 senders per GOMAXPROCS
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		w := worker.Add(1)
		conv := fmt.Sprintf("c%d", w%convs)
		var mine []time.Duration
		for i := 0; pb.Next(); i++ {
			m := &chat.Message{
				ConversationID: conv, ClientID: fmt.Sprintf("w%d-%d", w, i), Kind: chat.VisitorText,
				AuthorID: "v", AuthorName: "Visitor",
				Text:      "Hello, is the blue jacket in my cart available in size M? Order 12345.",
				CreatedAt: t0,
			}
			t := time.Now()
			if _, err := s.AppendMessage(ctx, m); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(t))
		}
		mu.Lock()
		lats = append(lats, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-us/msg")
	if len(lats) > 0 {
		slices.Sort(lats)
		b.ReportMetric(float64(lats[len(lats)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lats[len(lats)*99/100].Microseconds())/1000, "p99-ms")
	}
}

// BenchmarkAppendOneSender measures one sender's acknowledged appends to
// one conversation: one AppendMessage at a time (a session before
// pipelining) against AppendBatch of 32 (a session with 32 messages in
// flight). It reports msgs/s and CPU per message.
//
//	go test -run '^$' -bench AppendOneSender -benchtime 5000x ./store/sqlite/
func BenchmarkAppendOneSender(b *testing.B) {
	for _, batch := range []int{1, 32} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s := openTemp(b)
			v := &chat.Visitor{ID: "v", CreatedAt: t0, LastSeenAt: t0}
			if err := s.CreateVisitor(ctx, v); err != nil {
				b.Fatal(err)
			}
			if err := s.CreateConversation(ctx, &chat.Conversation{ID: "c", VisitorID: "v", CreatedAt: t0, QueuedAt: t0}); err != nil {
				b.Fatal(err)
			}
			msg := func(i int) *chat.Message {
				return &chat.Message{ConversationID: "c", ClientID: fmt.Sprintf("m%d", i), Kind: chat.VisitorText,
					AuthorID: "v", AuthorName: "Visitor", Text: "Hello, is the blue jacket in my cart available in size M?", CreatedAt: t0}
			}
			b.ReportAllocs()
			cpu0 := cpuTime()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i += batch {
				if batch == 1 {
					if _, err := s.AppendMessage(ctx, msg(i)); err != nil {
						b.Fatal(err)
					}
					continue
				}
				items := make([]chat.AppendItem, min(batch, b.N-i))
				for j := range items {
					items[j].Message = msg(i + j)
				}
				for _, r := range s.AppendBatch(ctx, items) {
					if r.Err != nil {
						b.Fatal(r.Err)
					}
				}
			}
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-us/msg")
		})
	}
}
