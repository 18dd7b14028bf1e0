package storetest_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/shopchat/chat/internal/tbrecord"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/store/memory"
	"github.com/shopchat/chat/store/storetest"
)

// check runs one case against a fresh store from open and reports whether
// it failed, with what it logged.
func check(t *testing.T, c storetest.Case, open func() chat.Store) (failed bool, log string) {
	failed, _, log = run(t, c, open)
	return failed, log
}

// run is check that also reports whether the case skipped.
func run(t *testing.T, c storetest.Case, open func() chat.Store) (failed, skipped bool, log string) {
	return tbrecord.Run(t, func(tb testing.TB) { c.Fn(tb, open()) })
}

// TestRecorderPassesCorrectStore makes sure a failure seen through the
// recorder comes from the broken store, not from the harness, and that
// memory.Store, which has every optional capability, skips nothing.
func TestRecorderPassesCorrectStore(t *testing.T) {
	for _, c := range storetest.Cases() {
		failed, skipped, log := run(t, c, func() chat.Store { return memory.New() })
		if failed {
			t.Errorf("%s failed on memory.Store through the recorder:\n%s", c.Name, log)
		}
		if skipped {
			t.Errorf("%s skipped on memory.Store:\n%s", c.Name, log)
		}
	}
}

// TestCoreOnlyStorePasses: a store with only the required core passes,
// every case of an optional role skipping and naming the role's
// interface, and chat.StoreCapabilities reports each optional role not
// provided.
func TestCoreOnlyStorePasses(t *testing.T) {
	for _, c := range storetest.Cases() {
		failed, skipped, log := run(t, c, func() chat.Store { return storeOnly{memory.New()} })
		if failed {
			t.Errorf("%s failed on a core-only store:\n%s", c.Name, log)
		}
		switch {
		case len(c.Roles) > 0 && !skipped:
			t.Errorf("%s (needs %v) did not skip on a core-only store", c.Name, c.Roles)
		case len(c.Roles) > 0 && !strings.Contains(log, "role (chat."):
			t.Errorf("%s skipped without naming the role: %q", c.Name, log)
		case len(c.Roles) == 0 && skipped:
			t.Errorf("%s skipped on a core-only store:\n%s", c.Name, log)
		}
	}
	for _, c := range chat.StoreCapabilities(storeOnly{memory.New()}) {
		if want := map[bool]chat.RoleStatus{true: chat.RoleProvided, false: chat.RoleNotProvided}[c.Required]; c.Status != want {
			t.Errorf("core-only store: role %s is %q, want %q", c.Role, c.Status, want)
		}
	}
}

// TestCheckedMakesStoreChecksUnneeded: stores that skip an input check
// (or fill no limit default) pass the cases that check it, because the
// suite, like the Server, calls them through chat.Checked.
func TestCheckedMakesStoreChecksUnneeded(t *testing.T) {
	for name, open := range map[string]func() chat.Store{
		"EmptyCustomerIDMatches":          func() chat.Store { return &emptyCustomer{Store: memory.New(), anon: map[string]bool{}} },
		"CreateAcceptsEmptyID":            func() chat.Store { return emptyConvID{memory.New()} },
		"SearchNoLengthLimit":             func() chat.Store { return searchNoLengthLimit{memory.New()} },
		"PageViewVisitorsAcceptsReversed": func() chat.Store { return pageViewVisitorsReversed{memory.New()} },
	} {
		for _, c := range storetest.Cases() {
			if failed, log := check(t, c, open); failed {
				t.Errorf("%s: %s failed:\n%s", name, c.Name, log)
			}
		}
	}
}

// TestHalfDeclaredRoleFails: a store with some of a role's methods (here
// PutOrder without Orders) fails Capabilities/Complete, naming the missing
// method, rather than passing by skipping the role's cases.
func TestHalfDeclaredRoleFails(t *testing.T) {
	for _, c := range storetest.Cases() {
		if c.Name != "Capabilities/Complete" {
			continue
		}
		if failed, log := check(t, c, func() chat.Store { return halfOrders{storeOnly{memory.New()}} }); !failed || !strings.Contains(log, "Orders") {
			t.Fatalf("a store with PutOrder but not Orders: failed %v:\n%s", failed, log)
		}
		if failed, log := check(t, c, func() chat.Store { return memory.New() }); failed {
			t.Fatalf("memory.Store failed Capabilities/Complete:\n%s", log)
		}
		return
	}
	t.Fatal("no Capabilities/Complete case")
}

// halfOrders has PutOrder but forgot Orders.
type halfOrders struct{ storeOnly }

func (halfOrders) PutOrder(context.Context, *chat.Order) (*chat.Order, bool, error) {
	return nil, false, errors.New("not stored")
}

// storeOnly is a store with no optional capabilities: it keeps its
// implementation in an unexported field, as a store written from scratch
// keeps its database, so only chat.Store's methods show.
type storeOnly struct{ core }

type core = chat.Store

// hiding is the decorator that forgets Unwrap: it embeds chat.Store,
// which hides memory.Store's Search and PageViewVisitors.
type hiding struct{ chat.Store }

// logged is the decorator docs/stores.md shows: it logs appends and keeps
// every capability of the store it wraps with Unwrap.
type logged struct {
	chat.Store
	appends *atomic.Int64
}

func (s logged) AppendMessage(ctx context.Context, m *chat.Message) (chat.Appended, error) {
	s.appends.Add(1)
	return s.Store.AppendMessage(ctx, m)
}

func (s logged) Unwrap() chat.Store { return s.Store }

