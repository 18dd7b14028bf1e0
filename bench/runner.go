package bench

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Scenario is a named workload, run against the baseline relay and the
// full server over each of Stores.
type Scenario struct {
	Name   string
	Stores []string // full-server stores
	// Brokers, if set, adds runs of two server processes sharing a
	// PostgreSQL schema through each broker: visitors on one node,
	// operators on the other (compare with the single-node full/postgres).
	Brokers []string
	CPUs    string // taskset CPU list for the server process, "" for none
	Key     func(Result) float64
	Command string // how bench/run.sh invokes it
	Run     func(ctx context.Context, t Target) (Result, error)
}

// Scenarios returns the issue #4 scenarios at full size, or tiny for the
// smoke test.
func Scenarios(small bool) []Scenario {
	sz := func(full, tiny int) int {
		if small {
			return tiny
		}
		return full
	}
	dur := func(full time.Duration) time.Duration {
		if small {
			return time.Second
		}
		return full
	}
	rate := func(full float64) float64 {
		if small {
			return 200
		}
		return full
	}
	p99 := func(r Result) float64 { return r.Delivery.P99 }
	pairs := func(pc PairsConfig) func(ctx context.Context, t Target) (Result, error) {
		return func(ctx context.Context, t Target) (Result, error) { return RunPairs(ctx, t, pc) }
	}
	return []Scenario{
		{Name: "idle", Stores: []string{"memory"}, Key: func(r Result) float64 { return r.HeapStackPerConn },
			Run: func(ctx context.Context, t Target) (Result, error) { return RunIdle(ctx, t, sz(10000, 20), false) }},
		{Name: "idle-page", Stores: []string{"memory"}, Key: func(r Result) float64 { return r.HeapStackPerConn },
			Run: func(ctx context.Context, t Target) (Result, error) { return RunIdle(ctx, t, sz(10000, 20), true) }},
		{Name: "relay-1k", Stores: []string{"memory"}, Key: p99,
			Run: pairs(PairsConfig{Pairs: sz(1000, 10), Operators: sz(10, 2), Rate: rate(1000), Duration: dur(15 * time.Second)})},
		{Name: "relay-10k", Stores: []string{"memory"}, Key: p99,
			Run: pairs(PairsConfig{Pairs: sz(1000, 10), Operators: sz(10, 2), Rate: rate(10000), Duration: dur(10 * time.Second)})},
		{Name: "max", Stores: []string{"memory"}, CPUs: "0", Key: func(r Result) float64 { return r.MsgsPerCPUSec },
			Run: pairs(PairsConfig{Pairs: sz(500, 10), Operators: sz(10, 2), Duration: dur(10 * time.Second)})},
		{Name: "durable", Stores: []string{"sqlite", "postgres"}, Key: p99,
			Run: pairs(PairsConfig{Pairs: sz(1000, 10), Operators: sz(10, 2), Rate: rate(5000), Duration: dur(10 * time.Second)})},
		{Name: "storm", Stores: []string{"memory"}, Key: func(r Result) float64 { return r.ResumeRate },
			Run: func(ctx context.Context, t Target) (Result, error) {
				return RunStorm(ctx, t, sz(10000, 20), sz(50, 2), sz(20, 3))
			}},
		{Name: "nodes", Stores: []string{"postgres"}, Brokers: []string{"postgres", "redis", "nats"}, Key: p99,
			Run: pairs(PairsConfig{Pairs: sz(200, 10), Operators: sz(10, 2), Rate: rate(500), Duration: dur(10 * time.Second)})},
		{Name: "mixed", Stores: []string{"sqlite"}, Key: p99,
			Run: pairs(PairsConfig{Idle: sz(10000, 20), Pairs: sz(1000, 10), Operators: sz(100, 3), Rate: rate(5000), Duration: dur(15 * time.Second)})},
	}
}

// Spawner starts a server under test and returns it with its stop func.
type Spawner func(ctx context.Context, cfg ServerConfig, cpus string) (Target, func(), error)

