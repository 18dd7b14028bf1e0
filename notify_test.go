package chat_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/client"
	"github.com/shopchat/chat/protocol"
)

// recordingNotifier collects notifications.
type recordingNotifier struct {
	mu  sync.Mutex
	got []chat.Notification
	ch  chan chat.Notification
}

func newRecorder() *recordingNotifier {
	return &recordingNotifier{ch: make(chan chat.Notification, 1000)}
}

func (r *recordingNotifier) Notify(_ context.Context, n chat.Notification) error {
	r.mu.Lock()
	r.got = append(r.got, n)
	r.mu.Unlock()
	r.ch <- n
	return nil
}

// await returns the next notification of kind, skipping others.
func (r *recordingNotifier) await(t testing.TB, kind chat.NotificationKind) chat.Notification {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case n := <-r.ch:
			if n.Kind == kind {
				return n
			}
		case <-timeout:
			t.Fatalf("no %s notification", kind)
		}
	}
}

// fakeClock is a settable clock for Config.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestOfflineMessageAndMissedReplyAndEmailReply(t *testing.T) {
	rec := newRecorder()
	clock := &fakeClock{now: time.Now()}
	ts := newTestServer(t, func(c *chat.Config) {
		c.Notifier = rec
		c.MissedReplyDelay = time.Millisecond
		c.Now = clock.Now
	})
	ctx := testCtx(t)
	v := ts.visitor(t, nil)
	if err := v.SetProfile(ctx, client.Profile{Name: "Ann", Email: "Ann@Example.com"}); err != nil {
		t.Fatal(err)
	}
	q, err := v.Send(ctx, "", "Do you have the blue mug in stock?")
	if err != nil {
		t.Fatal(err)
	}
	off := rec.await(t, chat.OfflineMessage)
	if off.Conversation.ID != q.Conv || len(off.Messages) != 1 || off.Messages[0].Text != q.Text || off.Visitor == nil || off.Visitor.Email != "Ann@Example.com" {
		t.Fatalf("offline notification: %+v", off)
	}
	v.Close() // the visitor leaves

	op := ts.operator(t, "alice", nil)
	waitText(t, op, q.Conv, q.Text)
	if _, err := op.Send(ctx, q.Conv, "Yes, 12 left."); err != nil {
		t.Fatal(err)
	}
	if _, err := op.Send(ctx, q.Conv, "Shall I reserve one?"); err != nil {
		t.Fatal(err)
	}
	missed := rec.await(t, chat.MissedReply)
	if missed.ReplyToken == "" || missed.Conversation.ID != q.Conv {
		t.Fatalf("missed reply: %+v", missed)
	}
	var texts []string
	for _, m := range missed.Messages {
		texts = append(texts, m.Text)
	}
	if !strings.Contains(strings.Join(texts, "|"), "Yes, 12 left.") {
		t.Fatalf("missed reply lists %q", texts)
	}
	token := missed.ReplyToken

	// The visitor answers by mail: it lands in the conversation, live.
	reply := chat.InboundReply{Token: token, From: "ann@example.com", MessageID: "<r1@mail.example>", Text: "Yes please!"}
	m, err := ts.Chat.PostReply(ctx, reply)
	if err != nil {
		t.Fatal(err)
	}
	if m.ConversationID != q.Conv || m.Kind != chat.VisitorText {
		t.Fatalf("posted reply: %+v", m)
	}
	waitText(t, op, q.Conv, "Yes please!")
	// The same Message-ID again posts nothing new.
	again, err := ts.Chat.PostReply(ctx, reply)
	if err != nil || again.ID != m.ID {
		t.Fatalf("redelivery: %+v %v", again, err)
	}
	// Refused: someone else, a forged token, and an expired one.
	if _, err := ts.Chat.PostReply(ctx, chat.InboundReply{Token: token, From: "mallory@example.com", MessageID: "<r2@x>", Text: "hi"}); !errors.Is(err, chat.ErrForbidden) {
		t.Fatalf("wrong sender: %v", err)
	}
	forged := []byte(token)
	forged[len(forged)-1] ^= 1
	for _, bad := range []string{"", "abc", string(forged), strings.ToUpper(token) + "a"} {
		if _, err := ts.Chat.PostReply(ctx, chat.InboundReply{Token: bad, From: "ann@example.com", MessageID: "<r3@x>", Text: "hi"}); !errors.Is(err, chat.ErrReplyToken) || !errors.Is(err, chat.ErrUnauthorized) {
			t.Fatalf("token %q: %v", bad, err)
		}
	}
	// Mail systems may fold case: an upper-cased token still works.
	if _, err := ts.Chat.PostReply(ctx, chat.InboundReply{Token: strings.ToUpper(token), From: "ann@example.com", MessageID: "<r4@x>", Text: "Case folded"}); err != nil {
		t.Fatalf("upper-case token: %v", err)
	}
	clock.Advance(31 * 24 * time.Hour)
	if _, err := ts.Chat.PostReply(ctx, chat.InboundReply{Token: token, From: "ann@example.com", MessageID: "<r5@x>", Text: "late"}); !errors.Is(err, chat.ErrReplyToken) {
		t.Fatalf("expired token: %v", err)
	}
	// Stored once each.
	stored, _ := ts.Store.Messages(ctx, chat.MessageQuery{ConversationID: q.Conv})
	n := 0
	for _, m := range stored {
		if m.Text == "Yes please!" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("reply stored %d times", n)
	}
}

