package chat

import (
	"log/slog"
	"time"
)

// CheckMissedReply runs the missed-reply check for a conversation now, as
// its timer would.
func CheckMissedReply(s *Server, convID string) { s.checkMissedReply(convID) }

// RunTriggers does the visit loop's work now, as its ticker would:
// evaluates triggers at the (fake) clock's time, expires visits and
// publishes the live list.
func RunTriggers(s *Server) {
	done := make(chan struct{})
	s.track.loop <- done
	<-done
}

// FlushPageViews stores the queued page views now, as Close does: those
// Track recorded too, without waiting for their titles.
func FlushPageViews(s *Server) {
	done := make(chan struct{})
	s.track.flush <- flushRequest{done: done, all: true}
	<-done
}

// WritePageViews does the page view writer's periodic work now, as its
// ticker would: stores the queued views except those Track recorded that
// still wait for their titles at the (fake) clock's time.
func WritePageViews(s *Server) {
	done := make(chan struct{})
	s.track.flush <- flushRequest{done: done}
	<-done
}

// SetMaxLive sets how many live visits the Server keeps (default 50,000).
func SetMaxLive(s *Server, n int) {
	s.track.mu.Lock()
	s.track.max = n
	s.track.mu.Unlock()
}

// PresenceSweeper returns one sweep of the presence loop, keeping the
// loop's state between calls, so a test drives it with the fake clock.
func PresenceSweeper(s *Server) func() {
	offlineSince, last := map[string]time.Time{}, map[string]Presence{}
	return func() { s.requeueOffline(s.ctx, offlineSince, last) }
}

// LiveSweeper returns one round of the live loop (renew this node's
// visitors, route what changed), keeping its state between calls, so a
// test drives it with the fake clock.
func LiveSweeper(s *Server) func() {
	var st routeState
	return func() {
		s.keepLive(s.ctx)
		s.routeLiveChanges(s.ctx, &st)
	}
}

// ConnectedVisitors counts the visitors with a socket on this node.
func ConnectedVisitors(s *Server) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.perVisitor)
}

// MajorUnits is the CSV's money format.
var MajorUnits = majorUnits

// DeviceOf is the live list's device name from a user agent.
var DeviceOf = deviceOf

// ConnectedElsewhere reports whether s has heard, from another node's
// heartbeats, that operator id has a session there.
func ConnectedElsewhere(s *Server, id string) bool { return s.bridge.connectedElsewhere(id) }

// LeftWhileElsewhere reports whether operator id's last session on s ended
// while another node had one, so s left their presence to that node.
func LeftWhileElsewhere(s *Server, id string) bool {
	s.bridge.mu.Lock()
	defer s.bridge.mu.Unlock()
	return s.bridge.absent[id]
}

// LocalPresence returns the presence s renews for operator id, and whether
// s has a session of theirs.
func LocalPresence(s *Server, id string) (Presence, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.opPresence[id]
	return p, ok
}

// WithStandIns returns s behind Checked with the in-process stand-ins New
// uses on a single node for the roles s lacks, as a Server holds it.
func WithStandIns(s Store) Store {
	c := newChecked(s)
	if err := c.adopt(false, slog.New(slog.DiscardHandler)); err != nil {
		panic(err) // only a Broker makes adopt refuse
	}
	return c
}

// DispatchRounds counts the routing rounds (dispatch calls) s has run.
func DispatchRounds(s *Server) int64 { return s.dispatchRounds.Load() }

// RemoteDispatcher reports whether s is the node that dispatches on
// another node's "ops" event (the smallest live node id it has heard).
func RemoteDispatcher(s *Server) bool { return s.bridge.remoteDispatcher() }

// ApplyRemoteOps applies an "ops" event (presence or load changed) from
// another node to s now, as its bridge would on receiving it.
func ApplyRemoteOps(s *Server) {
	s.bridge.apply(&received{ev: wireEvent{Node: "another-node", Kind: "ops"}})
}

// HeardNodes counts the live nodes s has heard from, itself included.
func HeardNodes(s *Server) int {
	live := time.Now().Add(-liveHeartbeats * s.cfg.SyncInterval)
	s.bridge.mu.Lock()
	defer s.bridge.mu.Unlock()
	n := 0
	for _, p := range s.bridge.peers {
		if p.heard.After(live) {
			n++
		}
	}
	return n
}

// OnUploadWaiting sets f to be called whenever an upload starts waiting for
// its uploader's turn at the upload slots. Set it before any upload.
func OnUploadWaiting(s *Server, f func()) { s.attach.testHookWaiting = f }
