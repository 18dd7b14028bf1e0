package postgres

import (
	"context"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/shopchat/chat"
)

// Full-text search.
//
// Words are split by the Go code, not by PostgreSQL's parser: a word is a
// run of letters and digits (see wordSpans), lower-cased. The parser would keep "alice@example.com",
// "shop.example/x" or "1.2.3" whole, so a search for "example" would miss
// them; the store instead indexes to_tsvector('simple', <the words joined by
// spaces>), and a query is the same words, each as a prefix ('word':*),
// joined with &. Query words contain no tsquery syntax (no quotes,
// operators or colons), so user text can never make to_tsquery fail.

// maxSnippetBytes is the longest SearchHit.Snippet.
const maxSnippetBytes = 200

// wordSpan is a word of a text: its byte offsets and its lower-cased form.
type wordSpan struct {
	start, end int
	lower      string
}

// wordSpans splits s into words: runs of Unicode letters and digits, with
// combining marks inside a word kept in it (so a decomposed accent does not
// split one). It is the rule store/memory uses.
func wordSpans(s string) []wordSpan {
	var out []wordSpan
	start := -1
	for i, r := range s {
		in := unicode.IsLetter(r) || unicode.IsDigit(r) || (start >= 0 && unicode.IsMark(r))
		switch {
		case in && start < 0:
			start = i
		case !in && start >= 0:
			out = append(out, wordSpan{start, i, strings.ToLower(s[start:i])})
			start = -1
		}
	}
	if start >= 0 {
		out = append(out, wordSpan{start, len(s), strings.ToLower(s[start:])})
	}
	return out
}

func words(s string) []string {
	spans := wordSpans(s)
	out := make([]string, len(spans))
	for i, w := range spans {
		out[i] = w.lower
	}
	return out
}

// searchText is what a message's tsvector is built from: its words,
// separated by spaces.
func searchText(text string) string {
	return strings.Join(words(text), " ")
}

// tsQuery returns the to_tsquery text for the query words: each quoted as
// a prefix, joined with &.
func tsQuery(ws []string) string {
	var b strings.Builder
	for i, w := range ws {
		if i > 0 {
			b.WriteString(" & ")
		}
		// Words hold only letters, digits and marks; quoting (with the
		// escapes tsquery would need) is defence in depth.
		b.WriteByte('\'')
		b.WriteString(strings.NewReplacer(`'`, `''`, `\`, `\\`).Replace(w))
		b.WriteString("':*")
	}
	return b.String()
}

// Search implements chat.Searcher with PostgreSQL full-text search: a GIN
// index over each message's tsvector, ranked with ts_rank.
func (s *Store) Search(ctx context.Context, q chat.SearchQuery) ([]chat.SearchHit, error) {
	ws := words(q.Text)
	if len(ws) == 0 {
		return []chat.SearchHit{}, nil
	}
	limit := q.Limit
	if !storable(q.VisitorID) {
		return []chat.SearchHit{}, nil
	}
	sql := `SELECT ` + prefixed("m.", msgCols) + `, ts_rank(m.search, to_tsquery('simple', $1))::float8 AS rank
		FROM chat_messages m
		WHERE m.search @@ to_tsquery('simple', $1)
		ORDER BY rank DESC, m.created_at DESC, m.conversation_id, m.seq
		LIMIT $2`
	args := []any{tsQuery(ws), limit}
	if q.VisitorID != "" {
		// What the visitor may see: their conversations, without notes.
		sql = `SELECT ` + prefixed("m.", msgCols) + `, ts_rank(m.search, to_tsquery('simple', $1))::float8 AS rank
		FROM chat_messages m
		JOIN chat_conversations c ON c.id = m.conversation_id AND c.visitor_id = $3
		WHERE m.search @@ to_tsquery('simple', $1) AND m.kind <> 'note'
		ORDER BY rank DESC, m.created_at DESC, m.conversation_id, m.seq
		LIMIT $2`
		args = append(args, q.VisitorID)
	}
	var hits []chat.SearchHit
	err := s.read(ctx, "search", func() error {
		rows, err := s.pool.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		hits, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (chat.SearchHit, error) {
			var h chat.SearchHit
			m, err := scanMessage(row, &h.Rank)
			if err != nil {
				return h, err
			}
			h.Message = m
			h.Snippet = snippet(m.Text, ws)
			return h, nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	if hits == nil {
		hits = []chat.SearchHit{}
	}
	return hits, nil
}

// prefixed qualifies each column of a comma-separated list.
func prefixed(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// snippet returns plain text of at most maxSnippetBytes around the first
// word of text that starts with one of the query words, with "…" where it
// cuts the text.
func snippet(text string, query []string) string {
	if len(text) <= maxSnippetBytes {
		return text
	}
	const ellipsis = "…"
	budget := maxSnippetBytes - 2*len(ellipsis)
	match := 0
find:
	for _, w := range wordSpans(text) {
		for _, q := range query {
			if strings.HasPrefix(w.lower, q) {
				match = w.start
				break find
			}
		}
	}
	// Start a little before the match, at a word boundary if one is near.
	start := max(0, match-budget/4)
	if start > 0 {
		if i := strings.IndexFunc(text[start:match], unicode.IsSpace); i >= 0 {
			start += i + 1
		} else {
			start = match
		}
	}
	end := min(len(text), start+budget)
	if end == len(text) { // room to spare: show more before the match
		start = max(0, end-budget)
	}
	for start > 0 && !utf8.RuneStart(text[start]) {
		start++
	}
	for end < len(text) && !utf8.RuneStart(text[end]) {
		end--
	}
	out := strings.TrimSpace(text[start:end])
	if start > 0 {
		out = ellipsis + out
	}
	if end < len(text) {
		out += ellipsis
	}
	return out
}
