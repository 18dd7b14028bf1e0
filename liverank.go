package chat

// The live list operators see holds the maxLiveFrame most relevant visits
// of all those on the site (every node's). rankList keeps every visit in
// that order as it changes, so that the list costs its own length to
// build, not a sort of every visit each second.

// Tiers of the live list, most relevant first.
const (
	tierChatting  = iota // on the site, with an open conversation
	tierSuggested        // a trigger suggests inviting them
	tierCart             // something in the cart (largest first)
	tierOnSite           // the others on the site
	tierLeft             // recently left: the rest of their visit
	tiers
)

// liveRank orders the live list: by tier, then the largest cart, then the
// longest on the site (the order the console shows), then the id. It
// changes rarely for a visit, so the list is stable and its deltas small.
type liveRank struct {
	tier  int8
	cart  int64 // tierCart only
	first int64 // FirstSeen, UnixNano
	id    string
}

func (a liveRank) less(b liveRank) bool {
	switch {
	case a.tier != b.tier:
		return a.tier < b.tier
	case a.cart != b.cart:
		return a.cart > b.cart
	case a.first != b.first:
		return a.first < b.first
	}
	return a.id < b.id
}

func rankOf(lv *liveVisit) liveRank {
	r := liveRank{tier: tierOnSite, first: lv.FirstSeen.UnixNano(), id: lv.VisitorID}
	switch {
	case lv.left:
		r.tier = tierLeft
	case lv.Chatting:
		r.tier = tierChatting
	case lv.Suggested != "":
		r.tier = tierSuggested
	case lv.CartValue > 0:
		r.tier, r.cart = tierCart, lv.CartValue
	}
	return r
}

// rankList is a skip list of visits by liveRank, with counts per tier.
type rankList struct {
	head  rankNode
	level int
	seed  uint64
	count [tiers]int
}

type rankNode struct {
	lv   *liveVisit
	rank liveRank
	next []*rankNode
}

const rankMaxLevel = 24 // enough for 4^24 visits

func newRankList() *rankList {
	return &rankList{head: rankNode{next: make([]*rankNode, rankMaxLevel)}, level: 1, seed: 0x9e3779b97f4a7c15}
}

// randomLevel draws a node's height: 1 with 3/4, 2 with 3/16, ...
func (l *rankList) randomLevel() int {
	l.seed ^= l.seed << 13 // xorshift: no shared generator, no lock
	l.seed ^= l.seed >> 7
	l.seed ^= l.seed << 17
	n, x := 1, l.seed
	for n < rankMaxLevel && x&3 == 0 {
		n++
		x >>= 2
	}
	return n
}

// update places lv by its rank now: inserts, moves or keeps it.
func (l *rankList) update(lv *liveVisit) {
	r := rankOf(lv)
	if lv.ranked != nil {
		if lv.ranked.rank == r {
			return
		}
		l.remove(lv)
	}
	var path [rankMaxLevel]*rankNode
	x := &l.head
	for i := l.level - 1; i >= 0; i-- {
		for x.next[i] != nil && x.next[i].rank.less(r) {
			x = x.next[i]
		}
		path[i] = x
	}
	h := l.randomLevel()
	for i := l.level; i < h; i++ {
		path[i] = &l.head
	}
	l.level = max(l.level, h)
	n := &rankNode{lv: lv, rank: r, next: make([]*rankNode, h)}
	for i := range h {
		n.next[i] = path[i].next[i]
		path[i].next[i] = n
	}
	lv.ranked = n
	l.count[r.tier]++
}

// remove takes lv out of the list, if it is in.
func (l *rankList) remove(lv *liveVisit) {
	n := lv.ranked
	if n == nil {
		return
	}
	x := &l.head
	for i := l.level - 1; i >= 0; i-- {
		for x.next[i] != nil && x.next[i] != n && x.next[i].rank.less(n.rank) {
			x = x.next[i]
		}
		if x.next[i] == n {
			x.next[i] = n.next[i]
		}
	}
	for l.level > 1 && l.head.next[l.level-1] == nil {
		l.level--
	}
	lv.ranked = nil
	l.count[n.rank.tier]--
}

// first calls f with the visits in order until f returns false.
func (l *rankList) first(f func(*liveVisit) bool) {
	for x := l.head.next[0]; x != nil; x = x.next[0] {
		if !f(x.lv) {
			return
		}
	}
}
