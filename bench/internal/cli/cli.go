// Package cli holds the bench commands' flag handling.
package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/shopchat/chat/bench"
)

// Serve runs the server under test; see cmd/chatserver.
func Serve(args []string) int {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "loopback address to listen on")
	store := fs.String("store", "memory", "memory, sqlite or postgres")
	dsn := fs.String("dsn", "", "postgres DSN (default $SHOPCHAT_POSTGRES_DSN)")
	baseline := fs.Bool("baseline", false, "run the bare coder/websocket relay instead of chat.Server")
	broker := fs.String("broker", "", "connect to other nodes through this broker: postgres, redis or nats")
	schema := fs.String("schema", "", "postgres: a schema shared with other nodes (the caller drops it)")
	brokerAddr := fs.String("broker-addr", "", "the broker's address (postgres DSN, redis host:port, NATS URL) instead of the default")
	shop := fs.Bool("shop", false, "a shop's tracking setup: proactive triggers, a cart hook and department routing (the fleet scenario)")
	fs.Parse(args)
	bench.RaiseFileLimit()
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	err := bench.Serve(ctx, *addr, bench.ServerConfig{Baseline: *baseline, Store: *store, DSN: *dsn, Broker: *broker, BrokerAddr: *brokerAddr, Schema: *schema, Shop: *shop}, func(a string) {
		fmt.Printf("LISTEN %s\n", a)
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "chatserver:", err)
		return 1
	}
	return 0
}

// Load runs scenarios; see cmd/chatload.
func Load(args []string) int {
	if len(args) > 0 && args[0] == "serve" {
		return Serve(args[1:])
	}
	if len(args) > 0 && args[0] == "fleet-worker" {
		bench.RaiseFileLimit()
		if err := bench.ServeWorker(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "fleet-worker:", err)
			return 1
		}
		return 0
	}
	fs := flag.NewFlagSet("chatload", flag.ExitOnError)
	names := fs.String("scenario", "all", "comma-separated scenarios: idle, idle-page, relay-1k, relay-10k, max, durable, storm, nodes, mixed, or all; "+
		"or fleet alone (not part of all), sized by the flags below")
	var fc bench.FleetConfig
	fs.IntVar(&fc.Nodes, "nodes", 5, "fleet: server processes")
	fs.IntVar(&fc.Visitors, "visitors", 99000, "fleet: connected visitors in total, the pairs' visitors included (each node stays under its open-files limit)")
	fs.IntVar(&fc.Operators, "operators", 200, "fleet: operators, spread evenly over the nodes")
	fs.IntVar(&fc.Pairs, "pairs", 2000, "fleet: active pairs with visitor and operator on different nodes")
	fs.IntVar(&fc.LocalPairs, "local-pairs", 200, "fleet: active pairs within one node, the same run's baseline")
	fs.Float64Var(&fc.Rate, "rate", 500, "fleet: messages per second over all active pairs")
	fs.DurationVar(&fc.Duration, "duration", time.Minute, "fleet: the active phase")
	fs.DurationVar(&fc.Idle, "idle", 70*time.Second, "fleet: the idle phase, profiled (covers the once-a-minute re-announcement of visits)")
	fs.DurationVar(&fc.Settle, "settle", 5*time.Second, "fleet: pause before each memory reading")
	fs.StringVar(&fc.Broker, "broker", "redis", "fleet: postgres, redis or nats")
	fs.IntVar(&fc.PerWorker, "per-worker", 10000, "fleet: idle visitors per load-generator process")
	fs.Float64Var(&fc.DialRate, "dial-rate", 1000, "fleet: new idle visitors per second, all workers together")
	fs.IntVar(&fc.DialConc, "dial-conc", 32, "fleet: dials in flight per worker")
	fs.DurationVar(&fc.DialFor, "dial-for", 15*time.Minute, "fleet: stop dialling idle visitors after this long and go on with those connected (reported)")
	fs.DurationVar(&fc.Trace, "trace", 0, "fleet: take an execution trace of every node this long in the middle of the active phase (needs -out)")
	fs.StringVar(&fc.NodeGODEBUG, "node-godebug", "", `fleet: each node's GODEBUG, e.g. "adaptivestackstart=0" (default: inherited)`)
	fs.StringVar(&fc.OutDir, "out", "", "fleet: directory for the result (fleet.txt, fleet.json) and each node's idle profile top lines")
	repeat := fs.Int("repeat", 3, "runs per server; the median is reported")
	jsonOut := fs.String("json", "", "append every median result as a JSON line to this file")
	stores := fs.String("stores", "", "override the full-server stores of every scenario (comma-separated)")
	timeout := fs.Duration("timeout", 20*time.Minute, "bound on the whole run")
	serverCPUs := fs.String("server-cpus", "", "pin every server process to these CPUs with taskset (e.g. 0), overriding the scenario's own; "+
		"run chatload itself under taskset on the others (taskset -c 1 chatload -server-cpus 0) so the figures are the server's, not the load generator's")
	cpuProfile := fs.String("cpuprofile", "", "write the load generator's own CPU profile to this file (the servers' go to $BENCH_PROFILE_DIR)")
	fs.Parse(args)
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "chatload:", err)
			return 2
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "chatload:", err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Fprintf(os.Stderr, "open files limit: %d\n", bench.RaiseFileLimit())
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	ctx, cancel2 := context.WithTimeout(ctx, *timeout)
	defer cancel2()
	if *names == "fleet" {
		return runFleet(ctx, fc)
	}
	want := map[string]bool{}
	for _, n := range strings.Split(*names, ",") {
		want[strings.TrimSpace(n)] = true
	}
	status := 0
	for _, sc := range bench.Scenarios(false) {
		if !want["all"] && !want[sc.Name] {
			continue
		}
		if *stores != "" {
			sc.Stores = strings.Split(*stores, ",")
		}
		if *serverCPUs != "" {
			sc.CPUs = *serverCPUs
		}
		res, err := bench.RunScenario(ctx, sc, bench.Subprocess, *repeat, os.Stderr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "chatload:", err)
			status = 1
		}
		for _, r := range res {
			fmt.Printf("%s %s: %s\n", r.Scenario, r.Server, r.Brief())
			if *jsonOut != "" {
				if f, err := os.OpenFile(*jsonOut, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err == nil {
					json.NewEncoder(f).Encode(r)
					f.Close()
				}
			}
		}
	}
	return status
}

