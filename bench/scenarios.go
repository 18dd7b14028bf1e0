package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shopchat/chat/client"
	"github.com/shopchat/chat/protocol"
)

// Result is one scenario run against one server.
type Result struct {
	Scenario string
	Server   string // "baseline" or "full/<store>"

	Conns       int     // connections open at the end of setup
	ConnectRate float64 // connections (session + socket + hello..synced) per second during setup

	// Pairs workloads.
	Offered        float64 // msg/s offered (0: closed loop)
	Sent, Acked    int64
	Received, Dups int64
	Errors         int64
	FirstError     string `json:",omitempty"`
	Seconds        float64
	Throughput     float64 // messages delivered per second
	AckRate        float64 // messages acked per second
	Delivery       Latency // send (scheduled) -> other side receives, both directions
	VisitorToOp    Latency
	OpToVisitor    Latency
	Ack            Latency // send (scheduled) -> ack
	// AckToDelivery is ack -> the other side receives, per message (0 when
	// the delivery came first): the fan-out part of Delivery, across nodes
	// the broker's, without the append that Ack already has.
	AckToDelivery Latency
	CPUPerMsgUs   float64 // server CPU microseconds per delivered message
	MsgsPerCPUSec float64 // delivered messages per second of server CPU

	// Idle.
	HeapPerConn       float64 // bytes of heap in use per connection
	StackPerConn      float64
	HeapStackPerConn  float64
	GoroutinesPerConn float64

	// Storm.
	Resumes       int
	ResumeRate    float64 // visitors fully resumed per second after the gate opened
	Missed        int     // messages each visitor missed
	MissedTotal   int64   // missed messages delivered in total (once each)
	ResumeLatency Latency // gate open -> every missed message received

	RSSMB      float64 // server RSS at the end, MiB
	Goroutines int     // server goroutines at the end of setup
}

// PairsConfig is a relay-like workload: visitor-operator pairs exchanging
// messages, at a fixed offered rate (open loop) or as fast as acks come
// back (closed loop, Rate 0), beside optional idle visitors.
type PairsConfig struct {
	Pairs, Operators, Idle int
	Rate                   float64 // total msg/s offered, both directions; 0: closed loop
	Duration               time.Duration
	Size                   int // message text bytes
}

func dialOperators(ctx context.Context, e *env, n int, onFrame func(i int, id string, f protocol.ServerFrame)) ([]*client.Conn, error) {
	ops := make([]*client.Conn, n)
	err := parallel(n, 16, func(i int) error {
		id := "op-" + strconv.Itoa(i)
		c, err := e.operator(ctx, id, func(f protocol.ServerFrame) { onFrame(i, id, f) })
		ops[i] = c
		return err
	})
	return ops, err
}

// assignments tracks which operator each conversation was assigned to.
type assignments struct {
	mu sync.Mutex
	m  map[string]int
}

func (a *assignments) frame(i int, id string, f protocol.ServerFrame) {
	if f.Type == protocol.TypeState && f.Conversation != nil && f.Conversation.Status == protocol.StatusAssigned &&
		f.Conversation.Operator != nil && f.Conversation.Operator.ID == id {
		a.mu.Lock()
		a.m[f.Conversation.ID] = i
		a.mu.Unlock()
	}
}

