// Package bench is shopchat's load generator and benchmark harness: a
// server under test (the full chat.Server over a chosen store, or a bare
// relay written directly on coder/websocket as the baseline), a load
// generator driving it with the project's client package over real
// loopback WebSocket connections, and the named scenarios of issue #4.
//
// The commands are bench/cmd/chatload (runs scenarios, spawning the server
// under test as a child process so its CPU, memory and goroutines are
// measured apart from the load) and bench/cmd/chatserver (the server alone).
// bench/run.sh runs every scenario and regenerates bench/RESULTS.md's tables.
package bench

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	chat "github.com/shopchat/chat"
	natsbroker "github.com/shopchat/chat/broker/nats"
	pgbroker "github.com/shopchat/chat/broker/postgres"
	redisbroker "github.com/shopchat/chat/broker/redis"
	"github.com/shopchat/chat/store/memory"
	"github.com/shopchat/chat/store/postgres"
	"github.com/shopchat/chat/store/sqlite"
)

// OperatorHeader names the operator in the bench server's operator auth
// hook, and DepartmentsHeader the operator's departments (comma-separated).
// They are trusted only because the bench server listens on loopback.
const (
	OperatorHeader    = "X-Bench-Operator"
	DepartmentsHeader = "X-Bench-Departments"
)

// ServerConfig selects the server under test.
type ServerConfig struct {
	Baseline bool   // the bare relay instead of chat.Server
	Store    string // memory, sqlite or postgres (full server only)
	DSN      string // postgres
	Dir      string // sqlite: directory for the database file (default a temp dir)
	// Capacity is each operator's capacity (default 100000).
	Capacity int
	// Broker connects several server processes: "postgres", "redis" or
	// "nats" ($SHOPCHAT_REDIS_ADDR, $SHOPCHAT_NATS_URL; defaults on
	// loopback). Empty: one process.
	Broker string
	// BrokerAddr overrides the broker's address (a postgres DSN, a redis
	// host:port, a NATS URL): the brokerfault command puts a proxy there.
	BrokerAddr string
	// Schema, with Store "postgres", is a schema the nodes share; the
	// caller creates and drops it. Empty: a private schema per process.
	Schema string
	// Shop configures what a shop's tracking does on every node of the
	// fleet scenario: proactive triggers (shopTriggers), a cart hook
	// (shopCart) and department routing, so that the visit loop does a
	// real shop's work.
	Shop bool
	// GODEBUG, when set, is the server process's GODEBUG (Subprocess
	// only), e.g. "adaptivestackstart=0" (docs/scaling.md, "Memory per
	// visitor").
	GODEBUG string
}

// NewHandler builds the server under test: the chat handler under /chat/
// and, on the same mux, /debug/stats and /debug/pprof/. Close releases it.
func NewHandler(cfg ServerConfig) (http.Handler, func(), error) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	if cfg.Baseline {
		mux.HandleFunc("GET /debug/stats", serveStats)
		mux.Handle("/chat/", NewRelay())
		return loopbackOnly(mux), func() {}, nil
	}
	st, closeStore, err := openStore(cfg)
	if err != nil {
		return nil, nil, err
	}
	capacity := cfg.Capacity
	if capacity <= 0 {
		capacity = 100000
	}
	broker, closeBroker, err := openBroker(cfg)
	if err != nil {
		closeStore()
		return nil, nil, err
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	counted := &countingBroker{}
	if broker != nil {
		counted.Broker = broker
		broker = counted
	}
	metrics := newBenchMetrics()
	ccfg := chat.Config{
		Store:  st,
		Secret: secret,
		Operators: func(r *http.Request) (*chat.Operator, error) {
			id := r.Header.Get(OperatorHeader)
			if id == "" {
				return nil, chat.ErrUnauthorized
			}
			var deps []string
			if d := r.Header.Get(DepartmentsHeader); d != "" {
				deps = strings.Split(d, ",")
			}
			return &chat.Operator{ID: id, Name: id, Capacity: capacity, Departments: deps}, nil
		},
		MaxFramesPerSecond: 1 << 20,
		Broker:             broker,
		Metrics:            metrics,
		// The load generator is one address with many visitors.
		MaxConnsPerIP: -1, MaxFramesPerSecondPerIP: -1, NewVisitorsPerMinute: -1,
	}
	if cfg.Shop {
		ccfg.Triggers = shopTriggers()
		ccfg.VisitorInfo = shopCart
		ccfg.Router = chat.Departments(chat.LeastBusy())
	}
	srv, err := chat.New(ccfg)
	if err != nil {
		closeBroker()
		closeStore()
		return nil, nil, err
	}
	mux.HandleFunc("GET /debug/stats", func(w http.ResponseWriter, r *http.Request) {
		s := ReadStats(r.URL.Query().Get("gc") == "1")
		s.BrokerPublished, s.BrokerDelivered, s.BrokerBytes = counted.published.Load(), counted.delivered.Load(), counted.bytes.Load()
		s.Counters, s.Observed = metrics.snapshot()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(s)
	})
	mux.Handle("/chat/", srv.Handler())
	return loopbackOnly(mux), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Close(ctx)
		closeBroker()
		closeStore()
	}, nil
}

