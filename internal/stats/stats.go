// Package stats holds the small arithmetic of the Server's reports:
// percentiles, rounded ratios and the overlap of time spans.
package stats

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// Span is a stretch of time from From to To.
type Span struct{ From, To time.Time }

// Overlap is the seconds sp shares with [from, to).
func Overlap(sp Span, from, to time.Time) float64 {
	start, end := sp.From, sp.To
	if start.Before(from) {
		start = from
	}
	if end.After(to) {
		end = to
	}
	if !end.After(start) {
		return 0
	}
	return end.Sub(start).Seconds()
}

// Percentile is the nearest-rank p-th percentile of sample, rounded to 3
// places (milliseconds, for seconds); 0 for an empty sample. sample is not
// reordered.
func Percentile(sample []float64, p float64) float64 {
	if len(sample) == 0 {
		return 0
	}
	s := slices.Clone(sample)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return Round(s[max(rank, 1)-1], 3)
}

// MaxConcurrent is the most spans open at one instant.
func MaxConcurrent(spans []Span) int {
	type edge struct {
		at    time.Time
		delta int
	}
	edges := make([]edge, 0, 2*len(spans))
	for _, sp := range spans {
		edges = append(edges, edge{sp.From, 1}, edge{sp.To, -1})
	}
	// At one instant, ends go before starts: a chat closed as the next
	// one was assigned did not run alongside it.
	slices.SortFunc(edges, func(a, b edge) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return cmp.Compare(a.delta, b.delta)
	})
	n, most := 0, 0
	for _, e := range edges {
		n += e.delta
		most = max(most, n)
	}
	return most
}

// Ratio is n/d rounded to places; 0 when d is 0.
func Ratio(n, d, places int) float64 {
	if d == 0 {
		return 0
	}
	return Round(float64(n)/float64(d), places)
}

// Round rounds x to places decimal places, halves away from zero.
func Round(x float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(x*p) / p
}
