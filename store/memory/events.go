package memory

import (
	"context"

	"github.com/shopchat/chat"
)

// eventLog is the Store's chat.EventLog: events in position order.
type eventLog struct {
	list []chat.Event
	ids  map[string]struct{}
}

// AppendEvents implements chat.EventLog (behind chat.Checked, which
// checks the events' IDs and kinds).
func (s *Store) AppendEvents(_ context.Context, evs []chat.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := &s.events
	if l.ids == nil {
		l.ids = make(map[string]struct{})
	}
	for i := range evs {
		evs[i].Pos = 0
		if _, dup := l.ids[evs[i].ID]; dup {
			continue
		}
		l.ids[evs[i].ID] = struct{}{}
		evs[i].Pos = int64(len(l.list)) + 1
		l.list = append(l.list, copyEvent(evs[i]))
	}
	return nil
}

// Events implements chat.EventLog.
func (s *Store) Events(_ context.Context, after int64, limit int) ([]chat.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.events.list
	if after >= int64(len(list)) {
		return nil, nil
	}
	list = list[after:min(int(after)+limit, len(list))]
	out := make([]chat.Event, len(list))
	for i, ev := range list {
		out[i] = copyEvent(ev)
	}
	return out, nil
}

// copyEvent copies what an Event points to, so callers cannot change the
// log.
func copyEvent(ev chat.Event) chat.Event {
	if ev.Message != nil {
		m := *ev.Message
		ev.Message = &m
	}
	if ev.Order != nil {
		o := *ev.Order
		ev.Order = &o
	}
	ev.Labels = append([]string(nil), ev.Labels...)
	if len(ev.Labels) == 0 {
		ev.Labels = nil
	}
	return ev
}
