// Package webhook is a chat.Notifier that POSTs every notification, signed,
// as JSON to an endpoint of the shop's: to feed a CRM, a help desk, an
// analytics pipeline or a Slack bridge.
//
//	hook, err := webhook.New(webhook.Config{
//		URL:    "https://shop.example.com/hooks/chat",
//		Secret: hookSecret, // >= 16 bytes; 32 random bytes recommended
//	})
//	srv, err := chat.New(chat.Config{..., Notifier: chat.Multi(mailer, hook)})
//	defer hook.Close(ctx) // after srv.Close: delivers what is queued until ctx ends
//
// # Events
//
// Every chat.NotificationKind is sent (Config.Kinds selects some):
// conversation_started, message, conversation_assigned,
// conversation_closed, and the kinds meant for people, offline_message,
// missed_reply, transcript and new_conversation. The body is an Event:
//
//	{
//	  "id": "message:0b6c…:3",            // = X-Shopchat-Delivery; the same on every retry
//	  "type": "message",                   // = X-Shopchat-Event
//	  "time": "2025-05-01T09:30:12.123456789Z",
//	  "conversation": {"id": "0b6c…", "status": "assigned", "visitor_id": "q3V…",
//	    "operator_id": "alice", "department": "", "last_seq": 3,
//	    "created_at": "…", "queued_at": "…", "assigned_at": "…"},  // closed_at once closed
//	  "visitor": {"id": "q3V…", "name": "Ann", "email": "ann@example.com", "customer_id": "42"},
//	  "operator": {"id": "alice", "name": "Alice"},                // left out when unassigned
//	  "messages": [{"id": "…", "seq": 3, "kind": "operator", "author_id": "alice",
//	    "author_name": "Alice", "text": "Yes, in 3-5 days.", "created_at": "…"}]
//	}
//
// Times are RFC 3339 in UTC with nanoseconds. Fields may be added, never
// removed or changed in meaning; decoders must ignore unknown fields.
// Message kind "note" is an internal note operators wrote for each other:
// filter it out before showing messages to customers. A body never exceeds
// MaxBodySize (1 MiB); if a transcript would, its oldest messages are left
// out and "truncated" is true.
//
// # Signature
//
// Each request carries Content-Type application/json, User-Agent
// shopchat-webhook/1 and:
//
//	X-Shopchat-Event:     <type>
//	X-Shopchat-Delivery:  <id>
//	X-Shopchat-Timestamp: <Unix seconds when this attempt was sent>
//	X-Shopchat-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
//
// Each attempt is signed afresh, so a retry passes the receiver's
// timestamp check however late it comes. Verify checks all of it.
//
// # Delivery
//
// Notify never waits for the network: it queues the event (Config.QueueSize;
// when the queue is full the event is dropped and Notify's error wraps
// ErrQueueFull) and one goroutine delivers the queue in order, one event
// at a time. A 2xx answer is success. Network errors, timeouts, 408, 429
// and 5xx are retried up to Config.MaxRetries times with jittered
// exponential backoff, honouring Retry-After (capped at MaxBackoff); while
// an event is retried the ones behind it wait. Any other status is a
// refusal: logged once and not retried. Delivery is therefore at least
// once: receivers de-duplicate by Event.ID and should answer 2xx quickly,
// doing slow work afterwards. Close delivers what is queued until its
// context ends.
//
// Config.Metrics receives webhook_delivered_total, webhook_retries_total,
// webhook_failed_total (refused, or out of retries) and
// webhook_dropped_total (queue full, or abandoned at Close).
//
// # Receiving
//
// A receiver is an http.Handler that calls Verify:
//
//	func chatHook(secret []byte) http.HandlerFunc {
//		return func(w http.ResponseWriter, r *http.Request) {
//			ev, err := webhook.Verify(r, secret, 5*time.Minute)
//			if err != nil {
//				http.Error(w, "bad webhook", http.StatusUnauthorized) // 4xx: not retried
//				return
//			}
//			if seen(ev.ID) { // a retry of an event already handled
//				w.WriteHeader(http.StatusNoContent)
//				return
//			}
//			switch ev.Type {
//			case chat.ConversationClosed:
//				crm.LogChat(ev.Conversation.ID, ev.Visitor) // ev.Visitor may be nil
//			case chat.MessagePosted:
//				for _, m := range ev.Messages {
//					if m.Kind != chat.Note {
//						index(ev.Conversation.ID, m.Seq, m.Text)
//					}
//				}
//			}
//			w.WriteHeader(http.StatusNoContent)
//		}
//	}
package webhook
