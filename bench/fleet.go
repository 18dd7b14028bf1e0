package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shopchat/chat/client"
	"github.com/shopchat/chat/protocol"
)

// FleetConfig sizes the fleet scenario (issue 19): Nodes server processes
// sharing a PostgreSQL schema and a Broker, Visitors connected visitors in
// total (idle ones spread over load-generator processes, plus the active
// pairs' visitors), Operators spread over the nodes, and active pairs
// exchanging messages at a steady total Rate: Pairs whose visitor and
// operator are on different nodes and LocalPairs on the same node, the
// same run's one-node baseline.
type FleetConfig struct {
	Nodes      int
	Visitors   int // connected visitors in total, the pairs' visitors included
	Operators  int
	Pairs      int // visitor and operator on different nodes (when Nodes > 1)
	LocalPairs int // visitor and operator on the same node
	Rate       float64
	Duration   time.Duration // the active phase
	// Idle is the idle phase between connecting every visitor and starting
	// the pairs: the nodes' CPU then is what idle visitors cost, and each
	// node's CPU profile over it shows the visit loop's share.
	Idle time.Duration
	// Settle is the pause after connecting before the memory reading, for
	// page views and announcements to be written and applied.
	Settle    time.Duration
	Broker    string // postgres, redis or nats
	DSN       string // default $SHOPCHAT_POSTGRES_DSN
	PerWorker int    // idle visitors per load-generator process
	DialRate  float64
	DialConc  int // dials in flight per worker
	// DialFor bounds the dialling of idle visitors (0: none): the run
	// goes on with those connected by then, and reports the rest.
	DialFor time.Duration
	Size    int    // message text bytes
	OutDir  string // where to write the profiles' top lines ("" none)
	Profile bool   // profile every node over the idle phase (needs `go tool pprof`)
	// Trace takes an execution trace of every node this long in the
	// middle of the active phase (node<k>-active.trace in OutDir; 0: none):
	// where a message waits, which a CPU profile does not show.
	Trace time.Duration
	// NodeGODEBUG is each node's GODEBUG ("": inherited).
	NodeGODEBUG string
}

// FleetNode is one node's figures.
type FleetNode struct {
	URL      string
	Visitors int // idle visitors connected to it
	// The idle visitors' cost: heap and stack in use (after a full GC)
	// and goroutines, after connecting them minus before, per visitor.
	HeapPerVisitor, StackPerVisitor, HeapStackPerVisitor, GoroutinesPerVisitor float64
	RSSIdleMB, RSSEndMB                                                        float64
	CPUIdle, CPUActive                                                         float64 // share of one core over each phase
	BrokerPubIdle, BrokerDelIdle, BrokerPubActive, BrokerDelActive             float64 // per second
	VisitLoop                                                                  []ProfileLine
	VisitLoopShare                                                             float64 // of one core: the visit loop and applying other nodes' visits
	Observed                                                                   map[string]Observed
	Counters                                                                   map[string]float64 // over the whole run
}

// ProfileLine is one function's cumulative CPU in a node's idle profile.
type ProfileLine struct {
	Func  string
	Cum   float64 // seconds
	Share float64 // of one core over the profile
}

// FleetResult is a fleet run's figures.
type FleetResult struct {
	Config                           FleetConfig
	Nodes                            []FleetNode
	IdleConnected, IdleFailed        int
	IdleNotTried                     int // left undialled at DialFor
	IdleFirstError                   string
	DialSeconds, DialRate            float64
	Workers                          int
	LoadAvgStart, LoadAvgEnd         string  // /proc/loadavg
	WorkerRSSMB                      float64 // all load-generator processes together, once connected
	RSSTotalMB                       float64 // all nodes at the end
	HeapStackPerVisitor              float64 // all nodes' delta over all idle visitors
	Offered                          float64
	Sent, Acked, Received, Dups      int64
	Lost                             int64 // acked, never received
	Unacked                          int64 // received though the send failed
	Errors                           int64
	FirstError                       string
	CrossPairs, LocalPairs           int // as assigned
	CrossDelivery, LocalDelivery     Latency
	Ack                              Latency
	CPUPerMsgUs                      float64 // all nodes' CPU in the active phase per delivered message
	BrokerPubIdle, BrokerDelIdle     float64 // per second, all nodes
	BrokerPubActive, BrokerDelActive float64
	LiveFramesPerOpSec               float64 // visitors frames each operator received per second (active phase)
	LiveFrameVisitors                float64 // visitors per frame, on average
}