// TestWrapperHidingCapabilitiesFails: a decorator without Unwrap fails
// Capabilities/NotHidden, naming each hidden capability and the fix.
func TestWrapperHidingCapabilitiesFails(t *testing.T) {
	for _, c := range storetest.Cases() {
		if c.Name != "Capabilities/NotHidden" {
			continue
		}
		failed, _, log := run(t, c, func() chat.Store { return hiding{memory.New()} })
		if !failed {
			t.Fatal("a wrapper hiding Searcher and PageViewVisitors passed Capabilities/NotHidden")
		}
		for _, want := range []string{"chat.Searcher", "chat.PageViewVisitors", "Unwrap() chat.Store"} {
			if !strings.Contains(log, want) {
				t.Errorf("the failure does not name %s:\n%s", want, log)
			}
		}
		return
	}
	t.Fatal("no Capabilities/NotHidden case")
}

// TestWrapperWithUnwrapKeepsCapabilities: the documented decorator passes
// every case, skipping none (Search and PageViewVisitors run through
// Unwrap), and its own AppendMessage is used.
func TestWrapperWithUnwrapKeepsCapabilities(t *testing.T) {
	var appends atomic.Int64
	for _, c := range storetest.Cases() {
		if strings.HasPrefix(c.Name, "AssignedAppender/") || strings.HasPrefix(c.Name, "BatchAppender/") {
			continue // used only on the outer store, which lacks them: skip
		}
		failed, skipped, log := run(t, c, func() chat.Store { return logged{memory.New(), &appends} })
		if failed || skipped {
			t.Errorf("%s failed or skipped on a wrapper with Unwrap:\n%s", c.Name, log)
		}
	}
	if appends.Load() == 0 {
		t.Error("the wrapper's AppendMessage was never called")
	}
	if _, ok := chat.StoreAs[chat.Searcher](logged{memory.New(), &appends}); !ok {
		t.Error("chat.StoreAs finds no Searcher through Unwrap")
	}
}

func TestCaseNamesUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range storetest.Cases() {
		area, name, ok := strings.Cut(c.Name, "/")
		if !ok || area == "" || name == "" || strings.Contains(name, "/") || strings.ContainsAny(c.Name, " \t") {
			t.Errorf("case name %q is not Area/Check", c.Name)
		}
		if seen[c.Name] {
			t.Errorf("case name %q used twice", c.Name)
		}
		seen[c.Name] = true
	}
}

