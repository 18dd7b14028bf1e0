package chat

import (
	"net/http"
	"time"
)

// Operator is a member of the shop's team who answers chats. The library
// stores profiles and presence but never passwords: operators authenticate
// through Config.Operators, the shop's own auth.
type Operator struct {
	ID          string   // the shop's id for the operator; required
	Name        string   // display name shown to visitors
	Email       string   // for notifications
	AvatarURL   string   // shown to visitors beside the name
	Departments []string // skills or departments, for department routing
	// Capacity is how many conversations the operator handles at once;
	// 0 means Config.DefaultCapacity.
	Capacity int
}

// Presence is an operator's availability.
type Presence string

// Presences. An operator who is online receives new conversations; away
// keeps current ones but receives no new ones; offline is neither.
const (
	Online  Presence = "online"
	Away    Presence = "away"
	Offline Presence = "offline"
)

// Valid reports whether p is one of the defined presences.
func (p Presence) Valid() bool { return p == Online || p == Away || p == Offline }

// OperatorLoad is one operator's presence and current load, as the Store
// reports it to the Router.
type OperatorLoad struct {
	Operator *Operator
	// Presence is Offline when the stored presence expired.
	Presence Presence
	// Active counts the operator's assigned conversations whose visitor is
	// on the site (live): the load that capacity limits. Conversations whose
	// visitor is away are not counted.
	Active int
	// LastAssignedAt is when the operator last received a conversation;
	// round-robin routing prefers the oldest.
	LastAssignedAt time.Time
}

// OperatorAuthFunc authenticates an operator from a request using the shop's
// own auth (a session cookie, a header). It returns ErrUnauthorized (or any
// error) to refuse.
type OperatorAuthFunc func(r *http.Request) (*Operator, error)
