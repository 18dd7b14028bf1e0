package chat

import (
	"strings"
	"time"
)

// Visitor is a person on the shop's site. Anonymous visitors are identified
// by a server-issued token kept in a cookie; logged-in customers also carry
// the shop's CustomerID, set only by the shop's code through
// (*Server).Identify, so their history follows them across devices.
type Visitor struct {
	ID         string // server-issued, 128 random bits, URL-safe base64
	CustomerID string // the shop's user id; empty for anonymous visitors
	Name       string // optional, from the shop or the pre-chat form
	Email      string // optional, for offline replies and transcripts
	// BouncedEmail is the address mail to which bounced for good
	// ((*Server).PostBounce): while Email is that address, no mail is sent
	// to the visitor. A new address clears it in effect.
	BouncedEmail string
	CreatedAt    time.Time
	LastSeenAt   time.Time
}

// MailBounces reports whether the visitor's address is known to bounce.
func (v *Visitor) MailBounces() bool {
	return v.BouncedEmail != "" && strings.EqualFold(v.BouncedEmail, v.Email)
}