// TestSuiteCatchesBrokenStores runs the whole suite against deliberately
// broken stores and requires that the named cases fail.
func TestSuiteCatchesBrokenStores(t *testing.T) {
	for _, tc := range []struct {
		name   string
		open   func() chat.Store
		caught []string // cases that must fail
	}{
		{"AssignIgnoresCapacity", func() chat.Store { return noCapacity{memory.New()} },
			[]string{"Conversations/AssignCapacity", "Conversations/Transfer", "Concurrency/Assign"}},
		{"AssignIgnoresFrom", func() chat.Store { return ignoresFrom{memory.New()} },
			[]string{"Conversations/AssignWrongFrom", "Operators/LastAssignedAt", "Concurrency/Transfer"}},
		{"AppendIgnoresClientID", func() chat.Store { return &noDedup{Store: memory.New()} },
			[]string{"Messages/AppendIdempotent", "Concurrency/AppendRetries"}},
		{"PlainNotFound", func() chat.Store { return plainNotFound{memory.New()} },
			[]string{"Visitors/NotFound", "Operators/NotFound", "Conversations/NotFound", "Conversations/CreateUnknownVisitor", "Messages/AppendErrors", "Messages/List"}},
		{"VisitorAliasesCaller", func() chat.Store { return &aliasing{Store: memory.New(), kept: map[string]*chat.Visitor{}} },
			[]string{"Visitors/Copies", "Data/DeleteVisitor"}},
		{"QueueLIFO", func() chat.Store { return lifoQueue{memory.New()} },
			[]string{"Conversations/Queue", "Conversations/Requeue", "Conversations/Reopen"}},
		{"HistoryPagesOldestFirst", func() chat.Store { return oldestBefore{memory.New()} },
			[]string{"Messages/List"}},

		// Clarified semantics.
		{"ZeroExpiresIsEpoch", func() chat.Store { return zeroExpiresEpoch{memory.New()} },
			[]string{"Operators/PresenceNoExpiry"}},
		{"CreateLeavesCallerStatus", func() chat.Store { return keepsCallerStatus{memory.New()} },
			[]string{"Conversations/Create", "Conversations/CreateSetsCallerFields"}},
		{"RequeueKeepsDepartment", func() chat.Store { return requeueKeepsDept{memory.New()} },
			[]string{"Conversations/RequeueDepartment"}},
		{"CloseClearsOperator", func() chat.Store { return closeClearsOperator{memory.New()} },
			[]string{"Conversations/CloseKeepsOperator"}},
		{"ReopenKeepsClosedAt", func() chat.Store { return &reopenKeepsClosedAt{Store: memory.New(), closedAt: map[string]time.Time{}} },
			[]string{"Conversations/ReopenClears"}},

		// Erasure and retention.
		{"DeleteLeavesMessages", func() chat.Store { return &orphanMessages{Store: memory.New(), orphans: map[string][]*chat.Message{}} },
			[]string{"Data/DeleteVisitor", "Data/PurgeClosed"}},
		{"DeleteKeepsLoad", func() chat.Store { return &deleteKeepsLoad{Store: memory.New(), extra: map[string]int{}} },
			[]string{"Data/DeleteVisitor", "Data/DeleteVisitorKeepsOthersLoad"}},
		{"PurgeIgnoresCutoff", func() chat.Store { return purgeAt{memory.New(), farFuture} },
			[]string{"Data/PurgeClosed"}},
		{"PurgeCutoffInclusive", func() chat.Store { return purgeAt{memory.New(), justAfter} },
			[]string{"Data/PurgeClosed"}},
		{"PurgeOpenToo", func() chat.Store { return purgeOpen{memory.New()} },
			[]string{"Data/PurgeClosed", "Data/PurgeClosedEmpty"}},

		// Search.
		{"SearchIgnoresVisitor", func() chat.Store { return searchIgnoresVisitor{memory.New()} },
			[]string{"Search/VisitorScope"}},
		{"SearchShowsNotesToVisitor", func() chat.Store { return searchShowsNotes{memory.New()} },
			[]string{"Search/VisitorScope"}},
		{"SearchAnyWord", func() chat.Store { return searchAnyWord{memory.New()} },
			[]string{"Search/AllWords"}},
		{"SearchCaseSensitive", func() chat.Store { return searchCaseSensitive{memory.New()} },
			[]string{"Search/CaseInsensitive", "Search/Unicode"}},
		{"SearchSubstring", func() chat.Store { return searchSubstring{memory.New()} },
			[]string{"Search/Prefix"}},
		{"SearchSyntaxError", func() chat.Store { return searchSyntaxError{memory.New()} },
			[]string{"Search/Syntax"}},
		{"SearchIgnoresLimit", func() chat.Store { return searchIgnoresLimit{memory.New()} },
			[]string{"Search/Limit"}},
		{"SearchUnranked", func() chat.Store { return searchUnranked{memory.New()} },
			[]string{"Search/Ranking"}},
		{"SearchWholeTextSnippet", func() chat.Store { return searchWholeSnippet{memory.New()} },
			[]string{"Search/Snippet"}},

		// Tracking.
		{"OrderAlwaysCreated", func() chat.Store { return orderAlwaysCreated{memory.New()} },
			[]string{"Orders/PutOnce", "Orders/ConcurrentPut", "Tracking/DeleteVisitor"}},
		{"PageViewsOldestFirst", func() chat.Store { return pageViewsOldestFirst{memory.New()} },
			[]string{"Tracking/PageViews", "Tracking/PageViewsLimit"}},
		{"ActivitiesToInclusive", func() chat.Store { return activitiesToInclusive{memory.New()} },
			[]string{"Tracking/ActivityFilters"}},
		{"DeleteKeepsActivities", func() chat.Store { return deleteKeepsActivities{memory.New()} },
			[]string{"Tracking/DeleteVisitor"}},
		{"CannedShortcutGlobal", func() chat.Store { return &cannedShortcutGlobal{Store: memory.New(), owner: map[string]string{}} },
			[]string{"Canned/PutAndList", "Canned/Conflict"}},
		{"ConversationsIgnoreSince", func() chat.Store { return ignoresSince{memory.New()} },
			[]string{"Conversations/Since"}},

		// Claims.
		{"ClaimAlwaysGranted", func() chat.Store { return claimAlways{memory.New()} },
			[]string{"Claims/Once", "Claims/Expiry", "Claims/DistinctKeys", "Claims/Race", "Claims/PurgeKeepsUnexpired"}},

		// PageViewVisitors.
		{"PageViewVisitorsToInclusive", func() chat.Store { return pageViewVisitorsToInclusive{memory.New()} },
			[]string{"PageViewVisitors/HalfOpen", "PageViewVisitors/Empty"}},
		{"PageViewVisitorsUnsorted", func() chat.Store { return pageViewVisitorsUnsorted{memory.New()} },
			[]string{"PageViewVisitors/Sorted"}},
		{"PageViewVisitorsPerView", func() chat.Store { return pageViewVisitorsPerView{memory.New()} },
			[]string{"PageViewVisitors/Distinct"}},
		{"PageViewVisitorsNil", func() chat.Store { return pageViewVisitorsNil{memory.New()} },
			[]string{"PageViewVisitors/Empty"}},
		{"PageViewVisitorsKeepsErased", func() chat.Store { return &pageViewVisitorsKeepsErased{Store: memory.New(), erased: map[string]bool{}} },
			[]string{"PageViewVisitors/DeleteVisitor"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var failed []string
			for _, c := range storetest.Cases() {
				if f, _ := check(t, c, tc.open); f {
					failed = append(failed, c.Name)
				}
			}
			t.Logf("failing cases: %s", strings.Join(failed, ", "))
			for _, name := range tc.caught {
				if !slices.Contains(failed, name) {
					t.Errorf("%s passed against the broken store", name)
				}
			}
		})
	}
}

// noCapacity never refuses an operator at capacity.
type noCapacity struct{ *memory.Store }

func (s noCapacity) Assign(ctx context.Context, id, from, to string, _ int, at time.Time) (*chat.Conversation, error) {
	return s.Store.Assign(ctx, id, from, to, 0, at)
}

// ignoresFrom checks nothing about the current operator: it assigns from
// whoever has the conversation now.
type ignoresFrom struct{ *memory.Store }

