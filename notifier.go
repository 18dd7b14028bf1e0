package chat

import "context"

// Notifier tells people outside a live connection about a conversation: the
// operators' mailbox when nobody is online, the visitor when they left
// before a reply arrived, anyone who asked for a transcript. notify/email and
// notify/webhook implement it; Multi combines several.
//
// Notify is called off the request path; an error is logged and counted by
// the Server, never shown to the visitor.
type Notifier interface {
	Notify(ctx context.Context, n Notification) error
}

// NotificationKind says why a Notification is sent.
type NotificationKind string

// Notification kinds.
const (
	OfflineMessage  NotificationKind = "offline_message"  // no operator was available; to operators
	MissedReply     NotificationKind = "missed_reply"     // the visitor has not seen replies; to the visitor
	Transcript      NotificationKind = "transcript"       // the whole conversation; to the visitor
	NewConversation NotificationKind = "new_conversation" // every operator is away; to operators
)

// Notification is one thing to tell.
type Notification struct {
	Kind         NotificationKind
	Conversation *Conversation
	Visitor      *Visitor
	Operator     *Operator  // the assignee, if any
	Messages     []*Message // the messages the notification is about, oldest first
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
