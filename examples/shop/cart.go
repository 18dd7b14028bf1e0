package main

import (
	"slices"
	"sync"
	"time"
)

const (
	maxQty   = 99     // per cart line
	maxCarts = 10_000 // carts kept in memory before idle anonymous ones are dropped
	cartIdle = 7 * 24 * time.Hour
)

// cartLine is a product and how many of it.
type cartLine struct {
	Slug string
	Qty  int
}

// cartStore keeps carts in memory, keyed by session.cartKey: a logged-in
// customer's cart under their customer id (so the chat's VisitorInfo hook,
// which knows Visitor.CustomerID, finds it), an anonymous one under the
// shop session id. Carts do not survive a restart.
type cartStore struct {
	mu    sync.Mutex
	carts map[string]*cart
	// byVisitor maps chat visitor ids to cart keys, learned from the
	// shop's pages (see linkCart), so the chat hooks find anonymous carts.
	byVisitor map[string]string
}

type cart struct {
	lines   []cartLine
	touched time.Time
}

func newCartStore() *cartStore {
	return &cartStore{carts: map[string]*cart{}, byVisitor: map[string]string{}}
}

// link records that chat visitor visitorID shops with cart key.
func (cs *cartStore) link(visitorID, key string) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.byVisitor[visitorID] == key {
		return
	}
	if len(cs.byVisitor) >= 2*maxCarts {
		clear(cs.byVisitor) // crude but bounded: links are relearned on the next page
	}
	cs.byVisitor[visitorID] = key
}

// keyOf returns the cart key last linked to chat visitor visitorID.
func (cs *cartStore) keyOf(visitorID string) (string, bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	key, ok := cs.byVisitor[visitorID]
	return key, ok
}

// get returns key's cart, creating it; the caller holds mu.
func (cs *cartStore) get(key string) *cart {
	c := cs.carts[key]
	if c == nil {
		if len(cs.carts) >= maxCarts {
			cs.evict()
		}
		c = &cart{}
		cs.carts[key] = c
	}
	c.touched = time.Now()
	return c
}

// evict drops idle carts, and if that is not enough the least recently
// used anonymous one; the caller holds mu.
func (cs *cartStore) evict() {
	var oldest string
	var oldestAt time.Time
	for k, c := range cs.carts {
		if time.Since(c.touched) > cartIdle {
			delete(cs.carts, k)
			continue
		}
		if len(k) > 8 && k[:8] == "session:" && (oldest == "" || c.touched.Before(oldestAt)) {
			oldest, oldestAt = k, c.touched
		}
	}
	if len(cs.carts) >= maxCarts && oldest != "" {
		delete(cs.carts, oldest)
	}
}

// add adds qty of slug to key's cart, up to maxQty.
func (cs *cartStore) add(key, slug string, qty int) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	c := cs.get(key)
	for i := range c.lines {
		if c.lines[i].Slug == slug {
			c.lines[i].Qty = min(c.lines[i].Qty+qty, maxQty)
			return
		}
	}
	c.lines = append(c.lines, cartLine{Slug: slug, Qty: min(qty, maxQty)})
}

// set sets the quantity of slug in key's cart; 0 removes it.
func (cs *cartStore) set(key, slug string, qty int) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	c := cs.get(key)
	i := slices.IndexFunc(c.lines, func(l cartLine) bool { return l.Slug == slug })
	switch {
	case i < 0 && qty > 0:
		c.lines = append(c.lines, cartLine{Slug: slug, Qty: min(qty, maxQty)})
	case i >= 0 && qty > 0:
		c.lines[i].Qty = min(qty, maxQty)
	case i >= 0:
		c.lines = slices.Delete(c.lines, i, i+1)
	}
}

// lines returns a copy of key's cart.
func (cs *cartStore) lines(key string) []cartLine {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if c := cs.carts[key]; c != nil {
		return slices.Clone(c.lines)
	}
	return nil
}

// clear empties key's cart.
func (cs *cartStore) clear(key string) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	delete(cs.carts, key)
}

// merge moves the lines of cart from into cart to (at login).
func (cs *cartStore) merge(from, to string) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	src := cs.carts[from]
	if src == nil || from == to {
		return
	}
	delete(cs.carts, from)
	dst := cs.get(to)
	for _, l := range src.lines {
		if i := slices.IndexFunc(dst.lines, func(d cartLine) bool { return d.Slug == l.Slug }); i >= 0 {
			dst.lines[i].Qty = min(dst.lines[i].Qty+l.Qty, maxQty)
		} else {
			dst.lines = append(dst.lines, l)
		}
	}
}

// pricedLine is a cart line with its product, for display.
type pricedLine struct {
	Product   *product
	Qty       int
	LineCents int64
}

// cartView is a cart priced at current prices.
type cartView struct {
	Lines      []pricedLine
	TotalCents int64
	Count      int // items, counting quantities
}

// view prices key's cart; lines whose product left the catalogue are
// skipped.
func (s *shop) cartView(key string) cartView {
	var v cartView
	for _, l := range s.carts.lines(key) {
		p := s.bySlug[l.Slug]
		if p == nil {
			continue
		}
		line := pricedLine{Product: p, Qty: l.Qty, LineCents: p.PriceCents * int64(l.Qty)}
		v.Lines = append(v.Lines, line)
		v.TotalCents += line.LineCents
		v.Count += l.Qty
	}
	return v
}
