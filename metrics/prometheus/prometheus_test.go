package prometheus_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	chatprom "github.com/shopchat/chat/metrics/prometheus"
)

func gather(t *testing.T, reg *prometheus.Registry) map[string]*dto.MetricFamily {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

func TestCountersHistogramsGauges(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := chatprom.New(reg)
	m.Add("messages_total", 1)
	m.Add("messages_total", 2)
	m.Observe("message_delivery_seconds", 0.003)
	m.Observe("message_delivery_seconds", 0.5)
	m.Set("queue_live", 4)
	m.Set("queue_live", 2)
	f := gather(t, reg)
	if c := f["shopchat_messages_total"]; c == nil || c.GetType() != dto.MetricType_COUNTER || c.Metric[0].GetCounter().GetValue() != 3 {
		t.Fatalf("counter: %v", c)
	}
	h := f["shopchat_message_delivery_seconds"]
	if h == nil || h.GetType() != dto.MetricType_HISTOGRAM || h.Metric[0].GetHistogram().GetSampleCount() != 2 {
		t.Fatalf("histogram: %v", h)
	}
	if g := f["shopchat_queue_live"]; g == nil || g.GetType() != dto.MetricType_GAUGE || g.Metric[0].GetGauge().GetValue() != 2 {
		t.Fatalf("gauge: %v", g)
	}
	for _, fam := range f {
		if len(fam.Metric) != 1 || len(fam.Metric[0].Label) != 0 {
			t.Fatalf("%s has labels or several series: %v", fam.GetName(), fam)
		}
	}
}

// Two Servers' Metrics on one registry share the metrics rather than fail.
func TestSharedRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, b := chatprom.New(reg), chatprom.New(reg)
	a.Add("connections_total", 1)
	b.Add("connections_total", 1)
	if c := gather(t, reg)["shopchat_connections_total"]; c == nil || c.Metric[0].GetCounter().GetValue() != 2 {
		t.Fatalf("shared counter: %v", c)
	}
}
