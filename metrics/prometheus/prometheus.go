// Package prometheus adapts chat.Config.Metrics to the Prometheus client
// library: every counter, observation and gauge the chat Server reports
// becomes a Prometheus metric named "shopchat_" + its name, created the
// first time it is reported, without labels (the names carry no visitor,
// operator or conversation, so cardinality stays fixed).
//
//	reg := prometheus.NewRegistry()
//	srv, err := chat.New(chat.Config{..., Metrics: chatprom.New(reg)})
//	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
package prometheus

import (
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shopchat/chat"
)

// Metrics is a chat.GaugeMetrics that registers what it is given with a
// Prometheus registry. It is safe for concurrent use.
type Metrics struct {
	reg       prometheus.Registerer
	namespace string
	buckets   []float64

	mu         sync.Mutex
	counters   map[string]prometheus.Counter
	histograms map[string]prometheus.Histogram
	gauges     map[string]prometheus.Gauge
}

var _ chat.GaugeMetrics = (*Metrics)(nil)

// Option configures New.
type Option func(*Metrics)

// WithNamespace replaces the "shopchat" prefix of every name.
func WithNamespace(ns string) Option { return func(m *Metrics) { m.namespace = ns } }

// WithBuckets sets the histograms' buckets, in seconds. Default: 1 ms to
// about 16 s, doubling.
func WithBuckets(b []float64) Option { return func(m *Metrics) { m.buckets = b } }

// New returns Metrics registering with reg (prometheus.DefaultRegisterer
// if nil).
func New(reg prometheus.Registerer, opts ...Option) *Metrics {
	if reg == nil {
		reg = prometheus.DefaultRegisterer
	}
	m := &Metrics{
		reg: reg, namespace: "shopchat", buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		counters:   make(map[string]prometheus.Counter),
		histograms: make(map[string]prometheus.Histogram),
		gauges:     make(map[string]prometheus.Gauge),
	}
	for _, o := range opts {
		o(m)
	}
	return m
}

// Add implements chat.Metrics: a counter. The chat's names end in _total.
func (m *Metrics) Add(name string, delta float64) {
	m.mu.Lock()
	c := m.counters[name]
	if c == nil {
		c = register(m, prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: m.namespace, Name: name, Help: "shopchat counter " + name + " (see the chat package's doc)",
		}))
		m.counters[name] = c
	}
	m.mu.Unlock()
	c.Add(delta)
}

// Observe implements chat.Metrics: a histogram. The chat observes seconds.
func (m *Metrics) Observe(name string, value float64) {
	m.mu.Lock()
	h := m.histograms[name]
	if h == nil {
		h = register(m, prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: m.namespace, Name: name, Buckets: m.buckets,
			Help: "shopchat " + strings.ReplaceAll(name, "_", " "),
		}))
		m.histograms[name] = h
	}
	m.mu.Unlock()
	h.Observe(value)
}

// Set implements chat.GaugeMetrics: a gauge.
func (m *Metrics) Set(name string, value float64) {
	m.mu.Lock()
	g := m.gauges[name]
	if g == nil {
		g = register(m, prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: m.namespace, Name: name, Help: "shopchat gauge " + name,
		}))
		m.gauges[name] = g
	}
	m.mu.Unlock()
	g.Set(value)
}

// register registers c, or returns the collector already registered under
// its name (a second Metrics on the same registry shares it).
func register[C prometheus.Collector](m *Metrics, c C) C {
	if err := m.reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if ok := asAlreadyRegistered(err, &are); ok {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		// Another kind of metric has this name: keep counting, unexported.
	}
	return c
}

func asAlreadyRegistered(err error, target *prometheus.AlreadyRegisteredError) bool {
	are, ok := err.(prometheus.AlreadyRegisteredError)
	if ok {
		*target = are
	}
	return ok
}
