package chat

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/shopchat/chat/protocol"
)

// Tracking keeps the visitors on the site live in memory (per node, merged
// with the other nodes' over the bridge) and writes page views to the Store
// in batches from one goroutine, so a shop's request never waits on a
// store write for a returning visitor.

// Length caps of page view text, as PageView documents.
const (
	maxPageURL   = 2048
	maxPageTitle = 300
	maxUTM       = 200
	maxWireURL   = 512 // URLs in bridge events: keeps each event small
	maxHost      = 253 // a referrer's host, as triggers match it (a DNS name's maximum)
	maxLiveFrame = 500 // visitors in one visitors frame, most recent first
)

const (
	pageViewBuffer   = 4096
	pageViewBatch    = 100
	pageViewInterval = 250 * time.Millisecond
	visitTick        = time.Second
	typingExpiry     = 30 * time.Second // a lost "stopped typing" frame
	maxPending       = 10000            // pending invitations remembered
	// maxLive caps the live visits a node keeps: every request without a
	// cookie starts one, so a client that drops its cookies could grow the
	// map without end. Beyond, a new visit is not listed (its page views
	// are still stored) until visits expire.
	maxLive = 50000
)

// pageViewGrace is how long the writer holds a view that Track recorded for
// the title the widget reports with its page frame, which comes after the
// page has loaded; a view with no title by then is written without one.
// Close writes held views at once.
const (
	pageViewGrace = 3 * time.Second
	maxHeld       = pageViewBuffer // held views; beyond, the oldest is written untitled
)

// tracker is the Server's tracking state.
type tracker struct {
	items chan trackItem        // page views for the writer
	flush chan flushRequest     // tests: write now
	kick  chan struct{}         // visits to evaluate (evalIDs)
	loop  chan chan struct{}    // tests: run the visit loop's work now
	mu    sync.Mutex            // guards everything below
	live  map[string]*liveVisit // visitor id -> visit
	pend  map[string]*Activity  // visitor id -> unanswered invitation
	eval  map[string]struct{}   // visits to evaluate on the next kick
	dirty bool                  // the live list changed since published
	max   int                   // live visits kept (maxLive)

	triggers       []*compiledTrigger
	triggersLoaded bool
	lastAnnounce   time.Time // keep-alive announcements to other nodes
}

// trackItem is one item for the page view writer.
type trackItem struct {
	view PageView
	kind itemKind
}

type itemKind uint8

const (
	itemView  itemKind = iota // a view to write (it has its title, if any)
	itemHold                  // a view Track recorded: held for its title
	itemTitle                 // view.Title for the held view of view.VisitorID and view.URL
	itemAnon                  // an AnonymousPageView: view.URL's path only
)

// flushRequest asks the writer to write now: what is due, or everything
// (all, as on Close).
type flushRequest struct {
	done chan struct{}
	all  bool
}

// heldView is a page view in the writer, with its arrival order so that a
// batch is written in the order the views came in.
type heldView struct {
	seq  uint64
	view PageView
	due  time.Time // held until then for a title
	done bool      // moved to the batch: skipped in the writer's FIFO
}

type viewKey struct{ visitor, url string }

// heldFIFO is a ring of held views addressed by position (the count of
// views pushed before), so that holding a view allocates nothing once the
// ring has grown.
type heldFIFO struct {
	buf  []heldView
	head int    // index of the oldest
	n    int    // views in the ring
	base uint64 // position of the oldest
}

func (f *heldFIFO) at(pos uint64) *heldView {
	return &f.buf[(f.head+int(pos-f.base))%len(f.buf)]
}

// push appends h and returns its position.
func (f *heldFIFO) push(h heldView) uint64 {
	if f.n == len(f.buf) {
		buf := make([]heldView, max(16, 2*len(f.buf)))
		for i := range f.n {
			buf[i] = f.buf[(f.head+i)%len(f.buf)]
		}
		f.buf, f.head = buf, 0
	}
	f.buf[(f.head+f.n)%len(f.buf)] = h
	f.n++
	return f.base + uint64(f.n-1)
}

