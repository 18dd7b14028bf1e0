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
	start := time.Now()
	s.refreshInfo(ctx)
	s.evaluate(ctx, all)
	if all {
		s.sweepVisits()
		s.publishVisits()
		s.observeSince("visit_loop_seconds", start)
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
	for _, lv := range t.infoDue {
		lv.infoDue = false
		if lv.visitor != nil && !lv.dropped && t.live[lv.VisitorID] == lv {
			due = append(due, lv.visitor)
		}
	}
	clear(t.infoDue)
	t.infoDue = t.infoDue[:0]
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
			s.changedLocked(lv)
			t.eval[v.ID] = struct{}{} // a cart condition may hold now
		}
		t.mu.Unlock()
	}
}

// changedLocked notes that lv changed: this node announces it to the
// others if it is this node's, and operators' list changed. Called with
// t.mu held.
func (s *Server) changedLocked(lv *liveVisit) {
	t := s.track
	if !lv.changed {
		lv.changed = true
		t.announce = append(t.announce, lv)
	}
	s.relistLocked(lv)
}

// relistLocked notes that lv may have changed in or moved within the live
// list. Called with t.mu held.
func (s *Server) relistLocked(lv *liveVisit) {
	t := s.track
	if !lv.touched && !lv.dropped {
		lv.touched = true
		t.touched = append(t.touched, lv)
	}
	t.dirty = true
}

// keepAliveEvery is how often a visit with a widget connected here is
// re-announced: often enough for other nodes to tell who is on the site.
func (s *Server) keepAliveEvery() time.Duration {
	return min(s.cfg.VisitTimeout/3, onSiteWindow/2)
}

// sweepLaterLocked schedules lv's next check by sweepVisits: when it
// would leave the site or its visit end without a sign of life, or, with a
// widget connected here, its next keep-alive. Called with t.mu held.
func (s *Server) sweepLaterLocked(lv *liveVisit, now time.Time) {
	t := s.track
	var at time.Time
	switch {
	case s.hub.has(visitorTopic(lv.VisitorID)):
		at = now.Add(s.keepAliveEvery())
	case lv.left:
		at = lv.LastSeen.Add(s.cfg.VisitTimeout + time.Nanosecond)
	default:
		at = lv.LastSeen.Add(onSiteWindow + time.Nanosecond)
	}
	t.sweepDue.schedule(lv, &lv.sweepAt, at)
}

// dropLocked removes lv from the live visits. Called with t.mu held.
func (s *Server) dropLocked(lv *liveVisit) {
	t := s.track
	if t.live[lv.VisitorID] == lv {
		delete(t.live, lv.VisitorID)
		if lv.own {
			t.own--
		}
	}
	lv.dropped = true
	t.rank.remove(lv)
	t.dirty = true
}