// BrokerFault measures ack latency through a black-holed broker; see
// cmd/brokerfault.
func BrokerFault(args []string) int {
	if len(args) > 0 && args[0] == "serve" {
		return Serve(args[1:])
	}
	fs := flag.NewFlagSet("brokerfault", flag.ExitOnError)
	brokers := fs.String("brokers", "postgres,redis,nats", "comma-separated brokers")
	visitors := fs.Int("visitors", 20, "conversations, one visitor each, on the first node")
	rate := fs.Float64("rate", 10, "messages per second per visitor")
	phase := fs.Duration("phase", 10*time.Second, "length of each phase: healthy, black-holed, restored")
	fs.Parse(args)
	bench.RaiseFileLimit()
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	status := 0
	for _, b := range strings.Split(*brokers, ",") {
		res, err := bench.RunBrokerFault(ctx, bench.Subprocess, bench.BrokerFaultConfig{Broker: b, Visitors: *visitors, Rate: *rate, Phase: *phase})
		if err != nil {
			fmt.Fprintf(os.Stderr, "brokerfault %s: %v\n", b, err)
			status = 1
			continue
		}
		fmt.Print(res)
	}
	return status
}

// runFleet runs the fleet scenario with nodes and workers as child
// processes and prints (and saves) its report.
func runFleet(ctx context.Context, fc bench.FleetConfig) int {
	fc.Profile = true
	if fc.OutDir != "" {
		if err := os.MkdirAll(fc.OutDir, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "chatload:", err)
			return 2
		}
	}
	res, err := bench.RunFleet(ctx, fc, bench.Subprocess, bench.SubprocessWorker, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chatload: fleet:", err)
		return 1
	}
	fmt.Print(res)
	if fc.OutDir != "" {
		os.WriteFile(filepath.Join(fc.OutDir, "fleet.txt"), []byte(res.String()), 0o644)
		if b, err := json.MarshalIndent(res, "", "  "); err == nil {
			os.WriteFile(filepath.Join(fc.OutDir, "fleet.json"), b, 0o644)
		}
	}
	return 0
}
