package chat

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/shopchat/chat/protocol"
)

// visitLoop evaluates triggers on page views (kicks) and every second,
// expires visits, and publishes the live list, at most once a second.
func (s *Server) visitLoop() {
	defer s.wg.Done()
	tick := time.NewTicker(visitTick)
	defer tick.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.track.kick:
			s.runVisits(s.ctx, false)
		case <-tick.C:
			s.runVisits(s.ctx, true)
		case done := <-s.track.loop:
			s.runVisits(s.ctx, true)
			close(done)
		case <-s.track.stopTicks:
			tick.Stop() // tests and benchmarks drive the loop alone
		}
	}
}

// runVisits does the visit loop's work: every visit on a tick (all), else
// those with new page views.
func (s *Server) runVisits(ctx context.Context, all bool) {
	t := s.track
	t.mu.Lock()
	loaded := t.triggersLoaded
	t.mu.Unlock()
	if !loaded {
		if err := s.loadTriggers(ctx); err != nil {
			s.logErr("load triggers", err)
		}
	}
	s.refreshInfo(ctx)
	s.evaluate(ctx, all)
	if all {
		s.sweepVisits()
		s.publishVisits()
	}
}

// refreshInfo asks Config.VisitorInfo for the cart of visitors who opened
// a page since: once per page view, not per frame or tick.
func (s *Server) refreshInfo(ctx context.Context) {
	if s.cfg.VisitorInfo == nil {
		return
	}
	t := s.track
	t.mu.Lock()
	var due []*Visitor
	for _, lv := range t.live {
		if lv.infoDue && lv.visitor != nil {
			lv.infoDue = false
			due = append(due, lv.visitor)
		}
	}
	t.mu.Unlock()
	for _, v := range due {
		info, err := s.cfg.VisitorInfo(ctx, v)
		if err != nil {
			s.logErr("visitor info hook", err, "visitor", v.ID)
			continue
		}
		if info == nil {
			continue
		}
		t.mu.Lock()
		if lv := t.live[v.ID]; lv != nil && (lv.CartValue != info.CartValue || lv.Currency != info.Currency) {
			lv.CartValue, lv.Currency = info.CartValue, info.Currency
			lv.changed, t.dirty = true, true
		}
		t.mu.Unlock()
	}
}

// sweepVisits ends visits idle for VisitTimeout (a connected widget keeps
// its visit alive) and drops expired invitations.
func (s *Server) sweepVisits() {
	t := s.track
	now := s.now()
	s.mu.Lock()
	connected := make(map[string]bool, len(s.perVisitor))
	for id := range s.perVisitor {
		connected[id] = true
	}
	s.mu.Unlock()
	var gone []string
	t.mu.Lock()
	// Re-announced often enough for other nodes to tell who is on the site.
	keepAlive := now.Sub(t.lastAnnounce) >= min(s.cfg.VisitTimeout/3, onSiteWindow/2)
	if keepAlive {
		t.lastAnnounce = now
	}
	for id, lv := range t.live {
		if left := now.Sub(lv.LastSeen) > onSiteWindow && !connected[id]; left != lv.left {
			lv.left, t.dirty = left, true // moves between "on the site" and "recently left"
		}
		if connected[id] {
			lv.LastSeen, lv.localAt = now, now
			if keepAlive {
				lv.changed = true // other nodes expire what is not re-announced
			}
			continue
		}
		if now.Sub(lv.LastSeen) > s.cfg.VisitTimeout {
			if !lv.localAt.IsZero() {
				gone = append(gone, id)
			}
			delete(t.live, id)
			t.dirty = true
		}
	}
	for id, p := range t.pend {
		if now.Sub(p.At) > s.cfg.VisitTimeout {
			delete(t.pend, id)
		}
	}
	t.mu.Unlock()
	if len(gone) > 0 {
		s.announceVisits(nil, gone)
	}
}

// publishVisits sends the live list to this node's operators if it
// changed, and this node's changed visits to the other nodes.
func (s *Server) publishVisits() {
	t := s.track
	t.mu.Lock()
	dirty := t.dirty
	t.dirty = false
	var changed []wireVisit
	for _, lv := range t.live {
		if lv.changed {
			lv.changed = false
			if !lv.localAt.IsZero() {
				f := liveFrame(lv.LiveVisitor)
				f.URL = capText(f.URL, maxWireURL)
				changed = append(changed, wireVisit{LiveVisitor: f, Referrer: lv.referrer, Campaign: lv.campaign})
			}
		}
	}
	t.mu.Unlock()
	if dirty && s.hub.has(teamTopic) {
		s.hub.publish(teamTopic, event{kind: evFrame, frame: &protocol.ServerFrame{Type: protocol.TypeVisitors, Live: s.liveFrames()}})
	}
	if len(changed) > 0 {
		s.announceVisits(changed, nil)
	}
}