// RunFleet runs the fleet scenario: nodes from spawnNode, idle visitors in
// workers from spawnWorker, operators and pairs in this process.
func RunFleet(ctx context.Context, cfg FleetConfig, spawnNode Spawner, spawnWorker WorkerSpawner, log io.Writer) (res FleetResult, err error) {
	cfg.Nodes = max(cfg.Nodes, 1)
	cfg.Size = max(cfg.Size, 200) // as the other scenarios
	if cfg.PerWorker <= 0 {
		cfg.PerWorker = 10000
	}
	res.Config = cfg
	res.LoadAvgStart = loadAvg()
	defer func() { res.LoadAvgEnd = loadAvg() }()
	logf := func(format string, args ...any) {
		fmt.Fprintf(log, "%s fleet: %s\n", time.Now().UTC().Format("15:04:05"), fmt.Sprintf(format, args...))
	}
	P := cfg.Pairs + cfg.LocalPairs
	idleN := cfg.Visitors - P
	if idleN < 0 || cfg.Operators < cfg.Nodes || P == 0 {
		return res, fmt.Errorf("fleet: want visitors >= pairs+local pairs, an operator per node and a pair")
	}

	// Nodes, one after the other: the first creates the schema.
	sc := ServerConfig{Store: "postgres", DSN: cfg.DSN, Broker: cfg.Broker, Shop: true,
		Schema: fmt.Sprintf("chatfleet_%d", time.Now().UnixNano()), GODEBUG: cfg.NodeGODEBUG}
	nodes := make([]Target, cfg.Nodes)
	var stops []func()
	defer func() {
		for _, stop := range stops {
			stop()
		}
		dropSchema(pgDSN(sc), sc.Schema)
	}()
	for k := range nodes {
		t, stop, err := spawnNode(ctx, sc, "")
		if err != nil {
			return res, fmt.Errorf("node %d: %w", k, err)
		}
		nodes[k], stops = t, append(stops, stop)
		res.Nodes = append(res.Nodes, FleetNode{URL: t.URL})
	}
	logf("%d nodes up (broker %s, schema %s)", cfg.Nodes, cfg.Broker, sc.Schema)
	readAll := func(gc bool) ([]Stats, error) {
		out := make([]Stats, len(nodes))
		for k, t := range nodes {
			s, err := t.Stats(gc)
			if err != nil {
				return nil, fmt.Errorf("node %d stats: %w", k, err)
			}
			out[k] = s
		}
		return out, nil
	}

	// Operators: Operators/Nodes on each node, in that node's department.
	as := &assignments{m: make(map[string]int)}
	toOps, toVis := newKeyRecorder(), newKeyRecorder()
	var liveFrames, liveVisitors atomic.Int64
	opNode := make([]int, cfg.Operators)
	ops := make([]*client.Conn, cfg.Operators)
	defer func() { closeAll(ops) }()
	opTr := &http.Transport{MaxIdleConnsPerHost: 16}
	defer opTr.CloseIdleConnections()
	err = parallel(cfg.Operators, 16, func(i int) error {
		k := i % cfg.Nodes
		opNode[i] = k
		id := fmt.Sprintf("op-%d-%d", k, i)
		jar, _ := cookiejar.New(nil)
		c, err := client.DialOperator(ctx, nodes[k].URL, client.Options{
			HTTPClient: &http.Client{Jar: jar, Transport: opTr},
			Header:     http.Header{OperatorHeader: {id}, DepartmentsHeader: {nodeDepartment(k)}},
			OnFrame: func(f protocol.ServerFrame) {
				as.frame(i, id, f)
				toOps.frame(f, protocol.KindVisitor)
				if f.Type == protocol.TypeVisitors {
					liveFrames.Add(1)
					liveVisitors.Add(int64(len(f.Live)))
				}
			},
		})
		ops[i] = c
		return err
	})
	if err != nil {
		return res, fmt.Errorf("dial operators: %w", err)
	}
	logf("%d operators connected", cfg.Operators)
	time.Sleep(cfg.Settle)
	before, err := readAll(true)
	if err != nil {
		return res, err
	}

	// Idle visitors, in worker processes.
	W := (idleN + cfg.PerWorker - 1) / cfg.PerWorker
	res.Workers = W
	urls := make([]string, len(nodes))
	for k, t := range nodes {
		urls[k] = t.URL
	}
	var workers []Worker
	defer func() {
		for _, w := range workers {
			w.Stop()
		}
	}()
	dialStart := time.Now()
	for w := range W {
		wc := WorkerConfig{Nodes: urls, From: w * idleN / W, To: (w + 1) * idleN / W, DialRate: cfg.DialRate / float64(W), Concurrency: cfg.DialConc, DialFor: cfg.DialFor}
		wk, err := spawnWorker(ctx, wc)
		if err != nil {
			return res, fmt.Errorf("worker %d: %w", w, err)
		}
		workers = append(workers, wk)
	}
	for w, wk := range workers {
		select {
		case r, ok := <-wk.Report:
			if !ok {
				return res, fmt.Errorf("worker %d failed before reporting", w)
			}
			res.IdleConnected += r.Connected
			res.IdleFailed += r.Failed
			res.IdleNotTried += r.NotTried
			res.WorkerRSSMB += r.RSSMB
			if res.IdleFirstError == "" {
				res.IdleFirstError = r.FirstError
			}
			for k, c := range r.ConnectedPerNode {
				res.Nodes[k].Visitors += c
			}
		case <-ctx.Done():
			return res, ctx.Err()
		}
	}
	res.DialSeconds = time.Since(dialStart).Seconds()
	res.DialRate = float64(res.IdleConnected) / res.DialSeconds
	logf("%d idle visitors connected, %d failed (%s), %d not tried, %.0f s, %.0f/s, %d workers", res.IdleConnected, res.IdleFailed, res.IdleFirstError, res.IdleNotTried, res.DialSeconds, res.DialRate, W)
	time.Sleep(cfg.Settle)
	after, err := readAll(true)
	if err != nil {
		return res, err
	}
	var dHeapStack float64
	for k := range nodes {
		n := &res.Nodes[k]
		v := float64(max(n.Visitors, 1))
		n.HeapPerVisitor = (float64(after[k].HeapInuse) - float64(before[k].HeapInuse)) / v
		n.StackPerVisitor = (float64(after[k].StackInuse) - float64(before[k].StackInuse)) / v
		n.HeapStackPerVisitor = n.HeapPerVisitor + n.StackPerVisitor
		n.GoroutinesPerVisitor = float64(after[k].Goroutines-before[k].Goroutines) / v
		dHeapStack += float64(after[k].HeapStack()) - float64(before[k].HeapStack())
	}
	res.HeapStackPerVisitor = dHeapStack / float64(max(res.IdleConnected, 1))
	saveIdleHeaps(cfg, nodes)

	// The idle phase: what idle visitors cost, and the visit loop's share.
	idleFrom, err := readAll(false)
	if err != nil {
		return res, err
	}
	t0 := time.Now()
	var profWG sync.WaitGroup
	profiles := make([][]byte, len(nodes))
	if cfg.Profile && cfg.Idle >= time.Second {
		for k, t := range nodes {
			profWG.Add(1)
			go func() {
				defer profWG.Done()
				profiles[k] = fetchDebug(t.URL, "profile", cfg.Idle)
			}()
		}
	}
	time.Sleep(cfg.Idle)
	profWG.Wait()
	idleTo, err := readAll(false)
	if err != nil {
		return res, err
	}
	idleSecs := time.Since(t0).Seconds()
	for k := range nodes {
		n := &res.Nodes[k]
		n.CPUIdle = float64(idleTo[k].CPUNanos-idleFrom[k].CPUNanos) / 1e9 / idleSecs
		n.BrokerPubIdle = float64(idleTo[k].BrokerPublished-idleFrom[k].BrokerPublished) / idleSecs
		n.BrokerDelIdle = float64(idleTo[k].BrokerDelivered-idleFrom[k].BrokerDelivered) / idleSecs
		n.RSSIdleMB = float64(idleTo[k].RSS) / (1 << 20)
		res.BrokerPubIdle += n.BrokerPubIdle
		res.BrokerDelIdle += n.BrokerDelIdle
		if profiles[k] != nil {
			n.VisitLoop, n.VisitLoopShare = visitLoopCost(profiles[k], cfg.OutDir, k, logf)
		}
	}
	logf("idle phase: %.0f s", idleSecs)

	// Active pairs, in this process: visitor p on node p % Nodes asks for
	// the next node's department (a cross pair) or its own (a local one).
	vis := make([]*client.Conn, P)
	defer func() { closeAll(vis) }()
	visNode := make([]int, P)
	convs := make([]string, P)
	visTr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer visTr.CloseIdleConnections()
	var pairRedials atomic.Int64
	defer func() { logf("pair visitors dialled again: %d", pairRedials.Load()) }()
	err = parallel(P, 32, func(p int) error {
		k := p % cfg.Nodes
		visNode[p] = k
		dep := nodeDepartment((k + 1) % cfg.Nodes)
		if p >= cfg.Pairs {
			dep = nodeDepartment(k)
		}
		jar, _ := cookiejar.New(nil)
		opts := client.Options{HTTPClient: &http.Client{Jar: jar, Transport: visTr},
			OnFrame: func(f protocol.ServerFrame) { toVis.frame(f, protocol.KindOperator) }}
		// A loaded node may drop a handshake (a reused keep-alive connection
		// it was closing: EOF); a pair is dialled again, as a widget would.
		c, err := client.DialVisitor(ctx, nodes[k].URL, opts)
		for retry := 0; err != nil && retry < 3 && ctx.Err() == nil; retry++ {
			pairRedials.Add(1)
			c, err = client.DialVisitor(ctx, nodes[k].URL, opts)
		}
		if err != nil {
			return fmt.Errorf("dial pair visitor: %w", err)
		}
		vis[p] = c
		url, title := shopPage(p)
		if err := c.Page(ctx, url, title, ""); err != nil {
			return fmt.Errorf("pair visitor page: %w", err)
		}
		m, err := c.SendWith(ctx, client.Outgoing{Text: "hello, I need help", Department: dep})
		if err != nil {
			return fmt.Errorf("pair visitor opening message: %w", err)
		}
		convs[p] = m.Conv
		return nil
	})
	if err != nil {
		return res, err
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	opOf, err := as.wait(wctx, convs)
	cancel()
	if err != nil {
		return res, err
	}
	cross := make([]bool, P)
	for p := range P {
		cross[p] = visNode[p] != opNode[opOf[p]]
		if cross[p] {
			res.CrossPairs++
		} else {
			res.LocalPairs++
		}
	}
	logf("%d pairs assigned: %d across nodes, %d within one", P, res.CrossPairs, res.LocalPairs)

	activeFrom, err := readAll(false)
	if err != nil {
		return res, err
	}
	framesFrom := liveFrames.Load()
	res.Offered = cfg.Rate
	var sent, acked, errs atomic.Int64
	var firstErr atomic.Value
	var ackMu sync.Mutex
	var ackLat []time.Duration
	ackedKeys := map[int64]bool{}
	sctx, cancelSends := context.WithTimeout(ctx, cfg.Duration+30*time.Second)
	defer cancelSends()
	var wg sync.WaitGroup
	a0 := time.Now().Add(20 * time.Millisecond)
	activeProfiles := profileActive(cfg, nodes)
	defer activeProfiles()
	total := int64(cfg.Rate * cfg.Duration.Seconds())
	interval := float64(time.Second) / cfg.Rate
	for k := int64(0); k < total && sctx.Err() == nil; k++ {
		sched := a0.Add(time.Duration(float64(k) * interval))
		if d := time.Until(sched); d > 0 {
			time.Sleep(d)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := int(k % int64(P))
			from := vis[p]
			if (k/int64(P))%2 == 1 {
				from = ops[opOf[p]]
			}
			sent.Add(1)
			if _, err := from.Send(sctx, convs[p], text(k, sched, cfg.Size)); err != nil {
				errs.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
				return
			}
			d := time.Since(sched)
			acked.Add(1)
			ackMu.Lock()
			ackLat = append(ackLat, d)
			ackedKeys[k] = true
			ackMu.Unlock()
		}()
	}
	wg.Wait()
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if int64(toOps.count()+toVis.count()) >= acked.Load() {
			break
		}
	}
	activeSecs := time.Since(a0).Seconds()
	activeTo, err := readAll(false)
	if err != nil {
		return res, err
	}
	res.Sent, res.Acked, res.Errors = sent.Load(), acked.Load(), errs.Load()
	if s, ok := firstErr.Load().(string); ok {
		res.FirstError = s
	}
	var crossLat, localLat []time.Duration
	for _, r := range []*keyRecorder{toOps, toVis} {
		r.mu.Lock()
		res.Dups += int64(r.dups)
		for k, d := range r.got {
			res.Received++
			if !ackedKeys[k] {
				res.Unacked++
			}
			if cross[int(k%int64(P))] {
				crossLat = append(crossLat, d)
			} else {
				localLat = append(localLat, d)
			}
		}
		r.mu.Unlock()
	}
	for k := range ackedKeys {
		if !toOps.has(k) && !toVis.has(k) {
			res.Lost++
		}
	}
	res.CrossDelivery, res.LocalDelivery, res.Ack = summarize(crossLat), summarize(localLat), summarize(ackLat)
	var cpu int64
	for k := range nodes {
		n := &res.Nodes[k]
		d := activeTo[k].CPUNanos - activeFrom[k].CPUNanos
		cpu += d
		n.CPUActive = float64(d) / 1e9 / activeSecs
		n.BrokerPubActive = float64(activeTo[k].BrokerPublished-activeFrom[k].BrokerPublished) / activeSecs
		n.BrokerDelActive = float64(activeTo[k].BrokerDelivered-activeFrom[k].BrokerDelivered) / activeSecs
		n.RSSEndMB = float64(activeTo[k].RSS) / (1 << 20)
		n.Observed, n.Counters = activeTo[k].Observed, activeTo[k].Counters
		res.BrokerPubActive += n.BrokerPubActive
		res.BrokerDelActive += n.BrokerDelActive
		res.RSSTotalMB += n.RSSEndMB
	}
	if res.Received > 0 {
		res.CPUPerMsgUs = float64(cpu) / 1e3 / float64(res.Received)
	}
	frames := liveFrames.Load() - framesFrom
	res.LiveFramesPerOpSec = float64(frames) / activeSecs / float64(cfg.Operators)
	if f := liveFrames.Load(); f > 0 {
		res.LiveFrameVisitors = float64(liveVisitors.Load()) / float64(f)
	}
	logf("active phase: %.0f s", activeSecs)
	return res, nil
}

