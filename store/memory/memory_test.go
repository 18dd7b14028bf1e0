package memory_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/store/memory"
	"github.com/shopchat/chat/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(testing.TB) chat.Store { return memory.New() })
}

func TestEpochDiffersPerStore(t *testing.T) {
	epoch := func() int64 {
		s := memory.New()
		ctx := t.Context()
		if err := s.CreateVisitor(ctx, &chat.Visitor{ID: "v"}); err != nil {
			t.Fatal(err)
		}
		c := &chat.Conversation{ID: "c", VisitorID: "v"}
		if err := s.CreateConversation(ctx, c); err != nil {
			t.Fatal(err)
		}
		return c.Epoch
	}
	a, b := epoch(), epoch()
	if a == 0 || a == b {
		t.Fatalf("epochs %d and %d: want non-zero and different per store", a, b)
	}
}

// TestSearchSnippetBounds checks memory's own snippet promise: at most 200
// bytes, cut on rune boundaries, around the first match, wherever the
// match is in a long multi-byte text.
func TestSearchSnippetBounds(t *testing.T) {
	ctx := t.Context()
	s := memory.New()
	if err := s.CreateVisitor(ctx, &chat.Visitor{ID: "v"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateConversation(ctx, &chat.Conversation{ID: "c", VisitorID: "v"}); err != nil {
		t.Fatal(err)
	}
	filler := strings.Repeat("é日€x ", 100)
	for i := 0; i <= len(filler); i += 37 {
		body := filler[:i] + " wombat " + filler[i:]
		for !utf8.ValidString(body) { // keep the filler whole runes
			i++
			body = filler[:i] + " wombat " + filler[i:]
		}
		if _, err := s.AppendMessage(ctx, &chat.Message{ConversationID: "c", Kind: chat.VisitorText, Text: body}); err != nil {
			t.Fatal(err)
		}
	}
	hits, err := s.Search(ctx, chat.SearchQuery{Text: "WOMBAT", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) < 10 {
		t.Fatalf("%d hits", len(hits))
	}
	for _, h := range hits {
		if len(h.Snippet) > 200 || !utf8.ValidString(h.Snippet) || !strings.Contains(h.Snippet, "wombat") {
			t.Errorf("snippet %q (%d bytes): want at most 200 bytes of UTF-8 containing the match", h.Snippet, len(h.Snippet))
		}
	}
}
