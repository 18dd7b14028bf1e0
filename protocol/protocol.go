// Package protocol defines the shopchat wire protocol, version 1: the JSON
// frames that visitors' widgets, operators' consoles and Go clients exchange
// with a chat server over a Transport.
//
// Every frame is one JSON object with a "type". A client opens with a hello
// frame carrying the protocol version; the server answers with welcome, the
// replayed messages, and synced. docs/protocol.md documents every frame, field
// and error code with an example exchange.
//
// The package has no dependencies beyond the standard library so that servers,
// clients and tools can share it.
package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// Version is the protocol version this package speaks.
const Version = 1

// Frame types sent by clients.
const (
	TypeHello      = "hello"      // open or resume a session
	TypeMessage    = "message"    // send a chat message (also a server frame)
	TypeNote       = "note"       // operator: internal note, never shown to the visitor
	TypeTyping     = "typing"     // typing indicator, optionally with a draft (also a server frame)
	TypeRead       = "read"       // read receipt up to a sequence number (also a server frame)
	TypeHistory    = "history"    // fetch a page of a conversation's history (also the reply)
	TypeAccept     = "accept"     // operator: take a conversation from the queue
	TypeTransfer   = "transfer"   // operator: hand a conversation to an operator or department
	TypeClose      = "close"      // close a conversation
	TypeReopen     = "reopen"     // operator: reopen a closed conversation
	TypePresence   = "presence"   // operator: set own presence (also a server frame)
	TypeSearch     = "search"     // full-text search over past messages (also the reply)
	TypeProfile    = "profile"    // visitor: set name, email and pre-chat answers
	TypeVisitor    = "visitor"    // operator: fetch a visitor's details (also the reply)
	TypeTranscript = "transcript" // mail the conversation to its visitor
	TypeMail       = "mail"       // opt a conversation out of (or back into) missed-reply mail
	TypePage       = "page"       // visitor: the page the widget is on (url, title, referrer)
	TypeInvite     = "invite"     // operator: invite a visitor to chat (also the frame the visitor gets)
	TypeRate       = "rate"       // visitor: rate a conversation (rating 1-5, text a comment)
	TypeCanned     = "canned"     // operator: list, save or delete canned responses (also the reply)
	TypeTriggers   = "triggers"   // operator: list, save or delete proactive triggers (also the reply)
	TypeVisitors   = "visitors"   // operator: the live list of visitors on the site (also the reply and updates)
	TypeAnswers    = "answers"    // operator: suggested answers from past chats (also the reply), or mark one for the knowledge base
)

// Actions of canned and triggers frames, and (ActionDismiss) of the
// visitor's invite frame.
const (
	ActionList    = "list"
	ActionSave    = "save"
	ActionDelete  = "delete"
	ActionDismiss = "dismiss" // visitor: closed the invitation (Invite.ID) without answering
	ActionMark    = "mark"    // answers: mark message Seq as a knowledge-base answer
	ActionUnmark  = "unmark"  // answers: unmark it
)

// Frame types sent by servers.
const (
	TypeWelcome   = "welcome"   // answer to hello: who you are and your conversations
	TypeSynced    = "synced"    // replay after hello is complete
	TypeAck       = "ack"       // a client frame with an id succeeded
	TypeState     = "state"     // a conversation's state changed
	TypeQueue     = "queue"     // operators: the waiting queue changed
	TypeOperators = "operators" // operators: the team's presence and load changed
	TypeError     = "error"     // a client frame failed; the connection stays usable
	TypeAvailable = "available" // visitors: whether an operator is online changed
)

