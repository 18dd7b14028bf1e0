// Package memory is an in-process chat.Store that keeps everything in maps
// guarded by one mutex. It provides every role of chat.Store, one file
// each (visitors.go, operators.go, conversations.go, messages.go,
// tracking.go, orders.go, canned.go, triggers.go, claims.go, search.go),
// searching by scanning every message. Like every store it leaves input
// checks and limit defaults to chat.Checked, through which the Server
// calls it.
//
// It is meant for tests and single-process demos: it needs no setup and is
// fast, but it loses every visitor, conversation, message, page view and
// order when the process exits. Each Store picks a random epoch when it
// is created, so clients resuming against a restarted process see a new
// chat.Conversation.Epoch and reload instead of trusting what they hold.
//
// Use store/sqlite for anything that must survive a restart.
package memory

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/shopchat/chat"
)

// Every role of chat.Store.
var (
	_ chat.Store            = (*Store)(nil)
	_ chat.TrackingStore    = (*Store)(nil)
	_ chat.OrderStore       = (*Store)(nil)
	_ chat.CannedStore      = (*Store)(nil)
	_ chat.TriggerStore     = (*Store)(nil)
	_ chat.ClaimStore       = (*Store)(nil)
	_ chat.Searcher         = (*Store)(nil)
	_ chat.PageViewVisitors = (*Store)(nil)
	_ chat.AssignedAppender = (*Store)(nil)
	_ chat.BatchAppender    = (*Store)(nil)
)

// Store is an in-memory chat.Store. The zero value is not usable; call New.
// A Store is safe for concurrent use.
type Store struct {
	epoch int64 // fixed for the Store's life

	mu        sync.Mutex
	visitors  map[string]*chat.Visitor
	customers map[string]string // customer id -> visitor id
	operators map[string]*operator
	convs     map[string]*conversation
	open      map[string]string // visitor id -> id of its conversation that is not Closed
	// Indexes that keep the per-visitor listing and the queue from scanning
	// every conversation.
	byVisitor map[string]map[string]struct{} // visitor id -> conversation ids
	queued    map[string]struct{}            // ids of Queued conversations

	// Tracking (tracking.go).
	pageViews  map[string][]chat.PageView // visitor id -> views, in insertion order
	activities []chat.Activity            // in insertion order
	orders     map[string]*chat.Order
	canned     map[string]*chat.CannedResponse
	triggers   map[string]*chat.Trigger
	claims     map[string]time.Time // key -> expires (claims.go)

	events      eventLog                    // events.go
	labels      map[string][]string         // visitor id -> labels (labels.go), made on first use
	attachments map[string]*chat.Attachment // by id (attachments.go)
}

type operator struct {
	op           chat.Operator
	presence     chat.Presence
	expires      time.Time
	assigned     map[string]*conversation // its Assigned conversations, by id
	lastAssigned time.Time
}

type conversation struct {
	c         chat.Conversation
	msgs      []chat.Message // msgs[i].Seq == i+1
	clientIDs map[string]int // client id -> index in msgs
	attached  []string       // ids of its attachments (attachments.go)
}

// New returns an empty Store with a fresh random epoch.
func New() *Store {
	var epoch int64
	for epoch == 0 {
		epoch = rand.Int64()
	}
	return &Store{
		epoch:     epoch,
		visitors:  make(map[string]*chat.Visitor),
		customers: make(map[string]string),
		operators: make(map[string]*operator),
		convs:     make(map[string]*conversation),
		open:      make(map[string]string),
		byVisitor: make(map[string]map[string]struct{}),
		queued:    make(map[string]struct{}),
		pageViews: make(map[string][]chat.PageView),
		orders:    make(map[string]*chat.Order),
		canned:    make(map[string]*chat.CannedResponse),
		triggers:  make(map[string]*chat.Trigger),
		claims:    make(map[string]time.Time),
	}
}

func notFound(kind, id string) error {
	return fmt.Errorf("memory: %s %q: %w", kind, id, chat.ErrNotFound)
}

func conflict(kind, id, why string) error {
	return fmt.Errorf("memory: %s %q: %s: %w", kind, id, why, chat.ErrConflict)
}