func TestMissedReplyOnlyForUnseenMessages(t *testing.T) {
	rec := newRecorder()
	// The timer never fires by itself here: the test runs the check.
	ts := newTestServer(t, func(c *chat.Config) { c.Notifier = rec; c.MissedReplyDelay = time.Hour })
	ctx := testCtx(t)
	v := ts.visitor(t, nil)
	if err := v.SetProfile(ctx, client.Profile{Email: "bea@example.com"}); err != nil {
		t.Fatal(err)
	}
	op := ts.operator(t, "alice", nil)
	q, err := v.Send(ctx, "", "hello")
	if err != nil {
		t.Fatal(err)
	}
	waitText(t, op, q.Conv, "hello")
	seen, err := op.Send(ctx, q.Conv, "read this")
	if err != nil {
		t.Fatal(err)
	}
	waitText(t, v, q.Conv, "read this")
	if err := v.MarkRead(ctx, q.Conv, seen.Seq); err != nil {
		t.Fatal(err)
	}
	// Everything was seen: the check mails nothing. The barrier message's
	// event comes after anything the check queued.
	chat.CheckMissedReply(ts.Chat, q.Conv)
	barrier, err := v.Send(ctx, q.Conv, "barrier")
	if err != nil {
		t.Fatal(err)
	}
	for {
		n := rec.await(t, chat.MessagePosted)
		if n.Kind == chat.MissedReply {
			t.Fatalf("mailed a seen message: %+v", n.Messages)
		}
		if n.Messages[0].ID == barrier.ID {
			break
		}
	}
	rec.mu.Lock()
	for _, n := range rec.got {
		if n.Kind == chat.MissedReply {
			t.Fatalf("mailed a seen message: %+v", n.Messages[0])
		}
	}
	rec.mu.Unlock()
	// An unseen one is mailed, alone, and only once.
	unseen, err := op.Send(ctx, q.Conv, "unread one")
	if err != nil {
		t.Fatal(err)
	}
	chat.CheckMissedReply(ts.Chat, q.Conv)
	missed := rec.await(t, chat.MissedReply)
	if len(missed.Messages) != 1 || missed.Messages[0].ID != unseen.ID {
		t.Fatalf("missed reply mailed %+v", missed.Messages)
	}
	chat.CheckMissedReply(ts.Chat, q.Conv)
	barrier2, err := v.Send(ctx, q.Conv, "barrier 2")
	if err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case n := <-rec.ch:
			if n.Kind == chat.MissedReply {
				t.Fatalf("mailed twice: %+v", n.Messages)
			}
			if n.Kind == chat.MessagePosted && n.Messages[0].ID == barrier2.ID {
				return
			}
		case <-ctx.Done():
			t.Fatal("barrier never arrived")
		}
	}
}

