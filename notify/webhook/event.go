package webhook

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/shopchat/chat"
)

// Event is the JSON body of every delivery. Its shape is stable: fields may
// be added, none will be removed or change meaning. Times are RFC 3339 with
// nanoseconds, in UTC; a time that is not set is left out.
type Event struct {
	// ID identifies the event and is the same on every retry of it (and
	// equal to the X-Shopchat-Delivery header): receivers drop an ID they
	// have already processed.
	ID string `json:"id"`
	// Type is the chat.NotificationKind, e.g. "message" or
	// "conversation_closed" (also in the X-Shopchat-Event header).
	Type chat.NotificationKind `json:"type"`
	// Time is when the event happened, not when it was delivered.
	Time         time.Time     `json:"time"`
	Conversation *Conversation `json:"conversation,omitempty"`
	// Visitor is the conversation's visitor; absent if unknown.
	Visitor *Visitor `json:"visitor,omitempty"`
	// Operator is the conversation's assignee; absent if none.
	Operator *Operator `json:"operator,omitempty"`
	// Messages are the messages the event is about, oldest first: the new
	// message for "message", the first one for "conversation_started", the
	// whole visible history for "transcript"; empty (never null) for
	// "conversation_assigned" and "conversation_closed".
	Messages []Message `json:"messages"`
	// Truncated is true when the oldest Messages were left out to keep the
	// body within MaxBodySize.
	Truncated bool `json:"truncated,omitempty"`
}

// Conversation is the state of a conversation when the event happened.
type Conversation struct {
	ID         string      `json:"id"`
	Status     chat.Status `json:"status"` // "queued", "assigned" or "closed"
	VisitorID  string      `json:"visitor_id"`
	OperatorID string      `json:"operator_id"` // "" unless assigned
	Department string      `json:"department"`  // "" for any
	LastSeq    int64       `json:"last_seq"`    // sequence number of the newest message
	CreatedAt  time.Time   `json:"created_at"`
	QueuedAt   time.Time   `json:"queued_at,omitzero"`
	AssignedAt time.Time   `json:"assigned_at,omitzero"`
	ClosedAt   time.Time   `json:"closed_at,omitzero"`
}

// Visitor is the person chatting on the shop's site.
type Visitor struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Email      string `json:"email"`
	CustomerID string `json:"customer_id"` // the shop's user id; "" if anonymous
}

// Operator is a member of the shop's team.
type Operator struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Message is one entry of a conversation. Kind "note" is an internal note
// operators wrote for each other, which the visitor never sees; "system" is
// an event line such as "Alice joined the conversation".
type Message struct {
	ID         string           `json:"id"`
	Seq        int64            `json:"seq"`
	Kind       chat.MessageKind `json:"kind"` // "visitor", "operator", "note" or "system"
	AuthorID   string           `json:"author_id"`
	AuthorName string           `json:"author_name"`
	Text       string           `json:"text"`
	CreatedAt  time.Time        `json:"created_at"`
	// Attachments are the files sent with the message (metadata only).
	Attachments []Attachment `json:"attachments,omitempty"`
}

// Attachment is a file sent with a message. Link, when set, is a signed
// path relative to the chat's mount point (Config.Path) that downloads the
// file without a login until it expires.
type Attachment struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Type   string `json:"type"` // sniffed media type
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Width  int    `json:"width,omitempty"`
	Height int    `json:"height,omitempty"`
	Link   string `json:"link,omitempty"`
}

// newEvent returns the Event describing n. An empty n.ID is replaced by a
// random one and a zero n.Time by the current time.
func newEvent(n chat.Notification) Event {
	ev := Event{ID: n.ID, Type: n.Kind, Time: n.Time.UTC(), Messages: make([]Message, 0, len(n.Messages))}
	if ev.ID == "" {
		ev.ID = randomID()
	}
	if n.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	if c := n.Conversation; c != nil {
		ev.Conversation = &Conversation{
			ID: c.ID, Status: c.Status, VisitorID: c.VisitorID, OperatorID: c.OperatorID,
			Department: c.Department, LastSeq: c.LastSeq,
			CreatedAt: utc(c.CreatedAt), QueuedAt: utc(c.QueuedAt), AssignedAt: utc(c.AssignedAt), ClosedAt: utc(c.ClosedAt),
		}
	}
	if v := n.Visitor; v != nil {
		ev.Visitor = &Visitor{ID: v.ID, Name: v.Name, Email: v.Email, CustomerID: v.CustomerID}
	}
	if op := n.Operator; op != nil {
		ev.Operator = &Operator{ID: op.ID, Name: op.Name}
	}
	for _, m := range n.Messages {
		if m == nil {
			continue
		}
		msg := Message{
			ID: m.ID, Seq: m.Seq, Kind: m.Kind, AuthorID: m.AuthorID, AuthorName: m.AuthorName,
			Text: m.Text, CreatedAt: utc(m.CreatedAt),
		}
		for _, a := range m.Attachments {
			msg.Attachments = append(msg.Attachments, Attachment{ID: a.ID, Name: a.Name, Type: a.Type, Size: a.Size,
				SHA256: a.SHA256, Width: a.Width, Height: a.Height, Link: n.AttachmentLinks[a.ID]})
		}
		ev.Messages = append(ev.Messages, msg)
	}
	return ev
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

func randomID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// encode returns ev's JSON body, at most limit bytes long: when it would be
// longer, the oldest messages are left out and Truncated is set.
func encode(ev Event, limit int) ([]byte, error) {
	body, err := json.Marshal(ev)
	if err != nil || len(body) <= limit {
		return body, err
	}
	all := ev.Messages
	ev.Messages, ev.Truncated = []Message{}, true
	base, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	budget := limit - len(base)
	keep := len(all)
	for keep > 0 {
		m, err := json.Marshal(all[keep-1])
		if err != nil {
			return nil, err
		}
		cost := len(m)
		if keep < len(all) {
			cost++ // the comma
		}
		if cost > budget {
			break
		}
		budget -= cost
		keep--
	}
	if budget < 0 {
		return nil, fmt.Errorf("webhook: event %s is larger than %d bytes even without messages", ev.ID, limit)
	}
	ev.Messages = all[keep:]
	return json.Marshal(ev)
}