// wait returns the operator index of every conversation once all are assigned.
func (a *assignments) wait(ctx context.Context, convs []string) ([]int, error) {
	for {
		a.mu.Lock()
		out := make([]int, len(convs))
		missing := 0
		for i, c := range convs {
			op, ok := a.m[c]
			if !ok {
				missing++
			}
			out[i] = op
		}
		a.mu.Unlock()
		if missing == 0 {
			return out, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%d of %d conversations never assigned: %w", missing, len(convs), ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// openPairs dials the operators and n visitors, each of whom opens a
// conversation, and waits until every conversation is assigned.
func openPairs(ctx context.Context, e *env, n, nOps int, opFrame, visFrame func(i int, f protocol.ServerFrame)) (ops, vis []*client.Conn, convs []string, opOf []int, rate float64, err error) {
	as := &assignments{m: make(map[string]int)}
	ops, err = dialOperators(ctx, e, nOps, func(i int, id string, f protocol.ServerFrame) {
		as.frame(i, id, f)
		if opFrame != nil {
			opFrame(i, f)
		}
	})
	if err != nil {
		return ops, nil, nil, nil, 0, fmt.Errorf("dial operators: %w", err)
	}
	vis = make([]*client.Conn, n)
	convs = make([]string, n)
	start := time.Now()
	err = parallel(n, 64, func(i int) error {
		c, err := e.visitor(ctx, nil, func(f protocol.ServerFrame) {
			if visFrame != nil {
				visFrame(i, f)
			}
		})
		if err != nil {
			return fmt.Errorf("dial visitor: %w", err)
		}
		vis[i] = c
		m, err := c.Send(ctx, "", "hello, I need help")
		if err != nil {
			return fmt.Errorf("visitor opening message: %w", err)
		}
		convs[i] = m.Conv
		return nil
	})
	rate = float64(n) / time.Since(start).Seconds()
	if err != nil {
		return ops, vis, nil, nil, rate, err
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	opOf, err = as.wait(wctx, convs)
	return ops, vis, convs, opOf, rate, err
}

// RunPairs runs a pairs workload.
func RunPairs(ctx context.Context, t Target, pc PairsConfig) (res Result, err error) {
	e, err := newEnv(t)
	if err != nil {
		return res, err
	}
	defer e.close()
	if pc.Size <= 0 {
		pc.Size = 200
	}
	res.Offered = pc.Rate

	var idle []*client.Conn
	defer func() { closeAll(idle) }()
	if pc.Idle > 0 {
		idle = make([]*client.Conn, pc.Idle)
		start := time.Now()
		if err := parallel(pc.Idle, 64, func(i int) error {
			c, err := e.visitor(ctx, nil, nil)
			idle[i] = c
			return err
		}); err != nil {
			return res, fmt.Errorf("idle visitors: %w", err)
		}
		res.ConnectRate = float64(pc.Idle) / time.Since(start).Seconds()
	}

	toOps, toVis := newRecorder(), newRecorder()
	ops, vis, convs, opOf, rate, err := openPairs(ctx, e, pc.Pairs, pc.Operators,
		func(_ int, f protocol.ServerFrame) { toOps.frame(f, protocol.KindVisitor) },
		func(_ int, f protocol.ServerFrame) { toVis.frame(f, protocol.KindOperator) })
	defer func() { closeAll(vis); closeAll(ops) }()
	if err != nil {
		return res, err
	}
	if res.ConnectRate == 0 {
		res.ConnectRate = rate
	}
	res.Conns = pc.Idle + pc.Pairs + pc.Operators
	e.tr.CloseIdleConnections()
	before, err := t.Stats(false)
	if err != nil {
		return res, err
	}
	res.Goroutines = before.Goroutines

	var acked, sent, errs atomic.Int64
	var firstErr atomic.Value
	var ackMu sync.Mutex
	var ackLat []time.Duration
	ackAt := make(map[int64]int64) // message number -> when its ack came (unix nanos)
	send := func(k int64, pair int, toOp bool, sched time.Time, sctx context.Context) {
		from := ops[opOf[pair]]
		if !toOp {
			from = vis[pair]
		}
		sent.Add(1)
		if _, err := from.Send(sctx, convs[pair], text(k, sched, pc.Size)); err != nil {
			errs.Add(1)
			firstErr.CompareAndSwap(nil, err.Error())
			return
		}
		now := time.Now()
		acked.Add(1)
		ackMu.Lock()
		ackLat = append(ackLat, now.Sub(sched))
		ackAt[k] = now.UnixNano()
		ackMu.Unlock()
	}
	sctx, cancel := context.WithTimeout(ctx, pc.Duration+30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	if secs := int(pc.Duration.Seconds() * 0.8); secs > 0 {
		go saveNodeProfiles(t, "profile?seconds="+strconv.Itoa(secs), "cpu.pb.gz")
	}
	if secs, _ := strconv.Atoi(os.Getenv("BENCH_TRACE_SECONDS")); secs > 0 && pc.Duration > 2*time.Second {
		// An execution trace of the middle of the run: where messages wait.
		time.AfterFunc(pc.Duration/2-time.Duration(secs)*time.Second/2, func() {
			saveNodeProfiles(t, "trace?seconds="+strconv.Itoa(secs), "trace.out")
		})
	}
	t0 := time.Now().Add(20 * time.Millisecond)
	if pc.Rate > 0 { // open loop: sends leave on schedule whatever happened to earlier ones
		total := int64(pc.Rate * pc.Duration.Seconds())
		interval := float64(time.Second) / pc.Rate
		P := int64(pc.Pairs)
		for k := int64(0); k < total && sctx.Err() == nil; k++ {
			sched := t0.Add(time.Duration(float64(k) * interval))
			if d := time.Until(sched); d > 0 {
				time.Sleep(d)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				send(k, int(k%P), (k/P)%2 == 0, sched, sctx)
			}()
		}
	} else { // closed loop: each side of each pair sends its next message when the last is acked
		var next atomic.Int64
		deadline := t0.Add(pc.Duration)
		for pair := range pc.Pairs {
			for _, toOp := range []bool{true, false} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for time.Now().Before(deadline) && sctx.Err() == nil {
						send(next.Add(1)-1, pair, toOp, time.Now(), sctx)
					}
				}()
			}
		}
	}
	wg.Wait()
	// Wait for the last deliveries.
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if int64(toOps.count()+toVis.count()) >= acked.Load() {
			break
		}
	}
	res.Seconds = time.Since(t0).Seconds()
	after, err := t.Stats(false)
	if err != nil {
		return res, err
	}
	res.Sent, res.Acked, res.Errors = sent.Load(), acked.Load(), errs.Load()
	if s, ok := firstErr.Load().(string); ok {
		res.FirstError = s
	}
	toOps.mu.Lock()
	toVis.mu.Lock()
	res.Received = int64(len(toOps.got) + len(toVis.got))
	res.Dups = int64(toOps.dups + toVis.dups)
	all := append(append([]time.Duration(nil), toOps.lat...), toVis.lat...)
	var afterAck []time.Duration
	ackMu.Lock()
	for _, got := range []map[int64]int64{toOps.got, toVis.got} {
		for k, at := range got {
			if a, ok := ackAt[k]; ok {
				afterAck = append(afterAck, time.Duration(max(0, at-a)))
			}
		}
	}
	ackMu.Unlock()
	res.AckToDelivery = summarize(afterAck)
	res.VisitorToOp, res.OpToVisitor = summarize(toOps.lat), summarize(toVis.lat)
	toVis.mu.Unlock()
	toOps.mu.Unlock()
	res.Delivery = summarize(all)
	res.Ack = summarize(ackLat)
	res.Throughput = float64(res.Received) / res.Seconds
	res.AckRate = float64(res.Acked) / res.Seconds
	cpu := after.CPUNanos - before.CPUNanos
	if res.Received > 0 && cpu > 0 {
		res.CPUPerMsgUs = float64(cpu) / 1e3 / float64(res.Received)
		res.MsgsPerCPUSec = float64(res.Received) / (float64(cpu) / 1e9)
	}
	res.RSSMB = float64(after.RSS) / (1 << 20)
	return res, nil
}

// RunIdle opens n idle visitor connections and measures what each costs
// the server: heap and stack in use and goroutines, after a full GC, with
// the visitors' sessions (store records) created before the baseline
// reading so only the connections are counted. With page, each visitor
// then reports its page, as the widget does after hello, so the visit's
// tracking state and the page frame's handling are counted too.
func RunIdle(ctx context.Context, t Target, n int, page bool) (res Result, err error) {
	e, err := newEnv(t)
	if err != nil {
		return res, err
	}
	defer e.close()
	hcs := make([]*http.Client, n)
	if err := parallel(n, 64, func(i int) (err error) {
		hcs[i], err = e.session(ctx)
		return err
	}); err != nil {
		return res, err
	}
	e.tr.CloseIdleConnections()
	time.Sleep(500 * time.Millisecond)
	before, err := t.Stats(true)
	if err != nil {
		return res, err
	}
	conns := make([]*client.Conn, n)
	defer func() { closeAll(conns) }()
	start := time.Now()
	if err := parallel(n, 64, func(i int) (err error) {
		if conns[i], err = e.visitor(ctx, hcs[i], nil); err != nil || !page {
			return err
		}
		url, title := shopPage(i)
		return conns[i].Page(ctx, url, title, "")
	}); err != nil {
		return res, err
	}
	res.ConnectRate = float64(n) / time.Since(start).Seconds()
	e.tr.CloseIdleConnections()
	time.Sleep(time.Second)
	after, err := t.Stats(true)
	if err != nil {
		return res, err
	}
	res.Conns = n
	saveProfile(t, "heap")
	N := float64(n)
	res.HeapPerConn = (float64(after.HeapInuse) - float64(before.HeapInuse)) / N
	res.StackPerConn = (float64(after.StackInuse) - float64(before.StackInuse)) / N
	res.HeapStackPerConn = res.HeapPerConn + res.StackPerConn
	res.GoroutinesPerConn = float64(after.Goroutines-before.Goroutines) / N
	res.Goroutines = after.Goroutines
	res.RSSMB = float64(after.RSS) / (1 << 20)
	return res, nil
}

// RunStorm opens n visitor conversations, drops every visitor connection
// at once, has the operators send each conversation missed messages while
// the visitors are away, then lets every visitor reconnect at the same
// instant and measures how fast all of them resume with every missed
// message delivered exactly once.
func RunStorm(ctx context.Context, t Target, n, nOps, missed int) (res Result, err error) {
	e, err := newEnv(t)
	if err != nil {
		return res, err
	}
	defer e.close()
	res.Missed = missed
	type vstate struct {
		seen map[int64]bool // owned by the visitor's reader goroutine
		got  atomic.Int64
		dups atomic.Int64
		done atomic.Int64 // unix nanos when the last missed message arrived
	}
	vs := make([]*vstate, n)
	for i := range vs {
		vs[i] = &vstate{seen: make(map[int64]bool)}
	}
	ops, vis, convs, opOf, rate, err := openPairs(ctx, e, n, nOps, nil, func(i int, f protocol.ServerFrame) {
		if f.Type != protocol.TypeMessage || f.Message == nil || f.Message.Kind != protocol.KindOperator || len(f.Message.Text) < 2 || f.Message.Text[:2] != "M|" {
			return
		}
		v := vs[i]
		if v.seen[f.Seq] {
			v.dups.Add(1)
			return
		}
		v.seen[f.Seq] = true
		if v.got.Add(1) == int64(missed) {
			v.done.Store(time.Now().UnixNano())
		}
	})
	defer func() { closeAll(vis); closeAll(ops) }()
	if err != nil {
		return res, err
	}
	res.ConnectRate = rate
	res.Conns = n + nOps

	e.gate.hold()
	e.gate.cut()
	time.Sleep(time.Second) // the server notices
	var sendErrs atomic.Int64
	var firstErr atomic.Value
	if err := parallel(n*missed, 256, func(j int) error {
		i := j % n
		if _, err := ops[opOf[i]].Send(ctx, convs[i], "M|"+strconv.Itoa(j/n)+"|while you were away"); err != nil {
			sendErrs.Add(1)
			firstErr.CompareAndSwap(nil, err.Error())
		}
		return nil
	}); err != nil {
		return res, err
	}
	res.Errors = sendErrs.Load()
	if s, ok := firstErr.Load().(string); ok {
		res.FirstError = s
	}
	before, err := t.Stats(false)
	if err != nil {
		return res, err
	}
	t0 := time.Now()
	go saveProfileAs(t, "profile?seconds=2", "cpu.pb.gz") // the storm itself takes a few seconds
	e.gate.release()
	deadline := t0.Add(90 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		all := true
		for _, v := range vs {
			if v.done.Load() == 0 {
				all = false
				break
			}
		}
		if all {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	after, err := t.Stats(false)
	if err != nil {
		return res, err
	}
	var lat []time.Duration
	var last int64
	for _, v := range vs {
		res.MissedTotal += v.got.Load()
		res.Dups += v.dups.Load()
		if d := v.done.Load(); d != 0 {
			res.Resumes++
			lat = append(lat, time.Duration(d-t0.UnixNano()))
			last = max(last, d)
		}
	}
	res.ResumeLatency = summarize(lat)
	if res.Resumes > 0 {
		res.Seconds = float64(last-t0.UnixNano()) / 1e9
		res.ResumeRate = float64(res.Resumes) / res.Seconds
	}
	res.Received = res.MissedTotal
	if cpu := after.CPUNanos - before.CPUNanos; res.MissedTotal > 0 {
		res.CPUPerMsgUs = float64(cpu) / 1e3 / float64(res.MissedTotal)
	}
	res.RSSMB = float64(after.RSS) / (1 << 20)
	res.Goroutines = after.Goroutines
	return res, nil
}

// saveProfile saves the server's pprof profile (heap, goroutine...) to
// $BENCH_PROFILE_DIR/<name>.pb.gz when that variable is set.
func saveProfile(t Target, name string) { saveProfileAs(t, name, name+".pb.gz") }

func saveProfileAs(t Target, name, file string) { saveURLProfile(t.URL, t.Label, name, file) }

// saveNodeProfiles saves profile name of every node of t at once: the
// visitors' node as <label>node1-<file>, the operators' as
// <label>node2-<file> (one node: <label><file>).
func saveNodeProfiles(t Target, name, file string) {
	if t.OperatorURL == "" || t.OperatorURL == t.URL {
		saveProfileAs(t, name, file)
		return
	}
	var wg sync.WaitGroup
	for i, u := range []string{t.URL, t.OperatorURL} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			saveURLProfile(u, t.Label, name, "node"+strconv.Itoa(i+1)+"-"+file)
		}()
	}
	wg.Wait()
}

func saveURLProfile(base, label, name, file string) {
	dir := os.Getenv("BENCH_PROFILE_DIR")
	if dir == "" {
		return
	}
	file = label + file
	resp, err := http.Get(base + "/debug/pprof/" + name)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	f, err := os.Create(filepath.Join(dir, file))
	if err != nil {
		return
	}
	defer f.Close()
	io.Copy(f, resp.Body)
}