// Error codes carried by error frames. They are stable: clients may switch
// on them.
const (
	CodeBadFrame    = "bad_frame"           // not JSON, or a field of the wrong type
	CodeUnknownType = "unknown_type"        // the frame type is not known
	CodeVersion     = "unsupported_version" // hello with a version this server does not speak
	CodeInvalid     = "invalid"             // a field is missing, too long or malformed
	CodeNotFound    = "not_found"           // no such conversation, or not yours
	CodeForbidden   = "forbidden"           // you may not do this to that conversation
	CodeConflict    = "conflict"            // the conversation is not in a state that allows it
	CodeCapacity    = "capacity"            // the target operator has no free capacity
	CodeRateLimited = "rate_limited"        // too many frames; slow down
	CodeUnavailable = "unavailable"         // a dependency (the store) failed; retry later
	CodeInternal    = "internal"            // a bug; reported in the server log
)

// Conversation statuses.
const (
	StatusQueued   = "queued"   // waiting for an operator
	StatusAssigned = "assigned" // an operator has it
	StatusClosed   = "closed"   // ended; history stays readable
)

// Message kinds.
const (
	KindVisitor  = "visitor"  // written by the visitor
	KindOperator = "operator" // written by an operator
	KindNote     = "note"     // internal note; operators only
	KindSystem   = "system"   // an event such as "Alice joined"
	KindBot      = "bot"      // written by the shop's bot (Config.Bot)
)

// Presence values.
const (
	PresenceOnline  = "online"
	PresenceAway    = "away"
	PresenceOffline = "offline"
)

// Roles, as sent in typing and read frames' "from".
const (
	RoleVisitor  = "visitor"
	RoleOperator = "operator"
)

// ClientFrame is every frame a client sends. Fields a type does not use are
// omitted; docs/protocol.md lists which type uses which.
type ClientFrame struct {
	V    int    `json:"v,omitempty"`
	Type string `json:"type"`
	// ID correlates the frame with its ack or error. For message and note it
	// is the client message id: a retry with the same id is answered with
	// the original message and never stored twice.
	ID         string        `json:"id,omitempty"`
	Conv       string        `json:"conv,omitempty"`
	Text       string        `json:"text,omitempty"`
	Typing     bool          `json:"typing,omitempty"`
	Draft      string        `json:"draft,omitempty"`
	Seq        int64         `json:"seq,omitempty"`
	Before     int64         `json:"before,omitempty"`
	Limit      int           `json:"limit,omitempty"`
	Operator   string        `json:"operator,omitempty"`
	Department string        `json:"department,omitempty"`
	Comment    string        `json:"comment,omitempty"`
	Status     string        `json:"status,omitempty"`
	Resume     []ResumePoint `json:"resume,omitempty"`
	// Lang, on the widget's hello, is the widget's language ("en", "es",
	// "ru", "de"): the conversations it opens keep it for their mail.
	Lang string `json:"lang,omitempty"`
	// Profile frames: the visitor's name, email and pre-chat form answers.
	Name   string            `json:"name,omitempty"`
	Email  string            `json:"email,omitempty"`
	Fields map[string]string `json:"fields,omitempty"`
	// Visitor frames (operators): which visitor to describe.
	Visitor string `json:"visitor,omitempty"`
	// Silent, on an operator's message, keeps it out of missed-reply mail.
	Silent bool `json:"silent,omitempty"`
	// Force, on an operator's accept, takes a live conversation beyond the
	// operator's capacity: their explicit choice (automatic routing never
	// does). Without it such an accept fails with code "capacity".
	Force bool `json:"force,omitempty"`
	// Page frames: where the widget is. URL is the page's path and query.
	URL      string `json:"url,omitempty"`
	Title    string `json:"title,omitempty"`
	Referrer string `json:"referrer,omitempty"`
	// Rate frames: 1 (bad) to 5 (good).
	Rating int `json:"rating,omitempty"`
	// Canned and triggers frames: ActionList (default), ActionSave or
	// ActionDelete, with the item to save or delete (by id).
	Action  string   `json:"action,omitempty"`
	Canned  *Canned  `json:"canned,omitempty"`
	Trigger *Trigger `json:"trigger,omitempty"`
	// Invite frames from a visitor: ActionDismiss with the invitation's id.
	Invite *Invite `json:"invite,omitempty"`
	// Attachments, on message and note frames, are the ids of files
	// uploaded first (POST <path>attachments) to send with the message; the
	// text may then be empty.
	Attachments []string `json:"attachments,omitempty"`
}

