package chat

import (
	"context"
	"time"
)

// Store persists visitors, operators, conversations and messages. It is the
// source of truth: the Server validates, persists, then publishes, and acks
// a client only after the Store has committed.
//
// Every method takes a context first, is safe for concurrent use, and
// returns the package's sentinel errors wrapped (test with errors.Is).
// Returned values are copies the caller may keep and modify. As with any
// database, a write whose context ends after it was sent may still commit;
// client message ids make the retry safe.
//
// store/memory, store/sqlite and store/postgres implement it; a custom store
// proves itself with the conformance suite in store/storetest:
//
//	func TestStore(t *testing.T) { storetest.Run(t, func(t testing.TB) chat.Store { return open(t) }) }
type Store interface {
	// CreateVisitor inserts v. ErrConflict if v.ID exists or v.CustomerID
	// is non-empty and bound to another visitor. ErrInvalid if v.ID is empty.
	CreateVisitor(ctx context.Context, v *Visitor) error
	// Visitor returns the visitor with id, or ErrNotFound.
	Visitor(ctx context.Context, id string) (*Visitor, error)
	// VisitorByCustomer returns the visitor bound to the shop's customer id,
	// or ErrNotFound (always for the empty id).
	VisitorByCustomer(ctx context.Context, customerID string) (*Visitor, error)
	// UpdateVisitor replaces the stored visitor with v (matched by ID),
	// except that TokenGen keeps the higher of the stored and v's value, so
	// a stale copy never revives revoked tokens. ErrNotFound if it does not
	// exist; ErrConflict if v.CustomerID is bound to another visitor.
	UpdateVisitor(ctx context.Context, v *Visitor) error

	// PutOperator creates or updates an operator's profile. It leaves the
	// operator's presence as it was (Offline for a new operator).
	// ErrInvalid if op.ID is empty.
	PutOperator(ctx context.Context, op *Operator) error
	// Operator returns the operator with id, or ErrNotFound.
	Operator(ctx context.Context, id string) (*Operator, error)
	// SetPresence records an operator's presence, valid until expires (a
	// heartbeat renews it): from expires on it reads Offline; a zero expires
	// never expires. ErrNotFound for an unknown operator; ErrInvalid for an
	// undefined presence.
	SetPresence(ctx context.Context, operatorID string, p Presence, expires time.Time) error
	// OperatorLoads returns every operator, ordered by ID, with presence as
	// of now (Offline once expired) and their count of Assigned
	// conversations that are live at now (Conversation.LiveUntil after now).
	OperatorLoads(ctx context.Context, now time.Time) ([]OperatorLoad, error)

	// CreateConversation inserts c with Status Queued, and sets c.Status,
	// c.Epoch and c.LastSeq (0) on the caller's value. c.ID, c.VisitorID,
	// c.Department, c.CreatedAt, c.QueuedAt and c.LiveUntil are set by the
	// caller.
	// ErrInvalid for an empty ID; ErrConflict if the ID exists or the
	// visitor already has a conversation that is not Closed; ErrNotFound for
	// an unknown visitor.
	CreateConversation(ctx context.Context, c *Conversation) error
	// Conversation returns the conversation with id, or ErrNotFound.
	Conversation(ctx context.Context, id string) (*Conversation, error)
	// OpenConversation returns the visitor's conversation that is not
	// Closed, or ErrNotFound.
	OpenConversation(ctx context.Context, visitorID string) (*Conversation, error)
	// Conversations lists conversations matching f, newest (CreatedAt, then
	// ID) first.
	Conversations(ctx context.Context, f ConversationFilter) ([]*Conversation, error)
	// Queue returns the Queued conversations in FIFO order: by QueuedAt,
	// then ID.
	Queue(ctx context.Context) ([]*Conversation, error)

	// Assign atomically gives conversation id to operator to and returns it.
	// It succeeds only if the conversation's current operator is from ("" for
	// a Queued conversation, the assignee for a transfer) and it is not
	// Closed; otherwise ErrConflict. If capacity > 0 and the operator
	// already has capacity Assigned conversations live at at (LiveUntil
	// after at), ErrCapacity: a conversation whose visitor is away takes no
	// live slot. Under
	// concurrent calls a conversation never goes to two operators and no
	// operator exceeds capacity. ErrNotFound for an unknown conversation or
	// operator.
	Assign(ctx context.Context, id, from, to string, capacity int, at time.Time) (*Conversation, error)
	// Requeue atomically puts an Assigned conversation whose operator is from
	// back at the tail of the queue (QueuedAt = at), clearing OperatorID and
	// setting Department to department (empty clears it). ErrConflict if its
	// operator is not from or it is not Assigned; ErrNotFound if unknown.
	Requeue(ctx context.Context, id, from, department string, at time.Time) (*Conversation, error)
	// CloseConversation closes an open conversation (ClosedAt = at). It keeps
	// OperatorID, the last operator who had it, for history and reports.
	// ErrConflict if it is already Closed; ErrNotFound if unknown.
	CloseConversation(ctx context.Context, id string, at time.Time) (*Conversation, error)
	// ReopenConversation puts a Closed conversation back at the tail of the
	// queue (QueuedAt = at), clearing OperatorID and ClosedAt. ErrConflict if
	// it is not Closed or its visitor has another open conversation;
	// ErrNotFound if unknown.
	ReopenConversation(ctx context.Context, id string, at time.Time) (*Conversation, error)
	// MarkRead raises a read receipt to seq (never lowers it); by is
	// VisitorText for the visitor's receipt and OperatorText for the
	// operator's. ErrInvalid for another kind; ErrNotFound if unknown.
	MarkRead(ctx context.Context, id string, by MessageKind, seq int64) (*Conversation, error)

	// KeepLive marks the open conversations of the given visitors live
	// until until: it raises their LiveUntil to until, never lowers it, so
	// nodes renewing the same visitor at once agree. Visitors without an
	// open conversation (or unknown) are skipped. Every node calls it for
	// the visitors whose widgets it holds, as a heartbeat.
	KeepLive(ctx context.Context, visitorIDs []string, until time.Time) error

	// SetMailOptOut records whether the conversation's visitor wants no
	// missed-reply mail about it. ErrNotFound if unknown.
	SetMailOptOut(ctx context.Context, id string, optOut bool) (*Conversation, error)

	// AppendMessage stores m in its conversation, assigning m.ID (if empty)
	// and the next m.Seq in the same transaction (and setting them on m), and
	// returns the stored
	// message with the conversation as of that transaction. If m.ClientID is
	// non-empty and already used in the conversation, nothing is written and
	// the original message is returned with Duplicate set, even if the
	// conversation has been Closed since (a retry is recognised first). ErrNotFound for
	// an unknown conversation; ErrConflict if it is Closed (the caller starts
	// a new one); ErrInvalid for an undefined kind.
	AppendMessage(ctx context.Context, m *Message) (Appended, error)
	// Messages returns messages of a conversation in ascending Seq order
	// within q's bounds. ErrNotFound for an unknown conversation.
	Messages(ctx context.Context, q MessageQuery) ([]*Message, error)

	// DeleteVisitor erases a visitor and everything about them: their
	// conversations and messages, page views and activities; their orders
	// stay (the shop's revenue) with VisitorID cleared. It serves
	// data-rights (erasure) requests. ErrNotFound if unknown.
	DeleteVisitor(ctx context.Context, id string) error
	// PurgeClosed deletes conversations closed before cutoff, with their
	// messages, and returns how many conversations it deleted. It serves a
	// retention period. Open conversations are never purged.
	PurgeClosed(ctx context.Context, cutoff time.Time) (int, error)

	// AddPageViews stores a batch of page views. ErrInvalid (and nothing
	// stored) if a view has no VisitorID or URL; views of visitors the
	// store does not know are skipped (the visitor may have been erased).
	AddPageViews(ctx context.Context, views []PageView) error
	// PageViews returns a visitor's page views, newest (At, then insertion)
	// first, at most limit (0 means 50).
	PageViews(ctx context.Context, visitorID string, limit int) ([]PageView, error)

	// AddActivities appends a batch of activities. ErrInvalid (and nothing
	// stored) for an empty Kind.
	AddActivities(ctx context.Context, as []Activity) error
	// Activities returns the activities matching q in ascending At (then
	// insertion) order.
	Activities(ctx context.Context, q ActivityQuery) ([]Activity, error)

	// PutOrder stores o unless an order with o.ID exists already. It
	// returns the stored order (the earlier one for a repeat) and whether
	// this call created it, so recording an order twice counts it once.
	// ErrInvalid for an empty ID.
	PutOrder(ctx context.Context, o *Order) (stored *Order, created bool, err error)
	// Orders returns the orders matching q in ascending PlacedAt (then ID)
	// order.
	Orders(ctx context.Context, q OrderQuery) ([]*Order, error)

	// PutCanned creates or replaces (by ID) a canned response. ErrInvalid
	// for an empty ID, Shortcut or Text; ErrConflict if another response
	// with the same OperatorID has the same Shortcut.
	PutCanned(ctx context.Context, c *CannedResponse) error
	// DeleteCanned deletes a canned response. ErrNotFound if unknown.
	DeleteCanned(ctx context.Context, id string) error
	// CannedResponses returns the team's responses and operatorID's
	// personal ones (only the team's for ""), ordered by Shortcut, then
	// OperatorID ("" first).
	CannedResponses(ctx context.Context, operatorID string) ([]*CannedResponse, error)

	// PutTrigger creates or replaces (by ID) a trigger. ErrInvalid for an
	// empty ID. The Server validates rules before storing them.
	PutTrigger(ctx context.Context, t *Trigger) error
	// DeleteTrigger deletes a trigger. ErrNotFound if unknown.
	DeleteTrigger(ctx context.Context, id string) error
	// Triggers returns every trigger, ordered by ID.
	Triggers(ctx context.Context) ([]*Trigger, error)

	// Claim atomically records key as taken until expires and reports
	// whether this call took it: false if an unexpired claim on key exists
	// (from any process sharing the store). A claim whose expiry has passed
	// may be taken again. ErrInvalid for an empty key or one longer than 200
	// bytes. Nodes use it to do a thing once across processes (a trigger's
	// message per visit, an invitation's acceptance).
	Claim(ctx context.Context, key string, now, expires time.Time) (bool, error)
}

