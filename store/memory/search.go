package memory

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/shopchat/chat"
)

// Snippet shape.
const (
	snippetBytes = 200 // longest Snippet, ellipses included
	snippetLead  = 60  // bytes of context kept before the match
	ellipsis     = "…"
)

// word is one word of a text: text[start:end], and its lower-case form.
type word struct {
	start, end int
	lower      string
}

// words splits text into runs of Unicode letters and digits (marks count
// as part of a word, so decomposed accents do not split one). Everything
// else, query-language syntax included, only separates words.
func words(text string) []word {
	var out []word
	start := -1
	for i, r := range text {
		in := unicode.IsLetter(r) || unicode.IsDigit(r) || (start >= 0 && unicode.IsMark(r))
		switch {
		case in && start < 0:
			start = i
		case !in && start >= 0:
			out = append(out, word{start, i, strings.ToLower(text[start:i])})
			start = -1
		}
	}
	if start >= 0 {
		out = append(out, word{start, len(text), strings.ToLower(text[start:])})
	}
	return out
}

// Search implements chat.Searcher with a scan of every message. A message
// matches if every query word is a case-insensitive prefix of one of its
// words; its rank is how many of its words some query word prefixes. Ties
// go to the newest message.
func (s *Store) Search(_ context.Context, q chat.SearchQuery) ([]chat.SearchHit, error) {
	var terms []string
	for _, w := range words(q.Text) {
		if !slices.Contains(terms, w.lower) {
			terms = append(terms, w.lower)
		}
	}
	if len(terms) == 0 {
		return []chat.SearchHit{}, nil
	}

	type match struct {
		m     chat.Message
		rank  int
		first int // byte offset of the first matching word in m.Text
	}
	var found []match
	s.mu.Lock()
	for _, c := range s.convs {
		if q.VisitorID != "" && c.c.VisitorID != q.VisitorID {
			continue
		}
		for _, m := range c.msgs {
			if q.VisitorID != "" && !m.Kind.VisibleToVisitor() {
				continue
			}
			if rank, first, ok := matchWords(words(m.Text), terms); ok {
				found = append(found, match{m, rank, first})
			}
		}
	}
	s.mu.Unlock()

	slices.SortFunc(found, func(a, b match) int {
		if c := cmp.Compare(b.rank, a.rank); c != 0 {
			return c
		}
		if c := b.m.CreatedAt.Compare(a.m.CreatedAt); c != 0 {
			return c
		}
		if c := cmp.Compare(b.m.ConversationID, a.m.ConversationID); c != 0 {
			return c
		}
		return cmp.Compare(b.m.Seq, a.m.Seq)
	})
	found = found[:min(len(found), q.Limit)]
	hits := make([]chat.SearchHit, len(found))
	for i, f := range found {
		m := f.m
		hits[i] = chat.SearchHit{Message: &m, Snippet: snippet(m.Text, f.first), Rank: float64(f.rank)}
	}
	return hits, nil
}

// matchWords reports whether every term prefixes some word of ws, how many
// words some term prefixes, and where the first of those starts.
func matchWords(ws []word, terms []string) (rank, first int, ok bool) {
	seen := make([]bool, len(terms))
	first = -1
	for _, w := range ws {
		hit := false
		for i, t := range terms {
			if strings.HasPrefix(w.lower, t) {
				seen[i], hit = true, true
			}
		}
		if hit {
			rank++
			if first < 0 {
				first = w.start
			}
		}
	}
	for _, ok := range seen {
		if !ok {
			return 0, 0, false
		}
	}
	return rank, first, true
}

// snippet returns at most snippetBytes of text around byte offset at, cut
// on rune boundaries, with an ellipsis where text was cut.
func snippet(text string, at int) string {
	if len(text) <= snippetBytes {
		return text
	}
	start := max(0, at-snippetLead)
	if room := snippetBytes - len(ellipsis); len(text)-start < room {
		start = len(text) - room // end at the end of text
	}
	for start > 0 && !utf8.RuneStart(text[start]) {
		start++
	}
	prefix := ""
	if start > 0 {
		prefix = ellipsis
	}
	end := start + snippetBytes - len(prefix)
	suffix := ""
	if end < len(text) {
		suffix = ellipsis
		end -= len(suffix)
	} else {
		end = len(text)
	}
	for end < len(text) && !utf8.RuneStart(text[end]) {
		end--
	}
	return prefix + strings.TrimSpace(text[start:end]) + suffix
}
