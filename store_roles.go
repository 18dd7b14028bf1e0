package chat

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// storeRoles is the one table of the Store's roles: the required core and
// the optional roles New looks for on the configured store (through
// StoreAs, so a wrapper with Unwrap keeps them), with what the Server does
// without each. A new optional role is a file store_<role>.go holding its
// interface, its Checked methods and any stand-in, a field in checked and
// a row here; Server.Capabilities and storetest pick it up from the table.
var storeRoles = []storeRole{
	{Role: "visitors", Interface: "chat.VisitorStore", required: true},
	{Role: "operators", Interface: "chat.OperatorStore", required: true},
	{Role: "conversations", Interface: "chat.ConversationStore", required: true},
	{Role: "messages", Interface: "chat.MessageStore", required: true},
	{
		Role: "tracking", Interface: "chat.TrackingStore", shared: true,
		find: findRole(func(c *checked) *TrackingStore { return &c.tracking }),
		standIn: func(c *checked) standIn {
			t := &trackingStandIn{core: c.Store}
			c.tracking = t
			return t
		},
		without: "page views and activities are kept in this process only, the latest 100,000 of each",
	},
	{
		Role: "orders", Interface: "chat.OrderStore", shared: true,
		find: findRole(func(c *checked) *OrderStore { return &c.orders }),
		standIn: func(c *checked) standIn {
			o := &ordersStandIn{}
			c.orders = o
			return o
		},
		without: "orders are kept in this process only, the latest 100,000",
	},
	{
		Role: "canned", Interface: "chat.CannedStore", shared: true,
		find: findRole(func(c *checked) *CannedStore { return &c.canned }),
		standIn: func(c *checked) standIn {
			r := &cannedStandIn{canned: map[string]*CannedResponse{}}
			c.canned = r
			return r
		},
		without: "canned responses are kept in this process only; operators' edits are lost on restart",
	},
	{
		Role: "triggers", Interface: "chat.TriggerStore", shared: true,
		find: findRole(func(c *checked) *TriggerStore { return &c.triggers }),
		standIn: func(c *checked) standIn {
			t := &triggersStandIn{triggers: map[string]*Trigger{}}
			c.triggers = t
			return t
		},
		without: "triggers are kept in this process only; console edits are lost on restart",
	},
	{
		Role: "claims", Interface: "chat.ClaimStore", shared: true,
		find: findRole(func(c *checked) *ClaimStore { return &c.claims }),
		standIn: func(c *checked) standIn {
			cl := &claimsStandIn{claims: map[string]time.Time{}}
			c.claims = cl
			return cl
		},
		without: "claims are taken in this process only, which is every node of a single-node shop",
	},
	{
		Role: "search", Interface: "chat.Searcher",
		find:    findRole(func(c *checked) *Searcher { return &c.search }),
		without: "no full-text search: Server.Search returns ErrUnsupported",
	},
	{
		Role: "page-view-visitors", Interface: "chat.PageViewVisitors",
		find:    findRole(func(c *checked) *PageViewVisitors { return &c.pageViewVisitors }),
		without: "reports count only visitors who chatted, not those who only browsed",
	},
	{
		Role: "events", Interface: "chat.EventLog",
		find:    findRole(func(c *checked) *EventLog { return &c.events }),
		without: "no event log: Server.Events and FollowEvents return ErrUnsupported; Subscribe still works",
	},
	{
		Role: "labels", Interface: "chat.Labeler",
		find:    findRole(func(c *checked) *Labeler { return &c.labels }),
		without: "no visitor labels: SetVisitorLabels and VisitorLabels return ErrUnsupported",
	},
	{
		Role: "attachments", Interface: "chat.AttachmentStore",
		find:    findRole(func(c *checked) *AttachmentStore { return &c.attachments }),
		without: "no attachments: Config.Attachments needs this role, and New refuses it without",
	},
	{
		Role: "assigned-append", Interface: "chat.AssignedAppender", direct: true,
		find:    findDirect(func(c *checked) *AssignedAppender { return &c.assigned }),
		without: "an operator's message costs a read before the append",
	},
	{
		Role: "batch-append", Interface: "chat.BatchAppender", direct: true,
		find:    findDirect(func(c *checked) *BatchAppender { return &c.batch }),
		without: "a session's pipelined messages are appended one after another, a store call each",
	},
}

