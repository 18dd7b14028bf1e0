package chat

import "time"

// PageView is one page a visitor viewed, recorded by middleware.Track on
// the shop's pages (and completed with the title the widget reports).
// Text fields are stored as text and capped: URL, Referrer 2,048 bytes,
// Title 300, each UTM value 200.
type PageView struct {
	VisitorID string
	URL       string // path and query as requested, e.g. "/product/7?utm_source=x"
	Title     string // empty until the widget reports it
	Referrer  string
	UTM       UTM
	At        time.Time
}

// UTM holds a page view's campaign parameters (utm_source, ...).
type UTM struct {
	Source, Medium, Campaign, Term, Content string
}

// Order is an order placed in the shop, recorded by (*Server).RecordOrder
// from the shop's checkout so that reports can attribute revenue to chat.
type Order struct {
	ID        string // the shop's order id; required, unique
	VisitorID string // the visitor who placed it; required
	Total     int64  // in minor units (cents); >= 0
	Currency  string // ISO 4217, e.g. "EUR"
	PlacedAt  time.Time
	// Attribution is filled by RecordOrder: the chat that led to the
	// order, or the zero value when none did.
	Attribution Attribution
}

// ChannelChat is the channel of an order that a chat led to.
const ChannelChat = "chat"

// Attribution says which chat led to an order: the conversation, its
// operator and the proactive trigger that opened it, if any.
type Attribution struct {
	Channel        string // ChannelChat, or "" when no chat led to the order
	ConversationID string
	OperatorID     string
	TriggerID      string    // the trigger whose message opened the conversation
	TouchedAt      time.Time // when the visitor chatted
}

// Chat reports whether the order came through chat.
func (a Attribution) Chat() bool { return a.Channel == ChannelChat }

// ActivityKind names an Activity.
type ActivityKind string

// Activity kinds.
const (
	// TriggerShown: a trigger's message was shown to a visitor (TriggerID,
	// VisitorID; OperatorID if it spoke as an operator).
	TriggerShown ActivityKind = "trigger_shown"
	// TriggerSuggested: a trigger suggested an invitation to operators.
	TriggerSuggested ActivityKind = "trigger_suggested"
	// InvitationSent: an operator (OperatorID) invited a visitor.
	InvitationSent ActivityKind = "invitation_sent"
	// InvitationAccepted: a visitor answered a trigger's message
	// (TriggerID) or an operator's invitation (OperatorID), opening
	// ConversationID.
	InvitationAccepted ActivityKind = "invitation_accepted"
	// InvitationDismissed: a visitor closed a trigger's message or an
	// invitation (TriggerID, OperatorID as sent) without answering; Text is
	// the invite frame's id. Its conversation, if any, does not answer it.
	InvitationDismissed ActivityKind = "invitation_dismissed"
	// Rated: a visitor rated ConversationID (Value 1-5, Text a comment),
	// whose operator was OperatorID.
	Rated ActivityKind = "rated"
	// PresenceChanged: an operator's presence changed to Text ("online",
	// "away", "offline"); reports sum online time from these.
	PresenceChanged ActivityKind = "presence"
	// AnonymousPageView: a page view counted only in aggregate (Text is the
	// URL path), for visitors who have not interacted with the widget when
	// Config.CookieOnInteraction is set. VisitorID is empty.
	AnonymousPageView ActivityKind = "anonymous_page_view"
)

// Activity is an append-only record of something reports count: triggers
// shown and accepted, invitations, ratings, presence changes.
type Activity struct {
	Kind           ActivityKind
	VisitorID      string
	ConversationID string
	OperatorID     string
	TriggerID      string
	Value          int64
	Text           string
	At             time.Time
}

// ActivityQuery selects activities. Zero fields do not filter.
type ActivityQuery struct {
	Kinds          []ActivityKind // any of
	VisitorID      string
	ConversationID string
	OperatorID     string
	TriggerID      string
	From, To       time.Time // From <= At < To
	// Limit caps the result; 0 means 10,000.
	Limit int
}

// OrderQuery selects orders. Zero fields do not filter.
type OrderQuery struct {
	VisitorID string
	From, To  time.Time // From <= PlacedAt < To
	// Limit caps the result; 0 means 10,000.
	Limit int
}

// CannedResponse is a prepared answer operators insert by its shortcut
// ("/shipping" in the message box). Text may hold variables, replaced when
// inserted: {visitor.name}, {visitor.email}, {operator.name}, {page.url},
// {page.title} and the shop's own from Config.CannedVariables.
type CannedResponse struct {
	// ID identifies a stored response; New fills it for those in Config.
	ID string
	// OperatorID is empty for the team's responses and set for an
	// operator's personal ones.
	OperatorID string
	Shortcut   string // e.g. "shipping"; letters, digits, - and _, at most 32
	Title      string
	Text       string
	UpdatedAt  time.Time
}

// Trigger is a proactive-message rule: when every condition that is set
// holds for a visitor on the site, its action runs. Triggers are set in
// Config.Triggers (stored on first start) and edited in the console.
type Trigger struct {
	ID       string // required; letters, digits, - and _
	Name     string
	Disabled bool

	// Conditions; the zero value of each does not filter.

	// URL is a glob on the page's path ("/product/*", "*" any run of
	// characters but "/", "**" any run at all); URLRegexp a regular
	// expression on path and query. Invalid patterns are refused.
	URL           string
	URLRegexp     string
	TimeOnPage    time.Duration  // at least this long on the current page
	MinPages      int            // at least this many pages viewed
	Visitor       TriggerVisitor // VisitorReturning or VisitorNew; "" either
	MinCartValue  int64          // cart value from Config.VisitorInfo, minor units
	Referrer      string         // glob on the referrer's host, e.g. "*.google.*"
	UTMCampaign   string         // exact utm_campaign of the visit
	BusinessHours bool           // only within Config.BusinessHours

	// Once is OnceSession ("session", the default: once per visit, a visit
	// ends after 30 minutes without a page view) or OnceVisitor ("visitor",
	// once ever).
	Once TriggerOnce
	// Action is ActionMessage ("message", the default: the widget opens
	// with Message) or ActionSuggest ("suggest": operators are told the
	// visitor may want an invitation).
	Action  TriggerAction
	Message string
	// OperatorID, if set, is the operator the message speaks as (name and
	// avatar); otherwise it speaks as the team.
	OperatorID string
}

// LiveVisitor is a visitor on the site now, as the console's live list
// shows them.
type LiveVisitor struct {
	VisitorID  string
	Name       string
	CurrentURL string
	Title      string
	PageSince  time.Time // when they opened the current page
	FirstSeen  time.Time // when the visit began
	Pages      int       // pages viewed this visit
	Returning  bool      // they had visited before this visit
	Chatting   bool      // they have an open conversation
	CartValue  int64
	Currency   string
	LastSeen   time.Time
	// Suggested names the trigger that suggests inviting this visitor.
	Suggested string
	// Device is the browser and system from the user agent ("Firefox on
	// Android"); Referrer the host that referred the visit.
	Device   string
	Referrer string
	// OnSite: the visitor is on the site now, their widget connected or a
	// page viewed within the last two minutes. The others have recently
	// left: still listed for the rest of the visit, and not invitable.
	OnSite bool
}