func (s ignoresFrom) Assign(ctx context.Context, id, _, to string, capacity int, at time.Time) (*chat.Conversation, error) {
	c, err := s.Store.Conversation(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.Store.Assign(ctx, id, c.OperatorID, to, capacity, at)
}

// noDedup stores every append as new: it makes each client id unique
// underneath and hides that on the way out.
type noDedup struct {
	*memory.Store
	n atomic.Int64
}

const dedupSep = "\x00"

func (s *noDedup) AppendMessage(ctx context.Context, m *chat.Message) (chat.Appended, error) {
	mm := *m
	if mm.ClientID != "" {
		mm.ClientID += fmt.Sprintf("%s%d", dedupSep, s.n.Add(1))
	}
	a, err := s.Store.AppendMessage(ctx, &mm)
	if a.Message != nil {
		a.Message.ClientID, _, _ = strings.Cut(a.Message.ClientID, dedupSep)
	}
	return a, err
}

func (s *noDedup) Messages(ctx context.Context, q chat.MessageQuery) ([]*chat.Message, error) {
	ms, err := s.Store.Messages(ctx, q)
	for _, m := range ms {
		m.ClientID, _, _ = strings.Cut(m.ClientID, dedupSep)
	}
	return ms, err
}

// aliasing keeps the caller's *Visitor and hands it back from Visitor.
type aliasing struct {
	*memory.Store
	mu   sync.Mutex
	kept map[string]*chat.Visitor
}

func (s *aliasing) CreateVisitor(ctx context.Context, v *chat.Visitor) error {
	if err := s.Store.CreateVisitor(ctx, v); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kept[v.ID] = v
	return nil
}

func (s *aliasing) Visitor(ctx context.Context, id string) (*chat.Visitor, error) {
	s.mu.Lock()
	v, ok := s.kept[id]
	s.mu.Unlock()
	if ok {
		return v, nil
	}
	return s.Store.Visitor(ctx, id)
}

// lifoQueue serves the queue newest first.
type lifoQueue struct{ *memory.Store }

func (s lifoQueue) Queue(ctx context.Context) ([]*chat.Conversation, error) {
	q, err := s.Store.Queue(ctx)
	slices.Reverse(q)
	return q, err
}

// oldestBefore returns the oldest Limit messages before BeforeSeq instead
// of the newest.
type oldestBefore struct{ *memory.Store }

func (s oldestBefore) Messages(ctx context.Context, q chat.MessageQuery) ([]*chat.Message, error) {
	limit := q.Limit
	q.Limit = 0
	ms, err := s.Store.Messages(ctx, q)
	if limit > 0 && len(ms) > limit {
		ms = ms[:limit]
	}
	return ms, err
}

// plainNotFound loses the ErrNotFound sentinel: the message survives, the
// wrapping does not.
type plainNotFound struct{ *memory.Store }

func plain(err error) error {
	if errors.Is(err, chat.ErrNotFound) {
		return errors.New(err.Error())
	}
	return err
}

func plain1[T any](v T, err error) (T, error) { return v, plain(err) }

func (s plainNotFound) CreateVisitor(ctx context.Context, v *chat.Visitor) error {
	return plain(s.Store.CreateVisitor(ctx, v))
}
func (s plainNotFound) Visitor(ctx context.Context, id string) (*chat.Visitor, error) {
	return plain1(s.Store.Visitor(ctx, id))
}
func (s plainNotFound) VisitorByCustomer(ctx context.Context, id string) (*chat.Visitor, error) {
	return plain1(s.Store.VisitorByCustomer(ctx, id))
}
func (s plainNotFound) UpdateVisitor(ctx context.Context, v *chat.Visitor) error {
	return plain(s.Store.UpdateVisitor(ctx, v))
}
func (s plainNotFound) PutOperator(ctx context.Context, op *chat.Operator) error {
	return plain(s.Store.PutOperator(ctx, op))
}
func (s plainNotFound) Operator(ctx context.Context, id string) (*chat.Operator, error) {
	return plain1(s.Store.Operator(ctx, id))
}
func (s plainNotFound) SetPresence(ctx context.Context, id string, p chat.Presence, exp time.Time) error {
	return plain(s.Store.SetPresence(ctx, id, p, exp))
}
func (s plainNotFound) CreateConversation(ctx context.Context, c *chat.Conversation) error {
	return plain(s.Store.CreateConversation(ctx, c))
}
func (s plainNotFound) Conversation(ctx context.Context, id string) (*chat.Conversation, error) {
	return plain1(s.Store.Conversation(ctx, id))
}
func (s plainNotFound) OpenConversation(ctx context.Context, id string) (*chat.Conversation, error) {
	return plain1(s.Store.OpenConversation(ctx, id))
}
func (s plainNotFound) Assign(ctx context.Context, id, from, to string, capacity int, at time.Time) (*chat.Conversation, error) {
	return plain1(s.Store.Assign(ctx, id, from, to, capacity, at))
}
func (s plainNotFound) Requeue(ctx context.Context, id, from, dept string, at time.Time) (*chat.Conversation, error) {
	return plain1(s.Store.Requeue(ctx, id, from, dept, at))
}
func (s plainNotFound) CloseConversation(ctx context.Context, id string, at time.Time) (*chat.Conversation, error) {
	return plain1(s.Store.CloseConversation(ctx, id, at))
}
func (s plainNotFound) ReopenConversation(ctx context.Context, id string, at time.Time) (*chat.Conversation, error) {
	return plain1(s.Store.ReopenConversation(ctx, id, at))
}
func (s plainNotFound) MarkRead(ctx context.Context, id string, by chat.MessageKind, seq int64) (*chat.Conversation, error) {
	return plain1(s.Store.MarkRead(ctx, id, by, seq))
}
func (s plainNotFound) AppendMessage(ctx context.Context, m *chat.Message) (chat.Appended, error) {
	return plain1(s.Store.AppendMessage(ctx, m))
}
func (s plainNotFound) Messages(ctx context.Context, q chat.MessageQuery) ([]*chat.Message, error) {
	return plain1(s.Store.Messages(ctx, q))
}

// Clarified semantics.

// emptyCustomer answers VisitorByCustomer("") with an anonymous visitor,
// as `WHERE customer_id = ?` does when anonymous visitors store an empty
// string.
type emptyCustomer struct {
	*memory.Store
	mu   sync.Mutex
	anon map[string]bool // visitors without a customer id
}

func (s *emptyCustomer) note(v *chat.Visitor) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v.CustomerID == "" {
		s.anon[v.ID] = true
	} else {
		delete(s.anon, v.ID)
	}
}

