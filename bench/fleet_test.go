package bench

import (
	"context"
	"os"
	"testing"
	"time"
)

// TestFleetSmoke runs the fleet scenario at tiny size in this process (two
// nodes sharing PostgreSQL and Redis, idle visitors from two in-process
// workers, cross-node and local pairs), asserting only correctness: every
// visitor connected, every message acked and delivered exactly once, the
// broker carried traffic. Timings are never asserted.
func TestFleetSmoke(t *testing.T) {
	if os.Getenv("SHOPCHAT_POSTGRES_DSN") == "" || os.Getenv("SHOPCHAT_REDIS_ADDR") == "" {
		t.Skip("SHOPCHAT_POSTGRES_DSN or SHOPCHAT_REDIS_ADDR is not set (CI sets them)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cfg := FleetConfig{Nodes: 2, Visitors: 40, Operators: 4, Pairs: 4, LocalPairs: 2, Rate: 50, Duration: time.Second,
		Idle: 200 * time.Millisecond, Settle: 100 * time.Millisecond, Broker: "redis", PerWorker: 20, DialRate: 500, DialConc: 8}
	res, err := RunFleet(ctx, cfg, InProcess, InProcessWorker, testLog{t})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(res)
	idle := cfg.Visitors - cfg.Pairs - cfg.LocalPairs
	if res.IdleConnected != idle || res.IdleFailed != 0 {
		t.Errorf("idle visitors: %d connected, %d failed (%s); want %d", res.IdleConnected, res.IdleFailed, res.IdleFirstError, idle)
	}
	if res.Sent == 0 || res.Acked != res.Sent || res.Received != res.Acked || res.Dups != 0 || res.Lost != 0 {
		t.Errorf("sent %d acked %d received %d dups %d lost %d: want all acked and delivered once", res.Sent, res.Acked, res.Received, res.Dups, res.Lost)
	}
	if res.CrossPairs != cfg.Pairs || res.LocalPairs != cfg.LocalPairs {
		t.Errorf("%d pairs across nodes and %d within one, want %d and %d", res.CrossPairs, res.LocalPairs, cfg.Pairs, cfg.LocalPairs)
	}
	for k, n := range res.Nodes {
		if n.Visitors != idle/cfg.Nodes {
			t.Errorf("node %d: %d idle visitors, want %d", k, n.Visitors, idle/cfg.Nodes)
		}
	}
	if res.BrokerPubActive == 0 || res.BrokerDelActive == 0 {
		t.Errorf("no broker traffic counted: %+v", res)
	}
}
