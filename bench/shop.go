package bench

import (
	"context"
	"hash/fnv"
	"maps"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	chat "github.com/shopchat/chat"
)

// countingBroker counts a node's Broker traffic for /debug/stats.
type countingBroker struct {
	chat.Broker
	published, delivered, bytes atomic.Int64
}

func (b *countingBroker) Publish(ctx context.Context, topic string, payload []byte) error {
	b.published.Add(1)
	b.bytes.Add(int64(len(payload)))
	return b.Broker.Publish(ctx, topic, payload)
}

func (b *countingBroker) Subscribe(ctx context.Context, topic string, deliver func([]byte)) (func(), error) {
	return b.Broker.Subscribe(ctx, topic, func(p []byte) {
		b.delivered.Add(1)
		deliver(p)
	})
}

// Observed sums one observation's samples (Metrics.Observe), in seconds.
type Observed struct {
	Count    int64
	Sum, Max float64
}

// benchMetrics keeps the server's counters and observations by name.
type benchMetrics struct {
	mu       sync.Mutex
	counters map[string]float64
	observed map[string]Observed
}

func newBenchMetrics() *benchMetrics {
	return &benchMetrics{counters: make(map[string]float64), observed: make(map[string]Observed)}
}

func (m *benchMetrics) Add(name string, delta float64) {
	m.mu.Lock()
	m.counters[name] += delta
	m.mu.Unlock()
}

func (m *benchMetrics) Observe(name string, v float64) {
	m.mu.Lock()
	o := m.observed[name]
	o.Count++
	o.Sum += v
	o.Max = max(o.Max, v)
	m.observed[name] = o
	m.mu.Unlock()
}

func (m *benchMetrics) snapshot() (map[string]float64, map[string]Observed) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.counters), maps.Clone(m.observed)
}

func addCounters(a, b map[string]float64) map[string]float64 {
	if len(a)+len(b) == 0 {
		return nil
	}
	out := maps.Clone(a)
	if out == nil {
		out = make(map[string]float64, len(b))
	}
	for k, v := range b {
		out[k] += v
	}
	return out
}

func addObserved(a, b map[string]Observed) map[string]Observed {
	if len(a)+len(b) == 0 {
		return nil
	}
	out := maps.Clone(a)
	if out == nil {
		out = make(map[string]Observed, len(b))
	}
	for k, v := range b {
		o := out[k]
		out[k] = Observed{Count: o.Count + v.Count, Sum: o.Sum + v.Sum, Max: max(o.Max, v.Max)}
	}
	return out
}

// Page paths of the fleet's idle visitors (shopPage) and what the
// triggers below make of them: most visitors read products (a glob and a
// time on page that does not run out within a bench run: evaluated every
// second, never fired), one in twenty has the cart open (a suggestion for
// carts over 100.00 after 5 s) and one in a hundred is at the checkout (a
// message after 20 s): the triggers fire for a few visitors, as in a shop.
func shopTriggers() []chat.Trigger {
	return []chat.Trigger{
		{ID: "checkout-help", URL: "/checkout/**", TimeOnPage: 20 * time.Second, Message: "Questions about delivery or payment? We are here."},
		{ID: "big-cart", URL: "/cart", MinCartValue: 10000, TimeOnPage: 5 * time.Second, Action: chat.ActionSuggest},
		{ID: "product-reader", URL: "/products/*", TimeOnPage: time.Hour, MinPages: 1, Message: "Can we help you choose?"},
		{ID: "winter-campaign", UTMCampaign: "winter", Message: "Winter sale: ask us about sizes."},
	}
}

// shopPage is the page idle visitor i is on.
func shopPage(i int) (url, title string) {
	switch {
	case i%100 == 0:
		return "/checkout/shipping", "Checkout"
	case i%20 == 0:
		return "/cart", "Your cart"
	}
	n := strconv.Itoa(i % 500)
	return "/products/p" + n, "Product " + n
}

// shopCart is the fleet's Config.VisitorInfo: a third of the visitors
// have a cart, derived from their id (the hook is called once a page view).
func shopCart(_ context.Context, v *chat.Visitor) (*chat.VisitorInfo, error) {
	h := fnv.New32a()
	h.Write([]byte(v.ID))
	sum := h.Sum32()
	if sum%3 != 0 {
		return nil, nil
	}
	return &chat.VisitorInfo{CartValue: int64(sum % 30000), Currency: "EUR"}, nil
}