// RunScenario runs sc repeat times against the baseline and every store,
// each on a fresh server, and returns the median run (by sc.Key) of each.
// The servers take turns (run 1 of each, then run 2 of each...), so that a
// machine whose load drifts during the invocation weighs on all of them
// alike and their ratios hold.
func RunScenario(ctx context.Context, sc Scenario, spawn Spawner, repeat int, log io.Writer) ([]Result, error) {
	cfgs := []ServerConfig{{Baseline: true}}
	for _, st := range sc.Stores {
		cfgs = append(cfgs, ServerConfig{Store: st})
	}
	for _, b := range sc.Brokers {
		cfgs = append(cfgs, ServerConfig{Store: "postgres", Broker: b})
	}
	names := make([]string, len(cfgs))
	for i, cfg := range cfgs {
		names[i] = "baseline"
		if !cfg.Baseline {
			names[i] = "full/" + cfg.Store
		}
		if cfg.Broker != "" {
			names[i] = "2 nodes/postgres+" + cfg.Broker
		}
	}
	runs := make([][]Result, len(cfgs))
	medians := func() []Result {
		var out []Result
		for _, rs := range runs {
			if len(rs) == 0 {
				continue
			}
			rs = slices.Clone(rs)
			slices.SortFunc(rs, func(a, b Result) int { return cmp.Compare(sc.Key(a), sc.Key(b)) })
			out = append(out, rs[len(rs)/2])
		}
		return out
	}
	for r := 0; r < max(repeat, 1); r++ {
		for i, cfg := range cfgs {
			name := names[i]
			start := spawn
			if cfg.Broker != "" {
				start = twoNodes(spawn)
			}
			t, stop, err := start(ctx, cfg, sc.CPUs)
			if err != nil {
				return medians(), fmt.Errorf("%s %s: start server: %w", sc.Name, name, err)
			}
			t.Label = profileLabel(sc.Name, name, r+1)
			res, err := sc.Run(ctx, t)
			stop()
			res.Scenario, res.Server = sc.Name, name
			if err != nil {
				return medians(), fmt.Errorf("%s %s: %w", sc.Name, name, err)
			}
			fmt.Fprintf(log, "%s %s run %d: %s\n", sc.Name, name, r+1, res.Brief())
			runs[i] = append(runs[i], res)
		}
	}
	return medians(), nil
}

// profileLabel prefixes the profile files of one run:
// "nodes-2nodes-postgres+redis-run1-".
func profileLabel(scenario, server string, run int) string {
	clean := strings.NewReplacer(" ", "", "/", "-").Replace(server)
	return fmt.Sprintf("%s-%s-run%d-", scenario, clean, run)
}

// Brief is a one-line summary of r.
func (r Result) Brief() string {
	switch {
	case strings.HasPrefix(r.Scenario, "idle"):
		return fmt.Sprintf("%d conns, %.0f B heap+stack/conn (heap %.0f, stack %.0f), %.3f goroutines/conn, %.0f conn/s, RSS %.0f MiB",
			r.Conns, r.HeapStackPerConn, r.HeapPerConn, r.StackPerConn, r.GoroutinesPerConn, r.ConnectRate, r.RSSMB)
	case r.Scenario == "storm":
		return fmt.Sprintf("%d/%d resumed, %.0f resumes/s, missed delivered %d (dups %d), resume %s, send errors %d %s",
			r.Resumes, r.Conns, r.ResumeRate, r.MissedTotal, r.Dups, r.ResumeLatency, r.Errors, r.FirstError)
	}
	return fmt.Sprintf("offered %.0f/s, sent %d acked %d recv %d dups %d errs %d, %.0f msg/s, %.0f msg/CPU-s, %.1f us CPU/msg, delivery %s, ack p50 %.2f p99 %.2f ms, ack->delivery p50 %.2f p99 %.2f ms, RSS %.0f MiB %s",
		r.Offered, r.Sent, r.Acked, r.Received, r.Dups, r.Errors, r.Throughput, r.MsgsPerCPUSec, r.CPUPerMsgUs, r.Delivery, r.Ack.P50, r.Ack.P99, r.AckToDelivery.P50, r.AckToDelivery.P99, r.RSSMB, r.FirstError)
}