func (f *heldFIFO) pop() {
	f.buf[f.head] = heldView{} // its strings can go
	f.head = (f.head + 1) % len(f.buf)
	f.n--
	f.base++
}

// liveVisit is one visitor's current visit.
type liveVisit struct {
	LiveVisitor
	visitor  *Visitor // as resolved at the visit's start; replaced, never mutated
	token    string   // the verified cookie value, to skip the HMAC next time
	referrer string   // the host that referred the visit, for triggers
	campaign string   // the visit's utm_campaign
	typing   time.Time
	closedAt time.Time       // when their last conversation closed: the proactive cooldown
	left     bool            // listed as recently left (not OnSite) when last published
	shown    int             // proactive messages this visit
	fired    map[string]bool // triggers that ran this visit
	infoDue  bool            // call Config.VisitorInfo for the current page
	localAt  time.Time       // last activity on this node; zero: only other nodes'
	changed  bool            // to announce to other nodes
	// unsaved: the visitor has a token but no stored row yet (a bare page
	// view creates none); its page views wait in pending, at most
	// maxUnsavedViews, until the widget's first connection stores it.
	unsaved bool
	pending []PageView
}

// maxUnsavedViews caps the page views kept for a visitor not stored yet.
const maxUnsavedViews = 20

func newTracker() *tracker {
	return &tracker{
		items: make(chan trackItem, pageViewBuffer),
		flush: make(chan flushRequest),
		kick:  make(chan struct{}, 1),
		loop:  make(chan chan struct{}),
		live:  make(map[string]*liveVisit),
		pend:  make(map[string]*Activity),
		eval:  make(map[string]struct{}),
		max:   maxLive,
	}
}

// startTracking seeds and loads the triggers and starts the page view
// writer and the visit loop. A Store that fails to load the triggers now is
// retried every second rather than failing New.
func (s *Server) startTracking(triggers []*compiledTrigger) error {
	s.track = newTracker()
	defaultTo(&s.cfg.MaxProactivePerVisit, 2)
	defaultTo(&s.cfg.VisitTimeout, 30*time.Minute)
	if err := s.seedTriggers(triggers); err != nil {
		return err
	}
	if err := s.loadTriggers(s.ctx); err != nil {
		s.logErr("load triggers", err)
	}
	s.wg.Add(2)
	go s.pageViewWriter()
	go s.visitLoop()
	return nil
}

type visitorKey struct{}

// VisitorFrom returns the visitor that middleware.Track put in ctx, or nil
// if there is none (no Track, a skipped request, or no cookie yet under
// Config.CookieOnInteraction). The Visitor is as loaded at the start of the
// visit; treat it as read-only.
func VisitorFrom(ctx context.Context) *Visitor {
	v, _ := ctx.Value(visitorKey{}).(*Visitor)
	return v
}

// Path returns Config.Path, where Handler is mounted.
func (s *Server) Path() string { return s.cfg.Path }

// TrackRequest is the work of middleware.Track for one request of the
// shop's own pages: it resolves the visitor from the signed cookie (creating
// one and setting the cookie for a new visitor, unless
// Config.CookieOnInteraction), records a page view for GET requests
// (queued for a batched Store write; dropped and counted when the queue is
// full, never blocking), updates the live visitor list, and returns r with
// the visitor in its context for VisitorFrom. It never fails the request:
// on a Store error it logs and returns r as it was.
func (s *Server) TrackRequest(w http.ResponseWriter, r *http.Request) *http.Request {
	t := s.track
	token := cookieValue(r, s.cfg.CookieName)
	now := s.now()
	view := r.Method == http.MethodGet && r.Header.Get("Sec-Purpose") == "" && r.Header.Get("Purpose") == ""
	var v *Visitor
	if token != "" {
		// A returning visitor's token verified earlier in this visit: no
		// HMAC and no Store read.
		id, _, _ := strings.Cut(token, ".")
		t.mu.Lock()
		if lv := t.live[id]; lv != nil && lv.visitor != nil && constEqual(lv.token, token) && now.Sub(lv.LastSeen) <= s.cfg.VisitTimeout {
			v = lv.visitor
			if view {
				s.pageViewLocked(lv, r, now)
			} else {
				lv.LastSeen, lv.localAt = now, now
			}
		}
		t.mu.Unlock()
	}
	if v == nil {
		var err error
		if v, err = s.startVisit(w, r, token, now, view); err != nil || v == nil {
			if err != nil {
				s.logErr("track request", err)
			}
			return r
		}
	}
	return r.WithContext(context.WithValue(r.Context(), visitorKey{}, v))
}