func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return strings.TrimSpace(string(b))
}

func nodeDepartment(k int) string { return "node-" + strconv.Itoa(k) }

// keyRecorder collects delivery latencies by message number.
type keyRecorder struct {
	mu   sync.Mutex
	got  map[int64]time.Duration
	dups int
}

func newKeyRecorder() *keyRecorder { return &keyRecorder{got: make(map[int64]time.Duration)} }

func (r *keyRecorder) frame(f protocol.ServerFrame, fromKind string) {
	if f.Type != protocol.TypeMessage || f.Message == nil || f.Message.Kind != fromKind {
		return
	}
	k, sched, ok := parseText(f.Message.Text)
	if !ok {
		return
	}
	d := time.Duration(time.Now().UnixNano() - sched)
	r.mu.Lock()
	if _, dup := r.got[k]; dup {
		r.dups++
	} else {
		r.got[k] = d
	}
	r.mu.Unlock()
}

func (r *keyRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

func (r *keyRecorder) has(k int64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.got[k]
	return ok
}

// profileActive takes every node's CPU profile over the active phase
// (with cfg.Profile and cfg.OutDir) and, when the returned func is called,
// saves each raw (node<k>-active.pb.gz) with its top lines by cumulative
// time (node<k>-active-top.txt): where the active phase's CPU goes.
// saveIdleHeaps keeps each node's heap profile, taken with every idle
// visitor connected, and its top lines by in-use space in OutDir. Run the
// nodes with GODEBUG=memprofilerate=1 for exact bytes per visitor instead
// of 512 KB samples.
func saveIdleHeaps(cfg FleetConfig, nodes []Target) {
	if !cfg.Profile || cfg.OutDir == "" {
		return
	}
	for k, t := range nodes {
		saveNodeProfile(cfg.OutDir, fmt.Sprintf("node%d-idle-heap", k), fetchDebug(t.URL, "heap", 0), "-sample_index=inuse_space", "-nodecount=60")
	}
}

// saveNodeProfile writes prof (nil: nothing) to dir as name.pb.gz, and the
// top lines `go tool pprof -top args` prints of it as name-top.txt.
func saveNodeProfile(dir, name string, prof []byte, args ...string) {
	if prof == nil {
		return
	}
	file := filepath.Join(dir, name+".pb.gz")
	if os.WriteFile(file, prof, 0o644) != nil {
		return
	}
	args = append(append([]string{"tool", "pprof", "-top"}, args...), file)
	if out, err := exec.Command("go", args...).Output(); err == nil {
		os.WriteFile(filepath.Join(dir, name+"-top.txt"), out, 0o644)
	}
}

func profileActive(cfg FleetConfig, nodes []Target) (save func()) {
	if !cfg.Profile || cfg.OutDir == "" || cfg.Duration < 2*time.Second {
		return func() {}
	}
	var wg sync.WaitGroup
	profiles := make([][]byte, len(nodes))
	for k, t := range nodes {
		wg.Go(func() { profiles[k] = fetchDebug(t.URL, "profile", cfg.Duration) })
		if cfg.Trace > 0 && cfg.Trace < cfg.Duration {
			wg.Go(func() {
				time.Sleep((cfg.Duration - cfg.Trace) / 2) // the middle of the phase, not its ramp
				if tr := fetchDebug(t.URL, "trace", cfg.Trace); tr != nil {
					os.WriteFile(filepath.Join(cfg.OutDir, fmt.Sprintf("node%d-active.trace", k)), tr, 0o644)
				}
			})
		}
	}
	return func() {
		wg.Wait()
		for k, prof := range profiles {
			saveNodeProfile(cfg.OutDir, fmt.Sprintf("node%d-active", k), prof, "-cum", "-nodecount=80")
		}
	}
}

// fetchDebug takes a node's CPU profile ("profile") or execution trace
// ("trace") over d, or with d 0 a snapshot such as "heap".
func fetchDebug(base, kind string, d time.Duration) []byte {
	hc := &http.Client{Timeout: d + time.Minute}
	url := base + "/debug/pprof/" + kind
	if d > 0 { // a heap profile with seconds is the difference over them
		url += "?seconds=" + strconv.Itoa(max(1, int(d.Seconds())))
	}
	resp, err := hc.Get(url)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil
	}
	return b
}