// StoreAs finds the optional capability T (Searcher, PageViewVisitors) on
// s or, when s wraps another store, on the store it wraps: a wrapper (a
// logging or metrics decorator that embeds Store) keeps the capabilities
// of what it wraps by having a method
//
//	Unwrap() Store
//
// that returns the wrapped store, as errors.Unwrap does for errors. StoreAs
// checks s first, then each store Unwrap returns, and reports the first
// that implements T. The Server finds Searcher and PageViewVisitors this
// way. A capability found through Unwrap is called on the wrapped store, so
// a wrapper that wants to see those calls too implements the capability
// itself.
//
// AssignedAppender is used only when s itself has it (it is a variant of
// AppendMessage, and a wrapper's own AppendMessage must not be bypassed);
// without it the Server checks the assignment and calls s.AppendMessage.
func StoreAs[T any](s Store) (T, bool) {
	for range maxUnwrap {
		if c, ok := s.(T); ok {
			return c, true
		}
		u, ok := s.(interface{ Unwrap() Store })
		if !ok {
			break
		}
		if s = u.Unwrap(); s == nil {
			break
		}
	}
	var zero T
	return zero, false
}

// maxUnwrap bounds the chain StoreAs follows, so a wrapper that unwraps to
// itself cannot loop forever.
const maxUnwrap = 100