// startVisit resolves a request's visitor the slow way (HMAC, Store) and
// starts or renews their live visit. A request without a valid token gets a
// token for a new visitor that is not stored until the widget uses it.
func (s *Server) startVisit(w http.ResponseWriter, r *http.Request, token string, now time.Time, view bool) (*Visitor, error) {
	var v *Visitor
	unsaved := false
	tok, err := s.requestToken(r)
	if err == nil {
		v, err = s.visitorOfToken(r.Context(), tok, false)
		if errors.Is(err, ErrNotFound) {
			v, unsaved, err = &Visitor{ID: tok.id, CreatedAt: tok.issued, LastSeenAt: now, TokenGen: tok.gen}, true, nil
		}
	}
	if errors.Is(err, ErrUnauthorized) {
		if s.cfg.CookieOnInteraction || !s.allowNewVisitor(r) {
			if view {
				s.queueItem(trackItem{kind: itemAnon, view: PageView{URL: capText(r.URL.Path, maxPageURL), At: now}})
			}
			return nil, nil
		}
		v, unsaved, err = s.unsavedVisitor(), true, nil
		token = ""
	}
	if err != nil {
		return nil, err
	}
	if token == "" || s.tokenAge(token, now) > 24*time.Hour {
		token = s.setVisitorCookie(w, r, v) // each visit renews the token
	}
	chatting := false
	if unsaved {
		// Nothing stored: no conversation either.
	} else if _, err := s.store.OpenConversation(r.Context(), v.ID); err == nil {
		chatting = true
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	t := s.track
	t.mu.Lock()
	defer t.mu.Unlock()
	lv := s.visitLocked(v, now)
	lv.token, lv.visitor, lv.Chatting = token, v, chatting
	lv.unsaved = unsaved
	if !unsaved {
		lv.pending = nil
	}
	if view {
		s.pageViewLocked(lv, r, now)
	} else {
		lv.LastSeen, lv.localAt = now, now
	}
	return v, nil
}

// visitorStored writes the page views kept for a visitor that was not
// stored, now that it is. With holdLast (the widget is connecting) the
// newest view waits in the writer for the title the widget reports.
func (s *Server) visitorStored(ctx context.Context, v *Visitor, holdLast bool) {
	t := s.track
	t.mu.Lock()
	lv := t.live[v.ID]
	if lv == nil || !lv.unsaved {
		t.mu.Unlock()
		return
	}
	lv.unsaved, lv.visitor = false, v
	views := lv.pending
	lv.pending = nil
	if holdLast && len(views) > 0 {
		s.queueItem(trackItem{kind: itemHold, view: views[len(views)-1]})
		views = views[:len(views)-1]
	}
	t.mu.Unlock()
	if len(views) > 0 {
		if err := s.store.AddPageViews(ctx, views); err != nil {
			s.logErr("page views of a new visitor", err, "visitor", v.ID)
		}
	}
}

// storedVisitor returns the stored visitor with id, storing first one that
// Track knows but has not stored (its order or its question to the
// checkout is something to keep). ErrNotFound for any other unknown id.
func (s *Server) storedVisitor(ctx context.Context, id string) (*Visitor, error) {
	v, err := s.store.Visitor(ctx, id)
	if !errors.Is(err, ErrNotFound) {
		return v, err
	}
	t := s.track
	t.mu.Lock()
	lv := t.live[id]
	var nv Visitor
	unsaved := lv != nil && lv.unsaved
	if unsaved {
		nv = *lv.visitor
	}
	t.mu.Unlock()
	if !unsaved {
		return nil, err
	}
	if err := s.store.CreateVisitor(ctx, &nv); err != nil && !errors.Is(err, ErrConflict) {
		return nil, err
	}
	s.visitorStored(ctx, &nv, false)
	return s.store.Visitor(ctx, id)
}

// forgetVisitToken makes Track verify the visitor's cookie again on their
// next request (after a logout revoked it).
func (s *Server) forgetVisitToken(id string) {
	t := s.track
	if t == nil {
		return
	}
	t.mu.Lock()
	if lv := t.live[id]; lv != nil {
		lv.token = ""
	}
	t.mu.Unlock()
}

// tokenAge is how long ago a valid token was issued.
func (s *Server) tokenAge(token string, now time.Time) time.Duration {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return 0
	}
	var unix int64
	for _, c := range parts[1] {
		if c < '0' || c > '9' {
			return 0
		}
		unix = unix*10 + int64(c-'0')
	}
	return now.Sub(time.Unix(unix, 0))
}