func (s *emptyCustomer) CreateVisitor(ctx context.Context, v *chat.Visitor) error {
	err := s.Store.CreateVisitor(ctx, v)
	if err == nil {
		s.note(v)
	}
	return err
}

func (s *emptyCustomer) UpdateVisitor(ctx context.Context, v *chat.Visitor) error {
	err := s.Store.UpdateVisitor(ctx, v)
	if err == nil {
		s.note(v)
	}
	return err
}

func (s *emptyCustomer) VisitorByCustomer(ctx context.Context, customerID string) (*chat.Visitor, error) {
	if customerID == "" {
		s.mu.Lock()
		var ids []string
		for id := range s.anon {
			ids = append(ids, id)
		}
		s.mu.Unlock()
		if len(ids) > 0 {
			slices.Sort(ids)
			return s.Store.Visitor(ctx, ids[0])
		}
	}
	return s.Store.VisitorByCustomer(ctx, customerID)
}

// zeroExpiresEpoch stores a zero expiry as the Unix epoch, so the
// presence has long expired.
type zeroExpiresEpoch struct{ *memory.Store }

func (s zeroExpiresEpoch) SetPresence(ctx context.Context, id string, p chat.Presence, expires time.Time) error {
	if expires.IsZero() {
		expires = time.Unix(0, 0)
	}
	return s.Store.SetPresence(ctx, id, p, expires)
}

// emptyConvID accepts an empty conversation id by making one up.
type emptyConvID struct{ *memory.Store }

func (s emptyConvID) CreateConversation(ctx context.Context, c *chat.Conversation) error {
	if c.ID == "" {
		cc := *c
		cc.ID = "made-up"
		err := s.Store.CreateConversation(ctx, &cc)
		cc.ID = ""
		*c = cc
		return err
	}
	return s.Store.CreateConversation(ctx, c)
}

// keepsCallerStatus stores the conversation right but leaves the caller's
// Status and LastSeq as they were.
type keepsCallerStatus struct{ *memory.Store }

func (s keepsCallerStatus) CreateConversation(ctx context.Context, c *chat.Conversation) error {
	status, last := c.Status, c.LastSeq
	err := s.Store.CreateConversation(ctx, c)
	c.Status, c.LastSeq = status, last
	return err
}

// requeueKeepsDepartment treats an empty department as "keep the current
// one".
type requeueKeepsDept struct{ *memory.Store }

func (s requeueKeepsDept) Requeue(ctx context.Context, id, from, dept string, at time.Time) (*chat.Conversation, error) {
	if dept == "" {
		if c, err := s.Store.Conversation(ctx, id); err == nil {
			dept = c.Department
		}
	}
	return s.Store.Requeue(ctx, id, from, dept, at)
}

// closeClearsOperator forgets who had a conversation once it is closed.
type closeClearsOperator struct{ *memory.Store }

func clearClosed(c *chat.Conversation) {
	if c != nil && c.Status == chat.Closed {
		c.OperatorID = ""
	}
}

func (s closeClearsOperator) CloseConversation(ctx context.Context, id string, at time.Time) (*chat.Conversation, error) {
	c, err := s.Store.CloseConversation(ctx, id, at)
	clearClosed(c)
	return c, err
}

func (s closeClearsOperator) Conversation(ctx context.Context, id string) (*chat.Conversation, error) {
	c, err := s.Store.Conversation(ctx, id)
	clearClosed(c)
	return c, err
}

func (s closeClearsOperator) Conversations(ctx context.Context, f chat.ConversationFilter) ([]*chat.Conversation, error) {
	cs, err := s.Store.Conversations(ctx, f)
	if f.OperatorID != "" {
		cs = slices.DeleteFunc(cs, func(c *chat.Conversation) bool { return c.Status == chat.Closed })
	}
	for _, c := range cs {
		clearClosed(c)
	}
	return cs, err
}

// reopenKeepsClosedAt leaves ClosedAt set on a reopened conversation.
type reopenKeepsClosedAt struct {
	*memory.Store
	mu       sync.Mutex
	closedAt map[string]time.Time
}

func (s *reopenKeepsClosedAt) keep(c *chat.Conversation) {
	if c == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.Status == chat.Closed {
		s.closedAt[c.ID] = c.ClosedAt
	} else if at, ok := s.closedAt[c.ID]; ok {
		c.ClosedAt = at
	}
}

func (s *reopenKeepsClosedAt) CloseConversation(ctx context.Context, id string, at time.Time) (*chat.Conversation, error) {
	c, err := s.Store.CloseConversation(ctx, id, at)
	s.keep(c)
	return c, err
}

