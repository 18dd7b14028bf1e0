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
	var before, after syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	pgBefore := backendTicks(b, s, app)
	b.ResetTimer()
	var wg sync.WaitGroup
	for g := range sessions {
		wg.Go(func() {
			for j := g; j < b.N; j += sessions {
				_, err := s.AppendMessage(ctx, &chat.Message{ConversationID: fmt.Sprintf("c%03d", g),
					ClientID: fmt.Sprintf("m%d", j), Kind: chat.VisitorText, AuthorID: "v", Text: "hello there, is this in stock?", CreatedAt: t0})
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	pgAfter := backendTicks(b, s, app)
	cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "client-µs-CPU/op")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
	// Clock ticks are 10 ms (CLK_TCK 100 on Linux).
	b.ReportMetric(float64(pgAfter-pgBefore)*10000/float64(b.N), "pg-µs-CPU/op")
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