// visitLoopFuncs are the functions of the visit loop's work in a profile:
// the loop and what it calls (trigger evaluation, the sweep, publishing
// the live list), applying other nodes' visit announcements, and the
// operators' live list.
var visitLoopFuncs = regexp.MustCompile(`chat\.\(\*Server\)\.(visitLoop|runVisits|evaluate|sweepVisits|publishVisits|refreshInfo|applyVisits|announceVisits|liveFrames|LiveVisitors)$|chat\.\(\*Server\)\.\w*[Vv]isit\w*$`)

// visitLoopCost reads a node's idle-phase CPU profile with `go tool pprof
// -top -cum`, saves its top lines to outDir, and returns the visit loop's
// functions and their share of one core: visitLoop's cumulative time plus
// applyVisits' (run from the bridge, outside the loop).
func visitLoopCost(prof []byte, outDir string, node int, logf func(string, ...any)) ([]ProfileLine, float64) {
	dir, err := os.MkdirTemp("", "fleet-prof-")
	if err != nil {
		return nil, 0
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "cpu.pb.gz")
	if err := os.WriteFile(file, prof, 0o644); err != nil {
		return nil, 0
	}
	out, err := exec.Command("go", "tool", "pprof", "-top", "-cum", "-nodecount=400", file).Output()
	if err != nil {
		logf("node %d profile: go tool pprof: %v", node, err)
		return nil, 0
	}
	if outDir != "" {
		lines := strings.SplitAfter(string(out), "\n")
		os.WriteFile(filepath.Join(outDir, fmt.Sprintf("node%d-idle-top.txt", node)), []byte(strings.Join(lines[:min(len(lines), 70)], "")), 0o644)
	}
	var dur float64
	var found []ProfileLine
	for _, l := range bytes.Split(out, []byte("\n")) {
		s := string(l)
		if rest, ok := strings.CutPrefix(s, "Duration: "); ok {
			d, err := time.ParseDuration(strings.TrimSpace(strings.SplitN(rest, ",", 2)[0]))
			if err == nil {
				dur = d.Seconds()
			}
			continue
		}
		f := strings.Fields(s)
		if len(f) < 6 || !visitLoopFuncs.MatchString(f[5]) {
			continue
		}
		cum, err := time.ParseDuration(f[3])
		if err != nil {
			continue
		}
		found = append(found, ProfileLine{Func: f[5], Cum: cum.Seconds()})
	}
	if dur == 0 {
		return found, 0
	}
	var share float64
	for i := range found {
		found[i].Share = found[i].Cum / dur
		if strings.HasSuffix(found[i].Func, ".visitLoop") || strings.HasSuffix(found[i].Func, ".applyVisits") {
			share += found[i].Share
		}
	}
	sort.Slice(found, func(i, j int) bool { return found[i].Cum > found[j].Cum })
	return found, share
}