func (s *reopenKeepsClosedAt) ReopenConversation(ctx context.Context, id string, at time.Time) (*chat.Conversation, error) {
	c, err := s.Store.ReopenConversation(ctx, id, at)
	s.keep(c)
	return c, err
}

func (s *reopenKeepsClosedAt) Conversation(ctx context.Context, id string) (*chat.Conversation, error) {
	c, err := s.Store.Conversation(ctx, id)
	s.keep(c)
	return c, err
}

func (s *reopenKeepsClosedAt) Assign(ctx context.Context, id, from, to string, capacity int, at time.Time) (*chat.Conversation, error) {
	c, err := s.Store.Assign(ctx, id, from, to, capacity, at)
	s.keep(c)
	return c, err
}

// Erasure and retention.

// allConvs lists every conversation matching f.
func allConvs(ctx context.Context, s chat.Store, f chat.ConversationFilter) []*chat.Conversation {
	f.Limit = 1 << 20
	cs, _ := s.Conversations(ctx, f)
	return cs
}

// orphanMessages deletes conversations but not their messages, as a
// schema without ON DELETE CASCADE does: Messages still answers for them.
type orphanMessages struct {
	*memory.Store
	mu      sync.Mutex
	orphans map[string][]*chat.Message // conversation id -> messages left behind
}

func (s *orphanMessages) leave(ctx context.Context, cs []*chat.Conversation) {
	for _, c := range cs {
		ms, _ := s.Store.Messages(ctx, chat.MessageQuery{ConversationID: c.ID})
		s.mu.Lock()
		s.orphans[c.ID] = ms
		s.mu.Unlock()
	}
}

func (s *orphanMessages) DeleteVisitor(ctx context.Context, id string) error {
	s.leave(ctx, allConvs(ctx, s.Store, chat.ConversationFilter{VisitorID: id}))
	return s.Store.DeleteVisitor(ctx, id)
}

func (s *orphanMessages) PurgeClosed(ctx context.Context, cutoff time.Time) (int, error) {
	cs := allConvs(ctx, s.Store, chat.ConversationFilter{Status: []chat.Status{chat.Closed}})
	s.leave(ctx, slices.DeleteFunc(cs, func(c *chat.Conversation) bool { return !c.ClosedAt.Before(cutoff) }))
	return s.Store.PurgeClosed(ctx, cutoff)
}

func (s *orphanMessages) Messages(ctx context.Context, q chat.MessageQuery) ([]*chat.Message, error) {
	ms, err := s.Store.Messages(ctx, q)
	if errors.Is(err, chat.ErrNotFound) {
		s.mu.Lock()
		left, ok := s.orphans[q.ConversationID]
		s.mu.Unlock()
		if ok {
			return left, nil
		}
	}
	return ms, err
}

// deleteKeepsLoad erases a visitor but still counts their assigned
// conversations in the operators' Active.
type deleteKeepsLoad struct {
	*memory.Store
	mu    sync.Mutex
	extra map[string]int
}

func (s *deleteKeepsLoad) DeleteVisitor(ctx context.Context, id string) error {
	cs := allConvs(ctx, s.Store, chat.ConversationFilter{VisitorID: id, Status: []chat.Status{chat.Assigned}})
	err := s.Store.DeleteVisitor(ctx, id)
	if err == nil {
		s.mu.Lock()
		for _, c := range cs {
			s.extra[c.OperatorID]++
		}
		s.mu.Unlock()
	}
	return err
}

func (s *deleteKeepsLoad) OperatorLoads(ctx context.Context, now time.Time) ([]chat.OperatorLoad, error) {
	ls, err := s.Store.OperatorLoads(ctx, now)
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range ls {
		ls[i].Active += s.extra[ls[i].Operator.ID]
	}
	return ls, err
}

// purgeAt purges with a cutoff of its own making.
type purgeAt struct {
	*memory.Store
	cutoff func(time.Time) time.Time
}

func farFuture(time.Time) time.Time { return time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC) }

func justAfter(cutoff time.Time) time.Time { return cutoff.Add(time.Nanosecond) }

func (s purgeAt) PurgeClosed(ctx context.Context, cutoff time.Time) (int, error) {
	return s.Store.PurgeClosed(ctx, s.cutoff(cutoff))
}

// purgeOpen purges by CreatedAt, open conversations included.
type purgeOpen struct{ *memory.Store }

func (s purgeOpen) PurgeClosed(ctx context.Context, cutoff time.Time) (int, error) {
	for _, c := range allConvs(ctx, s.Store, chat.ConversationFilter{Status: []chat.Status{chat.Queued, chat.Assigned}}) {
		if c.CreatedAt.Before(cutoff) {
			if _, err := s.Store.CloseConversation(ctx, c.ID, c.CreatedAt); err != nil {
				return 0, err
			}
		}
	}
	return s.Store.PurgeClosed(ctx, cutoff)
}

// Search. Each embeds *memory.Store, so it is a chat.Searcher.

// searchIgnoresVisitor searches everyone's conversations.
type searchIgnoresVisitor struct{ *memory.Store }

func (s searchIgnoresVisitor) Search(ctx context.Context, q chat.SearchQuery) ([]chat.SearchHit, error) {
	q.VisitorID = ""
	return s.Store.Search(ctx, q)
}

// searchShowsNotes scopes a visitor's search to their conversations but
// keeps internal notes.
type searchShowsNotes struct{ *memory.Store }

