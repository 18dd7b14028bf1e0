package chat

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// EventKind names an Event.
type EventKind string

// Event kinds, in the stream the shop's code reads (see docs/automation.md).
const (
	// EventConversationStarted carries the conversation's first message; it
	// comes before that message's EventMessage.
	EventConversationStarted EventKind = "conversation_started"
	// EventMessage is any stored message, internal notes included (a
	// consumer shows visitors only Message.Kind.VisibleToVisitor ones).
	EventMessage EventKind = "message"
	// EventAssigned: a conversation went to an operator from the queue.
	EventAssigned EventKind = "conversation_assigned"
	// EventTransferred: an operator handed the conversation to another
	// operator (OperatorID, from PreviousOperatorID) or to a department's
	// queue (Department, OperatorID empty).
	EventTransferred EventKind = "conversation_transferred"
	EventClosed      EventKind = "conversation_closed"
	EventReopened    EventKind = "conversation_reopened"
	// EventRated carries Rating (1-5) and Comment.
	EventRated EventKind = "conversation_rated"
	// EventOrderAttributed: an order recorded with RecordOrder came through
	// chat (Order.Attribution.Chat()).
	EventOrderAttributed EventKind = "order_attributed"
	// EventVisitorOnline and EventVisitorOffline: the visitor's first
	// widget connected to a node, and their last one on that node went.
	// They are per node: a visitor with tabs on two nodes is online twice.
	EventVisitorOnline  EventKind = "visitor_online"
	EventVisitorOffline EventKind = "visitor_offline"
	// EventVisitorLabels: SetVisitorLabels changed the visitor's Labels.
	EventVisitorLabels EventKind = "visitor_labels"
)

// Event is one entry of the event stream. Fields a kind does not use are
// zero.
type Event struct {
	// Pos is the event's position in the Store's EventLog: increasing, with
	// gaps allowed. A consumer stores the Pos of the last event it handled
	// and resumes after it. 0 for an event that was never stored (a Server
	// without an EventLog, see Subscribe).
	Pos int64 `json:"-"`
	// ID is unique and stable: an event delivered again (after a restart,
	// or read twice) has the same ID, so a consumer can drop duplicates.
	ID   string    `json:"id"`
	Kind EventKind `json:"kind"`
	Time time.Time `json:"time"`

	ConversationID     string   `json:"conversation_id,omitempty"`
	VisitorID          string   `json:"visitor_id,omitempty"`
	OperatorID         string   `json:"operator_id,omitempty"`          // the assignee after the event
	PreviousOperatorID string   `json:"previous_operator_id,omitempty"` // EventTransferred
	Department         string   `json:"department,omitempty"`           // EventTransferred to a department
	Message            *Message `json:"message,omitempty"`              // EventMessage, EventConversationStarted
	Rating             int      `json:"rating,omitempty"`               // EventRated
	Comment            string   `json:"comment,omitempty"`              // EventRated
	Order              *Order   `json:"order,omitempty"`                // EventOrderAttributed
	Labels             []string `json:"labels,omitempty"`               // EventVisitorLabels
}

// eventBatch is how many events the writer stores in one append.
const eventBatch = 100

// eventLinger is how long the writer waits for more events before it
// stores a batch: under load a few transactions a second instead of one
// per event (on PostgreSQL each also takes the event log's lock, shared
// by every node), for that much delay in an event stream.
const eventLinger = 10 * time.Millisecond

// eventWriter queues events for the EventLog and fans stored ones out to
// in-memory subscribers.
type eventWriter struct {
	log   EventLog // nil: subscribers only
	queue chan Event
	wake  chan struct{} // closed and replaced after each stored batch

	mu   sync.Mutex
	subs map[*Subscription]struct{}
}

func (s *Server) startEvents() {
	w := &eventWriter{wake: make(chan struct{}), subs: make(map[*Subscription]struct{})}
	if s.store.events != nil {
		w.log = s.store // through the checks
	}
	s.events = w
	if w.log != nil {
		w.queue = make(chan Event, s.cfg.EventQueue)
		s.wg.Add(1)
		go s.eventLoop()
	}
}

// emit records ev: into the EventLog's queue, or straight to subscribers
// when the Store has no EventLog. It never blocks: a full queue (the store
// is down or far behind) drops the event, counted and logged.
func (s *Server) emit(ev Event) {
	w := s.events
	if w == nil { // not started: New failed before startEvents
		return
	}
	if ev.ID == "" {
		ev.ID = uuid.NewString()
	}
	if ev.Time.IsZero() {
		ev.Time = s.now()
	}
	if w.log == nil {
		w.fanOut(s, []Event{ev})
		return
	}
	select {
	case w.queue <- ev:
	default:
		s.add("events_dropped_total", 1)
		s.log.Error("event queue full: event dropped", "kind", ev.Kind, "id", ev.ID)
	}
}

// eventLoop stores queued events in batches, in the order they were
// emitted, retrying a failed batch until it is stored or the Server
// closes.
func (s *Server) eventLoop() {
	defer s.wg.Done()
	w := s.events
	batch := make([]Event, 0, eventBatch)
	for {
		select {
		case <-s.ctx.Done():
			s.flushEvents(batch)
			return
		case ev := <-w.queue:
			batch = append(batch[:0], ev)
		}
		linger := time.NewTimer(eventLinger)
	fill:
		for len(batch) < eventBatch {
			select {
			case ev := <-w.queue:
				batch = append(batch, ev)
			case <-linger.C:
				break fill
			case <-s.ctx.Done():
				break fill
			}
		}
		linger.Stop()
		for backoff := 50 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
			err := s.storeEvents(s.ctx, batch)
			if err == nil {
				break
			}
			s.add("event_append_failures_total", 1)
			s.logErr("event log append", err, "events", len(batch))
			select {
			case <-s.ctx.Done():
				s.flushEvents(batch)
				return
			case <-time.After(backoff):
			}
		}
		batch = batch[:0]
	}
}

