package chat

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// BusinessHours are when the team answers chats. Outside them the widget
// shows the offline form even if an operator is online.
type BusinessHours struct {
	// Location is the team's time zone. Default UTC.
	Location *time.Location
	// Open lists the opening spans; a day without one is closed.
	Open []OpenSpan
}

// OpenSpan is a daily span of opening hours, e.g. Monday to Friday
// "09:00"-"17:30". To may be "24:00".
type OpenSpan struct {
	Days     []time.Weekday
	From, To string
}

// IsOpen reports whether t falls within the hours. A nil *BusinessHours is
// always open.
func (h *BusinessHours) IsOpen(t time.Time) bool {
	if h == nil {
		return true
	}
	loc := h.Location
	if loc == nil {
		loc = time.UTC
	}
	t = t.In(loc)
	minute := t.Hour()*60 + t.Minute()
	for _, sp := range h.Open {
		from, _ := parseClock(sp.From)
		to, _ := parseClock(sp.To)
		for _, d := range sp.Days {
			if d == t.Weekday() && minute >= from && minute < to {
				return true
			}
		}
	}
	return false
}

func (h *BusinessHours) validate() error {
	if h == nil {
		return nil
	}
	for _, sp := range h.Open {
		from, err1 := parseClock(sp.From)
		to, err2 := parseClock(sp.To)
		if err := errors.Join(err1, err2); err != nil {
			return fmt.Errorf("chat: BusinessHours: %w", err)
		}
		if from >= to {
			return fmt.Errorf("chat: BusinessHours: span %s-%s is empty", sp.From, sp.To)
		}
		if len(sp.Days) == 0 {
			return fmt.Errorf("chat: BusinessHours: span %s-%s names no days", sp.From, sp.To)
		}
	}
	return nil
}

// parseClock turns "HH:MM" into minutes after midnight; "24:00" is 1440.
func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || len(m) != 2 || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("%q is not a HH:MM time", s)
	}
	return hh*60 + mm, nil
}
