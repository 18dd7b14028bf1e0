package stats

import (
	"testing"
	"time"
)

func TestPercentileNearestRank(t *testing.T) {
	sample := []float64{5, 1, 4, 2, 3}
	for _, c := range []struct{ p, want float64 }{{50, 3}, {90, 5}, {0, 1}, {100, 5}} {
		if got := Percentile(sample, c.p); got != c.want {
			t.Errorf("Percentile(%v) = %v, want %v", c.p, got, c.want)
		}
	}
	if sample[0] != 5 {
		t.Errorf("Percentile reordered its sample: %v", sample)
	}
	if got := Percentile(nil, 50); got != 0 {
		t.Errorf("Percentile of none = %v, want 0", got)
	}
}

func TestMaxConcurrentEndsBeforeStarts(t *testing.T) {
	at := func(m int) time.Time { return time.Date(2026, 1, 1, 0, m, 0, 0, time.UTC) }
	spans := []Span{{at(0), at(10)}, {at(10), at(20)}, {at(5), at(15)}}
	if got := MaxConcurrent(spans); got != 2 {
		t.Errorf("MaxConcurrent = %d, want 2 (a span ending as another starts does not overlap it)", got)
	}
}

func TestRatioAndOverlap(t *testing.T) {
	if got := Ratio(1, 3, 2); got != 0.33 {
		t.Errorf("Ratio(1, 3, 2) = %v", got)
	}
	if got := Ratio(1, 0, 2); got != 0 {
		t.Errorf("Ratio(1, 0, 2) = %v", got)
	}
	at := func(m int) time.Time { return time.Date(2026, 1, 1, 0, m, 0, 0, time.UTC) }
	if got := Overlap(Span{at(0), at(10)}, at(5), at(30)); got != 300 {
		t.Errorf("Overlap = %v, want 300", got)
	}
	if got := Overlap(Span{at(0), at(10)}, at(20), at(30)); got != 0 {
		t.Errorf("disjoint Overlap = %v, want 0", got)
	}
}
