package chat

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestRankListKeepsOrder moves visits about at random and checks the skip
// list against a sort of all of them.
func TestRankListKeepsOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	l := newRankList()
	visits := make([]*liveVisit, 300)
	in := make([]bool, len(visits))
	base := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	for i := range visits {
		visits[i] = &liveVisit{}
		visits[i].VisitorID = fmt.Sprintf("v%03d", i)
	}
	for step := range 20000 {
		i := rng.IntN(len(visits))
		lv := visits[i]
		if rng.IntN(5) == 0 {
			l.remove(lv)
			in[i] = false
		} else {
			lv.FirstSeen = base.Add(time.Duration(rng.IntN(50)) * time.Second)
			lv.left, lv.Chatting = rng.IntN(4) == 0, rng.IntN(6) == 0
			lv.Suggested = ""
			if rng.IntN(6) == 0 {
				lv.Suggested = "t"
			}
			lv.CartValue = int64(rng.IntN(3) * 100)
			l.update(lv)
			in[i] = true
		}
		if step%500 != 0 {
			continue
		}
		var want []liveRank
		var counts [tiers]int
		for j, ok := range in {
			if ok {
				r := rankOf(visits[j])
				want = append(want, r)
				counts[r.tier]++
			}
		}
		slices.SortFunc(want, func(a, b liveRank) int {
			if a.less(b) {
				return -1
			}
			return 1
		})
		var got []liveRank
		l.first(func(lv *liveVisit) bool {
			got = append(got, rankOf(lv))
			return true
		})
		if !slices.Equal(got, want) {
			t.Fatalf("step %d: order differs:\n got %v\nwant %v", step, got, want)
		}
		if l.count != counts {
			t.Fatalf("step %d: counts %v, want %v", step, l.count, counts)
		}
	}
}
