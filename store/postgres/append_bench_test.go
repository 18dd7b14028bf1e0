package postgres

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shopchat/chat"
)

// BenchmarkAppendConcurrent: 200 sessions, one conversation each, append
// one message after another (each waits for its commit), as the durable
// bench scenario's visitors do. It reports this process's CPU per append
// and that of the PostgreSQL backends serving it.
func BenchmarkAppendConcurrent(b *testing.B) {
	dsn := testDSN(b)
	const app = "shopchat-append-bench"
	s := openStore(b, dsn, freshSchema(b, dsn), WithApplicationName(app))
	ctx := context.Background()
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	const sessions = 200
	for i := range sessions {
		id := fmt.Sprintf("c%03d", i)
		if err := s.CreateVisitor(ctx, &chat.Visitor{ID: id + "-v", CreatedAt: t0}); err != nil {
			b.Fatal(err)
		}
		if err := s.CreateConversation(ctx, &chat.Conversation{ID: id, VisitorID: id + "-v", CreatedAt: t0, QueuedAt: t0}); err != nil {
			b.Fatal(err)
		}
	}
	measureSpread(b, s, app, sessions, "op", "appends/s", func(g, j int) error {
		_, err := s.AppendMessage(ctx, &chat.Message{ConversationID: fmt.Sprintf("c%03d", g),
			ClientID: fmt.Sprintf("m%d", j), Kind: chat.VisitorText, AuthorID: "v", Text: "hello there, is this in stock?", CreatedAt: t0})
		return err
	})
}

// BenchmarkAppendEvents: five writers, as five nodes' event writers, each
// appending batches of four events (a lightly loaded node's 10 ms of
// events). It reports this process's CPU per batch and that of the
// PostgreSQL backends serving it.
func BenchmarkAppendEvents(b *testing.B) {
	dsn := testDSN(b)
	const app = "shopchat-events-bench"
	s := openStore(b, dsn, freshSchema(b, dsn), WithApplicationName(app))
	ctx := context.Background()
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	const writers, perBatch = 5, 4
	measureSpread(b, s, app, writers, "batch", "batches/s", func(_, j int) error {
		batch := make([]chat.Event, perBatch)
		for k := range batch {
			batch[k] = chat.Event{ID: fmt.Sprintf("e%d-%d", j, k), Kind: chat.EventMessage, Time: t0, ConversationID: "c1",
				Message: &chat.Message{ConversationID: "c1", Seq: int64(j), Kind: chat.VisitorText, Text: "hello there, is this in stock?", CreatedAt: t0}}
		}
		return s.AppendEvents(ctx, batch)
	})
}

// measureSpread runs op b.N times over workers goroutines (worker g does
// the j = g, g+workers, ... of them) as the benchmark's timed part, and
// reports the rate (rateUnit) and the CPU per unit of this process and of
// the PostgreSQL backends named app.
func measureSpread(b *testing.B, s *Store, app string, workers int, unit, rateUnit string, op func(g, j int) error) {
	cpu, pg := measureCPU(b, s, app, func() {
		var wg sync.WaitGroup
		for g := range workers {
			wg.Go(func() {
				for j := g; j < b.N; j += workers {
					if err := op(g, j); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	})
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "client-µs-CPU/"+unit)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), rateUnit)
	b.ReportMetric(float64(pg.Microseconds())/float64(b.N), "pg-µs-CPU/"+unit)
}

// measureCPU runs fn as the benchmark's timed part and returns the CPU
// this process and the PostgreSQL backends named app spent meanwhile.
func measureCPU(b *testing.B, s *Store, app string, fn func()) (self, backends time.Duration) {
	var before, after syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	pgBefore := backendTicks(b, s, app)
	b.ResetTimer()
	fn()
	b.StopTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	pgAfter := backendTicks(b, s, app)
	self = time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
	// Clock ticks are 10 ms (CLK_TCK 100 on Linux).
	return self, time.Duration(pgAfter-pgBefore) * 10 * time.Millisecond
}

// backendTicks sums the CPU clock ticks (user+system) of the PostgreSQL
// backends whose application_name is app, from /proc: the server must run
// on this machine.
func backendTicks(b *testing.B, s *Store, app string) int64 {
	rows, err := s.pool.Query(context.Background(), `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, app)
	if err != nil {
		b.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		b.Fatal(err)
	}
	var ticks int64
	for _, pid := range pids {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// Fields after the command name, which is in parentheses.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+2:]))
		u, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + st
	}
	return ticks
}