// sweepVisits does the visits' due checks: a visit with a widget connected
// here is kept alive and re-announced (other nodes expire what is not);
// one idle for onSiteWindow is listed as recently left; one idle for
// VisitTimeout ends. It drops expired invitations.
func (s *Server) sweepVisits() {
	t := s.track
	now := s.now()
	var gone []string
	t.mu.Lock()
	for {
		lv, ok := t.sweepDue.next(now, sweepField)
		if !ok {
			break
		}
		if s.hub.has(visitorTopic(lv.VisitorID)) {
			lv.LastSeen, lv.localAt = now, now
			s.changedLocked(lv)
			s.setLeftLocked(lv, false)
		} else if idle := now.Sub(lv.LastSeen); idle > s.cfg.VisitTimeout {
			if !lv.localAt.IsZero() {
				gone = append(gone, lv.VisitorID)
			}
			s.dropLocked(lv)
			continue
		} else {
			s.setLeftLocked(lv, idle > onSiteWindow)
		}
		s.sweepLaterLocked(lv, now)
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

// setLeftLocked moves lv between "on the site" and "recently left" in the
// live list. Called with t.mu held.
func (s *Server) setLeftLocked(lv *liveVisit, left bool) {
	if lv.left != left {
		lv.left = left
		s.relistLocked(lv)
	}
}

// widgetOpened notes that a widget of the visitor's connected here: its
// visit is on the site, kept alive by this node, and its triggers may run
// here now.
func (s *Server) widgetOpened(visitorID string) {
	t := s.track
	now := s.now()
	t.mu.Lock()
	if lv := t.live[visitorID]; lv != nil {
		s.seenLocked(lv, now)
		t.eval[visitorID] = struct{}{}
		select {
		case t.kick <- struct{}{}:
		default:
		}
	}
	t.mu.Unlock()
}

// widgetClosed notes that a widget of the visitor's disconnected from here:
// with none left, their visit was last seen now.
func (s *Server) widgetClosed(visitorID string) {
	if s.hub.has(visitorTopic(visitorID)) {
		return
	}
	t := s.track
	now := s.now()
	t.mu.Lock()
	if lv := t.live[visitorID]; lv != nil {
		s.seenLocked(lv, now)
	}
	t.mu.Unlock()
}

// seenLocked notes a sign of life of lv on this node. Called with t.mu
// held.
func (s *Server) seenLocked(lv *liveVisit, now time.Time) {
	lv.LastSeen, lv.localAt = now, now
	if lv.dropped || !lv.left && lv.sweepAt != 0 {
		return // its check comes before it could leave, and looks again then
	}
	s.setLeftLocked(lv, false)
	s.sweepLaterLocked(lv, now) // sooner than its expiry, now due
}

// publishVisits sends the live list to this node's operators if it
// changed, and this node's changed visits to the other nodes.
func (s *Server) publishVisits() {
	t := s.track
	t.mu.Lock()
	var changed []wireVisit
	for _, lv := range t.announce {
		lv.changed = false
		if !lv.localAt.IsZero() && !lv.dropped && t.live[lv.VisitorID] == lv {
			f := liveFrame(lv.LiveVisitor)
			f.URL = capText(f.URL, maxWireURL)
			changed = append(changed, wireVisit{LiveVisitor: f, Referrer: lv.referrer, Campaign: lv.campaign})
		}
	}
	clear(t.announce)
	t.announce = t.announce[:0]
	t.mu.Unlock()
	t.listMu.Lock()
	s.relistLiveLocked()
	t.listMu.Unlock()
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
		s.bridge.sendVisits(wireEvent{Kind: "visits", Live: live[:n]})
		live = live[n:]
	}
	for len(gone) > 0 {
		n := min(len(gone), 100)
		s.bridge.sendVisits(wireEvent{Kind: "visits", Gone: gone[:n]})
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
			s.dropLocked(lv)
		}
	}
	for _, f := range ev.Live {
		lv := t.live[f.ID]
		if lv == nil {
			if len(t.live)-t.own >= t.max*maxOtherLive {
				continue // full: listed on the node that has it
			}
			lv = &liveVisit{}
			t.live[f.ID] = lv
		} else if f.PageSince.Before(lv.PageSince) {
			lv.LastSeen = now // still on the site, on another node too
			s.setLeftLocked(lv, false)
			s.sweepLaterLocked(lv, now)
			continue
		}
		local := lv.LiveVisitor
		lv.LiveVisitor = LiveVisitor{
			VisitorID: f.ID, Name: f.Name, CurrentURL: t.text.get(f.URL), Title: t.text.get(f.Title),
			PageSince: f.PageSince, FirstSeen: f.FirstSeen, Pages: f.Pages,
			Returning: f.Returning, Chatting: f.Chatting, CartValue: f.CartValue,
			Currency: t.text.get(f.Currency), Suggested: t.text.get(f.Suggested), LastSeen: now,
			Device: t.text.get(capText(f.Device, 40)),
		}
		if !local.FirstSeen.IsZero() && local.FirstSeen.Before(lv.FirstSeen) {
			lv.FirstSeen = local.FirstSeen
		}
		if lv.referrer == "" {
			lv.referrer = t.text.get(capText(f.Referrer, maxHost))
		}
		if f.Campaign != "" {
			lv.campaign = capText(f.Campaign, maxUTM)
		}
		s.setLeftLocked(lv, false)
		s.sweepLaterLocked(lv, now)
		s.relistLocked(lv)
		if !lv.localAt.IsZero() {
			t.eval[f.ID] = struct{}{} // its widget may be here: its triggers see the new page
		}
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

// relistLiveLocked brings the live list up to date and sends operators
// what changed in it since it was last sent: the visitors added or
// changed, those gone from it, and the counts. Called with t.listMu held.
func (s *Server) relistLiveLocked() {
	t := s.track
	t.mu.Lock()
	if !t.dirty {
		t.mu.Unlock()
		return
	}
	t.dirty = false
	for _, lv := range t.touched {
		lv.touched = false
		if !lv.dropped {
			t.rank.update(lv)
		}
	}
	clear(t.touched)
	t.touched = t.touched[:0]
	list := make([]protocol.LiveVisitor, 0, min(len(t.listed)+8, t.listMax))
	t.rank.first(func(lv *liveVisit) bool {
		if len(list) == t.listMax {
			return false
		}
		list = append(list, visitFrame(lv))
		return true
	})
	c := &t.rank.count
	counts := protocol.LiveCounts{
		OnSite:   c[tierChatting] + c[tierSuggested] + c[tierCart] + c[tierOnSite],
		Chatting: c[tierChatting],
		Left:     c[tierLeft],
	}
	t.mu.Unlock()

	delta := &protocol.ServerFrame{Type: protocol.TypeVisitors, LiveDelta: true, LiveCounts: &counts}
	byID := make(map[string]protocol.LiveVisitor, len(list))
	for _, f := range list {
		byID[f.ID] = f
		if was, ok := t.listedByID[f.ID]; !ok || was != f {
			delta.Live = append(delta.Live, f)
		}
	}
	for _, f := range t.listed {
		if _, ok := byID[f.ID]; !ok {
			delta.LiveGone = append(delta.LiveGone, f.ID)
		}
	}
	same := len(delta.Live) == 0 && len(delta.LiveGone) == 0 && counts == t.listCounts
	t.listed, t.listedByID, t.listCounts = list, byID, counts
	if !same && s.hub.has(teamTopic) {
		ev := event{kind: evFrame, frame: delta}
		if err := ev.encode(); err == nil {
			s.add("visitors_frame_bytes_total", float64(len(ev.data)))
			s.hub.publish(teamTopic, ev)
		}
	}
}

// visitFrame is lv as the live list shows it. Called with t.mu held.
func visitFrame(lv *liveVisit) protocol.LiveVisitor {
	f := liveFrame(lv.LiveVisitor)
	f.Referrer, f.OnSite = lv.referrer, !lv.left
	return f
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
	t := ss.s.track
	t.listMu.Lock()
	defer t.listMu.Unlock() // the answer goes before any later delta
	ss.s.relistLiveLocked()
	counts := t.listCounts
	ss.push(event{kind: evFrame, frame: &protocol.ServerFrame{Type: protocol.TypeVisitors, ID: f.ID, Live: t.listed, LiveCounts: &counts}})
	return nil
}

// forgetVisit drops an erased visitor's live visit and invitation here and
// on the other nodes.
func (s *Server) forgetVisit(visitorID string) {
	t := s.track
	t.mu.Lock()
	if lv := t.live[visitorID]; lv != nil {
		s.dropLocked(lv)
	}
	delete(t.pend, visitorID)
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
		} else {
			t.eval[visitorID] = struct{}{} // triggers waited
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
		s.changedLocked(lv)
		if !c.Open() {
			lv.closedAt = s.now()
			t.eval[c.VisitorID] = struct{}{} // to wait out the cooldown
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
