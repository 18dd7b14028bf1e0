package chat

import "time"

// Store persists visitors, operators, conversations and messages. It is the
// source of truth: the Server validates, persists, then publishes, and acks
// a client only after the Store has committed.
//
// Store is the required core, four roles, one file each: VisitorStore,
// OperatorStore, ConversationStore and MessageStore. The rest of what the
// Server keeps are optional roles, each its own small interface in its own
// file (TrackingStore, OrderStore, CannedStore, TriggerStore, ClaimStore,
// Searcher, PageViewVisitors, AssignedAppender): New finds them on the
// configured store once, through StoreAs, and for each one missing either
// uses an in-process stand-in or refuses with a *MissingRoleError (see
// Server.Capabilities for the table and what each role's absence means).
//
// Every method takes a context first, is safe for concurrent use, and
// returns the package's sentinel errors wrapped (test with errors.Is).
// Returned values are copies the caller may keep and modify. As with any
// database, a write whose context ends after it was sent may still commit;
// client message ids make the retry safe.
//
// A store implements storage, not policy: the Server calls it only
// through Checked, which rejects malformed input with ErrInvalid (empty
// ids, undefined kinds and presences, bad claim keys and search texts)
// and fills limit defaults before the store sees a call. The role docs say
// what Checked guarantees as "(checked)".
//
// store/memory, store/sqlite and store/postgres implement every role; a
// custom store proves itself with the conformance suite in
// store/storetest, which runs it through Checked and runs the cases of
// each optional role the store provides:
//
//	func TestStore(t *testing.T) { storetest.Run(t, func(t testing.TB) chat.Store { return open(t) }) }
type Store interface {
	VisitorStore
	OperatorStore
	ConversationStore
	MessageStore
}

// StoreAs finds the role T (an optional role such as TrackingStore or
// Searcher) on s or, when s wraps another store, on the store it wraps: a
// wrapper (a logging or metrics decorator that embeds Store) keeps the
// roles of what it wraps by having a method
//
//	Unwrap() Store
//
// that returns the wrapped store, as errors.Unwrap does for errors. StoreAs
// checks s first, then each store Unwrap returns, and reports the first
// that implements T. New finds every optional role this way, once. A role
// found through Unwrap is called on the wrapped store, so a wrapper that
// wants to see those calls too implements the role itself.
//
// AssignedAppender and BatchAppender are used only when the configured
// store itself has them (they are variants of AppendMessage, and a
// wrapper's own AppendMessage must not be bypassed); without them the
// Server checks the assignment and calls AppendMessage, one message at a
// time.
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

// ConversationFilter selects conversations. Zero fields do not filter.
type ConversationFilter struct {
	VisitorID  string
	OperatorID string
	Status     []Status // any of
	// Before pages backwards: only conversations created before it.
	Before time.Time
	// Since keeps only conversations created at or after it (reports).
	Since time.Time
	// Limit caps the result; 0 means 50 (filled in by Checked: a store
	// always sees a Limit above 0).
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