// storeRole is a row of storeRoles.
type storeRole struct {
	Role, Interface string
	required        bool // part of Store; find is nil
	// direct: found only on the configured store, never through Unwrap.
	direct bool
	// find looks the role up on s and, if s provides it, sets it on c.
	find func(c *checked, s Store) bool
	// standIn installs the in-process stand-in New uses on a single node;
	// nil: the Server does without.
	standIn func(c *checked) standIn
	// shared: nodes must share the role through the Store, so New refuses
	// a Broker without it.
	shared bool
	// without says what the Server does without the role.
	without string
}

// standIn is an in-process stand-in for a role; Checked tells it of the
// core's erasures, which the store cannot know of.
type standIn interface {
	eraseVisitor(id string)
	purge(cutoff time.Time) // PurgeClosed's cutoff
}

// findRole finds the role T through StoreAs.
func findRole[T any](field func(*checked) *T) func(*checked, Store) bool {
	return func(c *checked, s Store) bool {
		v, ok := StoreAs[T](s)
		if ok {
			*field(c) = v
		}
		return ok
	}
}

// findDirect finds the role T on s itself.
func findDirect[T any](field func(*checked) *T) func(*checked, Store) bool {
	return func(c *checked, s Store) bool {
		v, ok := s.(T)
		if ok {
			*field(c) = v
		}
		return ok
	}
}

// RoleStatus says whether a Server has a Store role.
type RoleStatus string

// Role statuses.
const (
	RoleProvided    RoleStatus = "provided"     // the configured store provides it
	RoleStandIn     RoleStatus = "stand-in"     // an in-process stand-in serves it
	RoleNotProvided RoleStatus = "not provided" // the Server does without
)

// Capability is one Store role and whether a store or Server has it.
type Capability struct {
	Role      string // "tracking"
	Interface string // "chat.TrackingStore"
	Required  bool   // part of Store
	// Direct: found only on the configured store itself, never through
	// Unwrap (AssignedAppender), so a wrapper does not keep it.
	Direct bool
	Status RoleStatus
	// Without says what the Server does without the role (set unless
	// Status is RoleProvided).
	Without string
}

// Capabilities reports every Store role, as New found them on the
// configured store: provided, served by a stand-in, or not provided.
func (s *Server) Capabilities() []Capability { return slices.Clone(s.store.caps) }

// StoreCapabilities reports which roles s provides, found as New finds
// them (through StoreAs); a role it lacks is RoleNotProvided. For a store
// returned by Checked it reports the store Checked wraps.
func StoreCapabilities(s Store) []Capability { return slices.Clone(newChecked(s).caps) }

// MissingRoleError is New's error for a store that lacks a role the
// configuration needs, and the error of a call into a role the store does
// not provide. It wraps ErrUnsupported.
type MissingRoleError struct {
	Role      string // "claims"
	Interface string // "chat.ClaimStore"
	Why       string
}

func (e *MissingRoleError) Error() string {
	return fmt.Sprintf("chat: the store does not provide the %s role (%s): %s", e.Role, e.Interface, e.Why)
}

func (e *MissingRoleError) Unwrap() error { return ErrUnsupported }

// adopt decides, for every optional role the store lacks, between a
// stand-in and doing without; with a Broker it refuses a store lacking a
// role the nodes must share. It logs the outcome.
func (c *checked) adopt(broker bool, log *slog.Logger) error {
	byStatus := map[RoleStatus][]string{}
	for i, r := range storeRoles {
		cp := &c.caps[i]
		switch {
		case cp.Status == RoleProvided:
		case r.shared && broker:
			return &MissingRoleError{Role: r.Role, Interface: r.Interface,
				Why: "with a Broker every node must share it through the Store; implement it (or Unwrap to a store that does)"}
		case r.standIn != nil:
			c.standIns = append(c.standIns, r.standIn(c))
			cp.Status = RoleStandIn
			log.Warn("chat: the store lacks a role; using an in-process stand-in", "role", r.Role, "interface", r.Interface, "effect", r.without)
		}
		byStatus[cp.Status] = append(byStatus[cp.Status], r.Role)
	}
	log.Info("chat: store roles", "provided", strings.Join(byStatus[RoleProvided], ","),
		"stand-in", strings.Join(byStatus[RoleStandIn], ","), "not provided", strings.Join(byStatus[RoleNotProvided], ","))
	return nil
}