// visitLocked returns v's live visit, starting a new one if there is none
// or the last ended (VisitTimeout without activity). When the live list is
// full (maxLive), a new visit is returned unlisted. Called with t.mu held.
func (s *Server) visitLocked(v *Visitor, now time.Time) *liveVisit {
	t := s.track
	lv := t.live[v.ID]
	if lv != nil && now.Sub(lv.LastSeen) <= s.cfg.VisitTimeout {
		return lv
	}
	listed := lv != nil || len(t.live) < t.max
	lv = &liveVisit{visitor: v, localAt: now}
	lv.VisitorID, lv.Name = v.ID, v.Name
	lv.FirstSeen, lv.LastSeen, lv.PageSince = now, now, now
	// A visitor created within the last minute was created by this visit
	// (the widget's session request comes just before its page frame).
	lv.Returning = v.CreatedAt.Before(now.Add(-time.Minute))
	if !listed {
		s.add("visits_unlisted_total", 1)
		return lv
	}
	t.live[v.ID] = lv
	t.dirty = true
	lv.changed = true
	return lv
}

// pageViewLocked records that lv opened the page of request r. Called with
// t.mu held; it allocates nothing unless the URL has UTM parameters.
func (s *Server) pageViewLocked(lv *liveVisit, r *http.Request, now time.Time) {
	u := r.RequestURI
	if !strings.HasPrefix(u, "/") {
		u = r.URL.RequestURI()
	}
	if !utf8.ValidString(u) {
		s.add("pageviews_invalid_total", 1) // text we would store mangled: refused
		return
	}
	ref := r.Referer()
	if !utf8.ValidString(ref) {
		ref = ""
	}
	pv := PageView{VisitorID: lv.VisitorID, URL: capText(u, maxPageURL), Referrer: capText(ref, maxPageURL), At: now}
	if strings.Contains(r.URL.RawQuery, "utm_") {
		pv.UTM = parseUTM(r.URL.RawQuery)
	}
	if lv.Pages == 0 {
		lv.referrer = referrerHost(pv.Referrer, r.Host)
	}
	if lv.Device == "" {
		lv.Device = deviceOf(r.UserAgent())
	}
	if pv.UTM.Campaign != "" {
		lv.campaign = pv.UTM.Campaign
	}
	s.openedLocked(lv, pv.URL, "", now)
	if lv.unsaved {
		if len(lv.pending) < maxUnsavedViews {
			lv.pending = append(lv.pending, pv)
		}
		return
	}
	s.queueItem(trackItem{kind: itemHold, view: pv}) // the widget's page frame may add its title
}

// openedLocked moves lv to a new page. Called with t.mu held.
func (s *Server) openedLocked(lv *liveVisit, u, title string, now time.Time) {
	t := s.track
	lv.CurrentURL, lv.Title = u, title
	lv.PageSince, lv.LastSeen, lv.localAt = now, now, now
	lv.Pages++
	lv.infoDue = s.cfg.VisitorInfo != nil
	lv.changed = true
	t.dirty = true
	t.eval[lv.VisitorID] = struct{}{}
	select {
	case t.kick <- struct{}{}:
	default:
	}
}