// ResumePoint is what a reconnecting client already holds of one
// conversation: everything up to Seq in Epoch.
type ResumePoint struct {
	Conv  string `json:"conv"`
	Seq   int64  `json:"seq"`
	Epoch int64  `json:"epoch"`
}

// ServerFrame is every frame a server sends.
type ServerFrame struct {
	V             int             `json:"v,omitempty"`
	Type          string          `json:"type"`
	ID            string          `json:"id,omitempty"`
	Conv          string          `json:"conv,omitempty"`
	Seq           int64           `json:"seq,omitempty"`
	Role          string          `json:"role,omitempty"`
	Me            *Person         `json:"me,omitempty"`
	Message       *Message        `json:"message,omitempty"`
	Messages      []Message       `json:"messages,omitempty"`
	More          bool            `json:"more,omitempty"`
	Conversation  *Conversation   `json:"conversation,omitempty"`
	Conversations []Conversation  `json:"conversations,omitempty"`
	Operators     []Operator      `json:"operators,omitempty"`
	Hits          []SearchHit     `json:"hits,omitempty"`
	Canned        []Canned        `json:"canned,omitempty"`
	Details       *VisitorDetails `json:"details,omitempty"`
	Invite        *Invite         `json:"invite,omitempty"` // invite frames (visitors)
	Live          []LiveVisitor   `json:"live,omitempty"`   // visitors frames (operators)
	// Visitors frames pushed after the answer are deltas (LiveDelta): Live
	// holds the visitors added to or changed in the list, LiveGone those
	// that left it. LiveCounts counts every visitor, listed or not.
	LiveDelta  bool        `json:"delta,omitempty"`
	LiveGone   []string    `json:"gone,omitempty"`
	LiveCounts *LiveCounts `json:"counts,omitempty"`
	Triggers   []Trigger   `json:"triggers,omitempty"` // triggers frames (operators)
	Answers    []Answer    `json:"answers,omitempty"`  // answers frames (operators)
	// Available tells visitors whether an operator is online to answer now
	// (welcome and available frames); absent means nobody is.
	Available bool `json:"available,omitempty"`
	// Brand is the shop's brand colour ("#rrggbb"), in an operator's
	// welcome: the console takes it as its accent.
	Brand     string `json:"brand,omitempty"`
	From      string `json:"from,omitempty"`
	Typing    bool   `json:"typing,omitempty"`
	Draft     string `json:"draft,omitempty"`
	Status    string `json:"status,omitempty"`
	Recovered bool   `json:"recovered,omitempty"`
	Code      string `json:"code,omitempty"`
	Error     string `json:"error,omitempty"`
	Ref       string `json:"ref,omitempty"`
}

// Person names the author of a message, a conversation's operator or visitor.
type Person struct {
	ID     string `json:"id"`
	Name   string `json:"name,omitempty"`
	Avatar string `json:"avatar,omitempty"`
	// Bot marks the shop's bot: a program, not a person.
	Bot bool `json:"bot,omitempty"`
}

// Message is one stored message of a conversation.
type Message struct {
	ID       string    `json:"id"`
	Conv     string    `json:"conv"`
	Seq      int64     `json:"seq"`
	ClientID string    `json:"cid,omitempty"`
	Kind     string    `json:"kind"`
	Author   *Person   `json:"author,omitempty"`
	Text     string    `json:"text"`
	Time     time.Time `json:"ts"`
	// Event, on a system message the server wrote, says what happened so a
	// client can show it in its own language; Text stays the English line.
	Event *Event `json:"event,omitempty"`
	// Attachments are the files sent with the message.
	Attachments []Attachment `json:"attachments,omitempty"`
	// QuickReplies, on a bot's message, are answers the widget offers as
	// buttons while it is the conversation's latest message; a click sends
	// the button's text as an ordinary message.
	QuickReplies []string `json:"quick_replies,omitempty"`
}

