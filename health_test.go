package chat_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/store/memory"
)

// failingStore fails every read of a conversation, as an unreachable
// database would.
type failingStore struct{ chat.Store }

func (failingStore) Conversation(context.Context, string) (*chat.Conversation, error) {
	return nil, errors.New("connection refused")
}

func TestHealthCheck(t *testing.T) {
	ts := newTestServer(t)
	probe := func(h http.Handler) int {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/healthz", nil))
		return w.Code
	}
	if err := ts.Chat.Check(testCtx(t)); err != nil {
		t.Fatalf("healthy server: %v", err)
	}
	if code := probe(ts.Chat.HealthHandler()); code != http.StatusOK {
		t.Fatalf("healthy probe: %d", code)
	}
	down := newTestServer(t, func(c *chat.Config) { c.Store = failingStore{memory.New()} })
	if err := down.Chat.Check(testCtx(t)); !errors.Is(err, chat.ErrUnhealthy) {
		t.Fatalf("store down: %v, want ErrUnhealthy", err)
	}
	if code := probe(down.Chat.HealthHandler()); code != http.StatusServiceUnavailable {
		t.Fatalf("store down probe: %d", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.Chat.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ts.Chat.Check(testCtx(t)); !errors.Is(err, chat.ErrUnhealthy) {
		t.Fatalf("closed server: %v, want ErrUnhealthy", err)
	}
}
