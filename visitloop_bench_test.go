package chat_test

import (
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shopchat/chat"
)

// BenchmarkVisitLoop measures one pass of the visit loop (triggers, sweep,
// live list) on a node with 20,000 visitors whose widgets are connected
// here and 80,000 announced by other nodes: one op is one second of the
// loop's work. quiet: nothing changes between passes; busy: in each second
// 1/30 of the local visitors open a page and 1/20 of the remote ones are
// announced (a page view or a keep-alive), as at one page view per visitor
// every 30 s. A team session watches the list, as operators do. It reports
// the CPU time per op (the machine is shared: wall time is noisy), the
// bytes of visitors frames pushed to each operator per op, and the size of
// the frame that answers an operator's request.
func BenchmarkVisitLoop(b *testing.B) {
	for _, busy := range []bool{false, true} {
		name := "quiet"
		if busy {
			name = "busy"
		}
		b.Run(name, func(b *testing.B) { benchVisitLoop(b, 20000, 80000, busy) })
	}
}

func benchVisitLoop(b *testing.B, local, remote int, busy bool) {
	clock := &fakeClock{now: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)}
	frames := &frameBytes{}
	ts := newTestServer(b, func(c *chat.Config) {
		c.Now = clock.Now
		c.Metrics = frames
		c.Triggers = []chat.Trigger{
			{ID: "checkout-help", URL: "/checkout/**", TimeOnPage: 30 * time.Second, Message: "Need help paying?"},
			{ID: "product-dwell", URL: "/product/*", TimeOnPage: 10 * time.Minute, Message: "Questions about this one?"},
			{ID: "big-cart", URL: "/cart", MinCartValue: 100000, Action: chat.ActionSuggest},
			{ID: "from-google", URLRegexp: `^/(product|category)/`, Referrer: "*.google.*", UTMCampaign: "winter", Message: "Welcome!"},
		}
	})
	chat.SetMaxLive(ts.Chat, 2*(local+remote))
	vb := chat.NewVisitBench(ts.Chat)
	vb.WatchTeam()
	localIDs := vb.AddLocal("L", local, "/product/1")
	remoteIDs := make([]string, remote)
	for i := range remoteIDs {
		remoteIDs[i] = fmt.Sprintf("R%d", i)
	}
	vb.Remote(remoteIDs, "/product/2", clock.Now())
	chat.RunTriggers(ts.Chat) // settle: the first pass announces and lists everything
	clock.Advance(time.Second)
	chat.RunTriggers(ts.Chat)
	li, ri := 0, 0
	b.ReportAllocs()
	b.ResetTimer()
	cpu0, bytes0 := processCPU(), frames.total()
	for i := range b.N {
		clock.Advance(time.Second)
		if busy {
			n := local / 30
			ids := make([]string, 0, n)
			for range n {
				ids = append(ids, localIDs[li%local])
				li++
			}
			vb.PageViews(ids, fmt.Sprintf("/product/%d", i%50))
			m := remote / 20
			rids := make([]string, 0, m)
			for range m {
				rids = append(rids, remoteIDs[ri%remote])
				ri++
			}
			vb.Remote(rids, fmt.Sprintf("/product/%d", i%50), clock.Now())
		}
		chat.RunTriggers(ts.Chat)
	}
	// CPU, not wall time: the machine is shared.
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
	b.ReportMetric((frames.total()-bytes0)/float64(b.N), "pushed-bytes/op")
	b.StopTimer()
	b.ReportMetric(float64(vb.LiveFrameBytes()), "frame-bytes")
}

// processCPU is the CPU time (user and system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// frameBytes sums visitors_frame_bytes_total: the live list's frames
// pushed to operators.
type frameBytes struct {
	mu sync.Mutex
	n  float64
}

func (f *frameBytes) Add(name string, delta float64) {
	if name == "visitors_frame_bytes_total" {
		f.mu.Lock()
		f.n += delta
		f.mu.Unlock()
	}
}

func (f *frameBytes) Observe(string, float64) {}

func (f *frameBytes) total() float64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}
