// Package chat adds live customer chat to a Go web shop. It runs inside the
// shop's own net/http server: there is no chat server to operate beside it.
//
// # Embedding
//
// Open a Store, create a Server, mount its Handler:
//
//	store := memory.New() // store/sqlite or store/postgres in production
//	srv, err := chat.New(chat.Config{
//		Store:     store,
//		Secret:    secret, // >= 32 random bytes, stable across restarts
//		Operators: func(r *http.Request) (*chat.Operator, error) { return myAuth(r) },
//	})
//	mux.Handle("/chat/", srv.Handler())
//	defer srv.Close(ctx)
//
// Visitors POST /chat/session for a token cookie and open /chat/ws;
// operators open /chat/operator/ws, authenticated by Config.Operators.
// Where WebSocket cannot connect (proxies that break it), the widget falls
// back by itself to Config.Fallback, transport/sse: the same frames as
// Server-Sent Events from /chat/sse and one POST per frame to it, with the
// same authentication, limits and resume. docs/protocol.md describes the
// frames; package client speaks them from Go, over either transport.
//
// # Identity
//
// Visitor tokens are issued by the server (128 random bits, HMAC-signed with
// a timestamp) in an HttpOnly, SameSite cookie; a token the client made up,
// altered, or let expire is refused. Call (*Server).Identify from the shop's
// login code to bind a visitor to a customer so history follows them across
// devices (the token from before the login dies with it); nothing a client
// sends can claim an identity. Call (*Server).Forget from the logout code:
// it revokes the visitor's tokens and closes their sockets on every node.
// Operators are authenticated by the shop's own auth through
// Config.Operators, asked again every Config.OperatorRecheck while a
// console is open; (*Server).DisconnectOperator ends one at once. The
// library keeps no passwords.
//
// # Limits
//
// Everything a client can make the server hold is bounded: each
// connection's queue in frames and bytes (Config.SendQueue,
// Config.MaxQueuedBytes) and all of them together (Config.QueuedBytesBudget,
// past which the slowest reader is disconnected to resume), frames per
// visitor and per address across their sockets, sockets per visitor and per
// address, new visitors per address, mail a visitor triggers. Addresses come
// from forwarding headers only through Config.TrustedProxies. docs/security.md
// lists every limit, its default, and what the shop must do.
//
// # Conversations and routing
//
// A visitor's first message opens a conversation, which joins a FIFO queue.
// The Router (LeastBusy by default; RoundRobin, Departments) ranks online
// operators below their capacity (Config.DefaultCapacity, 5 by default),
// the visitor's last operator first, and the Store assigns atomically.
// Capacity counts live conversations only: those whose visitor is on the
// site (a widget connected, or within Config.PresenceTTL after it dropped;
// Conversation.LiveUntil, renewed by every node through Store.KeepLive).
// A queued conversation whose visitor is away waits for a reply, is not
// routed, and any operator may answer it without using capacity; when its
// visitor returns it is live and routed again. While nobody has capacity a
// live visitor sees their position, and a wait estimate while an operator
// is online; operators may also accept from the queue, beyond their
// capacity by an explicit choice (protocol accept with force). Operators transfer conversations to each
// other or to a department, write internal notes visitors never see, and
// close and reopen conversations. A visitor has at most one open
// conversation; a message after close starts a new one.
//
// # Delivery guarantees
//
// The Store is the source of truth: a message is validated, stored with the
// next per-conversation sequence number, then published; the sender's ack
// follows the commit. Every client message carries a client id, and a retry
// returns the original. Each connection receives each message once, in
// sequence order; a reconnecting client sends the last sequence number it
// holds per conversation and the server replays the rest from the Store
// after subscribing, reporting whether it recovered. Outgoing queues are
// bounded: a client that falls behind is disconnected and resumes.
//
// # Stores and search
//
// store/sqlite (one process, the embedded default), store/postgres (several
// processes) and store/memory (tests) implement Store and every optional
// role; store/storetest is the conformance suite a custom store adopts in
// one test function. Store is the required core (visitors, operators,
// conversations, messages); New finds the optional roles (tracking,
// orders, canned responses, triggers, claims, search, ...) once, stands in
// for some on a single node and reports them in Server.Capabilities. A
// store that provides Searcher gives operators full-text search over past
// conversations. DeleteVisitor and Config.Retention serve data rights.
//
// # Email and webhooks
//
// Config.Notifier receives notifications: notify/email mails the team when
// nobody is available, mails visitors the replies they missed (with a signed
// reply address, so their answer lands in the same conversation through
// PostReply) and transcripts; notify/webhook posts signed JSON events. Multi
// combines them.
//
// # Several processes
//
// With store/postgres and a Broker (broker/postgres, broker/redis,
// broker/nats), any number of shop processes serve the same chat: events
// cross nodes as ids and sequence numbers, off the path that acks clients;
// every lost event is noticed and healed from the store within a stated
// bound after a broker outage; an operator is online while any of their
// sessions on any node is, and their presence expires by itself when a
// node dies. See docs/scaling.md, which also says what an idle visitor
// costs in memory (about 20 KB at five nodes) and which GODEBUG setting
// keeps it there in a process that holds many.
//
// # Tracking, triggers and order attribution
//
// middleware.Track wraps the shop's pages: it resolves the visitor from the
// widget's cookie, records page views (batched off the request path) for
// the operators' live list (LiveVisitors), and puts the visitor in the
// request's context for VisitorFrom. Config.CookieOnInteraction sets no
// cookie until the visitor opens the widget. Config.Triggers open the
// widget with a message (or suggest an invitation to operators) when a
// visitor's page, time on page, pages viewed, cart value, referrer, campaign
// or business hours match; never while they type or chat, once per visit or
// per visitor, and at most Config.MaxProactivePerVisit times a visit.
// (*Server).Invite does the same from the shop's code.
//
// The checkout calls (*Server).Attribution before placing an order (the
// newest conversation within Config.AttributionWindow in which the visitor
// wrote and an operator was assigned) and (*Server).RecordOrder after it;
// recording an order twice counts it once. Report, also served as JSON
// and CSV at {Path}reports to operators, counts conversations, response
// times, online time, chat-attributed orders and revenue, triggers and
// CSAT per operator and period. Canned responses take the shop's own
// variables from Config.CannedVariables. See docs/tracking.md.
//
// # Automation: the Server API and events
//
// The shop's own code acts on conversations in-process through the same
// code as the console (Conversations, Messages, PostMessage as an operator,
// a named bot or a system line, AddNote, Assign, Transfer,
// CloseConversation, ReopenConversation, SetVisitorLabels), so what it does
// is stored, delivered live on every node, notified and reported. It reads
// an ordered event stream resumable after a restart (Events, FollowEvents,
// backed by the Store's optional EventLog role) or, for the simple case, a
// bounded in-memory Subscribe. See docs/automation.md.
//
// # Metrics
//
// Config.Metrics receives these counters: connections_total,
// connections_refused_total (a cap), frames_total, conversations_total,
// messages_total, frames_rate_limited_total,
// slow_consumer_disconnects_total, queue_budget_disconnects_total,
// hello_timeouts_total, visitors_rate_limited_total,
// cross_site_refused_total, posts_refused_total (a frame POSTed to an
// event stream that is not the sender's, or that holds all it may),
// visitor_tokens_revoked_total,
// operators_logged_out_total, visitor_mail_rate_limited_total,
// pageviews_invalid_total (not UTF-8), notifications_total,
// notifications_failed_total, notifications_dropped_total,
// email_replies_total, email_bounces_total, email_unsubscribes_total,
// pageviews_total, pageviews_dropped_total (the page view queue was full),
// pageviews_failed_total, invitations_total, visits_unlisted_total (a
// visit beyond the live list's cap, still tracked),
// visitors_frame_bytes_total (the live list's updates to operators, bytes
// of each frame, sent to every operator here),
// attachments_uploaded_total, attachments_swept_total (blobs the
// attachment sweep deleted: unsent uploads and orphans),
// dispatch_failures_total (a routing round that a Store error cut short;
// the live loop retries it), and for several
// nodes (docs/scaling.md): bridge_dropped_total (an event from another
// node this one could not apply fast enough; it heals),
// bridge_visits_dropped_total (a live-visitor announcement lost in either
// direction; the next re-announcement repairs it, nothing heals),
// bridge_outbox_dropped_total (an event dropped while the Broker was slow
// or away), bridge_publish_failures_total (an event the Broker did not
// take), bridge_gaps_total and bridge_heals_total; for the event stream
// (docs/automation.md): events_total (stored in the EventLog),
// events_dropped_total (the event queue was full, or the store failed at
// shutdown), event_append_failures_total (a failed EventLog append, retried)
// and event_subscriber_dropped_total (an in-memory Subscription was full);
// with a Bot, bot_handoffs_total and bot_errors_total (a turn that failed,
// panicked or timed out, and was handed off).
//
// It receives these observations (Metrics.Observe), in seconds:
// store_append_seconds, the Store's AppendMessage (or AppendAssigned) for
// each message a visitor or operator sends, and notify_seconds, each call
// of the Notifier (which should queue and return: a slow one holds up the
// notifications behind it), and message_delivery_seconds, from a message's
// storing to its write to each client (replays included), and
// event_append_seconds, each batch appended to the EventLog,
// bot_turn_seconds, each call of the Bot, routing_wait_seconds, from a
// conversation joining the queue to its assignment to an operator, and
// visit_loop_seconds, each second's pass over the live visits (triggers
// due, visits swept, the live list's update; cart look-ups included).
//
// A Metrics that is also a GaugeMetrics gets gauges: queue_live (visitors
// on the site waiting for an operator) and queue_waiting_for_reply.
// metrics/prometheus adapts all of it to Prometheus, without labels.
// (*Server).Check and HealthHandler say whether the Store answers and the
// Broker takes events.
package chat
