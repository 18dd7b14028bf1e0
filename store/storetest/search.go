package storetest

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopchat/chat"
)

// maxSnippet is the longest Snippet the suite accepts: the contract says
// "at most about 200 bytes", so this leaves room for ellipses and for
// stores that count tokens rather than bytes.
const maxSnippet = 300

// searcher returns s as a chat.Searcher (the Search cases run only for
// a store with the search role).
func searcher(_ testing.TB, s store) chat.Searcher { return s }

// search runs q, requires success and checks what holds for every result:
// at most the limit, Message and Snippet well-formed, best Rank first.
func search(t testing.TB, sr chat.Searcher, q chat.SearchQuery) []chat.SearchHit {
	t.Helper()
	hits, err := sr.Search(ctx, q)
	require.NoError(t, err, "Search(%+v)", q)
	checkHits(t, q, hits)
	return hits
}

func checkHits(t testing.TB, q chat.SearchQuery, hits []chat.SearchHit) {
	t.Helper()
	limit := q.Limit
	if limit <= 0 {
		limit = 20
	}
	assert.LessOrEqual(t, len(hits), min(limit, 100), "Search(%q) hits beyond the limit", q.Text)
	seen := map[string]bool{}
	for i, h := range hits {
		if !assert.NotNil(t, h.Message, "Search(%q) hit #%d: Message", q.Text, i) {
			continue
		}
		key := h.Message.ConversationID + "\x00" + h.Message.ID
		assert.False(t, seen[key], "Search(%q) returned message %q twice", q.Text, h.Message.ID)
		seen[key] = true
		assert.True(t, utf8.ValidString(h.Snippet), "Search(%q) hit #%d: Snippet %q is not UTF-8", q.Text, i, h.Snippet)
		assert.LessOrEqual(t, len(h.Snippet), maxSnippet, "Search(%q) hit #%d: Snippet longer than about 200 bytes", q.Text, i)
		if i > 0 {
			assert.GreaterOrEqual(t, hits[i-1].Rank, h.Rank, "Search(%q): hit #%d ranks above hit #%d", q.Text, i, i-1)
		}
	}
}

// hitTexts returns the hits' message texts, in order.
func hitTexts(hits []chat.SearchHit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		if h.Message != nil {
			out[i] = h.Message.Text
		}
	}
	return out
}

// found returns the texts an operator search for text finds, in order.
func found(t testing.TB, sr chat.Searcher, text string) []string {
	t.Helper()
	return hitTexts(search(t, sr, chat.SearchQuery{Text: text}))
}

// say appends a message of kind to conversation conv.
func say(t testing.TB, s store, conv string, kind chat.MessageKind, body string, when int) chat.Message {
	t.Helper()
	author := conv + "-v"
	if kind == chat.OperatorText || kind == chat.Note {
		author = "alice"
	} else if kind == chat.SystemEvent {
		author = ""
	}
	return *mustAppend(t, s, &chat.Message{ConversationID: conv, Kind: kind, AuthorID: author, AuthorName: "Author " + author, Text: body, CreatedAt: at(when)}).Message
}

