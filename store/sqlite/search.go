package sqlite

import (
	"context"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/shopchat/chat"
)

// maxSnippetBytes is the longest SearchHit.Snippet.
const maxSnippetBytes = 200

// Search implements chat.Searcher with the FTS5 index on message text,
// ranked by bm25. The text is split into words here and each becomes a
// quoted FTS5 string with a prefix star ("word"*), joined by spaces
// (AND); the expression is bound as a parameter. No character of q.Text
// is ever read by SQLite as query syntax.
func (s *Store) Search(ctx context.Context, q chat.SearchQuery) ([]chat.SearchHit, error) {
	if err := s.ready(); err != nil {
		return nil, err
	}
	match := matchExpr(q.Text)
	if match == "" {
		return []chat.SearchHit{}, nil
	}
	limit := q.Limit

	var args []any
	st := s.r.search
	if q.VisitorID != "" {
		st = s.r.searchVisitor
		args = []any{match, q.VisitorID, limit}
	} else {
		args = []any{match, limit}
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, dbErr("search", err)
	}
	defer rows.Close()
	hits := []chat.SearchHit{}
	for rows.Next() {
		var snippet string
		var bm25 float64
		m, err := scanMessage(rows, &snippet, &bm25)
		if err != nil {
			return nil, dbErr("search", err)
		}
		hits = append(hits, chat.SearchHit{Message: m, Snippet: trimSnippet(snippet), Rank: -bm25})
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr("search", err)
	}
	return hits, nil
}

// isWordRune reports whether r belongs to a word: letters, marks, numbers
// and private-use characters. It is a superset of what FTS5's unicode61
// tokenizer keeps by default ("L* N* Co"), so no FTS5 token ever spans two
// of our words; every other character (space, punctuation, symbols, FTS5
// syntax such as " * ^ : ( ) + -) separates words.
func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsMark(r) || unicode.Is(unicode.Co, r)
}

// words splits text into its words.
func words(text string) []string {
	return strings.FieldsFunc(text, func(r rune) bool { return !isWordRune(r) })
}

// queryWords returns the words of a query that matter: a word that is a
// prefix of another (case-insensitively), or repeats one, adds nothing to
// "every word as a word prefix" and is left out. Besides being shorter,
// this keeps FTS5 from evaluating the same prefix many times over, which
// grows quadratically ("a a a ..." within 256 bytes would take seconds).
func queryWords(text string) []string {
	ws := words(text)
	lower := make([]string, len(ws))
	for i, w := range ws {
		lower[i] = strings.ToLower(w)
	}
	keep := ws[:0:0]
outer:
	for i, w := range ws {
		for j := range ws {
			if j != i && strings.HasPrefix(lower[j], lower[i]) && (len(lower[j]) > len(lower[i]) || j < i) {
				continue outer // covered by a longer word, or a repeat of an earlier one
			}
		}
		keep = append(keep, w)
	}
	return keep
}

// matchExpr returns the FTS5 expression for text: every word that matters
// as a quoted prefix string, "w1"* "w2"*, or "" if text has no word. A
// word cannot contain a double quote, but it is escaped (doubled) all the
// same.
func matchExpr(text string) string {
	ws := queryWords(text)
	if len(ws) == 0 {
		return ""
	}
	var b strings.Builder
	for i, w := range ws {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteByte('"')
		b.WriteString(strings.ReplaceAll(w, `"`, `""`))
		b.WriteString(`"*`)
	}
	return b.String()
}

// trimSnippet caps a snippet at maxSnippetBytes, cutting at a rune
// boundary and marking the cut.
func trimSnippet(s string) string {
	if len(s) <= maxSnippetBytes {
		return s
	}
	cut := maxSnippetBytes - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.TrimRightFunc(s[:cut], unicode.IsSpace) + ellipsis
}
