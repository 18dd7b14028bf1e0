package chat

import (
	"cmp"
	"context"
	"net/url"
	"slices"
	"strings"
	"time"
)

// pageViewGrace is how long the writer holds a view that Track recorded for
// the title the widget reports with its page frame, which comes after the
// page has loaded; a view with no title by then is written without one.
// Close writes held views at once.
const (
	pageViewGrace = 3 * time.Second
	maxHeld       = pageViewBuffer // held views; beyond, the oldest is written untitled
)

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
