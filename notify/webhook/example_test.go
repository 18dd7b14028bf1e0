package webhook_test

import (
	"context"
	"log"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/notify/webhook"
)

// The sending side: every chat event, signed, to the shop's endpoint.
func ExampleNew() {
	hook, err := webhook.New(webhook.Config{
		URL:    "https://shop.example.com/hooks/chat",
		Secret: []byte(os.Getenv("CHAT_WEBHOOK_SECRET")),
		Kinds:  []chat.NotificationKind{chat.ConversationStarted, chat.ConversationClosed},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		hook.Close(ctx) // after the chat.Server's Close
	}()
	_ = chat.Config{Notifier: hook} // with Store, Secret, Operators...
}

// The receiving side: an endpoint of the shop that checks the signature and
// the timestamp, drops retries of events it has handled and answers fast.
func ExampleVerify() {
	secret := []byte(os.Getenv("CHAT_WEBHOOK_SECRET"))
	var mu sync.Mutex
	seen := map[string]bool{} // in production: a store, with expiry
	http.HandleFunc("POST /hooks/chat", func(w http.ResponseWriter, r *http.Request) {
		ev, err := webhook.Verify(r, secret, 5*time.Minute)
		if err != nil {
			http.Error(w, "bad webhook", http.StatusUnauthorized) // 4xx: not retried
			return
		}
		mu.Lock()
		dup := seen[ev.ID]
		seen[ev.ID] = true
		mu.Unlock()
		if dup {
			w.WriteHeader(http.StatusNoContent) // a retry
			return
		}
		switch ev.Type {
		case chat.ConversationStarted:
			log.Printf("new chat %s: %q", ev.Conversation.ID, ev.Messages[0].Text)
		case chat.ConversationClosed:
			if ev.Visitor != nil && ev.Visitor.CustomerID != "" {
				log.Printf("customer %s chatted (conversation %s)", ev.Visitor.CustomerID, ev.Conversation.ID)
			}
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