// queueItem hands an item to the page view writer without blocking.
func (s *Server) queueItem(it trackItem) {
	select {
	case s.track.items <- it:
	default:
		s.add("pageviews_dropped_total", 1)
	}
}

// pageViewWriter stores queued page views in batches: every
// pageViewInterval or pageViewBatch views, and what is left on Close. A
// view that Track recorded is held until the widget reports its title (then
// written at the next batch) or for pageViewGrace (then written untitled),
// by the Server's clock.
func (s *Server) pageViewWriter() {
	defer s.wg.Done()
	t := s.track
	tick := time.NewTicker(pageViewInterval)
	defer tick.Stop()
	var (
		seq   uint64
		batch []heldView // to write, sorted by seq when written
		views []PageView // batch as written, reused
		anon  []Activity
		fifo  heldFIFO                   // held views in arrival order, some done
		held  = make(map[viewKey]uint64) // position in fifo
	)
	release := func(h *heldView) {
		h.done = true
		delete(held, viewKey{h.view.VisitorID, h.view.URL})
		batch = append(batch, *h)
	}
	find := func(key viewKey) *heldView {
		if pos, ok := held[key]; ok {
			return fifo.at(pos)
		}
		return nil
	}
	// releaseDue moves the held views due at now (all: every one) to the
	// batch. They arrive in order, so the first one not due ends the scan.
	releaseDue := func(now time.Time, all bool) {
		for fifo.n > 0 {
			if h := fifo.at(fifo.base); !h.done {
				if !all && now.Before(h.due) {
					return
				}
				release(h)
			}
			fifo.pop()
		}
	}
	add := func(it trackItem) {
		seq++
		switch it.kind {
		case itemAnon:
			anon = append(anon, Activity{Kind: AnonymousPageView, Text: it.view.URL, At: it.view.At})
		case itemTitle:
			// A title for a view written already (after the grace period,
			// or dropped from a full queue) is lost: Track's view stays
			// untitled, and the live list has the title.
			if h := find(viewKey{it.view.VisitorID, it.view.URL}); h != nil {
				h.view.Title = it.view.Title
				release(h)
			}
		case itemHold:
			key := viewKey{it.view.VisitorID, it.view.URL}
			if old := find(key); old != nil {
				release(old) // a reload: the title is for the newer view
			}
			if fifo.n == maxHeld { // bounded: the oldest goes untitled
				if h := fifo.at(fifo.base); !h.done {
					release(h)
				}
				fifo.pop()
			}
			held[key] = fifo.push(heldView{seq: seq, view: it.view, due: it.view.At.Add(pageViewGrace)})
		default:
			batch = append(batch, heldView{seq: seq, view: it.view})
		}
	}
	drain := func() {
		for {
			select {
			case it := <-t.items:
				add(it)
			default:
				return
			}
		}
	}
	write := func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), 5*time.Second)
		defer cancel()
		if len(batch) > 0 {
			slices.SortFunc(batch, func(a, b heldView) int { return cmp.Compare(a.seq, b.seq) })
			views = views[:0]
			for _, h := range batch {
				views = append(views, h.view)
			}
			clear(batch)
			batch = batch[:0]
			if err := s.store.AddPageViews(ctx, views); err != nil {
				s.add("pageviews_failed_total", float64(len(views)))
				s.logErr("store page views", err, "count", len(views))
			} else {
				s.add("pageviews_total", float64(len(views)))
			}
			clear(views)
		}
		if len(anon) > 0 {
			if err := s.store.AddActivities(ctx, anon); err != nil {
				s.logErr("store anonymous page views", err, "count", len(anon))
			}
			anon = anon[:0]
		}
	}
	for {
		select {
		case <-s.ctx.Done():
			drain()
			releaseDue(time.Time{}, true)
			write()
			return
		case it := <-t.items:
			add(it)
			if len(batch)+len(anon) >= pageViewBatch {
				write()
			}
		case <-tick.C:
			releaseDue(s.now(), false)
			write()
		case req := <-t.flush:
			drain()
			releaseDue(s.now(), req.all)
			write()
			close(req.done)
		}
	}
}

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