// MaxClaimKey is the longest key Store.Claim takes, in bytes.
const MaxClaimKey = 200

// Searcher is an optional Store capability: full-text search over message
// text, the team's knowledge base. The Server detects it at run time with a
// type assertion (through StoreAs, so wrappers with Unwrap keep it).
// store/memory scans; store/sqlite uses FTS5; store/postgres uses its
// full-text search.
type Searcher interface {
	// Search returns the best matching messages, best first. Every word of
	// q.Text must match (case-insensitively, as a word or word prefix).
	// ErrInvalid if q.Text has no word, is longer than 256 bytes or is not
	// UTF-8. Query-language syntax in q.Text (quotes, operators, column
	// filters) has no special meaning and never reaches the database as
	// syntax.
	Search(ctx context.Context, q SearchQuery) ([]SearchHit, error)
}

// AssignedAppender is an optional Store capability: an append that checks
// the operator's assignment in its own transaction, so an operator's
// message costs one write instead of a read plus a write, and an operator
// unassigned between the two can never slip a message in. The Server
// detects it at run time; without it, it reads the conversation first.
// store/memory, store/sqlite and store/postgres implement it.
type AssignedAppender interface {
	// AppendAssigned is AppendMessage for a message written by operator
	// operatorID: it stores m only if the conversation is Assigned to
	// operatorID, and returns ErrConflict otherwise (Queued, Closed or
	// someone else's). A retry (a client id already used) is recognised
	// first and returns the original with Duplicate set, as AppendMessage
	// does. ErrNotFound for an unknown conversation; ErrInvalid for an
	// empty operatorID or an undefined kind.
	AppendAssigned(ctx context.Context, m *Message, operatorID string) (Appended, error)
}

// SearchQuery is a full-text search.
type SearchQuery struct {
	Text string
	// VisitorID, if set, limits the search to that visitor's conversations
	// and leaves out internal notes: what that visitor may see. Operators
	// search with it empty.
	VisitorID string
	// Limit caps the hits; 0 means 20, at most 100.
	Limit int
}

// SearchHit is one matching message.
type SearchHit struct {
	Message *Message
	// Snippet is plain text around the match, at most about 200 bytes.
	Snippet string
	// Rank orders hits, higher is better; comparable within one result only.
	Rank float64
}

// ConversationFilter selects conversations. Zero fields do not filter.
type ConversationFilter struct {
	VisitorID  string
	OperatorID string
	Status     []Status // any of
	// Before pages backwards: only conversations created before it.
	Before time.Time
	// Since keeps only conversations created at or after it (reports).
	Since time.Time
	// Limit caps the result; 0 means 50.
	Limit int
}

// MessageQuery selects a range of one conversation's messages.
type MessageQuery struct {
	ConversationID string
	AfterSeq       int64 // only Seq > AfterSeq
	// BeforeSeq, if > 0, keeps only Seq < BeforeSeq; with Limit it returns
	// the newest Limit messages before it (for paging history backwards),
	// still in ascending order.
	BeforeSeq int64
	// Limit caps the result; 0 means no limit. Without BeforeSeq the oldest
	// Limit messages after AfterSeq are returned.
	Limit int
}

// Appended is the result of Store.AppendMessage.
type Appended struct {
	Message      *Message
	Conversation *Conversation
	Duplicate    bool // the client id was used before; Message is the original
}