func TestBusinessHours(t *testing.T) {
	h := &chat.BusinessHours{Location: time.UTC, Open: []chat.OpenSpan{{Days: []time.Weekday{time.Monday, time.Tuesday}, From: "09:00", To: "17:30"}}}
	mon := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC) // a Monday
	for _, tc := range []struct {
		at   time.Time
		open bool
	}{
		{mon.Add(9 * time.Hour), true},
		{mon.Add(8*time.Hour + 59*time.Minute), false},
		{mon.Add(17*time.Hour + 29*time.Minute), true},
		{mon.Add(17*time.Hour + 30*time.Minute), false},
		{mon.Add(-12 * time.Hour), false}, // Sunday noon
	} {
		if got := h.IsOpen(tc.at); got != tc.open {
			t.Errorf("IsOpen(%v) = %v, want %v", tc.at, got, tc.open)
		}
	}
	for _, bad := range []chat.OpenSpan{{Days: []time.Weekday{1}, From: "9", To: "17:00"}, {Days: []time.Weekday{1}, From: "18:00", To: "17:00"}, {From: "09:00", To: "17:00"}, {Days: []time.Weekday{1}, From: "09:00", To: "24:01"}} {
		_, err := chat.New(chat.Config{Store: newTestServer(t).Store, Secret: testSecret, Operators: testOperators, BusinessHours: &chat.BusinessHours{Open: []chat.OpenSpan{bad}}})
		if err == nil {
			t.Errorf("New accepted hours %+v", bad)
		}
	}
	// Outside hours, visitors see the team as unavailable even with an operator online.
	closed := &chat.BusinessHours{Open: []chat.OpenSpan{{Days: []time.Weekday{time.Monday}, From: "09:00", To: "09:01"}}}
	ts := newTestServer(t, func(c *chat.Config) {
		c.BusinessHours = closed
		c.Now = func() time.Time { return mon.Add(-12 * time.Hour) }
	})
	ts.operator(t, "alice", nil)
	if ts.visitor(t, nil).Available() {
		t.Fatal("available outside business hours")
	}
}

func FuzzReplyToken(f *testing.F) {
	// A fixed clock and a secret of its own: every fuzz process (and every
	// later run, reading the corpus cached by earlier ones) signs the same
	// good token, so a valid token is always a case variant of it.
	fixed := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	srv, err := chat.New(chat.Config{Store: newTestServer(f).Store, Secret: []byte("fuzz-reply-token-secret-0123456789abcdef"), Operators: testOperators,
		Now: func() time.Time { return fixed }})
	if err != nil {
		f.Fatal(err)
	}
	good := srv.ReplyToken("6f1c7f0e-6a2b-4c55-9a51-1d7f0c8f1b2a")
	f.Add(good)
	f.Add(strings.ToUpper(good))
	f.Add("")
	f.Add("reply+abc")
	f.Add(strings.Repeat("a", 48))
	f.Fuzz(func(t *testing.T, token string) {
		_, err := srv.PostReply(context.Background(), chat.InboundReply{Token: token, From: "x@y.z", MessageID: "<m@x>", Text: "hi"})
		if err == nil {
			t.Fatalf("token %q accepted for a conversation that does not exist", token)
		}
		if strings.EqualFold(token, good) {
			return // valid token: fails later (no such conversation)
		}
		if !errors.Is(err, chat.ErrReplyToken) {
			t.Fatalf("token %q: %v, want ErrReplyToken", token, err)
		}
	})
}