// announceVisits tells the other nodes about this node's visits, a few
// per event so that each stays well under broker payload limits.
func (s *Server) announceVisits(live []wireVisit, gone []string) {
	if s.bridge == nil {
		return
	}
	for len(live) > 0 {
		n := min(len(live), 5)
		s.bridge.send(wireEvent{Kind: "visits", Live: live[:n]})
		live = live[n:]
	}
	for len(gone) > 0 {
		n := min(len(gone), 100)
		s.bridge.send(wireEvent{Kind: "visits", Gone: gone[:n]})
		gone = gone[n:]
	}
}

// wireVisit is a live visitor in a "visits" bridge event: the console's
// fields and, for triggers on the node that holds the visitor's widget, the
// visit's referrer host and campaign (capped as locally; omitted if empty).
type wireVisit struct {
	protocol.LiveVisitor
	Referrer string `json:"rf,omitempty"`
	Campaign string `json:"uc,omitempty"`
}

// applyVisits merges another node's announcement: the most recent page
// wins; a visit that is live here too is not ended by another node. The
// visit's first external referrer is kept; its latest campaign wins.
func (s *Server) applyVisits(ev wireEvent) {
	t := s.track
	now := s.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, id := range ev.Gone {
		if lv := t.live[id]; lv != nil && now.Sub(lv.localAt) > s.cfg.VisitTimeout {
			delete(t.live, id)
			t.dirty = true
		}
	}
	for _, f := range ev.Live {
		lv := t.live[f.ID]
		if lv == nil {
			if len(t.live) >= t.max {
				continue // full (maxLive): listed on the node that has it
			}
			lv = &liveVisit{}
			t.live[f.ID] = lv
		} else if f.PageSince.Before(lv.PageSince) {
			lv.LastSeen = now // still on the site, on another node too
			continue
		}
		local := lv.LiveVisitor
		lv.LiveVisitor = LiveVisitor{
			VisitorID: f.ID, Name: f.Name, CurrentURL: f.URL, Title: f.Title,
			PageSince: f.PageSince, FirstSeen: f.FirstSeen, Pages: f.Pages,
			Returning: f.Returning, Chatting: f.Chatting, CartValue: f.CartValue,
			Currency: f.Currency, Suggested: f.Suggested, LastSeen: now,
			Device: capText(f.Device, 40),
		}
		if !local.FirstSeen.IsZero() && local.FirstSeen.Before(lv.FirstSeen) {
			lv.FirstSeen = local.FirstSeen
		}
		if lv.referrer == "" {
			lv.referrer = capText(f.Referrer, maxHost)
		}
		if f.Campaign != "" {
			lv.campaign = capText(f.Campaign, maxUTM)
		}
		t.dirty = true
	}
}

// LiveVisitors returns the visitors on the site now (on every node, when
// the Server has a Broker), most recently active first.
func (s *Server) LiveVisitors() []LiveVisitor {
	t := s.track
	now := s.now()
	t.mu.Lock()
	out := make([]LiveVisitor, 0, len(t.live))
	for _, lv := range t.live {
		if now.Sub(lv.LastSeen) <= s.cfg.VisitTimeout {
			x := lv.LiveVisitor
			x.Referrer = lv.referrer
			x.OnSite = now.Sub(lv.LastSeen) <= onSiteWindow
			out = append(out, x)
		}
	}
	t.mu.Unlock()
	slices.SortFunc(out, func(a, b LiveVisitor) int {
		if c := b.PageSince.Compare(a.PageSince); c != 0 {
			return c
		}
		return cmp.Compare(a.VisitorID, b.VisitorID)
	})
	return out
}

func (s *Server) liveFrames() []protocol.LiveVisitor {
	list := s.LiveVisitors()
	out := make([]protocol.LiveVisitor, 0, min(len(list), maxLiveFrame))
	for _, lv := range list[:min(len(list), maxLiveFrame)] {
		out = append(out, liveFrame(lv))
	}
	return out
}

