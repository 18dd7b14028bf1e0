package chat

import (
	"context"
	"time"
)

// Notifier tells people outside a live connection about a conversation: the
// operators' mailbox when nobody is online, the visitor when they left
// before a reply arrived, anyone who asked for a transcript. notify/email and
// notify/webhook implement it; Multi combines several.
//
// Notify is called off the request path; an error is logged and counted by
// the Server, never shown to the visitor.
//
// Calling rules (notify/notifytest checks a Notifier against them):
//
//   - Order: a Server calls Notify from one goroutine, one notification at
//     a time, in the order the events happened on that node: a
//     conversation's conversation_started (carrying its first message)
//     before that message's own notification and the ones after it. A
//     Notifier delivers notifications in the order it was given them.
//     There is no order across nodes.
//   - Concurrency: a Notifier shared by several Servers (or wrapped in
//     Multi with others) is called from several goroutines at once; it
//     must be safe for that and lose nothing.
//   - Deadlines: ctx carries a deadline (2 minutes per call, 5 seconds in
//     all at shutdown). The Server's queue of notifications waits while
//     Notify runs, so Notify should queue and return (as notify/email and
//     notify/webhook do), and must return when ctx is done.
//   - Retries: the Server does not retry a failed Notify. A Notifier that
//     retries sends each attempt under the same Notification.ID (or a key
//     derived only from it, like notify/email's Message-ID), so a
//     receiver drops the duplicates; a notification handed over twice
//     keeps its ID too. IDs of notifications about messages are derived
//     from the conversation, epoch and sequence number, so they are the
//     same on every node.
//   - n is shared (Multi hands the same one to each Notifier): Notify must
//     not modify it or what it points to.
type Notifier interface {
	Notify(ctx context.Context, n Notification) error
}

// NotifierFunc adapts a function to Notifier.
type NotifierFunc func(ctx context.Context, n Notification) error

// Notify calls f.
func (f NotifierFunc) Notify(ctx context.Context, n Notification) error { return f(ctx, n) }

// NotificationKind says why a Notification is sent.
type NotificationKind string

// Notification kinds. The first four are meant for people (notify/email
// sends them); all of them are events a shop's systems may want
// (notify/webhook sends every kind).
const (
	OfflineMessage  NotificationKind = "offline_message"  // no operator was available; to operators
	MissedReply     NotificationKind = "missed_reply"     // the visitor has not seen replies; to the visitor
	Transcript      NotificationKind = "transcript"       // the whole conversation; to the visitor
	NewConversation NotificationKind = "new_conversation" // every operator is away; to operators (rate-limited)

	// ConversationStarted carries the conversation's first message: the
	// visitor's, or the invitation's text when the visitor answered an
	// invitation. It comes before that message's MessagePosted.
	ConversationStarted  NotificationKind = "conversation_started"
	MessagePosted        NotificationKind = "message"
	ConversationAssigned NotificationKind = "conversation_assigned"
	ConversationClosed   NotificationKind = "conversation_closed"
)

// ForPeople reports whether k is meant to be read by a person (mailed),
// rather than only being an event for the shop's systems.
func (k NotificationKind) ForPeople() bool {
	switch k {
	case OfflineMessage, MissedReply, Transcript, NewConversation:
		return true
	}
	return false
}

// Notification is one thing to tell.
type Notification struct {
	// ID is unique per notification and stable across retries, so a
	// receiver can drop duplicates.
	ID           string
	Kind         NotificationKind
	Time         time.Time
	Conversation *Conversation
	Visitor      *Visitor
	Operator     *Operator  // the assignee, if any
	Messages     []*Message // the messages it is about, oldest first
	// ReplyToken, on mail to a visitor, names the conversation in a signed,
	// expiring token: notify/email puts it in the Reply-To address so the
	// visitor's answer lands in the same conversation
	// ((*Server).PostReply checks it).
	ReplyToken string
	// TeamReplyToken, on mail to the team (OfflineMessage,
	// NewConversation), names the conversation in a signed token of its
	// own: notify/email puts it in the Reply-To address, so an operator's
	// mailed answer is posted as that operator ((*Server).PostReply checks
	// that the sender is a known operator's address).
	TeamReplyToken string
	// UnsubscribeToken, on mail to a visitor, names the conversation in a
	// signed token for the Server's unsubscribe endpoint
	// (Config.Path + "mail/unsubscribe?t=<token>"), which stops mail about
	// the conversation: notify/email links it and sets List-Unsubscribe.
	UnsubscribeToken string
	// BounceToken, on mail to a visitor, names the conversation in a
	// signed token for the return path: notify/email sends from
	// bounce+<token>@<reply domain>, and a delivery failure reported there
	// stops mail about the conversation ((*Server).PostBounce).
	BounceToken string
	// Question, on MissedReply, is what the answer replies to: the
	// visitor's last messages before it (at most three), oldest first.
	Question []*Message
	// AttachmentLinks maps the id of each attachment of Messages and
	// Question to a signed path, relative to Config.Path, that downloads it
	// without a login until Config.Attachments.LinkTTL has passed: mail
	// links to files and never carries them.
	AttachmentLinks map[string]string
}

// Multi returns a Notifier that notifies each of ns in turn and returns the
// first error after trying them all.
func Multi(ns ...Notifier) Notifier { return multiNotifier(ns) }

type multiNotifier []Notifier

func (m multiNotifier) Notify(ctx context.Context, n Notification) error {
	var first error
	for _, x := range m {
		if err := x.Notify(ctx, n); err != nil && first == nil {
			first = err
		}
	}
	return first
}
