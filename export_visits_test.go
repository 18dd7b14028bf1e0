package chat

import (
	"fmt"
	"time"

	"github.com/shopchat/chat/protocol"
)

// VisitBench drives the visit loop's state directly, for BenchmarkVisitLoop:
// visits without HTTP requests, widgets without sockets.
type VisitBench struct{ s *Server }

// NewVisitBench returns the bench hooks of s, whose visit loop then runs
// only when told (RunTriggers).
func NewVisitBench(s *Server) VisitBench {
	s.track.stopTicks <- struct{}{}
	return VisitBench{s: s}
}

// AddLocal starts n visits on this node, each with a widget connected
// (a session that takes no frames), on url; ids are prefix0, prefix1...
func (b VisitBench) AddLocal(prefix string, n int, url string) []string {
	s, t := b.s, b.s.track
	now := s.now()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s%d", prefix, i)
		v := &Visitor{ID: ids[i], CreatedAt: now.Add(-time.Hour)}
		ss := &session{s: s, visitor: v, visitorID: v.ID, closed: true, topics: []string{visitorTopic(v.ID)}}
		s.hub.subscribe(ss, ss.topics...)
		s.mu.Lock()
		s.perVisitor[v.ID]++
		s.mu.Unlock()
		t.mu.Lock()
		lv := s.visitLocked(v, now)
		s.openedLocked(lv, url, "A page", now)
		t.mu.Unlock()
	}
	return ids
}

// PageViews moves each local visit in ids to url, as a page view would.
func (b VisitBench) PageViews(ids []string, url string) {
	s, t := b.s, b.s.track
	now := s.now()
	t.mu.Lock()
	for _, id := range ids {
		if lv := t.live[id]; lv != nil {
			s.openedLocked(lv, url, "A page", now)
		}
	}
	t.mu.Unlock()
}

// Remote applies another node's announcement of the visits ids on url,
// pageSince their page's start, in events of five as nodes send them.
func (b VisitBench) Remote(ids []string, url string, pageSince time.Time) {
	live := make([]wireVisit, 0, 5)
	for i, id := range ids {
		live = append(live, wireVisit{LiveVisitor: protocol.LiveVisitor{
			ID: id, URL: url, Title: "A page", PageSince: pageSince, FirstSeen: pageSince.Add(-time.Minute),
			Pages: 3, Device: "Firefox on Android",
		}})
		if len(live) == 5 || i == len(ids)-1 {
			b.s.applyVisits(wireEvent{Kind: "visits", Live: live})
			live = live[:0]
		}
	}
}

// WatchTeam subscribes a session that takes no frames to the operators'
// topic, so that the live list is built and encoded as for operators.
func (b VisitBench) WatchTeam() {
	b.s.hub.subscribe(&session{s: b.s, closed: true}, teamTopic)
}

// LiveFrameBytes is the size of the visitors frame that answers an
// operator's request now.
func (b VisitBench) LiveFrameBytes() int {
	live, counts := b.s.liveList()
	ev := event{kind: evFrame, frame: &protocol.ServerFrame{Type: protocol.TypeVisitors, Live: live, LiveCounts: &counts}}
	if err := ev.encode(); err != nil {
		panic(err)
	}
	return len(ev.data)
}

// liveList returns the live list as an operator's request gets it.
func (s *Server) liveList() ([]protocol.LiveVisitor, protocol.LiveCounts) {
	t := s.track
	t.listMu.Lock()
	defer t.listMu.Unlock()
	s.relistLiveLocked()
	return t.listed, t.listCounts
}

// SetLiveListMax sets how many visitors the operators' live list holds
// (default 500).
func SetLiveListMax(s *Server, n int) {
	s.track.listMu.Lock()
	s.track.listMax = n
	s.track.listMu.Unlock()
}

// EvaluatedVisits counts the visits whose triggers the visit loop has
// looked at.
func EvaluatedVisits(s *Server) int {
	s.track.mu.Lock()
	defer s.track.mu.Unlock()
	return s.track.evaluated
}
