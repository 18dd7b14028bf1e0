package chat

import "time"

// visitHeap orders visits by when each is next due for some work (a
// trigger's time on page, a keep-alive, leaving the site, expiry), so the
// visit loop touches only the visits that are due instead of all of them
// every second. A visit has at most one live entry per heap: its due field
// holds that entry's time (0: none). An entry whose time no longer equals
// the visit's field, or whose visit was dropped, is stale and skipped when
// it comes up; one is left behind only when a visit's time moves earlier.
type visitHeap []visitDue

type visitDue struct {
	at int64 // UnixNano
	lv *liveVisit
}

// schedule makes lv due at at unless it is due earlier already; due is
// lv's field for this heap.
func (h *visitHeap) schedule(lv *liveVisit, due *int64, at time.Time) {
	n := at.UnixNano()
	if *due != 0 && *due <= n {
		return
	}
	*due = n
	*h = append(*h, visitDue{at: n, lv: lv})
	h.up(len(*h) - 1)
}

// next pops the next visit due at or before now; field returns the heap's
// due field of a visit. It skips stale entries.
func (h *visitHeap) next(now time.Time, field func(*liveVisit) *int64) (*liveVisit, bool) {
	n := now.UnixNano()
	for len(*h) > 0 && (*h)[0].at <= n {
		e := h.pop()
		if due := field(e.lv); *due == e.at && !e.lv.dropped {
			*due = 0
			return e.lv, true
		}
	}
	return nil, false
}

func (h *visitHeap) pop() visitDue {
	old := *h
	e := old[0]
	last := len(old) - 1
	old[0] = old[last]
	old[last] = visitDue{}
	*h = old[:last]
	h.down(0)
	return e
}

func (h visitHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if h[p].at <= h[i].at {
			return
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

func (h visitHeap) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && h[r].at < h[l].at {
			m = r
		}
		if h[i].at <= h[m].at {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

func evalField(lv *liveVisit) *int64  { return &lv.evalAt }
func sweepField(lv *liveVisit) *int64 { return &lv.sweepAt }