// openBroker connects cfg.Broker, if any.
func openBroker(cfg ServerConfig) (chat.Broker, func(), error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	switch cfg.Broker {
	case "":
		return nil, func() {}, nil
	case "postgres":
		b, err := pgbroker.New(ctx, cmp.Or(cfg.BrokerAddr, pgDSN(cfg)))
		if err != nil {
			return nil, nil, err
		}
		return b, func() { b.Close() }, nil
	case "redis":
		b, err := redisbroker.New(ctx, cmp.Or(cfg.BrokerAddr, envOr("SHOPCHAT_REDIS_ADDR", "127.0.0.1:6379")))
		if err != nil {
			return nil, nil, err
		}
		return b, func() { b.Close() }, nil
	case "nats":
		b, err := natsbroker.New(cmp.Or(cfg.BrokerAddr, envOr("SHOPCHAT_NATS_URL", "nats://127.0.0.1:4222")))
		if err != nil {
			return nil, nil, err
		}
		return b, func() { b.Close() }, nil
	}
	return nil, nil, fmt.Errorf("unknown broker %q (postgres, redis, nats)", cfg.Broker)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func pgDSN(cfg ServerConfig) string {
	if cfg.DSN != "" {
		return cfg.DSN
	}
	return os.Getenv("SHOPCHAT_POSTGRES_DSN")
}

func openStore(cfg ServerConfig) (chat.Store, func(), error) {
	switch cfg.Store {
	case "", "memory":
		return memory.New(), func() {}, nil
	case "sqlite":
		dir := cfg.Dir
		if dir == "" {
			d, err := os.MkdirTemp("", "chatbench-sqlite-")
			if err != nil {
				return nil, nil, err
			}
			dir = d
		}
		st, err := sqlite.Open(filepath.Join(dir, "chat.db"))
		if err != nil {
			return nil, nil, err
		}
		return st, func() { st.Close(); os.RemoveAll(dir) }, nil
	case "postgres":
		dsn := cfg.DSN
		if dsn == "" {
			dsn = os.Getenv("SHOPCHAT_POSTGRES_DSN")
		}
		if dsn == "" {
			return nil, nil, fmt.Errorf("postgres store: no DSN (-dsn or SHOPCHAT_POSTGRES_DSN)")
		}
		schema, own := cfg.Schema, cfg.Schema == ""
		if own {
			schema = fmt.Sprintf("chatbench_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		st, err := postgres.Open(ctx, dsn, postgres.WithSchema(schema), postgres.WithMaxConns(16))
		if err != nil {
			return nil, nil, err
		}
		return st, func() {
			st.Close()
			if own {
				dropSchema(dsn, schema)
			}
		}, nil
	}
	return nil, nil, fmt.Errorf("unknown store %q (memory, sqlite, postgres)", cfg.Store)
}

// loopbackOnly refuses requests that do not come from loopback: the bench
// server trusts a header for operator auth and exposes pprof.
func loopbackOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			http.Error(w, "loopback only", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Stats is what the server under test reports about itself.
type Stats struct {
	HeapInuse    uint64 // bytes, runtime.MemStats.HeapInuse
	HeapAlloc    uint64 // live heap bytes
	StackInuse   uint64
	Sys          uint64
	Goroutines   int
	CPUNanos     int64  // user+system CPU time of the process
	RSS          uint64 // bytes, VmRSS
	NumGC        uint32
	GCPauseTotal uint64
	// The full server's Broker traffic: payloads published and delivered
	// (to this node's subscriptions) and bytes published.
	BrokerPublished, BrokerDelivered, BrokerBytes int64
	// The full server's Config.Metrics counters and observations by name.
	Counters map[string]float64  `json:",omitempty"`
	Observed map[string]Observed `json:",omitempty"`
}

// plus adds up two processes' figures.
func (s Stats) plus(o Stats) Stats {
	return Stats{
		HeapInuse: s.HeapInuse + o.HeapInuse, HeapAlloc: s.HeapAlloc + o.HeapAlloc,
		StackInuse: s.StackInuse + o.StackInuse, Sys: s.Sys + o.Sys,
		Goroutines: s.Goroutines + o.Goroutines, CPUNanos: s.CPUNanos + o.CPUNanos,
		RSS: s.RSS + o.RSS, NumGC: s.NumGC + o.NumGC, GCPauseTotal: s.GCPauseTotal + o.GCPauseTotal,
		BrokerPublished: s.BrokerPublished + o.BrokerPublished, BrokerDelivered: s.BrokerDelivered + o.BrokerDelivered,
		BrokerBytes: s.BrokerBytes + o.BrokerBytes,
		Counters:    addCounters(s.Counters, o.Counters), Observed: addObserved(s.Observed, o.Observed),
	}
}

// HeapStack is heap in use plus stack in use.
func (s Stats) HeapStack() uint64 { return s.HeapInuse + s.StackInuse }

// ReadStats reads the process's own stats; gc runs a full collection and
// returns freed memory first, for stable per-connection figures.
func ReadStats(gc bool) Stats {
	if gc {
		runtime.GC()
		runtime.GC()
		debug.FreeOSMemory()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return Stats{
		HeapInuse: ms.HeapInuse, HeapAlloc: ms.HeapAlloc, StackInuse: ms.StackInuse, Sys: ms.Sys,
		Goroutines: runtime.NumGoroutine(),
		CPUNanos:   ru.Utime.Nano() + ru.Stime.Nano(),
		RSS:        rss(), NumGC: ms.NumGC, GCPauseTotal: ms.PauseTotalNs,
	}
}

func rss() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

func serveStats(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(ReadStats(r.URL.Query().Get("gc") == "1"))
}

// RaiseFileLimit raises the soft open-files limit to the hard one.
func RaiseFileLimit() uint64 {
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil && rl.Cur < rl.Max {
		rl.Cur = rl.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
	return rl.Cur
}

// Serve runs the server under test on addr (loopback) until ctx ends. It
// calls ready with the address it listens on.
func Serve(ctx context.Context, addr string, cfg ServerConfig, ready func(string)) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("bench server listens on loopback only, not %q", addr)
	}
	h, closeH, err := NewHandler(cfg)
	if err != nil {
		return err
	}
	defer closeH()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
	}()
	ready(ln.Addr().String())
	if err := hs.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}