// Attachment is a file sent with a message. URL is where the client
// fetches it, with the same authentication as its socket (the visitor's
// cookie, or the operator's login with ?role=operator).
type Attachment struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Type   string `json:"type"` // sniffed media type
	Size   int64  `json:"size"`
	Width  int    `json:"width,omitempty"` // images only
	Height int    `json:"height,omitempty"`
	URL    string `json:"url"`
}

// Event is a system message's meaning: Code is EventJoined, EventTransferred,
// EventClosed, EventVisitorClosed or EventOperatorOffline; Name is who (an
// operator), To the new operator or department of a transfer.
type Event struct {
	Code string `json:"code"`
	Name string `json:"name,omitempty"`
	To   string `json:"to,omitempty"`
}

// System message events.
const (
	EventJoined          = "joined"
	EventTransferred     = "transferred"
	EventClosed          = "closed"
	EventVisitorClosed   = "visitor_closed"
	EventOperatorOffline = "operator_offline"
)

// Conversation is a conversation's state as a client sees it.
type Conversation struct {
	ID         string     `json:"id"`
	Status     string     `json:"status"`
	Epoch      int64      `json:"epoch"`
	LastSeq    int64      `json:"last_seq"`
	Department string     `json:"department,omitempty"`
	Operator   *Person    `json:"operator,omitempty"`
	Visitor    *Person    `json:"visitor,omitempty"` // sent to operators only
	Queue      *QueueSpot `json:"queue,omitempty"`
	// VisitorRead and OperatorRead are the read receipts: the highest
	// sequence number each side has seen.
	VisitorRead  int64     `json:"visitor_read,omitempty"`
	MailOff      bool      `json:"mail_off,omitempty"` // no missed-reply mail
	OperatorRead int64     `json:"operator_read,omitempty"`
	Created      time.Time `json:"created"`
	Waiting      time.Time `json:"waiting,omitempty"` // when it joined the queue
	// Live (operators only): the visitor is on the site now. A queued
	// conversation that is not live waits for a reply (by email if the
	// visitor stays away) and takes no operator's capacity.
	Live bool `json:"live,omitempty"`
}

// SearchHit is one message found by a search, with a plain-text snippet
// around the match.
type SearchHit struct {
	Message Message `json:"message"`
	Snippet string  `json:"snippet"`
}

// Answer is a suggested answer to a visitor's open question: a canned
// response (Shortcut) or an operator's answer in a past conversation (Conv,
// Seq, and the visitor's Question it followed). Score, 0 to 1, is the share
// of the question's keywords it matches; Marked, that an operator marked it
// as a knowledge-base answer.
type Answer struct {
	Text     string  `json:"text"`
	Score    float64 `json:"score"`
	Shortcut string  `json:"shortcut,omitempty"`
	Conv     string  `json:"conv,omitempty"`
	Seq      int64   `json:"seq,omitempty"`
	Question string  `json:"question,omitempty"`
	Marked   bool    `json:"marked,omitempty"`
}

// Canned is a canned response operators insert with a shortcut. Text may
// hold variables in braces ({visitor.name}, {operator.name}, {page.url},
// {page.title} and the shop's own, sent in VisitorDetails.Variables).
type Canned struct {
	ID       string `json:"id,omitempty"`
	Shortcut string `json:"shortcut"`
	Title    string `json:"title,omitempty"`
	Text     string `json:"text"`
	Personal bool   `json:"personal,omitempty"` // the operator's own, not the team's
}

