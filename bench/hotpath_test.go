package bench

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	chat "github.com/shopchat/chat"
	"github.com/shopchat/chat/protocol"
	"github.com/shopchat/chat/store/memory"
	"github.com/shopchat/chat/store/sqlite"
)

// Hot-path benchmarks: run with
//
//	go test -run '^$' -bench . -benchmem ./bench/
//
// Hub fan-out is benchmarked inside the root package (BenchmarkHubPublish
// in hub_bench_test.go), where the hub is reachable.

var msgFrame = []byte(`{"type":"message","id":"6f1c3a52-8a0e-4d35-9b61-3f0c2b4e7d10","conv":"2d9b6a1e-1f7c-4c55-a7a9-0d3b7e5c9f21","text":"` + strings.Repeat("x", 200) + `"}`)

func BenchmarkDecodeClientMessage(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(msgFrame)))
	for b.Loop() {
		if _, err := protocol.DecodeClient(msgFrame); err != nil {
			b.Fatal(err)
		}
	}
}

func serverMessageFrame() *protocol.ServerFrame {
	m := &protocol.Message{ID: "m-1", Conv: "2d9b6a1e-1f7c-4c55-a7a9-0d3b7e5c9f21", Seq: 42, ClientID: "6f1c3a52-8a0e-4d35-9b61-3f0c2b4e7d10",
		Kind: protocol.KindVisitor, Author: &protocol.Person{ID: "v-1", Name: "Visitor"}, Text: strings.Repeat("x", 200), Time: time.Now()}
	return &protocol.ServerFrame{Type: protocol.TypeMessage, Conv: m.Conv, Seq: m.Seq, Message: m}
}

func BenchmarkEncodeServerMessage(b *testing.B) {
	f := serverMessageFrame()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(f); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeServerMessage(b *testing.B) {
	data, _ := json.Marshal(serverMessageFrame())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := protocol.DecodeServer(data); err != nil {
			b.Fatal(err)
		}
	}
}

func benchAppend(b *testing.B, st chat.Store) {
	ctx := context.Background()
	now := time.Now()
	if err := st.CreateVisitor(ctx, &chat.Visitor{ID: "v-1", CreatedAt: now, LastSeenAt: now}); err != nil {
		b.Fatal(err)
	}
	conv := &chat.Conversation{ID: "c-1", VisitorID: "v-1", Status: chat.Queued, CreatedAt: now, QueuedAt: now}
	if err := st.CreateConversation(ctx, conv); err != nil {
		b.Fatal(err)
	}
	text := strings.Repeat("x", 200)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		m := &chat.Message{ConversationID: "c-1", ClientID: "cid-" + strconv.Itoa(i), Kind: chat.VisitorText, AuthorID: "v-1", Text: text, CreatedAt: now}
		if _, err := st.AppendMessage(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendMemory(b *testing.B) { benchAppend(b, memory.New()) }

func BenchmarkAppendSQLite(b *testing.B) {
	st, err := sqlite.Open(filepath.Join(b.TempDir(), "chat.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	benchAppend(b, st)
}

// BenchmarkRoundTrip is one visitor message through the whole full server
// in this process (decode, store, ack, hub fan-out, session writer, encode)
// until the operator's client receives it; allocs/op include both clients.
func BenchmarkRoundTrip(b *testing.B) {
	for _, name := range []string{"baseline", "full"} {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			t, stop, err := InProcess(ctx, ServerConfig{Baseline: name == "baseline", Store: "memory"}, "")
			if err != nil {
				b.Fatal(err)
			}
			defer stop()
			e, _ := newEnv(t)
			defer e.close()
			got := make(chan struct{}, 1)
			ops, vis, convs, _, _, err := openPairs(ctx, e, 1, 1, func(_ int, f protocol.ServerFrame) {
				if f.Type == protocol.TypeMessage && f.Message != nil && strings.HasPrefix(f.Message.Text, "B|") {
					got <- struct{}{}
				}
			}, nil)
			defer func() { closeAll(vis); closeAll(ops) }()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			k := int64(0)
			for b.Loop() {
				k++
				if _, err := vis[0].Send(ctx, convs[0], text(k, time.Now(), 200)); err != nil {
					b.Fatal(err)
				}
				<-got
			}
		})
	}
}
