package webhook_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/client"
	"github.com/shopchat/chat/notify/webhook"
	"github.com/shopchat/chat/store/memory"
)

type received struct {
	delivery string
	ev       *webhook.Event
	err      error
}

// TestEndToEnd runs the real chat server with a webhook Notifier: a visitor
// writes, an operator comes online, is assigned and closes; the receiver
// verifies every delivery.
func TestEndToEnd(t *testing.T) {
	got := make(chan received, 1000)
	hookSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, err := webhook.Verify(r, secret, time.Minute)
		got <- received{delivery: r.Header.Get(webhook.HeaderDelivery), ev: ev, err: err}
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(hookSrv.Close)
	hook, m := newHook(t, hookSrv.URL)

	alice := &chat.Operator{ID: "alice", Name: "Alice", Capacity: 2}
	srv, err := chat.New(chat.Config{
		Store:  memory.New(),
		Secret: []byte("0123456789abcdef0123456789abcdef-e2e"),
		Operators: func(r *http.Request) (*chat.Operator, error) {
			if r.Header.Get("X-Operator") == "alice" {
				return alice, nil
			}
			return nil, chat.ErrUnauthorized
		},
		Notifier: hook,
	})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/chat/", srv.Handler())
	shop := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), failAfter)
		defer cancel()
		assert.NoError(t, srv.Close(ctx))
		shop.Close()
	})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var events []received
	// await collects deliveries until one of type typ arrives.
	await := func(typ chat.NotificationKind) *webhook.Event {
		t.Helper()
		for {
			select {
			case r := <-got:
				require.NoError(t, r.err, "Verify")
				events = append(events, r)
				if r.ev.Type == typ {
					return r.ev
				}
			case <-ctx.Done():
				t.Fatalf("no %s event; got %d others", typ, len(events))
			}
		}
	}

	v, err := client.DialVisitor(ctx, shop.URL, client.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { v.Close() })
	require.NoError(t, v.SetProfile(ctx, client.Profile{Name: "Ann", Email: "ann@example.com"}))
	first, err := v.Send(ctx, "", "Do you ship to Norway?")
	require.NoError(t, err)
	conv := first.Conv

	started := await(chat.ConversationStarted)
	require.NotNil(t, started.Conversation)
	assert.Equal(t, conv, started.Conversation.ID)
	assert.Equal(t, chat.Queued, started.Conversation.Status)
	assert.Empty(t, started.Conversation.OperatorID)
	assert.False(t, started.Conversation.CreatedAt.IsZero())
	require.NotNil(t, started.Visitor)
	assert.Equal(t, started.Conversation.VisitorID, started.Visitor.ID)
	assert.Equal(t, "Ann", started.Visitor.Name)
	assert.Equal(t, "ann@example.com", started.Visitor.Email)
	assert.Nil(t, started.Operator)
	require.Len(t, started.Messages, 1)
	assert.Equal(t, "Do you ship to Norway?", started.Messages[0].Text)
	assert.Equal(t, chat.VisitorText, started.Messages[0].Kind)
	assert.Equal(t, first.Seq, started.Messages[0].Seq)
	assert.Equal(t, started.Visitor.ID, started.Messages[0].AuthorID)

	op, err := client.DialOperator(ctx, shop.URL, client.Options{Header: http.Header{"X-Operator": {"alice"}}})
	require.NoError(t, err)
	t.Cleanup(func() { op.Close() })
	assigned := await(chat.ConversationAssigned)
	assert.Equal(t, conv, assigned.Conversation.ID)
	assert.Equal(t, chat.Assigned, assigned.Conversation.Status)
	assert.Equal(t, "alice", assigned.Conversation.OperatorID)
	assert.False(t, assigned.Conversation.AssignedAt.IsZero())
	assert.Equal(t, &webhook.Operator{ID: "alice", Name: "Alice"}, assigned.Operator)
	require.NotNil(t, assigned.Visitor)
	assert.Equal(t, "Ann", assigned.Visitor.Name)
	assert.Empty(t, assigned.Messages)

	require.NoError(t, op.CloseConversation(ctx, conv))
	closed := await(chat.ConversationClosed)
	assert.Equal(t, conv, closed.Conversation.ID)
	assert.Equal(t, chat.Closed, closed.Conversation.Status)
	assert.False(t, closed.Conversation.ClosedAt.IsZero())

	closeHook(t, hook) // nothing in flight any more
	for len(got) > 0 {
		r := <-got
		require.NoError(t, r.err, "Verify")
		events = append(events, r)
	}

	// Every delivery verified, with a unique id matching its header; the
	// messages came as "message" events.
	ids := map[string]bool{}
	var texts []string
	for _, r := range events {
		t.Logf("%s %s", r.ev.Type, r.ev.ID)
		assert.Equal(t, r.delivery, r.ev.ID)
		assert.False(t, ids[r.ev.ID], "delivery id %s repeated", r.ev.ID)
		ids[r.ev.ID] = true
		assert.Equal(t, conv, r.ev.Conversation.ID)
		if r.ev.Type == chat.MessagePosted {
			require.Len(t, r.ev.Messages, 1)
			texts = append(texts, r.ev.Messages[0].Text)
		}
	}
	assert.Equal(t, []string{"Do you ship to Norway?", "Alice joined the conversation", "Alice closed the conversation"}, texts)
	assert.Equal(t, float64(len(events)), m.get("webhook_delivered_total"))
}
