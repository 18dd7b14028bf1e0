package chat

import "strings"

// sharedText keeps one copy of the short texts that many visits repeat (a
// page's URL and title, a device, a currency, a referrer), so that each of
// the thousands of visits a node lists, its own and other nodes', points
// at that copy instead of holding its own: they are decoded afresh from
// every page frame and announcement. At five nodes, other nodes' visits
// are most of a node's per-visitor heap after the connections.
//
// Bounded: a text longer than maxSharedLen is kept as given, and the table
// starts over once it holds maxSharedBytes, so pages with ever-new titles
// cost at most that. Not safe for concurrent use: tracker.mu guards it.
type sharedText struct {
	texts map[string]string
	bytes int // held by texts, counting each entry's overhead
}

const (
	maxSharedLen   = 256
	maxSharedBytes = 1 << 20
	sharedEntry    = 48 // a map entry and a string header, roughly
)

// get returns the table's copy of s, adding s if it has none.
func (st *sharedText) get(s string) string {
	if s == "" || len(s) > maxSharedLen {
		return s
	}
	if c, ok := st.texts[s]; ok {
		return c
	}
	if st.texts == nil || st.bytes >= maxSharedBytes {
		st.texts, st.bytes = make(map[string]string), 0
	}
	s = strings.Clone(s) // a substring would hold its whole source here
	st.texts[s] = s
	st.bytes += len(s) + sharedEntry
	return s
}
