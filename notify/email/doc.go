// Package email sends shopchat's notifications by email and posts
// visitors' email replies back into their conversations.
//
// # Outbound
//
// New returns a Notifier (a chat.Notifier) that mails the notifications
// meant for people: OfflineMessage and NewConversation to the team's
// mailboxes (Config.Operators), MissedReply and Transcript to the visitor.
// Mail to a visitor comes from "Alice at Shop" <Config.From.Address> with
// Reply-To reply+<token>@Config.ReplyDomain, the token being the Server's
// signed, expiring reply token for the conversation. Mail to the team has
// a Reply-To with the team's token for the conversation: an operator's
// answer to it, from the address of their operator profile, is posted as
// that operator (to the visitor live, or mailed on if they are away).
// Mail to a visitor is written in the widget's language when the
// conversation opened (chat.Conversation.Language: en, es, ru, de; else
// English). The missed-reply mail quotes the visitor's question above the
// answer; missed replies and transcripts have subjects of their own; team
// mail links the conversation in the console (ConsoleURL#conv=<id>). Mail
// to a visitor carries List-Unsubscribe with RFC 8058 one-click and a
// visible link to the chat handler's unsubscribe endpoint
// (Config.ChatURL), which stops mail about the conversation.
//
// Mail to a visitor is sent with a signed, per-conversation return path,
// bounce+<token>@Config.ReplyDomain (VERP). The Inbound accepts mail to it
// too: a delivery status notification (RFC 3464) reporting a permanent
// failure (Action failed, Status 5.x.x) is handed to
// (*chat.Server).PostBounce, which marks the visitor's address as bouncing
// (no more mail to it until the visitor gives another), switches mail off
// for the conversation and tells the team in an internal note; anything
// else sent there (an out-of-office reply, a delay) is dropped. Every mail carries
// Auto-Submitted: auto-generated, a unique Message-ID and In-Reply-To /
// References naming the conversation, so mail clients thread it. Bodies
// are plain text and HTML from embedded templates (html/template escapes
// all user text); subjects and display names are stripped of line breaks
// and control characters before go-mail encodes them.
//
// Notify never waits for SMTP: it queues (a bounded queue; ErrQueueFull
// beyond it) and one goroutine sends, retrying temporary failures with
// jittered exponential backoff. Close drains the queue and stops it.
// Without Config.Host the Notifier only logs what it would send ("email
// not configured: would send mail"), which is how a demo shop runs.
//
// # Inbound
//
// An Inbound receives the replies to reply+<token>@Domain, from the shop's
// MX through its own SMTP listener (ListenAndServeSMTP), from a mail
// provider's inbound webhook (ServeHTTP, authenticated by a shared
// secret), or from any other source (Handle). It takes the token only from
// a recipient address and the sender only from the From header's address,
// drops auto-replies and bounces, extracts the reply (ExtractReply; HTML-only
// mail is converted to text first) and hands it to
// (*chat.Server).PostReply, which checks the token, that the sender is the
// conversation's visitor, and posts the text at most once per Message-ID.
// Refused mail is logged with its reason and never posted.
//
// # Reply extraction
//
// ExtractReply keeps what the customer wrote and drops the quoted history:
// ">" lines and the attribution above them, in the forms mail clients
// write (Gmail, Apple Mail, Outlook, Thunderbird, Yandex, mail.ru, phones;
// date first, wrapped over lines, glued to the address, between dashes,
// sharing the reply's last line) in English, Spanish, Russian, German,
// French, Italian, Portuguese, Dutch, Polish, Swedish, Danish, Norwegian,
// Finnish, Vietnamese, Japanese and Chinese; and everything below
// Outlook's "-----Original Message-----" (and translations) or a header
// block ("From:/Sent:/To:/Subject:", "Date:" first, bold, behind a rule,
// translated). Text below a quote is kept (bottom-posted and inline
// answers), and so is a forwarded message, which is the customer's
// content. Signatures go: below "-- ", mobile footers ("Sent from my
// iPhone" and translations), and, when they follow the reply, a closing
// with a name ("Thanks!\nAnn"), a dashed name ("-Ann"), a name with an
// address or link, a short block below a rule, a mailing list's footer.
// In HTML, the quote is found by its markup (Gmail's gmail_quote, cite
// blockquotes, a blockquote below an attribution) and signatures by
// theirs; a blockquote of the writer's own is kept.
//
// When unsure, text is kept: losing the customer's words is worse than
// leaving a quote in. A lone name or phone number, a list after a colon,
// "On Monday I wrote:" without a date, "Sent from my desk, ..." all stay.
// A mail whose reply is empty is never refused (no 550 for the customer):
// quoting without an attribution is undone and the text posted; a mail
// with attachments is posted with a line naming them (the chat does not
// take mailed files); a mail that only quotes our own mail is dropped with
// the logged reason "empty reply" (ErrNoText). Extraction is linear in the
// input: see BenchmarkExtractReply in bench/.
//
// The SMTP listener is meant to sit behind the shop's MX: point the reply
// domain's MX record at the shop's host, or have the existing mail server
// relay the domain to it, e.g. with Postfix:
//
//	# /etc/postfix/transport
//	reply.shop.example  smtp:[127.0.0.1]:2525
//
// It needs no authentication and accepts only reply and return-path
// addresses (others get 550), up to MaxSize bytes; permanent refusals are
// answered 550, temporary failures (the store is down) 451 so the sender
// retries.
//
// # Wiring
//
//	n, err := email.New(email.Config{
//		Host:        "smtp.example.com", // empty: log only
//		Username:    "shop@example.com",
//		Password:    os.Getenv("SMTP_PASSWORD"),
//		From:        mail.Address{Name: "Shop", Address: "support@shop.example"},
//		Operators:   []string{"team@shop.example"},
//		ReplyDomain: "reply.shop.example",
//		SiteName:    "Shop",
//		ConsoleURL:  "https://shop.example/chat/console/",
//	})
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer n.Close(context.Background())
//
//	srv, err := chat.New(chat.Config{Store: store, Secret: secret, Operators: auth, Notifier: n})
//	if err != nil {
//		log.Fatal(err)
//	}
//	inbound, err := email.NewInbound(email.InboundConfig{
//		Server: srv,
//		Domain: "reply.shop.example",
//		Secret: os.Getenv("INBOUND_EMAIL_SECRET"),
//	})
//	if err != nil {
//		log.Fatal(err)
//	}
//	mux.Handle("/chat/", srv.Handler())
//	mux.Handle("/chat/inbound/email", inbound)           // a provider's webhook
//	go inbound.ListenAndServeSMTP(ctx, "127.0.0.1:2525") // or behind the MX
//
// # Metrics
//
// Outbound: email_sent_total, email_send_failures_total,
// email_send_retries_total, email_queue_full_total, email_skipped_total.
// Inbound: email_inbound_posted_total, email_inbound_dropped_total,
// email_inbound_refused_total, email_inbound_failed_total,
// email_inbound_bounces_total.
package email
