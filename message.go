package chat

import "time"

// MessageKind says who wrote a message and who may see it.
type MessageKind string

// Message kinds.
const (
	VisitorText  MessageKind = "visitor"  // from the visitor
	OperatorText MessageKind = "operator" // from an operator, to the visitor
	Note         MessageKind = "note"     // internal note; never reaches the visitor
	SystemEvent  MessageKind = "system"   // "Alice joined", "transferred to Bob"
	BotText      MessageKind = "bot"      // from a bot, to the visitor
)

// Valid reports whether k is one of the defined kinds.
func (k MessageKind) Valid() bool {
	return k == VisitorText || k == OperatorText || k == Note || k == SystemEvent || k == BotText
}

// VisibleToVisitor reports whether the visitor may see messages of kind k.
// It is the one place that decides it.
func (k MessageKind) VisibleToVisitor() bool { return k != Note }

// Message is one entry in a conversation.
type Message struct {
	ID             string // server-assigned
	ConversationID string
	// Seq is the per-conversation sequence number, assigned by the Store in
	// the same transaction as the insert: 1, 2, 3... without gaps.
	Seq int64
	// ClientID is the sender's id for the message; (ConversationID,
	// ClientID) is unique, so a retry returns the original. Empty for
	// messages the server writes itself.
	ClientID   string
	Kind       MessageKind
	AuthorID   string // visitor or operator id; empty for system events
	AuthorName string // display name at the time of writing
	Text       string
	CreatedAt  time.Time
}
