package chat

import (
	"context"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Searcher is the search role of Store (optional): full-text search over
// message text, the team's knowledge base. store/memory scans;
// store/sqlite uses FTS5; store/postgres uses its full-text search.
// Without it the Server offers no search (Server.Search returns
// ErrUnsupported).
type Searcher interface {
	// Search returns the best matching messages, best first. Every word of
	// q.Text must match (case-insensitively, as a word or word prefix).
	// Query-language syntax in q.Text (quotes, operators, column filters)
	// has no special meaning and never reaches the database as syntax.
	// (Checked: q.Text is UTF-8, at most MaxSearchText bytes and has a
	// word, a letter or digit; q.Limit is 1 to 100.)
	Search(ctx context.Context, q SearchQuery) ([]SearchHit, error)
}

// MaxSearchText is the longest SearchQuery.Text, in bytes.
const MaxSearchText = 256

// Search limits: SearchQuery.Limit 0 means defaultSearchLimit, and
// maxSearchLimit caps it.
const (
	defaultSearchLimit = 20
	maxSearchLimit     = 100
)

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

func (c *checked) Search(ctx context.Context, q SearchQuery) ([]SearchHit, error) {
	switch {
	case !utf8.ValidString(q.Text):
		return nil, storeInvalid("search text is not UTF-8")
	case len(q.Text) > MaxSearchText:
		return nil, storeInvalid("search text is %d bytes, more than %d", len(q.Text), MaxSearchText)
	case strings.IndexFunc(q.Text, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) < 0:
		return nil, storeInvalid("search text %q has no word", q.Text)
	}
	if c.search == nil {
		return nil, c.missing("search")
	}
	q.Limit = min(limitOr(q.Limit, defaultSearchLimit), maxSearchLimit)
	return c.search.Search(ctx, q)
}