// InProcess runs the server under test in this process (smoke tests).
func InProcess(ctx context.Context, cfg ServerConfig, _ string) (Target, func(), error) {
	ctx, cancel := context.WithCancel(ctx)
	addrc := make(chan string, 1)
	errc := make(chan error, 1)
	go func() { errc <- Serve(ctx, "127.0.0.1:0", cfg, func(a string) { addrc <- a }) }()
	select {
	case a := <-addrc:
		// Through HTTP: the node's own broker and metrics counters.
		return Target{URL: "http://" + a, Stats: HTTPStats("http://" + a)}, func() {
			cancel()
			<-errc
		}, nil
	case err := <-errc:
		cancel()
		return Target{}, nil, err
	}
}

// Subprocess runs the server under test as a child process of this
// binary (os.Args[0] serve ...), pinned to cpus with taskset when given.
func Subprocess(ctx context.Context, cfg ServerConfig, cpus string) (Target, func(), error) {
	exe, err := os.Executable()
	if err != nil {
		return Target{}, nil, err
	}
	args := []string{exe, "serve", "-addr", "127.0.0.1:0", "-store", cfg.Store}
	if cfg.Baseline {
		args = append(args, "-baseline")
	}
	if cfg.Broker != "" {
		args = append(args, "-broker", cfg.Broker)
	}
	if cfg.Schema != "" {
		args = append(args, "-schema", cfg.Schema)
	}
	if cfg.BrokerAddr != "" {
		args = append(args, "-broker-addr", cfg.BrokerAddr)
	}
	if cfg.DSN != "" {
		args = append(args, "-dsn", cfg.DSN)
	}
	if cfg.Shop {
		args = append(args, "-shop")
	}
	if cpus != "" {
		args = append([]string{"taskset", "-c", cpus}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	if cfg.GODEBUG != "" {
		cmd.Env = append(os.Environ(), "GODEBUG="+cfg.GODEBUG)
	}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return Target{}, nil, err
	}
	if err := cmd.Start(); err != nil {
		return Target{}, nil, err
	}
	stop := func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if l := sc.Text(); strings.HasPrefix(l, "LISTEN ") {
				line <- strings.TrimPrefix(l, "LISTEN ")
			}
		}
	}()
	select {
	case addr := <-line:
		base := "http://" + addr
		return Target{URL: base, Stats: HTTPStats(base)}, stop, nil
	case <-time.After(60 * time.Second):
		stop()
		return Target{}, nil, fmt.Errorf("server did not start")
	case <-ctx.Done():
		stop()
		return Target{}, nil, ctx.Err()
	}
}

// twoNodes starts two servers sharing a fresh PostgreSQL schema and
// cfg.Broker; the Target sends visitors to the first and operators to the
// second, and its stats add up both processes.
func twoNodes(spawn Spawner) Spawner {
	return func(ctx context.Context, cfg ServerConfig, cpus string) (Target, func(), error) {
		dsn := pgDSN(cfg)
		cfg.Schema = fmt.Sprintf("chatbench2_%d", time.Now().UnixNano())
		a, stopA, err := spawn(ctx, cfg, cpus)
		if err != nil {
			return Target{}, nil, err
		}
		b, stopB, err := spawn(ctx, cfg, cpus)
		if err != nil {
			stopA()
			dropSchema(dsn, cfg.Schema)
			return Target{}, nil, err
		}
		t := Target{URL: a.URL, OperatorURL: b.URL, Stats: func(gc bool) (Stats, error) {
			sa, err := a.Stats(gc)
			if err != nil {
				return sa, err
			}
			sb, err := b.Stats(gc)
			return sa.plus(sb), err
		}}
		return t, func() { stopA(); stopB(); dropSchema(dsn, cfg.Schema) }, nil
	}
}