// onPage records the page the widget is on: its title for a page view
// Track recorded already, or a page view of its own for pages Track does
// not see (a single-page app's navigation, a shop without Track).
func (ss *session) onPage(ctx context.Context, f protocol.ClientFrame) error {
	s := ss.s
	if ss.visitor == nil {
		return userErr(ErrForbidden, "page is for visitors")
	}
	switch {
	case f.URL == "" || !strings.HasPrefix(f.URL, "/"):
		return userErr(ErrInvalid, "url must be the page's path and query, starting with /")
	case len(f.URL) > maxPageURL || len(f.Referrer) > maxPageURL:
		return userErr(ErrInvalid, "url and referrer may be at most %d bytes", maxPageURL)
	case len(f.Title) > maxPageTitle:
		return userErr(ErrInvalid, "title may be at most %d bytes", maxPageTitle)
	case !validText(f.URL) || !validText(f.Title) || !validText(f.Referrer):
		return userErr(ErrInvalid, "url, title and referrer must be text")
	}
	now := s.now()
	t := s.track
	t.mu.Lock()
	lv := s.visitLocked(ss.visitor, now)
	same := lv.Pages > 0 && lv.CurrentURL == f.URL && !lv.localAt.IsZero()
	if same {
		lv.Title, lv.LastSeen, lv.localAt = f.Title, now, now
		lv.changed, t.dirty = true, true
	} else {
		if lv.Pages == 0 {
			lv.referrer = referrerHost(f.Referrer, "")
		}
		s.openedLocked(lv, f.URL, f.Title, now)
	}
	t.mu.Unlock()
	switch {
	case same && f.Title != "":
		// Track's view of this page, queued before, waits in the writer
		// for its title (pageViewGrace).
		s.queueItem(trackItem{kind: itemTitle, view: PageView{VisitorID: ss.visitor.ID, URL: f.URL, Title: f.Title}})
	case !same:
		pv := PageView{VisitorID: ss.visitor.ID, URL: f.URL, Title: f.Title, Referrer: f.Referrer, At: now}
		if _, q, ok := strings.Cut(f.URL, "?"); ok && strings.Contains(q, "utm_") {
			pv.UTM = parseUTM(q)
		}
		s.queueItem(trackItem{view: pv})
	}
	return ss.ackIfAsked(f)
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

// cookieValue returns the value of the named cookie without parsing the
// others (r.Cookie allocates for every cookie of the request).
func cookieValue(r *http.Request, name string) string {
	for _, line := range r.Header["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			if len(part) > len(name) && part[len(name)] == '=' && part[:len(name)] == name {
				return strings.Trim(part[len(name)+1:], `"`)
			}
		}
	}
	return ""
}

// constEqual compares in constant time: a token's MAC is secret.
func constEqual(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	var d byte
	for i := 0; i < len(a); i++ {
		d |= a[i] ^ b[i]
	}
	return d == 0
}

// capText cuts s to at most n bytes on a rune boundary.
func capText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func parseUTM(rawQuery string) UTM {
	q, _ := url.ParseQuery(rawQuery)
	return UTM{
		Source:   capText(q.Get("utm_source"), maxUTM),
		Medium:   capText(q.Get("utm_medium"), maxUTM),
		Campaign: capText(q.Get("utm_campaign"), maxUTM),
		Term:     capText(q.Get("utm_term"), maxUTM),
		Content:  capText(q.Get("utm_content"), maxUTM),
	}
}

// referrerHost is the host of an external referrer ("" for the shop's own
// pages or none).
func referrerHost(ref, self string) string {
	if ref == "" {
		return ""
	}
	u, err := url.Parse(ref)
	if err != nil || u.Host == "" || strings.EqualFold(u.Host, self) {
		return ""
	}
	return capText(strings.ToLower(u.Hostname()), maxHost)
}
