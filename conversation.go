package chat

import (
	"slices"
	"strings"
	"time"
)

// Status is a conversation's place in its lifecycle.
type Status string

// Statuses. A visitor has at most one conversation that is not Closed.
const (
	Queued   Status = "queued"   // waiting in the FIFO queue for an operator
	Assigned Status = "assigned" // an operator has it
	Closed   Status = "closed"   // ended; a new message starts a new conversation
)

// Conversation is one chat between a visitor and the team.
type Conversation struct {
	ID         string
	VisitorID  string
	Status     Status
	OperatorID string // set while Assigned
	Department string // requested department; empty for any
	// Epoch identifies the store's copy of the history. It changes only if
	// history could have been lost (a memory store restarted), which tells
	// resuming clients to drop what they hold and reload.
	Epoch   int64
	LastSeq int64 // sequence number of the newest message
	// VisitorReadSeq and OperatorReadSeq are read receipts: the highest
	// sequence number each side has seen. They only grow.
	VisitorReadSeq  int64
	OperatorReadSeq int64
	// MailOptOut: the visitor (or an operator for them) asked that no
	// missed-reply mail be sent about this conversation.
	MailOptOut bool
	// Language is the widget's language when the visitor opened the
	// conversation ("en", "es", "ru", "de", or "" if it did not say): mail
	// to the visitor is written in it.
	Language   string
	CreatedAt  time.Time
	QueuedAt   time.Time // when it last joined the queue; orders the queue
	AssignedAt time.Time
	ClosedAt   time.Time
}

// Open reports whether the conversation is not closed.
func (c *Conversation) Open() bool { return c.Status != Closed }

// Languages are the languages the widget and the visitor's mail speak.
var Languages = []string{"en", "es", "ru", "de"}

// language returns lang if it is one of Languages, else "".
func language(lang string) string {
	lang = strings.ToLower(strings.TrimSpace(lang))
	if slices.Contains(Languages, lang) {
		return lang
	}
	return ""
}