func (s searchShowsNotes) Search(ctx context.Context, q chat.SearchQuery) ([]chat.SearchHit, error) {
	visitor := q.VisitorID
	q.VisitorID = ""
	hits, err := s.Store.Search(ctx, q)
	if visitor == "" {
		return hits, err
	}
	return slices.DeleteFunc(hits, func(h chat.SearchHit) bool {
		c, err := s.Store.Conversation(ctx, h.Message.ConversationID)
		return err != nil || c.VisitorID != visitor
	}), err
}

// searchAnyWord finds messages with any of the words.
type searchAnyWord struct{ *memory.Store }

func (s searchAnyWord) Search(ctx context.Context, q chat.SearchQuery) ([]chat.SearchHit, error) {
	if _, err := s.Store.Search(ctx, q); err != nil {
		return nil, err
	}
	var hits []chat.SearchHit
	for _, w := range strings.Fields(q.Text) {
		hs, _ := s.Store.Search(ctx, chat.SearchQuery{Text: w, VisitorID: q.VisitorID, Limit: q.Limit})
		for _, h := range hs {
			if !slices.ContainsFunc(hits, func(o chat.SearchHit) bool { return o.Message.ID == h.Message.ID }) {
				h.Rank = 1
				hits = append(hits, h)
			}
		}
	}
	limit := cmpOr(q.Limit, 20)
	return hits[:min(len(hits), limit)], nil
}

func cmpOr(a, b int) int {
	if a > 0 {
		return min(a, 100)
	}
	return b
}

// searchCaseSensitive matches words only in the case they are written.
type searchCaseSensitive struct{ *memory.Store }

func (s searchCaseSensitive) Search(ctx context.Context, q chat.SearchQuery) ([]chat.SearchHit, error) {
	hits, err := s.Store.Search(ctx, q)
	return slices.DeleteFunc(hits, func(h chat.SearchHit) bool {
		for _, w := range strings.Fields(q.Text) {
			if !strings.Contains(h.Message.Text, w) {
				return true
			}
		}
		return false
	}), err
}

// searchSubstring matches words anywhere inside words, as LIKE '%w%'.
type searchSubstring struct{ *memory.Store }

