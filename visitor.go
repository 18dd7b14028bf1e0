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
	CreatedAt  time.Time
	LastSeenAt time.Time
	// TokenGen is the generation of the visitor's tokens: Identify and
	// Forget raise it, and a token of an older generation is refused, so a
	// token obtained before a login or a logout opens nothing after it.
	// Stores persist it and never lower it (UpdateVisitor keeps the higher
	// of the stored and the given value).
	TokenGen int64
	// BouncedEmail is the address mail to which bounced for good
	// ((*Server).PostBounce): while Email is that address, no mail is sent
	// to the visitor. A new address clears it in effect.
	BouncedEmail string
}

// MailBounces reports whether the visitor's address is known to bounce.
func (v *Visitor) MailBounces() bool {
	return v.BouncedEmail != "" && strings.EqualFold(v.BouncedEmail, v.Email)
}
