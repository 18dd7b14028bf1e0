// Package memory is an in-process chat.Store that keeps everything in maps
// guarded by one mutex. It implements chat.Searcher by scanning every
// message.
//
// It is meant for tests and single-process demos: it needs no setup and is
// fast, but it loses every visitor, conversation, message, page view and
// order when the process exits. Each Store picks a random epoch when it
// is created, so clients resuming against a restarted process see a new
// chat.Conversation.Epoch and reload instead of trusting what they hold.
//
// Use store/sqlite for anything that must survive a restart.
package memory

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/shopchat/chat"
)

var (
	_ chat.Store    = (*Store)(nil)
	_ chat.Searcher = (*Store)(nil)
)

// defaultLimit is ConversationFilter.Limit when it is 0.
const defaultLimit = 50

// Store is an in-memory chat.Store. The zero value is not usable; call New.
// A Store is safe for concurrent use.
type Store struct {
	epoch int64 // fixed for the Store's life

	mu        sync.Mutex
	visitors  map[string]*chat.Visitor
	customers map[string]string // customer id -> visitor id
	operators map[string]*operator
	convs     map[string]*conversation
	open      map[string]string // visitor id -> id of its conversation that is not Closed
	// Indexes that keep the per-visitor listing and the queue from scanning
	// every conversation.
	byVisitor map[string]map[string]struct{} // visitor id -> conversation ids
	queued    map[string]struct{}            // ids of Queued conversations

	// Tracking (tracking.go).
	pageViews  map[string][]chat.PageView // visitor id -> views, in insertion order
	activities []chat.Activity            // in insertion order
	orders     map[string]*chat.Order
	canned     map[string]*chat.CannedResponse
	triggers   map[string]*chat.Trigger
	claims     map[string]time.Time // key -> expires (claims.go)

	attachments map[string]*chat.Attachment // by id (attachments.go)
}

type operator struct {
	op           chat.Operator
	presence     chat.Presence
	expires      time.Time
	assigned     map[string]*conversation // its Assigned conversations, by id
	lastAssigned time.Time
}

type conversation struct {
	c         chat.Conversation
	msgs      []chat.Message // msgs[i].Seq == i+1
	clientIDs map[string]int // client id -> index in msgs
	attached  []string       // ids of its attachments (attachments.go)
}

// New returns an empty Store with a fresh random epoch.
func New() *Store {
	var epoch int64
	for epoch == 0 {
		epoch = rand.Int64()
	}
	return &Store{
		epoch:     epoch,
		visitors:  make(map[string]*chat.Visitor),
		customers: make(map[string]string),
		operators: make(map[string]*operator),
		convs:     make(map[string]*conversation),
		open:      make(map[string]string),
		byVisitor: make(map[string]map[string]struct{}),
		queued:    make(map[string]struct{}),
		pageViews: make(map[string][]chat.PageView),
		orders:    make(map[string]*chat.Order),
		canned:    make(map[string]*chat.CannedResponse),
		triggers:  make(map[string]*chat.Trigger),
		claims:    make(map[string]time.Time),
	}
}

func notFound(kind, id string) error {
	return fmt.Errorf("memory: %s %q: %w", kind, id, chat.ErrNotFound)
}

func conflict(kind, id, why string) error {
	return fmt.Errorf("memory: %s %q: %s: %w", kind, id, why, chat.ErrConflict)
}

// Visitors.

func copyVisitor(v *chat.Visitor) *chat.Visitor {
	c := *v
	return &c
}