func (s searchSubstring) Search(ctx context.Context, q chat.SearchQuery) ([]chat.SearchHit, error) {
	if _, err := s.Store.Search(ctx, q); err != nil {
		return nil, err
	}
	words := strings.FieldsFunc(strings.ToLower(q.Text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	var hits []chat.SearchHit
	for _, c := range allConvs(ctx, s.Store, chat.ConversationFilter{VisitorID: q.VisitorID}) {
		ms, _ := s.Store.Messages(ctx, chat.MessageQuery{ConversationID: c.ID})
		for _, m := range ms {
			if q.VisitorID != "" && !m.Kind.VisibleToVisitor() {
				continue
			}
			if !slices.ContainsFunc(words, func(w string) bool { return !strings.Contains(strings.ToLower(m.Text), w) }) {
				hits = append(hits, chat.SearchHit{Message: m, Snippet: m.Text, Rank: 1})
			}
		}
	}
	return hits[:min(len(hits), cmpOr(q.Limit, 20))], nil
}

// searchSyntaxError passes query syntax to the engine, which refuses it
// with its own error.
type searchSyntaxError struct{ *memory.Store }

func (s searchSyntaxError) Search(ctx context.Context, q chat.SearchQuery) ([]chat.SearchHit, error) {
	if strings.ContainsAny(q.Text, `"():*'-^`) {
		return nil, fmt.Errorf("fts5: syntax error near %q", q.Text)
	}
	return s.Store.Search(ctx, q)
}

// searchNoLengthLimit truncates a long query instead of refusing it.
type searchNoLengthLimit struct{ *memory.Store }

func (s searchNoLengthLimit) Search(ctx context.Context, q chat.SearchQuery) ([]chat.SearchHit, error) {
	if len(q.Text) > 256 && utf8.ValidString(q.Text) {
		n := 256
		for !utf8.RuneStart(q.Text[n]) {
			n--
		}
		q.Text = q.Text[:n]
	}
	return s.Store.Search(ctx, q)
}

// searchIgnoresLimit returns up to 100 hits whatever the limit.
type searchIgnoresLimit struct{ *memory.Store }

func (s searchIgnoresLimit) Search(ctx context.Context, q chat.SearchQuery) ([]chat.SearchHit, error) {
	q.Limit = 100
	return s.Store.Search(ctx, q)
}

// searchUnranked returns the worst hits first.
type searchUnranked struct{ *memory.Store }

func (s searchUnranked) Search(ctx context.Context, q chat.SearchQuery) ([]chat.SearchHit, error) {
	hits, err := s.Store.Search(ctx, q)
	slices.Reverse(hits)
	return hits, err
}

// searchWholeSnippet returns the whole message as its snippet.
type searchWholeSnippet struct{ *memory.Store }

func (s searchWholeSnippet) Search(ctx context.Context, q chat.SearchQuery) ([]chat.SearchHit, error) {
	hits, err := s.Store.Search(ctx, q)
	for i := range hits {
		hits[i].Snippet = hits[i].Message.Text
	}
	return hits, err
}

// Tracking.

// orderAlwaysCreated reports every PutOrder as creating the order, so a
// repeat would be counted twice.
type orderAlwaysCreated struct{ *memory.Store }

func (s orderAlwaysCreated) PutOrder(ctx context.Context, o *chat.Order) (*chat.Order, bool, error) {
	stored, _, err := s.Store.PutOrder(ctx, o)
	return stored, err == nil, err
}

// pageViewsOldestFirst returns the oldest views first (and so the oldest
// under a limit).
type pageViewsOldestFirst struct{ *memory.Store }

func (s pageViewsOldestFirst) PageViews(ctx context.Context, visitorID string, limit int) ([]chat.PageView, error) {
	vs, err := s.Store.PageViews(ctx, visitorID, 1<<20)
	slices.Reverse(vs)
	if limit <= 0 {
		limit = 50
	}
	return vs[:min(limit, len(vs))], err
}

// activitiesToInclusive treats ActivityQuery.To as inclusive.
type activitiesToInclusive struct{ *memory.Store }

func (s activitiesToInclusive) Activities(ctx context.Context, q chat.ActivityQuery) ([]chat.Activity, error) {
	if !q.To.IsZero() {
		q.To = q.To.Add(time.Nanosecond)
	}
	return s.Store.Activities(ctx, q)
}

// deleteKeepsActivities erases a visitor but not their activities.
type deleteKeepsActivities struct{ *memory.Store }

func (s deleteKeepsActivities) DeleteVisitor(ctx context.Context, id string) error {
	as, err := s.Store.Activities(ctx, chat.ActivityQuery{VisitorID: id, Limit: 10000}) // a store sees limits filled in
	if err != nil {
		return err
	}
	if err := s.Store.DeleteVisitor(ctx, id); err != nil {
		return err
	}
	return s.Store.AddActivities(ctx, as)
}

// cannedShortcutGlobal makes a shortcut unique across owners, so the team
// and an operator cannot both have "/shipping".
type cannedShortcutGlobal struct {
	*memory.Store
	mu    sync.Mutex
	owner map[string]string // shortcut -> response id
}

func (s *cannedShortcutGlobal) PutCanned(ctx context.Context, c *chat.CannedResponse) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.owner[c.Shortcut]; ok && id != c.ID {
		return fmt.Errorf("shortcut %q taken by %s: %w", c.Shortcut, id, chat.ErrConflict)
	}
	if err := s.Store.PutCanned(ctx, c); err != nil {
		return err
	}
	s.owner[c.Shortcut] = c.ID
	return nil
}

// ignoresSince lists conversations created before ConversationFilter.Since.
type ignoresSince struct{ *memory.Store }

func (s ignoresSince) Conversations(ctx context.Context, f chat.ConversationFilter) ([]*chat.Conversation, error) {
	f.Since = time.Time{}
	return s.Store.Conversations(ctx, f)
}

// pageViewVisitorsToInclusive counts a view at to as in the range.
type pageViewVisitorsToInclusive struct{ *memory.Store }

func (s pageViewVisitorsToInclusive) PageViewVisitors(ctx context.Context, from, to time.Time) ([]string, error) {
	return s.Store.PageViewVisitors(ctx, from, to.Add(time.Nanosecond))
}

// pageViewVisitorsUnsorted returns the ids descending.
type pageViewVisitorsUnsorted struct{ *memory.Store }

func (s pageViewVisitorsUnsorted) PageViewVisitors(ctx context.Context, from, to time.Time) ([]string, error) {
	ids, err := s.Store.PageViewVisitors(ctx, from, to)
	slices.Reverse(ids)
	return ids, err
}

// pageViewVisitorsPerView returns a visitor's id once per page view of
// theirs (any time), as a SELECT without DISTINCT would.
type pageViewVisitorsPerView struct{ *memory.Store }

func (s pageViewVisitorsPerView) PageViewVisitors(ctx context.Context, from, to time.Time) ([]string, error) {
	ids, err := s.Store.PageViewVisitors(ctx, from, to)
	var out []string
	for _, id := range ids {
		vs, _ := s.Store.PageViews(ctx, id, 50)
		for range vs {
			out = append(out, id)
		}
	}
	return out, err
}

// pageViewVisitorsNil returns nil, not an empty list, when none.
type pageViewVisitorsNil struct{ *memory.Store }

func (s pageViewVisitorsNil) PageViewVisitors(ctx context.Context, from, to time.Time) ([]string, error) {
	ids, err := s.Store.PageViewVisitors(ctx, from, to)
	if len(ids) == 0 {
		return nil, err
	}
	return ids, err
}

// pageViewVisitorsReversed swaps the bounds of a reversed range instead of
// refusing it.
type pageViewVisitorsReversed struct{ *memory.Store }

func (s pageViewVisitorsReversed) PageViewVisitors(ctx context.Context, from, to time.Time) ([]string, error) {
	if to.Before(from) {
		from, to = to, from
	}
	return s.Store.PageViewVisitors(ctx, from, to)
}

// pageViewVisitorsKeepsErased still lists the visitors erased after a page
// view.
type pageViewVisitorsKeepsErased struct {
	*memory.Store
	erased map[string]bool
}

func (s *pageViewVisitorsKeepsErased) DeleteVisitor(ctx context.Context, id string) error {
	if vs, _ := s.Store.PageViews(ctx, id, 1); len(vs) > 0 {
		s.erased[id] = true
	}
	return s.Store.DeleteVisitor(ctx, id)
}

func (s *pageViewVisitorsKeepsErased) PageViewVisitors(ctx context.Context, from, to time.Time) ([]string, error) {
	ids, err := s.Store.PageViewVisitors(ctx, from, to)
	for id := range s.erased {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, err
}

// claimAlways grants every valid claim, as a check-then-write that lost
// every race would.
type claimAlways struct{ *memory.Store }

func (s claimAlways) Claim(ctx context.Context, key string, now, expires time.Time) (bool, error) {
	if _, err := s.Store.Claim(ctx, key, now, expires); err != nil {
		return false, err
	}
	return true, nil
}
