package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/shopchat/chat/client"
)

// WorkerConfig is one load-generator process's share of the fleet's idle
// visitors: visitors From..To-1, visitor i on node i % len(Nodes).
type WorkerConfig struct {
	Nodes       []string // base URLs
	From, To    int
	DialRate    float64 // new connections per second (0: unpaced)
	Concurrency int     // dials in flight
	// DialFor bounds the dialling: visitors not dialled by then are
	// reported as NotTried, and the run goes on with those connected.
	DialFor time.Duration
}

// WorkerReport is what a worker says once it has dialled its visitors.
type WorkerReport struct {
	Connected        int
	ConnectedPerNode []int
	Failed           int    // dials or page frames that failed: counted, not fatal
	NotTried         int    // left undialled at DialFor
	FirstError       string `json:",omitempty"`
	Seconds          float64
	RSSMB            float64 // the worker process's, once connected
}

// Worker is a running load-generator process (or goroutine, in tests).
type Worker struct {
	// Report receives the worker's report once its visitors are
	// connected; it is closed without one if the worker failed.
	Report <-chan WorkerReport
	// Stop closes the worker's visitors and waits for it.
	Stop func()
}

// WorkerSpawner starts a worker.
type WorkerSpawner func(ctx context.Context, cfg WorkerConfig) (Worker, error)

// RunVisitors dials cfg's idle visitors as a widget does (session, socket,
// hello, then a page frame with the page's URL and title), at a bounded
// rate and concurrency, calls ready with the tally, keeps them connected
// until ctx ends, then closes them.
func RunVisitors(ctx context.Context, cfg WorkerConfig, ready func(WorkerReport)) {
	n := cfg.To - cfg.From
	conc := max(cfg.Concurrency, 1)
	trs := make([]*http.Transport, len(cfg.Nodes))
	for i := range trs {
		// Few idle connections: each holds a file on the node too. The
		// session request's connection goes back to the pool and becomes
		// the socket of the upgrade that follows it.
		trs[i] = &http.Transport{MaxIdleConnsPerHost: 4, IdleConnTimeout: 5 * time.Second}
	}
	conns := make([]*client.Conn, n)
	perNode := make([]int, len(cfg.Nodes))
	var mu sync.Mutex
	var failed atomic.Int64
	var firstErr atomic.Value
	fail := func(err error) {
		failed.Add(1)
		firstErr.CompareAndSwap(nil, err.Error())
	}
	start := time.Now()
	stopAt := start.Add(cfg.DialFor)
	var next, tried atomic.Int64
	var wg sync.WaitGroup
	progress := time.AfterFunc(30*time.Second, func() {})
	progress = time.AfterFunc(30*time.Second, func() {
		mu.Lock()
		done := 0
		for _, c := range perNode {
			done += c
		}
		mu.Unlock()
		fmt.Fprintf(os.Stderr, "%s fleet worker %d-%d: %d connected, %d failed\n", time.Now().UTC().Format("15:04:05"), cfg.From, cfg.To, done, failed.Load())
		progress.Reset(30 * time.Second)
	})
	for range min(conc, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && (cfg.DialFor <= 0 || time.Now().Before(stopAt)) {
				j := int(next.Add(1) - 1)
				if j >= n {
					return
				}
				tried.Add(1)
				if cfg.DialRate > 0 {
					if d := time.Until(start.Add(time.Duration(float64(j) / cfg.DialRate * float64(time.Second)))); d > 0 {
						time.Sleep(d)
					}
				}
				i := cfg.From + j
				node := i % len(cfg.Nodes)
				c, err := dialIdleVisitor(ctx, cfg.Nodes[node], trs[node], i, len(cfg.Nodes))
				if err != nil {
					fail(err)
					continue
				}
				conns[j] = c
				mu.Lock()
				perNode[node]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	progress.Stop()
	for _, tr := range trs {
		tr.CloseIdleConnections()
	}
	rep := WorkerReport{ConnectedPerNode: perNode, Failed: int(failed.Load()), NotTried: n - int(tried.Load()), Seconds: time.Since(start).Seconds(), RSSMB: float64(rss()) / (1 << 20)}
	for _, c := range perNode {
		rep.Connected += c
	}
	if s, ok := firstErr.Load().(string); ok {
		rep.FirstError = s
	}
	ready(rep)
	<-ctx.Done()
	closeAll(conns)
}

// dialIdleVisitor connects idle visitor i to the node at base and reports
// its page, as the widget does after its hello. Pages go by i/nodes, so
// that every node has the same mix of pages.
func dialIdleVisitor(ctx context.Context, base string, tr *http.Transport, i, nodes int) (*client.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	jar, _ := cookiejar.New(nil)
	c, err := client.DialVisitor(ctx, base, client.Options{HTTPClient: &http.Client{Jar: jar, Transport: tr}, MaxBackoff: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("dial visitor: %w", err)
	}
	url, title := shopPage(i / nodes)
	ref := ""
	if i%4 == 0 {
		ref = "https://www.google.com/search?q=shop"
	}
	if err := c.Page(ctx, url, title, ref); err != nil {
		c.Close()
		return nil, fmt.Errorf("page frame: %w", err)
	}
	return c, nil
}

// InProcessWorker runs a worker as goroutines of this process (tests).
func InProcessWorker(ctx context.Context, cfg WorkerConfig) (Worker, error) {
	ctx, cancel := context.WithCancel(ctx)
	reports := make(chan WorkerReport, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		RunVisitors(ctx, cfg, func(r WorkerReport) { reports <- r })
	}()
	return Worker{Report: reports, Stop: func() { cancel(); <-done }}, nil
}

// SubprocessWorker runs a worker as a child process of this binary
// (os.Args[0] fleet-worker), so that its sockets count against its own
// open-files limit: the config goes in on stdin, the report comes out as
// a "REPORT {json}" line on stdout, and closing stdin ends the worker.
func SubprocessWorker(ctx context.Context, cfg WorkerConfig) (Worker, error) {
	exe, err := os.Executable()
	if err != nil {
		return Worker{}, err
	}
	cmd := exec.Command(exe, "fleet-worker")
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return Worker{}, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return Worker{}, err
	}
	if err := cmd.Start(); err != nil {
		return Worker{}, err
	}
	if err := json.NewEncoder(in).Encode(cfg); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return Worker{}, err
	}
	reports := make(chan WorkerReport, 1)
	go func() {
		defer close(reports)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if l, ok := strings.CutPrefix(sc.Text(), "REPORT "); ok {
				var r WorkerReport
				if json.Unmarshal([]byte(l), &r) == nil {
					reports <- r
				}
			}
		}
	}()
	stop := func() {
		in.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			cmd.Process.Signal(syscall.SIGKILL)
			<-done
		}
	}
	return Worker{Report: reports, Stop: stop}, nil
}

// ServeWorker is the worker process's side of SubprocessWorker.
func ServeWorker(ctx context.Context) error {
	in := bufio.NewReader(os.Stdin)
	var cfg WorkerConfig
	if err := json.NewDecoder(in).Decode(&cfg); err != nil {
		return fmt.Errorf("worker config: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { // stdin closed: stop
		for {
			if _, err := in.ReadByte(); err != nil {
				cancel()
				return
			}
		}
	}()
	RunVisitors(ctx, cfg, func(r WorkerReport) {
		b, _ := json.Marshal(r)
		fmt.Printf("REPORT %s\n", b)
	})
	return nil
}
