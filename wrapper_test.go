package chat_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/store/memory"
)

// countingStore is the decorator docs/stores.md shows: it counts appends
// and, with Unwrap, keeps the wrapped store's capabilities.
type countingStore struct {
	chat.Store
	appends *atomic.Int64
}

func (s countingStore) AppendMessage(ctx context.Context, m *chat.Message) (chat.Appended, error) {
	s.appends.Add(1)
	return s.Store.AppendMessage(ctx, m)
}

func (s countingStore) Unwrap() chat.Store { return s.Store }

// TestWrappedStoreKeepsSearch: a Server over a decorator with Unwrap still
// searches (over the wire and through the Go API), and every append, the
// operator's included, goes through the decorator: AssignedAppender, which
// would bypass it, is not taken from the wrapped store. Without Unwrap the
// same decorator loses search, which storetest's Capabilities/NotHidden
// reports.
func TestWrappedStoreKeepsSearch(t *testing.T) {
	var appends atomic.Int64
	ts := newTestServer(t, func(c *chat.Config) { c.Store = countingStore{memory.New(), &appends} })
	ctx := testCtx(t)
	alice := ts.operator(t, "alice", nil)
	ann := ts.visitor(t, nil)
	q, err := ann.Send(ctx, "", "Where is my parcel to Oslo?")
	if err != nil {
		t.Fatal(err)
	}
	waitText(t, alice, q.Conv, q.Text)
	before := appends.Load()
	if _, err := alice.Send(ctx, q.Conv, "It left Bergen today."); err != nil {
		t.Fatal(err)
	}
	if appends.Load() == before {
		t.Error("the operator's message bypassed the decorator's AppendMessage")
	}
	hits, err := alice.Search(ctx, "parcel", 10)
	if err != nil || len(hits) != 1 {
		t.Fatalf("operator search through the decorator: %+v %v", hits, err)
	}
	if got, err := ts.Chat.Search(ctx, chat.SearchQuery{Text: "bergen"}); err != nil || len(got) != 1 {
		t.Fatalf("Server.Search through the decorator: %+v %v", got, err)
	}

	hidden := newTestServer(t, func(c *chat.Config) { c.Store = struct{ chat.Store }{memory.New()} })
	if _, err := hidden.Chat.Search(ctx, chat.SearchQuery{Text: "parcel"}); !errors.Is(err, chat.ErrUnsupported) {
		t.Errorf("a decorator without Unwrap: Search error %v, want ErrUnsupported", err)
	}
}