// Invite is a proactive message to a visitor: from a trigger or an
// operator's personal invitation. The widget opens with it; the visitor's
// answer opens a conversation that starts with it.
type Invite struct {
	ID       string  `json:"id"`
	Text     string  `json:"text"`
	Operator *Person `json:"operator,omitempty"` // absent: from the team
	Trigger  string  `json:"trigger,omitempty"`
}

// LiveVisitor is a visitor on the site now, in the operators' live list.
type LiveVisitor struct {
	ID        string    `json:"id"`
	Name      string    `json:"name,omitempty"`
	URL       string    `json:"url"`
	Title     string    `json:"title,omitempty"`
	PageSince time.Time `json:"page_since"`
	FirstSeen time.Time `json:"first_seen"`
	Pages     int       `json:"pages"`
	Returning bool      `json:"returning,omitempty"`
	Chatting  bool      `json:"chatting,omitempty"`
	CartValue int64     `json:"cart_value,omitempty"`
	Currency  string    `json:"currency,omitempty"`
	// Suggested names the trigger that suggests inviting this visitor.
	Suggested string `json:"suggested,omitempty"`
	Device    string `json:"device,omitempty"`   // "Firefox on Android"
	Referrer  string `json:"referrer,omitempty"` // the referring host
	// OnSite: on the site now (widget connected or a page within two
	// minutes); otherwise recently left, and not invitable.
	OnSite bool `json:"on_site,omitempty"`
}

// LiveCounts counts the visitors of the live list, including those the
// list leaves out (it holds the most relevant few hundred).
type LiveCounts struct {
	OnSite   int `json:"on_site"`
	Chatting int `json:"chatting"` // on the site with an open conversation
	Left     int `json:"left"`     // recently left: the rest of their visit
}

// Trigger is a proactive-message rule as the console edits it; durations
// are in seconds. chat.Trigger documents each field.
type Trigger struct {
	ID            string `json:"id"`
	Name          string `json:"name,omitempty"`
	Disabled      bool   `json:"disabled,omitempty"`
	URL           string `json:"url,omitempty"`
	URLRegexp     string `json:"url_regexp,omitempty"`
	TimeOnPage    int    `json:"time_on_page,omitempty"`
	MinPages      int    `json:"min_pages,omitempty"`
	Visitor       string `json:"visitor,omitempty"`
	MinCartValue  int64  `json:"min_cart_value,omitempty"`
	Referrer      string `json:"referrer,omitempty"`
	UTMCampaign   string `json:"utm_campaign,omitempty"`
	BusinessHours bool   `json:"business_hours,omitempty"`
	Once          string `json:"once,omitempty"`
	Action        string `json:"action,omitempty"`
	Message       string `json:"message,omitempty"`
	Operator      string `json:"operator,omitempty"`
}

// VisitorDetails is what operators see about a visitor in the side panel.
type VisitorDetails struct {
	ID    string `json:"id"`
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	// EmailBounces: mail to Email bounced for good; none is sent to it.
	EmailBounces bool          `json:"email_bounces,omitempty"`
	CustomerID   string        `json:"customer_id,omitempty"`
	FirstSeen    time.Time     `json:"first_seen"`
	LastSeen     time.Time     `json:"last_seen"`
	Page         *PageView     `json:"page,omitempty"`  // the current page
	Pages        []PageView    `json:"pages,omitempty"` // newest first
	CartValue    int64         `json:"cart_value,omitempty"`
	Currency     string        `json:"currency,omitempty"`
	Labels       []string      `json:"labels,omitempty"`
	Sections     []InfoSection `json:"sections,omitempty"`
	// Variables are the shop's values for canned responses.
	Variables map[string]string `json:"variables,omitempty"`
}

// PageView is one page a visitor viewed.
type PageView struct {
	URL   string    `json:"url"`
	Title string    `json:"title,omitempty"`
	Time  time.Time `json:"ts"`
}

