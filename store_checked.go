package chat

import (
	"fmt"
	"slices"
)

// Checked returns s behind the checking layer New puts in front of every
// configured store: it rejects malformed input with ErrInvalid (empty ids,
// undefined message kinds and presences, bad claim keys and search texts,
// nil values), fills limit defaults (a ConversationFilter.Limit of 0
// becomes 50, and so on) and then calls s, so a store implements storage,
// not policy. The role docs mark what it checks with "(Checked: …)".
// store/storetest runs every store through it.
//
// The result implements every role interface, whatever s provides: a call
// into a role s lacks returns a *MissingRoleError. Ask StoreCapabilities
// which roles s provides, not a type assertion on the result. Checked of a
// checked store returns it unchanged.
func Checked(s Store) Store {
	if c, ok := s.(*checked); ok {
		return c
	}
	return newChecked(s)
}

// checked is the checking layer: the configured store (the core), the
// optional roles New found on it or stood in for, and the capability table
// as it applies to this store.
type checked struct {
	Store // the configured store: the required core

	tracking         TrackingStore
	orders           OrderStore
	canned           CannedStore
	triggers         TriggerStore
	claims           ClaimStore
	search           Searcher
	pageViewVisitors PageViewVisitors
	assigned         AssignedAppender
	batch            BatchAppender
	events           EventLog
	labels           Labeler
	attachments      AttachmentStore

	standIns []standIn    // stand-ins in use
	caps     []Capability // one per storeRoles row, in its order
}

// newChecked finds every role on s. Given a checked store it returns a
// copy, which adopt may change without touching the original.
func newChecked(s Store) *checked {
	if c, ok := s.(*checked); ok {
		cp := *c
		cp.standIns = slices.Clone(c.standIns)
		cp.caps = slices.Clone(c.caps)
		return &cp
	}
	c := &checked{Store: s, caps: make([]Capability, len(storeRoles))}
	for i, r := range storeRoles {
		st := RoleNotProvided
		if r.required || r.find(c, s) {
			st = RoleProvided
		}
		c.caps[i] = Capability{Role: r.Role, Interface: r.Interface, Required: r.required, Direct: r.direct, Status: st}
		if st != RoleProvided {
			c.caps[i].Without = r.without
		}
	}
	return c
}

// Unwrap returns the configured store.
func (c *checked) Unwrap() Store { return c.Store }

// missing is the error of a call into a role the store does not provide.
func (c *checked) missing(role string) error {
	for _, r := range storeRoles {
		if r.Role == role {
			return &MissingRoleError{Role: role, Interface: r.Interface, Why: r.without}
		}
	}
	return &MissingRoleError{Role: role}
}

// searcher returns the search role if the Server has it.
func (c *checked) searcher() (Searcher, bool) { return c, c.search != nil }

// pageViewVisitorsRole returns the page-view-visitors role if the Server
// has it.
func (c *checked) pageViewVisitorsRole() (PageViewVisitors, bool) {
	return c, c.pageViewVisitors != nil
}

// assignedAppender returns the assigned-append role if the Server has it.
func (c *checked) assignedAppender() (AssignedAppender, bool) { return c, c.assigned != nil }

// batchAppender returns the batch-append role if the Server has it.
func (c *checked) batchAppender() (BatchAppender, bool) { return c, c.batch != nil }

// storeInvalid is Checked's error for malformed input.
func storeInvalid(format string, args ...any) error {
	return fmt.Errorf("chat: store: %s: %w", fmt.Sprintf(format, args...), ErrInvalid)
}

// storeErr is Checked's error for a call it answers itself.
func storeErr(what string, sentinel error) error {
	return fmt.Errorf("chat: store: %s: %w", what, sentinel)
}

// limitOr is limit, or def when limit is 0 or less.
func limitOr(limit, def int) int {
	if limit <= 0 {
		return def
	}
	return limit
}