func searchCases() []def {
	return []def{
		{"Search/FindsWord", func(t testing.TB, s store) {
			sr := searcher(t, s)
			mustConv(t, s, "c1", at(0))
			mustAppend(t, s, text("c1", "k1", "Hello, I need help with my order.", at(1)))
			want := mustAppend(t, s, text("c1", "k2", "Where is my parcel? It was due Monday.", at(2))).Message
			mustAppend(t, s, &chat.Message{ConversationID: "c1", ClientID: "k3", Kind: chat.OperatorText, AuthorID: "alice", AuthorName: "Alice", Text: "Let me check the tracking.", CreatedAt: at(3)})

			hits := search(t, sr, chat.SearchQuery{Text: "parcel"})
			require.Len(t, hits, 1, "Search finds the one message with the word: %q", hitTexts(hits))
			h := hits[0]
			m := h.Message
			assert.Equal(t, want.ID, m.ID, "ID")
			assert.Equal(t, "c1", m.ConversationID, "ConversationID")
			assert.EqualValues(t, 2, m.Seq, "Seq")
			assert.Equal(t, "k2", m.ClientID, "ClientID")
			assert.Equal(t, chat.VisitorText, m.Kind, "Kind")
			assert.Equal(t, "c1-v", m.AuthorID, "AuthorID")
			assert.Equal(t, "Visitor", m.AuthorName, "AuthorName")
			assert.Equal(t, want.Text, m.Text, "Text")
			sameTime(t, at(2), m.CreatedAt, "CreatedAt")
			assert.Contains(t, strings.ToLower(h.Snippet), "parcel", "Snippet contains the matched word")

			assert.Equal(t, []string{"Let me check the tracking."}, found(t, sr, "tracking"), "a word at the end before punctuation")
			assert.Equal(t, []string{"Hello, I need help with my order."}, found(t, sr, "hello"), "the first word")
			assert.Empty(t, found(t, sr, "zebra"), "a word in no message")

			// The hit is a copy.
			m.Text = "mutated"
			ms := mustMessages(t, s, chat.MessageQuery{ConversationID: "c1"})
			assert.Equal(t, want.Text, ms[1].Text, "Search returned stored state")
			assert.Equal(t, []string{want.Text}, found(t, sr, "parcel"), "Search again after mutating a hit")
		}},
		{"Search/AllWords", func(t testing.TB, s store) {
			sr := searcher(t, s)
			mustConv(t, s, "c1", at(0))
			mustAppend(t, s, text("c1", "", "Refund for order 4711 please", at(1)))
			mustAppend(t, s, text("c1", "", "What is your refund policy", at(2)))
			mustAppend(t, s, text("c1", "", "Order status unknown", at(3)))
			assert.Equal(t, []string{"Refund for order 4711 please"}, found(t, sr, "refund order"), "both words")
			assert.Equal(t, []string{"Refund for order 4711 please"}, found(t, sr, "order refund"), "both words in the other order")
			assert.Equal(t, []string{"Refund for order 4711 please"}, found(t, sr, "refund 4711"), "a word and a number")
			assert.ElementsMatch(t, []string{"Refund for order 4711 please", "What is your refund policy"}, found(t, sr, "refund"), "one word")
			assert.Empty(t, found(t, sr, "refund zebra"), "one word missing")
			assert.Empty(t, found(t, sr, "policy status"), "words in different messages")
		}},
		{"Search/CaseInsensitive", func(t testing.TB, s store) {
			sr := searcher(t, s)
			mustConv(t, s, "c1", at(0))
			mustAppend(t, s, text("c1", "", "REFUND Request for ORDER", at(1)))
			mustAppend(t, s, text("c1", "", "shipping delayed", at(2)))
			const upper = "REFUND Request for ORDER"
			assert.Equal(t, []string{upper}, found(t, sr, "refund request order"), "lower-case query, upper-case text")
			assert.Equal(t, []string{upper}, found(t, sr, "Refund"), "mixed-case query")
			assert.Equal(t, []string{"shipping delayed"}, found(t, sr, "SHIPPING"), "upper-case query, lower-case text")
			assert.Equal(t, []string{"shipping delayed"}, found(t, sr, "DeLaYeD"), "mixed-case query, lower-case text")
		}},
		{"Search/Unicode", func(t testing.TB, s store) {
			sr := searcher(t, s)
			mustConv(t, s, "c1", at(0))
			mustAppend(t, s, text("c1", "", "Grüße aus München!", at(1)))
			mustAppend(t, s, text("c1", "", "Ærger med levering", at(2)))
			assert.Equal(t, []string{"Grüße aus München!"}, found(t, sr, "münchen"), "a word with a non-ASCII letter")
			assert.Equal(t, []string{"Grüße aus München!"}, found(t, sr, "MÜNCHEN"), "non-ASCII upper case")
			assert.Equal(t, []string{"Ærger med levering"}, found(t, sr, "ærger"), "non-ASCII lower case")
			assert.Equal(t, []string{"Grüße aus München!"}, found(t, sr, "grü"), "prefix ending in a non-ASCII letter")
		}},
		{"Search/Prefix", func(t testing.TB, s store) {
			sr := searcher(t, s)
			mustConv(t, s, "c1", at(0))
			const msg = "Refund requested yesterday"
			mustAppend(t, s, text("c1", "", msg, at(1)))
			mustAppend(t, s, text("c1", "", "unrelated chatter", at(2)))
			assert.Equal(t, []string{msg}, found(t, sr, "refu"), "a word prefix")
			assert.Equal(t, []string{msg}, found(t, sr, "refu reque"), "every word may be a prefix")
			assert.Equal(t, []string{msg}, found(t, sr, "yest refund"), "a prefix and a whole word")
			assert.Equal(t, []string{msg}, found(t, sr, "R"), "a one-letter prefix")
			assert.Empty(t, found(t, sr, "fund"), "a word's suffix is neither a word nor a prefix")
			assert.Empty(t, found(t, sr, "quest"), "a word's inside is neither a word nor a prefix")
			assert.Empty(t, found(t, sr, "yesterdays"), "longer than the word")
		}},
		{"Search/VisitorScope", func(t testing.TB, s store) {
			sr := searcher(t, s)
			mustOperator(t, s, "alice")
			mustVisitor(t, s, "v1", "")
			mustVisitor(t, s, "v2", "")
			mustConvFor(t, s, "c1", "v1", at(0))
			say(t, s, "c1", chat.VisitorText, "parcel lost in c1", 1)
			mustClose(t, s, "c1", at(2))
			mustConvFor(t, s, "c2", "v1", at(3))
			say(t, s, "c2", chat.VisitorText, "parcel again in c2", 4)
			say(t, s, "c2", chat.OperatorText, "your parcel reply in c2", 5)
			say(t, s, "c2", chat.Note, "parcel note about v1", 6)
			say(t, s, "c2", chat.SystemEvent, "parcel system event in c2", 7)
			mustConvFor(t, s, "c3", "v2", at(8))
			say(t, s, "c3", chat.VisitorText, "parcel of v2", 9)
			say(t, s, "c3", chat.Note, "parcel note about v2", 10)

			v1 := hitTexts(search(t, sr, chat.SearchQuery{Text: "parcel", VisitorID: "v1"}))
			assert.ElementsMatch(t, []string{"parcel lost in c1", "parcel again in c2", "your parcel reply in c2", "parcel system event in c2"}, v1,
				"a visitor's search: their conversations, closed ones too, without notes")
			v2 := hitTexts(search(t, sr, chat.SearchQuery{Text: "parcel", VisitorID: "v2"}))
			assert.Equal(t, []string{"parcel of v2"}, v2, "the other visitor's search")
			assert.Empty(t, hitTexts(search(t, sr, chat.SearchQuery{Text: "note", VisitorID: "v1"})), "a visitor's search for a word only in notes")
			hits, err := sr.Search(ctx, chat.SearchQuery{Text: "parcel", VisitorID: "ghost"})
			if err == nil {
				checkHits(t, chat.SearchQuery{Text: "parcel"}, hits)
				assert.Empty(t, hitTexts(hits), "Search for an unknown visitor")
			} else {
				isErr(t, err, chat.ErrNotFound, "Search for an unknown visitor: no hits, or ErrNotFound")
			}

			all := hitTexts(search(t, sr, chat.SearchQuery{Text: "parcel"}))
			assert.ElementsMatch(t, []string{"parcel lost in c1", "parcel again in c2", "your parcel reply in c2", "parcel note about v1",
				"parcel system event in c2", "parcel of v2", "parcel note about v2"}, all, "an operator's search: everything, notes too")
			assert.ElementsMatch(t, []string{"parcel note about v1", "parcel note about v2"}, found(t, sr, "note"), "an operator's search for notes")
		}},
		{"Search/Snippet", func(t testing.TB, s store) {
			sr := searcher(t, s)
			mustConv(t, s, "c1", at(0))
			// A long message of multi-byte text with the match in the middle.
			filler := strings.Repeat("ÄÖÜ äöü ß € 日本語 ", 40) // 1000+ bytes
			long := filler + "the wombat arrived " + filler
			mustAppend(t, s, text("c1", "", long, at(1)))
			const short = "A short wombat message."
			mustAppend(t, s, text("c1", "", short, at(2)))
			hits := search(t, sr, chat.SearchQuery{Text: "wombat"})
			require.Len(t, hits, 2, "Search wombat")
			for _, h := range hits {
				assert.Contains(t, strings.ToLower(h.Snippet), "wombat", "Snippet of %.20q contains the match", h.Message.Text)
				assert.NotContains(t, h.Snippet, "<b>", "Snippet is plain text")
				assert.NotContains(t, h.Snippet, "</", "Snippet is plain text")
				if h.Message.Text == long {
					assert.Equal(t, long, h.Message.Text, "Message.Text is the whole text, not the snippet")
					assert.LessOrEqual(t, len(h.Snippet), maxSnippet, "Snippet of the long message")
				} else {
					assert.Equal(t, short, h.Message.Text)
				}
			}
		}},
		{"Search/Syntax", func(t testing.TB, s store) {
			sr := searcher(t, s)
			mustConv(t, s, "c1", at(0))
			for _, m := range []string{
				`unbalanced quote here`,
				`column width and word count`,
				`parcel tracking number`,
				`drop table messages please`,
				`near miss`,
			} {
				mustAppend(t, s, text("c1", "", m, at(1)))
			}
			// Syntax has no meaning: the words around it are searched.
			for _, tc := range []struct{ q, want string }{
				{`"unbalanced`, `unbalanced quote here`},
				{`unbalanced"`, `unbalanced quote here`},
				{`col:word`, `column width and word count`},
				{`column:width`, `column width and word count`},
				{`parcel*`, `parcel tracking number`},
				{`(parcel`, `parcel tracking number`},
				{`parcel)`, `parcel tracking number`},
				{`{parcel}`, `parcel tracking number`},
				{`+parcel -tracking`, `parcel tracking number`},
				{`^parcel`, `parcel tracking number`},
				{`parcel & tracking | number`, `parcel tracking number`},
				{`parcel:*`, `parcel tracking number`},
				{`!parcel`, `parcel tracking number`},
				{`parcel.tracking`, `parcel tracking number`},
				{`'; DROP TABLE messages; --`, `drop table messages please`},
			} {
				// These have words, so ErrInvalid is not an option.
				hits, err := sr.Search(ctx, chat.SearchQuery{Text: tc.q})
				if !assert.NoError(t, err, "Search(%s): query syntax must have no meaning", tc.q) {
					continue
				}
				checkHits(t, chat.SearchQuery{Text: tc.q}, hits)
				assert.Equal(t, []string{tc.want}, hitTexts(hits), "Search(%s): query syntax must have no meaning", tc.q)
			}
			// These may find anything or be refused, but never fail otherwise.
			for _, q := range []string{
				`a AND OR NOT b`, `parcel OR zebra`, `NOT parcel`, `NEAR(a b)`, `NEAR(parcel tracking, 2)`,
				`%_\`, `%`, `_`, `\`, `parcel%`, `*`, `"`, `""`, `''`, `()`, `:`, `-`, `^`,
				`parcel AND`, `AND`, `OR`, `a'b`, `a''b`, "a\x00b", "\\x27", `$1`, `?`, `@@`, `::`,
				`{"json": true}`, `<b>parcel</b>`, `parcel <-> tracking`, `parcel:A`, `parcel:*B`,
				`rank:parcel`, `messages:parcel`, `text:parcel`, `1=1`, `' OR '1'='1`,
			} {
				hits, err := sr.Search(ctx, chat.SearchQuery{Text: q})
				if err != nil {
					isErr(t, err, chat.ErrInvalid, "Search("+q+"): results or ErrInvalid")
					continue
				}
				checkHits(t, chat.SearchQuery{Text: q}, hits)
			}
			// Nothing was dropped or changed.
			ms := mustMessages(t, s, chat.MessageQuery{ConversationID: "c1"})
			assert.Len(t, ms, 5, "messages after hostile searches")
			assert.Equal(t, []string{"parcel tracking number"}, found(t, sr, "parcel"), "Search after hostile searches")
			mustAppend(t, s, text("c1", "", "still writable", at(2)))
		}},
		{"Search/Invalid", func(t testing.TB, s store) {
			sr := searcher(t, s)
			mustConv(t, s, "c1", at(0))
			mustAppend(t, s, text("c1", "", "parcel tracking number", at(1)))
			for _, tc := range []struct{ name, q string }{
				{"empty", ""},
				{"spaces", "   \t\n "},
				{"punctuation only", `!?.,;:"'()*-+/\%_&|<>{}[]^~@#$=`},
				{"more than 256 bytes", strings.Repeat("parcel ", 36) + "track"}, // 257 bytes
				{"10,000 bytes", strings.Repeat("parcel ", 10000/7+1)[:10000]},
				{"invalid UTF-8", "parcel \xff\xfe"},
				{"invalid UTF-8 only", "\xc3\x28"},
			} {
				hits, err := sr.Search(ctx, chat.SearchQuery{Text: tc.q})
				isErr(t, err, chat.ErrInvalid, "Search with "+tc.name+" text")
				assert.Empty(t, hits, "hits with ErrInvalid for %s text", tc.name)
			}
			// 256 bytes is still allowed.
			q := strings.Repeat("parcel ", 36) + "trac" // 256 bytes
			require.Len(t, q, 256)
			assert.Equal(t, []string{"parcel tracking number"}, found(t, sr, q), "Search with 256 bytes of text")
		}},
		{"Search/Limit", func(t testing.TB, s store) {
			sr := searcher(t, s)
			mustConv(t, s, "c1", at(0))
			const n = 105
			for i := range n {
				mustAppend(t, s, text("c1", "", id("haystack needle ", i), at(i+1)))
			}
			mustAppend(t, s, text("c1", "", "haystack only", at(n+1)))
			for _, tc := range []struct{ limit, want int }{{0, 20}, {1, 1}, {5, 5}, {50, 50}, {100, 100}, {101, 100}, {1000, 100}} {
				hits := search(t, sr, chat.SearchQuery{Text: "needle", Limit: tc.limit})
				assert.Len(t, hits, tc.want, "Search with Limit %d", tc.limit)
			}
			mustConv(t, s, "c2", at(0))
			for i := range 3 {
				mustAppend(t, s, text("c2", "", "pin cushion", at(i+1)))
			}
			assert.Len(t, search(t, sr, chat.SearchQuery{Text: "cushion", Limit: 10}), 3, "fewer hits than the limit")
		}},
		{"Search/Ranking", func(t testing.TB, s store) {
			sr := searcher(t, s)
			mustConv(t, s, "c1", at(0))
			const best = "parcel parcel parcel"
			mustAppend(t, s, text("c1", "", "my parcel is late, please check the tracking of it", at(1)))
			mustAppend(t, s, text("c1", "", best, at(2)))
			mustAppend(t, s, text("c1", "", "nothing relevant here", at(3)))
			mustAppend(t, s, text("c1", "", "another parcel question about delivery times today", at(4)))
			hits := search(t, sr, chat.SearchQuery{Text: "parcel"})
			require.Len(t, hits, 3, "Search parcel: %q", hitTexts(hits))
			assert.Equal(t, best, hits[0].Message.Text, "the message that is all the word ranks first")
			hits = search(t, sr, chat.SearchQuery{Text: "parcel", Limit: 1})
			require.Len(t, hits, 1)
			assert.Equal(t, best, hits[0].Message.Text, "Limit keeps the best hits")
		}},
	}
}