// storeEvents appends batch and hands the stored events to subscribers.
func (s *Server) storeEvents(ctx context.Context, batch []Event) error {
	start := time.Now()
	err := s.events.log.AppendEvents(ctx, batch)
	s.observeSince("event_append_seconds", start)
	if err != nil {
		return err
	}
	s.add("events_total", float64(len(batch)))
	stored := batch[:0:0]
	for _, ev := range batch {
		if ev.Pos > 0 { // 0: a retry of an event stored before
			stored = append(stored, ev)
		}
	}
	s.events.fanOut(s, stored)
	return nil
}

// flushEvents stores what is queued at shutdown, within 5 seconds.
func (s *Server) flushEvents(batch []Event) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		for len(batch) < eventBatch {
			select {
			case ev := <-s.events.queue:
				batch = append(batch, ev)
				continue
			default:
			}
			break
		}
		if len(batch) == 0 {
			return
		}
		if err := s.storeEvents(ctx, batch); err != nil {
			s.add("events_dropped_total", float64(len(batch)))
			s.logErr("event log append on shutdown: events dropped", err, "events", len(batch))
			return
		}
		batch = batch[:0]
	}
}

func (w *eventWriter) fanOut(s *Server, evs []Event) {
	if len(evs) == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	close(w.wake)
	w.wake = make(chan struct{})
	for sub := range w.subs {
		for _, ev := range evs {
			select {
			case sub.c <- ev:
			default:
				sub.dropped.Add(1)
				s.add("event_subscriber_dropped_total", 1)
			}
		}
	}
}

// woken returns a channel closed when this node next stores events.
func (w *eventWriter) woken() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.wake
}

// Subscription is a bounded in-memory feed of this node's events: the
// simple case, for code that may miss events (a dashboard, a cache). It
// never blocks the Server: when C is full, events are dropped and counted
// (Dropped). It sees only events this node emits, after they are stored
// (with their Pos) when the Store has an EventLog. For every event, from
// every node, without loss, read the log with FollowEvents.
type Subscription struct {
	C       <-chan Event
	c       chan Event
	dropped atomic.Uint64
	w       *eventWriter
	once    sync.Once
}

// Dropped reports how many events were dropped because C was full.
func (sub *Subscription) Dropped() uint64 { return sub.dropped.Load() }

// Close stops the subscription; C is not closed (a reader selects on its
// own context).
func (sub *Subscription) Close() {
	sub.once.Do(func() {
		sub.w.mu.Lock()
		delete(sub.w.subs, sub)
		sub.w.mu.Unlock()
	})
}

// Subscribe returns an in-memory subscription holding up to buffer
// undelivered events (0 means 256). Close it when done.
func (s *Server) Subscribe(buffer int) *Subscription {
	if buffer <= 0 {
		buffer = 256
	}
	c := make(chan Event, buffer)
	sub := &Subscription{C: c, c: c, w: s.events}
	s.events.mu.Lock()
	s.events.subs[sub] = struct{}{}
	s.events.mu.Unlock()
	return sub
}

// Events returns up to limit events (0 means 100, at most 1000) stored
// after position after, oldest first: every node's events, in the order
// the log stored them. A consumer handles them, then records the last Pos
// it handled; after a restart it reads on from there and gets every event
// after it, at least once (an event handled but not yet recorded comes
// again, with the same ID). ErrInvalid if after is negative; a
// *MissingRoleError (ErrUnsupported) if the Store has no EventLog.
func (s *Server) Events(ctx context.Context, after int64, limit int) ([]Event, error) {
	if after < 0 {
		return nil, invalidf("event position %d is negative", after)
	}
	if limit <= 0 {
		limit = 100
	}
	evs, err := s.store.Events(ctx, after, min(limit, 1000))
	if err != nil {
		return nil, fmt.Errorf("chat: events: %w", err)
	}
	return evs, nil
}

// FollowEvents calls fn with every event after position after, in order,
// and then with each new one as the log stores it, until ctx ends (it then
// returns ctx's error) or fn returns an error (returned as is). Events from
// this node arrive as soon as they are stored; from other nodes within
// poll (0 means one second). fn runs on the caller's goroutine, one event
// at a time; the stream waits while it runs.
func (s *Server) FollowEvents(ctx context.Context, after int64, poll time.Duration, fn func(Event) error) error {
	if poll <= 0 {
		poll = time.Second
	}
	timer := time.NewTimer(poll)
	defer timer.Stop()
	for {
		wake := s.events.woken() // before reading: a store after the read wakes us
		evs, err := s.Events(ctx, after, 0)
		if err != nil {
			if errors.Is(err, ErrInvalid) || errors.Is(err, ErrUnsupported) {
				return err
			}
			s.logErr("follow events", err)
		}
		for _, ev := range evs {
			if err := fn(ev); err != nil {
				return err
			}
			after = ev.Pos
		}
		if len(evs) == 100 {
			continue // more to read now
		}
		timer.Reset(poll)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		case <-timer.C:
		}
	}
}