// CreateVisitor implements chat.Store.
func (s *Store) CreateVisitor(_ context.Context, v *chat.Visitor) error {
	if v.ID == "" {
		return fmt.Errorf("memory: visitor id is empty: %w", chat.ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.visitors[v.ID]; ok {
		return conflict("visitor", v.ID, "already exists")
	}
	if v.CustomerID != "" {
		if _, ok := s.customers[v.CustomerID]; ok {
			return conflict("customer", v.CustomerID, "bound to another visitor")
		}
		s.customers[v.CustomerID] = v.ID
	}
	s.visitors[v.ID] = copyVisitor(v)
	return nil
}

// Visitor implements chat.Store.
func (s *Store) Visitor(_ context.Context, id string) (*chat.Visitor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.visitors[id]
	if !ok {
		return nil, notFound("visitor", id)
	}
	return copyVisitor(v), nil
}

// VisitorByCustomer implements chat.Store.
func (s *Store) VisitorByCustomer(_ context.Context, customerID string) (*chat.Visitor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.customers[customerID]
	if !ok || customerID == "" {
		return nil, notFound("customer", customerID)
	}
	return copyVisitor(s.visitors[id]), nil
}

// UpdateVisitor implements chat.Store.
func (s *Store) UpdateVisitor(_ context.Context, v *chat.Visitor) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.visitors[v.ID]
	if !ok {
		return notFound("visitor", v.ID)
	}
	if v.CustomerID != old.CustomerID {
		if v.CustomerID != "" {
			if _, taken := s.customers[v.CustomerID]; taken {
				return conflict("customer", v.CustomerID, "bound to another visitor")
			}
			s.customers[v.CustomerID] = v.ID
		}
		if old.CustomerID != "" {
			delete(s.customers, old.CustomerID)
		}
	}
	nv := copyVisitor(v)
	nv.TokenGen = max(nv.TokenGen, old.TokenGen) // a stale copy never revives revoked tokens
	s.visitors[v.ID] = nv
	return nil
}

// Operators.

func copyOperator(op *chat.Operator) *chat.Operator {
	c := *op
	c.Departments = slices.Clone(op.Departments)
	return &c
}

// PutOperator implements chat.Store.
func (s *Store) PutOperator(_ context.Context, op *chat.Operator) error {
	if op.ID == "" {
		return fmt.Errorf("memory: operator id is empty: %w", chat.ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if o, ok := s.operators[op.ID]; ok {
		o.op = *copyOperator(op)
		return nil
	}
	s.operators[op.ID] = &operator{op: *copyOperator(op), presence: chat.Offline, assigned: make(map[string]*conversation)}
	return nil
}

// Operator implements chat.Store.
func (s *Store) Operator(_ context.Context, id string) (*chat.Operator, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.operators[id]
	if !ok {
		return nil, notFound("operator", id)
	}
	return copyOperator(&o.op), nil
}

// SetPresence implements chat.Store. A zero expires never expires.
func (s *Store) SetPresence(_ context.Context, operatorID string, p chat.Presence, expires time.Time) error {
	if !p.Valid() {
		return fmt.Errorf("memory: presence %q: %w", p, chat.ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.operators[operatorID]
	if !ok {
		return notFound("operator", operatorID)
	}
	o.presence, o.expires = p, expires
	return nil
}

// OperatorLoads implements chat.Store. A presence is current while now is
// before its expiry.
func (s *Store) OperatorLoads(_ context.Context, now time.Time) ([]chat.OperatorLoad, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	loads := make([]chat.OperatorLoad, 0, len(s.operators))
	for _, o := range s.operators {
		p := o.presence
		if !o.expires.IsZero() && !now.Before(o.expires) {
			p = chat.Offline
		}
		loads = append(loads, chat.OperatorLoad{
			Operator:       copyOperator(&o.op),
			Presence:       p,
			Active:         o.live(now),
			LastAssignedAt: o.lastAssigned,
		})
	}
	slices.SortFunc(loads, func(a, b chat.OperatorLoad) int { return cmp.Compare(a.Operator.ID, b.Operator.ID) })
	return loads, nil
}

// live counts o's Assigned conversations that are live at now; s.mu held.
func (o *operator) live(now time.Time) int {
	n := 0
	for _, c := range o.assigned {
		if c.c.Live(now) {
			n++
		}
	}
	return n
}

// unassign drops conversation c from its operator's set; s.mu held.
func (s *Store) unassign(c *conversation) {
	if op, ok := s.operators[c.c.OperatorID]; ok && c.c.Status == chat.Assigned {
		delete(op.assigned, c.c.ID)
	}
}

// KeepLive implements chat.Store.
func (s *Store) KeepLive(_ context.Context, visitorIDs []string, until time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range visitorIDs {
		if id, ok := s.open[v]; ok {
			if c := s.convs[id]; c.c.LiveUntil.Before(until) {
				c.c.LiveUntil = until
			}
		}
	}
	return nil
}

// Conversations.

func copyConv(c *chat.Conversation) *chat.Conversation {
	cc := *c
	return &cc
}

// conv returns the conversation with id; s.mu must be held.
func (s *Store) conv(id string) (*conversation, error) {
	c, ok := s.convs[id]
	if !ok {
		return nil, notFound("conversation", id)
	}
	return c, nil
}

// CreateConversation implements chat.Store. It sets c.Status, c.Epoch and
// c.LastSeq and clears the fields that belong to later states.
func (s *Store) CreateConversation(_ context.Context, c *chat.Conversation) error {
	if c.ID == "" {
		return fmt.Errorf("memory: conversation id is empty: %w", chat.ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.convs[c.ID]; ok {
		return conflict("conversation", c.ID, "already exists")
	}
	if _, ok := s.visitors[c.VisitorID]; !ok {
		return notFound("visitor", c.VisitorID)
	}
	if open, ok := s.open[c.VisitorID]; ok {
		return conflict("visitor", c.VisitorID, "already has open conversation "+open)
	}
	c.Status = chat.Queued
	c.Epoch = s.epoch
	c.LastSeq = 0
	c.OperatorID = ""
	c.VisitorReadSeq, c.OperatorReadSeq = 0, 0
	c.AssignedAt, c.ClosedAt = time.Time{}, time.Time{}
	s.convs[c.ID] = &conversation{c: *c}
	s.open[c.VisitorID] = c.ID
	if s.byVisitor[c.VisitorID] == nil {
		s.byVisitor[c.VisitorID] = make(map[string]struct{})
	}
	s.byVisitor[c.VisitorID][c.ID] = struct{}{}
	s.queued[c.ID] = struct{}{}
	return nil
}

// Conversation implements chat.Store.
func (s *Store) Conversation(_ context.Context, id string) (*chat.Conversation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.conv(id)
	if err != nil {
		return nil, err
	}
	return copyConv(&c.c), nil
}

// OpenConversation implements chat.Store.
func (s *Store) OpenConversation(_ context.Context, visitorID string) (*chat.Conversation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.open[visitorID]
	if !ok {
		return nil, fmt.Errorf("memory: open conversation of visitor %q: %w", visitorID, chat.ErrNotFound)
	}
	return copyConv(&s.convs[id].c), nil
}

// Conversations implements chat.Store.
func (s *Store) Conversations(_ context.Context, f chat.ConversationFilter) ([]*chat.Conversation, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = defaultLimit
	}
	s.mu.Lock()
	var out []*chat.Conversation
	for c := range s.candidates(f) {
		switch {
		case f.VisitorID != "" && c.c.VisitorID != f.VisitorID,
			f.OperatorID != "" && c.c.OperatorID != f.OperatorID,
			len(f.Status) > 0 && !slices.Contains(f.Status, c.c.Status),
			!f.Before.IsZero() && !c.c.CreatedAt.Before(f.Before),
			c.c.CreatedAt.Before(f.Since):
			continue
		}
		out = append(out, copyConv(&c.c))
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b *chat.Conversation) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	if len(out) > limit {
		out = out[:limit:limit]
	}
	return out, nil
}

// Queue implements chat.Store.
func (s *Store) Queue(_ context.Context) ([]*chat.Conversation, error) {
	s.mu.Lock()
	out := make([]*chat.Conversation, 0, len(s.queued))
	for id := range s.queued {
		out = append(out, copyConv(&s.convs[id].c))
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b *chat.Conversation) int {
		if c := a.QueuedAt.Compare(b.QueuedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}

// Assign implements chat.Store.
func (s *Store) Assign(_ context.Context, id, from, to string, capacity int, at time.Time) (*chat.Conversation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.conv(id)
	if err != nil {
		return nil, err
	}
	op, ok := s.operators[to]
	if !ok {
		return nil, notFound("operator", to)
	}
	switch {
	case c.c.Status == chat.Closed:
		return nil, conflict("conversation", id, "closed")
	case c.c.OperatorID != from:
		return nil, conflict("conversation", id, fmt.Sprintf("operator is %q, not %q", c.c.OperatorID, from))
	}
	if c.c.Status == chat.Assigned && from == to {
		// Already there: nothing moves, capacity is unaffected.
		c.c.AssignedAt = at
		op.lastAssigned = at
		return copyConv(&c.c), nil
	}
	if n := op.live(at); capacity > 0 && n >= capacity {
		return nil, fmt.Errorf("memory: operator %q has %d live conversations: %w", to, n, chat.ErrCapacity)
	}
	s.unassign(c)
	c.c.Status = chat.Assigned
	delete(s.queued, id)
	c.c.OperatorID = to
	c.c.AssignedAt = at
	op.assigned[id] = c
	op.lastAssigned = at
	return copyConv(&c.c), nil
}

// Requeue implements chat.Store.
func (s *Store) Requeue(_ context.Context, id, from, department string, at time.Time) (*chat.Conversation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.conv(id)
	if err != nil {
		return nil, err
	}
	if c.c.Status != chat.Assigned {
		return nil, conflict("conversation", id, "not assigned")
	}
	if c.c.OperatorID != from {
		return nil, conflict("conversation", id, fmt.Sprintf("operator is %q, not %q", c.c.OperatorID, from))
	}
	s.unassign(c)
	c.c.Status = chat.Queued
	s.queued[id] = struct{}{}
	c.c.OperatorID = ""
	c.c.Department = department
	c.c.QueuedAt = at
	return copyConv(&c.c), nil
}

// CloseConversation implements chat.Store. The conversation keeps its
// OperatorID, so an operator's history still lists it.
func (s *Store) CloseConversation(_ context.Context, id string, at time.Time) (*chat.Conversation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.conv(id)
	if err != nil {
		return nil, err
	}
	if c.c.Status == chat.Closed {
		return nil, conflict("conversation", id, "already closed")
	}
	s.unassign(c)
	c.c.Status = chat.Closed
	delete(s.queued, id)
	c.c.ClosedAt = at
	delete(s.open, c.c.VisitorID)
	return copyConv(&c.c), nil
}

// ReopenConversation implements chat.Store. The conversation joins the
// tail of the queue (QueuedAt = at) with no operator.
func (s *Store) ReopenConversation(_ context.Context, id string, at time.Time) (*chat.Conversation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.conv(id)
	if err != nil {
		return nil, err
	}
	if c.c.Status != chat.Closed {
		return nil, conflict("conversation", id, "not closed")
	}
	if open, ok := s.open[c.c.VisitorID]; ok {
		return nil, conflict("visitor", c.c.VisitorID, "already has open conversation "+open)
	}
	c.c.Status = chat.Queued
	s.queued[id] = struct{}{}
	c.c.OperatorID = ""
	c.c.QueuedAt = at
	c.c.ClosedAt = time.Time{}
	s.open[c.c.VisitorID] = id
	return copyConv(&c.c), nil
}

// MarkRead implements chat.Store.
func (s *Store) MarkRead(_ context.Context, id string, by chat.MessageKind, seq int64) (*chat.Conversation, error) {
	var p func(*chat.Conversation) *int64
	switch by {
	case chat.VisitorText:
		p = func(c *chat.Conversation) *int64 { return &c.VisitorReadSeq }
	case chat.OperatorText:
		p = func(c *chat.Conversation) *int64 { return &c.OperatorReadSeq }
	default:
		return nil, fmt.Errorf("memory: read receipt by %q: %w", by, chat.ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.conv(id)
	if err != nil {
		return nil, err
	}
	if r := p(&c.c); seq > *r {
		*r = seq
	}
	return copyConv(&c.c), nil
}

// Messages.

// AppendMessage implements chat.Store. On success it also sets m.ID (if
// empty) and m.Seq. A retry of a client id returns the original even if
// the conversation has been closed since.
func (s *Store) AppendMessage(_ context.Context, m *chat.Message) (chat.Appended, error) {
	return s.appendMessage(m, "")
}

// AppendAssigned implements chat.AssignedAppender.
func (s *Store) AppendAssigned(_ context.Context, m *chat.Message, operatorID string) (chat.Appended, error) {
	if operatorID == "" {
		return chat.Appended{}, fmt.Errorf("memory: append assigned: operator id is empty: %w", chat.ErrInvalid)
	}
	return s.appendMessage(m, operatorID)
}

// appendMessage appends m; if operatorID is set, only into a conversation
// assigned to that operator.
func (s *Store) appendMessage(m *chat.Message, operatorID string) (chat.Appended, error) {
	if !m.Kind.Valid() {
		return chat.Appended{}, fmt.Errorf("memory: message kind %q: %w", m.Kind, chat.ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.conv(m.ConversationID)
	if err != nil {
		return chat.Appended{}, err
	}
	if m.ClientID != "" {
		if i, ok := c.clientIDs[m.ClientID]; ok {
			orig := c.msgs[i]
			return chat.Appended{Message: &orig, Conversation: copyConv(&c.c), Duplicate: true}, nil
		}
	}
	if c.c.Status == chat.Closed {
		return chat.Appended{}, conflict("conversation", m.ConversationID, "closed")
	}
	if operatorID != "" && (c.c.Status != chat.Assigned || c.c.OperatorID != operatorID) {
		return chat.Appended{}, conflict("conversation", m.ConversationID, "not assigned to "+operatorID)
	}
	if m.ID == "" {
		m.ID = uuid.NewString()
	}
	m.Seq = c.c.LastSeq + 1
	c.c.LastSeq = m.Seq
	c.msgs = append(c.msgs, *m)
	if m.ClientID != "" {
		if c.clientIDs == nil {
			c.clientIDs = make(map[string]int)
		}
		c.clientIDs[m.ClientID] = len(c.msgs) - 1
	}
	stored := *m
	return chat.Appended{Message: &stored, Conversation: copyConv(&c.c)}, nil
}

// Messages implements chat.Store.
func (s *Store) Messages(_ context.Context, q chat.MessageQuery) ([]*chat.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.conv(q.ConversationID)
	if err != nil {
		return nil, err
	}
	// Seq n lives at index n-1, so Seq in (AfterSeq, BeforeSeq) is
	// msgs[AfterSeq : BeforeSeq-1].
	n := int64(len(c.msgs))
	lo, hi := max(q.AfterSeq, 0), n
	if q.BeforeSeq > 0 {
		hi = min(hi, q.BeforeSeq-1)
	}
	if lo >= hi {
		return []*chat.Message{}, nil
	}
	if l := int64(q.Limit); l > 0 && hi-lo > l {
		if q.BeforeSeq > 0 {
			lo = hi - l
		} else {
			hi = lo + l
		}
	}
	out := make([]*chat.Message, 0, hi-lo)
	for i := lo; i < hi; i++ {
		m := c.msgs[i]
		out = append(out, &m)
	}
	return out, nil
}

// Erasure and retention.

// DeleteVisitor implements chat.Store. It removes the visitor, their
// customer binding, all their conversations with their messages, their
// page views and activities; an operator assigned to one of their
// conversations has one Active conversation fewer. Their orders stay with
// VisitorID cleared.
func (s *Store) DeleteVisitor(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.visitors[id]
	if !ok {
		return notFound("visitor", id)
	}
	for cid, c := range s.convs {
		if c.c.VisitorID == id {
			s.deleteConv(cid, c)
		}
	}
	delete(s.open, id)
	s.eraseTracking(id)
	if v.CustomerID != "" && s.customers[v.CustomerID] == id {
		delete(s.customers, v.CustomerID)
	}
	delete(s.visitors, id)
	return nil
}

// PurgeClosed implements chat.Store. A conversation closed exactly at
// cutoff is kept. Claims expired before cutoff go too.
func (s *Store) PurgeClosed(_ context.Context, cutoff time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.purgeClaims(cutoff)
	n := 0
	for cid, c := range s.convs {
		if c.c.Status == chat.Closed && c.c.ClosedAt.Before(cutoff) {
			s.deleteConv(cid, c)
			n++
		}
	}
	return n, nil
}

// deleteConv removes conversation id, its messages and client ids (which
// live in c) and its place in the indexes; s.mu must be held.
func (s *Store) deleteConv(id string, c *conversation) {
	s.unassign(c)
	for _, a := range c.attached {
		delete(s.attachments, a)
	}
	if s.open[c.c.VisitorID] == id {
		delete(s.open, c.c.VisitorID)
	}
	if set := s.byVisitor[c.c.VisitorID]; set != nil {
		delete(set, id)
		if len(set) == 0 {
			delete(s.byVisitor, c.c.VisitorID)
		}
	}
	delete(s.queued, id)
	delete(s.convs, id)
}

// candidates yields the conversations a filter can match: a visitor's
// from the index, otherwise all. s.mu must be held.
func (s *Store) candidates(f chat.ConversationFilter) func(yield func(*conversation) bool) {
	return func(yield func(*conversation) bool) {
		if f.VisitorID != "" {
			for id := range s.byVisitor[f.VisitorID] {
				if !yield(s.convs[id]) {
					return
				}
			}
			return
		}
		for _, c := range s.convs {
			if !yield(c) {
				return
			}
		}
	}
}

// SetMailOptOut implements chat.Store.
func (s *Store) SetMailOptOut(_ context.Context, id string, optOut bool) (*chat.Conversation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.conv(id)
	if err != nil {
		return nil, err
	}
	c.c.MailOptOut = optOut
	return copyConv(&c.c), nil
}