// String is the run's report.
func (r FleetResult) String() string {
	var b strings.Builder
	c := r.Config
	fmt.Fprintf(&b, "fleet: %d nodes, postgres + %s broker; %d visitors (%d idle connected, %d failed, %d not tried in %s; %d pairs' visitors), %d operators, %d+%d pairs at %.0f msg/s for %s; %d load workers\n",
		c.Nodes, c.Broker, c.Visitors, r.IdleConnected, r.IdleFailed, r.IdleNotTried, c.DialFor, c.Pairs+c.LocalPairs, c.Operators, c.Pairs, c.LocalPairs, c.Rate, c.Duration, r.Workers)
	if c.NodeGODEBUG != "" {
		fmt.Fprintf(&b, "  nodes' GODEBUG: %s\n", c.NodeGODEBUG)
	}
	if r.IdleFirstError != "" {
		fmt.Fprintf(&b, "  first dial failure: %s\n", r.IdleFirstError)
	}
	fmt.Fprintf(&b, "  load average at start: %s; at end: %s\n", r.LoadAvgStart, r.LoadAvgEnd)
	fmt.Fprintf(&b, "  connect: %.0f s, %.0f visitors/s; load workers' RSS %.0f MiB in total\n", r.DialSeconds, r.DialRate, r.WorkerRSSMB)
	for k, n := range r.Nodes {
		fmt.Fprintf(&b, "  node %d: %d idle visitors; per visitor heap+stack %.0f B (heap %.0f, stack %.0f), %.3f goroutines; RSS idle %.0f MiB, end %.0f MiB; CPU idle %.1f%%, active %.1f%% of a core; broker pub/deliv per s idle %.0f/%.0f, active %.0f/%.0f\n",
			k, n.Visitors, n.HeapStackPerVisitor, n.HeapPerVisitor, n.StackPerVisitor, n.GoroutinesPerVisitor, n.RSSIdleMB, n.RSSEndMB,
			100*n.CPUIdle, 100*n.CPUActive, n.BrokerPubIdle, n.BrokerDelIdle, n.BrokerPubActive, n.BrokerDelActive)
		if len(n.VisitLoop) > 0 {
			fmt.Fprintf(&b, "    visit loop + applying others' visits: %.2f%% of a core; by function (cum):", 100*n.VisitLoopShare)
			for _, l := range n.VisitLoop {
				fmt.Fprintf(&b, " %s %.2f%%;", strings.TrimPrefix(l.Func, "github.com/shopchat/chat."), 100*l.Share)
			}
			b.WriteString("\n")
		}
		var obs []string
		for name, o := range n.Observed {
			if strings.Contains(name, "visit") || strings.Contains(name, "trigger") || strings.Contains(name, "sweep") || strings.Contains(name, "append") {
				obs = append(obs, fmt.Sprintf("%s n=%d avg %.2f ms max %.2f ms", name, o.Count, 1e3*o.Sum/float64(max(o.Count, 1)), 1e3*o.Max))
			}
		}
		var ctrs []string
		for name, v := range n.Counters {
			if strings.HasPrefix(name, "bridge_") || strings.HasPrefix(name, "visits_") || strings.HasPrefix(name, "pageviews_dropped") || strings.HasPrefix(name, "invitations") {
				ctrs = append(ctrs, fmt.Sprintf("%s %.0f", name, v))
			}
		}
		sort.Strings(obs)
		sort.Strings(ctrs)
		if len(obs)+len(ctrs) > 0 {
			fmt.Fprintf(&b, "    %s\n", strings.Join(append(obs, ctrs...), "; "))
		}
	}
	fmt.Fprintf(&b, "  total: RSS %.0f MiB; heap+stack per idle visitor %.0f B; broker publishes/deliveries per s idle %.0f/%.0f, active %.0f/%.0f\n",
		r.RSSTotalMB, r.HeapStackPerVisitor, r.BrokerPubIdle, r.BrokerDelIdle, r.BrokerPubActive, r.BrokerDelActive)
	fmt.Fprintf(&b, "  pairs: %d across nodes, %d within one; sent %d acked %d received %d dups %d lost %d unacked-received %d errors %d %s\n",
		r.CrossPairs, r.LocalPairs, r.Sent, r.Acked, r.Received, r.Dups, r.Lost, r.Unacked, r.Errors, r.FirstError)
	ratio := 0.0
	if r.LocalDelivery.P99 > 0 {
		ratio = r.CrossDelivery.P99 / r.LocalDelivery.P99
	}
	fmt.Fprintf(&b, "  delivery across nodes: %s (n=%d)\n  delivery within a node: %s (n=%d)\n  cross/local p99 %.2fx; ack %s; %.0f us server CPU per message; live-list frames %.2f per operator per s, %.0f visitors each\n",
		r.CrossDelivery, r.CrossDelivery.N, r.LocalDelivery, r.LocalDelivery.N, ratio, r.Ack, r.CPUPerMsgUs, r.LiveFramesPerOpSec, r.LiveFrameVisitors)
	return b.String()
}
