package chat

import (
	"context"
	"errors"
	"net/http"
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
	maxLiveFrame = 500 // visitors in the operators' live list, most relevant first
)

const (
	pageViewBuffer   = 4096
	pageViewBatch    = 100
	pageViewInterval = 250 * time.Millisecond
	visitTick        = time.Second
	typingExpiry     = 30 * time.Second // a lost "stopped typing" frame
	maxPending       = 10000            // pending invitations remembered
	// maxLive caps the live visits a node starts: every request without a
	// cookie starts one, so a client that drops its cookies could grow the
	// map without end. Beyond, a new visit is not listed (its page views
	// are still stored) until visits expire. Other nodes' visits, each
	// node capped so, are kept up to maxOtherLive times as many: a fleet of
	// five lists all of its visitors on every node.
	maxLive      = 50000
	maxOtherLive = 4
)

// tracker is the Server's tracking state.
type tracker struct {
	items chan trackItem     // page views for the writer
	flush chan flushRequest  // tests: write now
	kick  chan struct{}      // visits to evaluate (evalIDs)
	loop  chan chan struct{} // tests: run the visit loop's work now
	// stopTicks stops the visit loop's ticker: tests run it themselves.
	stopTicks chan struct{}
	mu        sync.Mutex            // guards everything below
	live      map[string]*liveVisit // visitor id -> visit
	pend      map[string]*Activity  // visitor id -> unanswered invitation
	eval      map[string]struct{}   // visits to evaluate on the next kick
	dirty     bool                  // the live list changed since published
	max       int                   // live visits started here kept (maxLive)
	own       int                   // live visits started here

	// The visit loop's work is kept in order of when it falls due, so that
	// a pass costs what changed and what is due, not every visit.
	evalDue   visitHeap    // visits whose triggers' time on page falls due
	sweepDue  visitHeap    // visits to keep alive, mark left or expire
	infoDue   []*liveVisit // visits whose cart to ask Config.VisitorInfo for
	announce  []*liveVisit // this node's visits to announce to other nodes
	evalAll   bool         // evaluate every visit (the triggers changed)
	open      bool         // within business hours at the last pass
	evaluated int          // visits evaluated, for tests
	rank      *rankList    // every live visit, most relevant first
	touched   []*liveVisit // visits whose place in rank may have changed
	text      sharedText   // one copy of the texts visits repeat

	// listMu orders the live list operators get: the last list sent (to
	// which later deltas apply) and the frames sent, answers included.
	// Taken before mu.
	listMu     sync.Mutex
	listed     []protocol.LiveVisitor          // as last sent, in rank order
	listedByID map[string]protocol.LiveVisitor // the same by id
	listCounts protocol.LiveCounts
	listMax    int // visitors in the list (maxLiveFrame)

	triggers       []*compiledTrigger
	triggersLoaded bool
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
	changed  bool            // to announce to other nodes (in tracker.announce)
	dropped  bool            // no longer in tracker.live
	evalAt   int64           // due in tracker.evalDue (UnixNano; 0: not)
	sweepAt  int64           // due in tracker.sweepDue (UnixNano; 0: not)
	ranked   *rankNode       // its place in tracker.rank; nil: not placed
	touched  bool            // in tracker.touched
	own      bool            // started on this node (counted in tracker.own)
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
		items:     make(chan trackItem, pageViewBuffer),
		flush:     make(chan flushRequest),
		kick:      make(chan struct{}, 1),
		loop:      make(chan chan struct{}),
		stopTicks: make(chan struct{}),
		live:      make(map[string]*liveVisit),
		pend:      make(map[string]*Activity),
		eval:      make(map[string]struct{}),
		rank:      newRankList(),
		listMax:   maxLiveFrame,
		max:       maxLive,
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
				s.seenLocked(lv, now)
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
		s.seenLocked(lv, now)
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
	listed := lv != nil || t.own < t.max
	lv = &liveVisit{visitor: v, localAt: now}
	lv.VisitorID, lv.Name = v.ID, v.Name
	lv.FirstSeen, lv.LastSeen, lv.PageSince = now, now, now
	// A visitor created within the last minute was created by this visit
	// (the widget's session request comes just before its page frame).
	lv.Returning = v.CreatedAt.Before(now.Add(-time.Minute))
	if !listed {
		s.add("visits_unlisted_total", 1)
		lv.dropped = true // not in t.live: no loop work, no announcements
		return lv
	}
	if old := t.live[v.ID]; old != nil {
		s.dropLocked(old) // ended: this visit replaces it
	}
	t.live[v.ID] = lv
	lv.own = true
	t.own++
	s.changedLocked(lv)
	s.sweepLaterLocked(lv, now)
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
		lv.referrer = s.track.text.get(referrerHost(pv.Referrer, r.Host))
	}
	if lv.Device == "" {
		lv.Device = s.track.text.get(deviceOf(r.UserAgent()))
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
	lv.CurrentURL, lv.Title = t.text.get(u), t.text.get(title)
	lv.PageSince = now
	s.seenLocked(lv, now)
	lv.Pages++
	if s.cfg.VisitorInfo != nil && !lv.infoDue {
		lv.infoDue = true
		t.infoDue = append(t.infoDue, lv)
	}
	s.changedLocked(lv)
	t.eval[lv.VisitorID] = struct{}{}
	select {
	case t.kick <- struct{}{}:
	default:
	}
}

// onPage records the page the widget is on: its title for a page view
// Track recorded already, or a page view of its own for pages Track does
// not see (a single-page app's navigation, a shop without Track).
func (ss *session) onPage(ctx context.Context, f protocol.ClientFrame) error {
	s := ss.s
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
		lv.Title = f.Title
		s.seenLocked(lv, now)
		s.changedLocked(lv)
	} else {
		if lv.Pages == 0 {
			lv.referrer = t.text.get(referrerHost(f.Referrer, ""))
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