// InfoSection is a titled table of shop data (the cart, past orders).
type InfoSection struct {
	Title string    `json:"title"`
	Rows  []InfoRow `json:"rows"`
}

// InfoRow is one row of an InfoSection; URL, if set, is http or https.
type InfoRow struct {
	Label string `json:"label"`
	Value string `json:"value,omitempty"`
	URL   string `json:"url,omitempty"`
}

// QueueSpot is a queued conversation's place in line.
type QueueSpot struct {
	Position    int `json:"position"`
	WaitSeconds int `json:"wait_seconds"`
}

// Operator is one operator's presence and load, as other operators see it.
type Operator struct {
	Person
	Presence    string   `json:"presence"`
	Active      int      `json:"active"`
	Capacity    int      `json:"capacity"`
	Departments []string `json:"departments,omitempty"`
}

// FrameError is returned by DecodeClient and DecodeServer. Code is
// CodeBadFrame, CodeUnknownType or (for bytes that are not UTF-8) CodeInvalid.
type FrameError struct {
	Code string
	Type string // the frame's type, when it could be read
	Err  error
}

func (e *FrameError) Error() string {
	if e.Code == CodeUnknownType {
		return fmt.Sprintf("protocol: unknown frame type %q", e.Type)
	}
	return "protocol: bad frame: " + e.Err.Error()
}

func (e *FrameError) Unwrap() error { return e.Err }

// ErrUnknownType is wrapped by FrameErrors with Code CodeUnknownType.
var ErrUnknownType = errors.New("unknown frame type")

// ErrInvalidUTF8 is wrapped by FrameErrors with Code CodeInvalid for a frame
// that is not valid UTF-8.
var ErrInvalidUTF8 = errors.New("frame is not valid UTF-8")

var clientTypes = map[string]bool{
	TypeHello: true, TypeMessage: true, TypeNote: true, TypeTyping: true,
	TypeRead: true, TypeHistory: true, TypeAccept: true, TypeTransfer: true,
	TypeClose: true, TypeReopen: true, TypePresence: true, TypeSearch: true,
	TypeProfile: true, TypeVisitor: true, TypeTranscript: true, TypeMail: true,
	TypePage: true, TypeInvite: true, TypeRate: true, TypeCanned: true,
	TypeTriggers: true, TypeVisitors: true, TypeAnswers: true,
}

// DecodeClient parses one client frame. Malformed JSON and fields of the
// wrong type give a *FrameError with CodeBadFrame; a type this version does
// not define gives CodeUnknownType; bytes that are not valid UTF-8 give
// CodeInvalid (wrapping ErrInvalidUTF8), as JSON would replace them.
func DecodeClient(data []byte) (ClientFrame, error) {
	var f ClientFrame
	if !utf8.Valid(data) {
		// JSON decoding would store U+FFFD in place of the bad bytes:
		// refuse the frame instead of keeping mangled text.
		return ClientFrame{}, &FrameError{Code: CodeInvalid, Type: peekType(bytes.ToValidUTF8(data, nil)), Err: ErrInvalidUTF8}
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return ClientFrame{}, &FrameError{Code: CodeBadFrame, Type: peekType(data), Err: err}
	}
	if !clientTypes[f.Type] {
		return f, &FrameError{Code: CodeUnknownType, Type: f.Type, Err: ErrUnknownType}
	}
	return f, nil
}

// DecodeServer parses one server frame. Unknown types are returned without
// error so that old clients can skip frames added later.
func DecodeServer(data []byte) (ServerFrame, error) {
	var f ServerFrame
	if err := json.Unmarshal(data, &f); err != nil {
		return ServerFrame{}, &FrameError{Code: CodeBadFrame, Err: err}
	}
	return f, nil
}

// peekType recovers the "type" of a frame whose other fields failed to
// decode, so the error frame can name it.
func peekType(data []byte) string {
	var t struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(data, &t) != nil {
		return ""
	}
	return t.Type
}