func liveFrame(lv LiveVisitor) protocol.LiveVisitor {
	return protocol.LiveVisitor{
		ID: lv.VisitorID, Name: lv.Name, URL: lv.CurrentURL, Title: lv.Title,
		PageSince: lv.PageSince, FirstSeen: lv.FirstSeen, Pages: lv.Pages,
		Returning: lv.Returning, Chatting: lv.Chatting, CartValue: lv.CartValue,
		Currency: lv.Currency, Suggested: lv.Suggested,
		Device: lv.Device, Referrer: lv.Referrer, OnSite: lv.OnSite,
	}
}

// onSiteWindow is how long after their last sign of life (a page view, the
// widget connected) a visitor still counts as on the site.
const onSiteWindow = 2 * time.Minute

// deviceOf names the browser and system of a user agent, for operators:
// "Chrome on Windows", "Safari on iPhone". "" if it says nothing known.
func deviceOf(ua string) string {
	has := func(s string) bool { return strings.Contains(ua, s) }
	var browser, system string
	switch {
	case has("Edg/"):
		browser = "Edge"
	case has("OPR/"):
		browser = "Opera"
	case has("Firefox/"), has("FxiOS/"):
		browser = "Firefox"
	case has("Chrome/"), has("CriOS/"):
		browser = "Chrome"
	case has("Safari/"):
		browser = "Safari"
	}
	switch {
	case has("iPhone"):
		system = "iPhone"
	case has("iPad"):
		system = "iPad"
	case has("Android"):
		system = "Android"
	case has("Windows"):
		system = "Windows"
	case has("Mac OS X"), has("Macintosh"):
		system = "macOS"
	case has("CrOS"):
		system = "ChromeOS"
	case has("Linux"):
		system = "Linux"
	}
	switch {
	case browser != "" && system != "":
		return browser + " on " + system
	case browser != "":
		return browser
	}
	return system
}

// onVisitors answers an operator's request for the live list; later
// changes reach every operator as visitors frames on the team topic.
func (ss *session) onVisitors(ctx context.Context, f protocol.ClientFrame) error {
	ss.push(event{kind: evFrame, frame: &protocol.ServerFrame{Type: protocol.TypeVisitors, ID: f.ID, Live: ss.s.liveFrames()}})
	return nil
}

// forgetVisit drops an erased visitor's live visit and invitation here and
// on the other nodes.
func (s *Server) forgetVisit(visitorID string) {
	t := s.track
	t.mu.Lock()
	delete(t.live, visitorID)
	delete(t.pend, visitorID)
	t.dirty = true
	t.mu.Unlock()
	s.announceVisits(nil, []string{visitorID})
}

// noteTyping records whether a visitor is typing: triggers wait.
func (s *Server) noteTyping(visitorID string, typing bool) {
	t := s.track
	t.mu.Lock()
	if lv := t.live[visitorID]; lv != nil {
		lv.typing = time.Time{}
		if typing {
			lv.typing = s.now()
		}
	}
	t.mu.Unlock()
}

// noteConversation keeps the live list's chatting flag in step with the
// visitor's conversations.
func (s *Server) noteConversation(c *Conversation) {
	t := s.track
	if t == nil {
		return
	}
	t.mu.Lock()
	if lv := t.live[c.VisitorID]; lv != nil && lv.Chatting != c.Open() {
		lv.Chatting = c.Open()
		lv.changed, t.dirty = true, true
		if !c.Open() {
			lv.closedAt = s.now()
		}
	}
	t.mu.Unlock()
}

// pageFrames fills the side panel's pages from the Store, newest first.
func (s *Server) pageFrames(ctx context.Context, d *protocol.VisitorDetails) {
	views, err := s.store.PageViews(ctx, d.ID, 20)
	if err != nil {
		s.logErr("page views", err, "visitor", d.ID)
		return
	}
	for _, pv := range views {
		d.Pages = append(d.Pages, protocol.PageView{URL: pv.URL, Title: pv.Title, Time: pv.At})
	}
	t := s.track
	t.mu.Lock()
	if lv := t.live[d.ID]; lv != nil && s.now().Sub(lv.LastSeen) <= s.cfg.VisitTimeout {
		d.Page = &protocol.PageView{URL: lv.CurrentURL, Title: lv.Title, Time: lv.PageSince}
	}
	t.mu.Unlock()
	if d.Page == nil && len(d.Pages) > 0 {
		d.Page = &d.Pages[0]
	}
}