func TestMailOptOutAndSilentMessages(t *testing.T) {
	rec := newRecorder()
	ts := newTestServer(t, func(c *chat.Config) { c.Notifier = rec; c.MissedReplyDelay = time.Hour })
	ctx := testCtx(t)
	v := ts.visitor(t, nil)
	if err := v.SetProfile(ctx, client.Profile{Email: "cy@example.com"}); err != nil {
		t.Fatal(err)
	}
	op := ts.operator(t, "alice", nil)
	q, err := v.Send(ctx, "", "hi")
	if err != nil {
		t.Fatal(err)
	}
	waitText(t, op, q.Conv, "hi")
	// barrier: everything queued before a visitor message's event has been notified.
	barrier := func(text string) {
		t.Helper()
		b, err := v.Send(ctx, q.Conv, text)
		if err != nil {
			t.Fatal(err)
		}
		for {
			n := <-rec.ch
			if n.Kind == chat.MissedReply {
				t.Fatalf("mailed %q", n.Messages[0].Text)
			}
			if n.Kind == chat.MessagePosted && n.Messages[0].ID == b.ID {
				return
			}
		}
	}
	// A silent message is never mailed.
	if _, err := op.SendWith(ctx, client.Outgoing{Conv: q.Conv, Text: "silent one", Silent: true}); err != nil {
		t.Fatal(err)
	}
	chat.CheckMissedReply(ts.Chat, q.Conv)
	barrier("b1")
	// The visitor opts out: nothing is mailed, and the state says so.
	if err := v.SetMail(ctx, q.Conv, false); err != nil {
		t.Fatal(err)
	}
	waitState(t, v, q.Conv, "mail off", func(c protocol.Conversation) bool { return c.MailOff })
	if _, err := op.Send(ctx, q.Conv, "unseen while opted out"); err != nil {
		t.Fatal(err)
	}
	chat.CheckMissedReply(ts.Chat, q.Conv)
	barrier("b2")
	// Back in: the unseen, non-silent message is mailed, the silent one is not.
	if err := v.SetMail(ctx, q.Conv, true); err != nil {
		t.Fatal(err)
	}
	chat.CheckMissedReply(ts.Chat, q.Conv)
	missed := rec.await(t, chat.MissedReply)
	if len(missed.Messages) != 1 || missed.Messages[0].Text != "unseen while opted out" {
		t.Fatalf("mailed %+v", missed.Messages)
	}
	// Only for your own conversation, and only on or off.
	other := ts.visitor(t, nil)
	if err := other.SetMail(ctx, q.Conv, false); !isCode(err, protocol.CodeNotFound) {
		t.Fatalf("opting out another's conversation: %v", err)
	}
}

// A team token (on mail to the team) posts as the operator whose stored
// address sent it; it is refused from anyone else, and the visitor's and
// the team's tokens do not stand in for each other.
func TestTeamReplyByEmail(t *testing.T) {
	rec := newRecorder()
	clock := &fakeClock{now: time.Now()}
	ts := newTestServer(t, func(c *chat.Config) {
		c.Notifier = rec
		c.MissedReplyDelay = time.Millisecond
		c.Now = clock.Now
	})
	ctx := testCtx(t)
	if err := ts.Store.PutOperator(ctx, &chat.Operator{ID: "dave", Name: "Dave", Email: "Dave@Shop.example"}); err != nil {
		t.Fatal(err)
	}
	v := ts.visitor(t, nil)
	if err := v.SetProfile(ctx, client.Profile{Name: "Ann", Email: "ann@example.com"}); err != nil {
		t.Fatal(err)
	}
	q, err := v.Send(ctx, "", "Is the blue mug dishwasher safe?")
	if err != nil {
		t.Fatal(err)
	}
	off := rec.await(t, chat.OfflineMessage)
	team := off.TeamReplyToken
	if team == "" || team == off.ReplyToken || team != ts.Chat.TeamReplyToken(q.Conv) {
		t.Fatalf("offline notification team token %q (visitor's %q)", team, off.ReplyToken)
	}
	m, err := ts.Chat.PostReply(ctx, chat.InboundReply{Token: team, From: "dave@shop.example", MessageID: "<t1@shop.example>", Text: "Yes, it is."})
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind != chat.OperatorText || m.AuthorID != "dave" || m.AuthorName != "Dave" || m.ConversationID != q.Conv {
		t.Fatalf("posted %+v, want an operator message from dave", m)
	}
	waitText(t, v, q.Conv, "Yes, it is.") // live to the visitor
	for name, r := range map[string]chat.InboundReply{
		"the visitor with the team token": {Token: team, From: "ann@example.com", MessageID: "<t2@x>", Text: "hi"},
		"a stranger with the team token":  {Token: team, From: "mallory@example.com", MessageID: "<t3@x>", Text: "hi"},
		"an operator with the visitor's":  {Token: ts.Chat.ReplyToken(q.Conv), From: "dave@shop.example", MessageID: "<t4@x>", Text: "hi"},
	} {
		if _, err := ts.Chat.PostReply(ctx, r); !errors.Is(err, chat.ErrForbidden) {
			t.Errorf("%s: %v, want ErrForbidden", name, err)
		}
	}
	clock.Advance(31 * 24 * time.Hour)
	if _, err := ts.Chat.PostReply(ctx, chat.InboundReply{Token: team, From: "dave@shop.example", MessageID: "<t5@x>", Text: "late"}); !errors.Is(err, chat.ErrReplyToken) {
		t.Fatalf("expired team token: %v", err)
	}
}

