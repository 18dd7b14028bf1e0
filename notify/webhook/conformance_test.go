package webhook_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/notify/notifytest"
	"github.com/shopchat/chat/notify/webhook"
)

// TestConformance runs notify/notifytest against a Notifier posting to a
// real HTTP endpoint that records every attempt and answers 503 when told
// to refuse.
func TestConformance(t *testing.T) {
	notifytest.Run(t, func(t testing.TB) notifytest.Target {
		secret := []byte("conformance-secret-0123456789abcdef")
		deliveries := make(chan notifytest.Delivery, 1000)
		var mu sync.Mutex
		refuse := 0
		endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ev, err := webhook.Verify(r, secret, time.Minute)
			if err != nil || ev.Conversation == nil {
				t.Errorf("delivery is not a signed event about a conversation: %v", err)
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			mu.Lock()
			refused := refuse > 0
			if refused {
				refuse--
			}
			mu.Unlock()
			deliveries <- notifytest.Delivery{Conversation: ev.Conversation.ID, Key: r.Header.Get(webhook.HeaderDelivery), Refused: refused}
			if refused {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		}))
		t.Cleanup(endpoint.Close)
		n, err := webhook.New(webhook.Config{URL: endpoint.URL, Secret: secret, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			n.Close(ctx)
		})
		return notifytest.Target{
			Notifier:   n,
			Kinds:      []chat.NotificationKind{chat.ConversationStarted, chat.MessagePosted, chat.OfflineMessage, chat.ConversationClosed},
			Deliveries: deliveries,
			Refuse: func(k int) {
				mu.Lock()
				refuse = k
				mu.Unlock()
			},
		}
	})
}