// PostBounce stops mail about the conversation for a permanent failure of
// the visitor's address, once, and refuses anything else.
func TestPostBounce(t *testing.T) {
	rec := newRecorder()
	ts := newTestServer(t, func(c *chat.Config) { c.Notifier = rec })
	ctx := testCtx(t)
	v := ts.visitor(t, nil)
	if err := v.SetProfile(ctx, client.Profile{Name: "Ann", Email: "ann@example.com"}); err != nil {
		t.Fatal(err)
	}
	q, err := v.Send(ctx, "", "Hello?")
	if err != nil {
		t.Fatal(err)
	}
	token := ts.Chat.BounceToken(q.Conv)
	for name, c := range map[string]struct {
		b    chat.Bounce
		want error
	}{
		"a reply token":         {chat.Bounce{Token: ts.Chat.ReplyToken(q.Conv), Recipient: "ann@example.com", Status: "5.1.1"}, chat.ErrReplyToken},
		"a delay":               {chat.Bounce{Token: token, Recipient: "ann@example.com", Status: "4.4.7"}, chat.ErrInvalid},
		"another recipient":     {chat.Bounce{Token: token, Recipient: "bob@example.com", Status: "5.1.1"}, chat.ErrForbidden},
		"no status":             {chat.Bounce{Token: token, Recipient: "ann@example.com"}, chat.ErrInvalid},
		"a forged bounce token": {chat.Bounce{Token: strings.Repeat("a", 48), Status: "5.1.1"}, chat.ErrReplyToken},
	} {
		if err := ts.Chat.PostBounce(ctx, c.b); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	if c, _ := ts.Store.Conversation(ctx, q.Conv); c.MailOptOut {
		t.Fatal("mail stopped by a refused bounce")
	}
	b := chat.Bounce{Token: token, Recipient: "ANN@example.com", Status: "5.1.1", Diagnostic: "550 user\x00 unknown\r\nX-Injected: 1", MessageID: "<d1@mx>"}
	for range 2 {
		if err := ts.Chat.PostBounce(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	c, _ := ts.Store.Conversation(ctx, q.Conv)
	if !c.MailOptOut {
		t.Fatal("a permanent failure did not stop mail")
	}
	ms, _ := ts.Store.Messages(ctx, chat.MessageQuery{ConversationID: q.Conv})
	var notes []string
	for _, m := range ms {
		if m.Kind == chat.Note {
			notes = append(notes, m.Text)
		}
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "bounced (5.1.1: 550 user unknown X-Injected: 1)") {
		t.Fatalf("notes %q, want one naming the failure on one line", notes)
	}
	// The address is marked: no transcript to it, until the visitor gives
	// another.
	if err := ts.Chat.SendTranscript(ctx, q.Conv); !errors.Is(err, chat.ErrInvalid) {
		t.Fatalf("transcript to a bouncing address: %v, want ErrInvalid", err)
	}
	if err := v.SetProfile(ctx, client.Profile{Email: "ann@work.example"}); err != nil {
		t.Fatal(err)
	}
	if err := ts.Chat.SendTranscript(ctx, q.Conv); err != nil {
		t.Fatalf("transcript to the new address: %v", err)
	}
	if got := rec.await(t, chat.Transcript); got.Visitor.Email != "ann@work.example" {
		t.Fatalf("transcript to %q", got.Visitor.Email)
	}
}
