package email

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/client"
	"github.com/shopchat/chat/protocol"
)

// Mail a visitor would want: the missed-reply mail quotes their question
// above the answer and has its own subject (the transcript another); the
// team's mail links the conversation in the console; mail to the visitor
// carries List-Unsubscribe with RFC 8058 one-click and a visible link,
// both served by the chat handler: GET only asks, POST stops the mail.
func TestVisitorMailQuotesAndUnsubscribes(t *testing.T) {
	rec := newRecorder(t, "127.0.0.1:0", recOpts{})
	n := newNotifier(t, rec)
	env := newChat(t, func(c *chat.Config) {
		c.Notifier = n
		c.MissedReplyDelay = 50 * time.Millisecond
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	visitor, q, offline := askWhileOffline(t, ctx, env, rec)
	if link := "https://shop.test/chat/console/#conv=" + q.Conv; !strings.Contains(offline.Text, link) || !strings.Contains(offline.HTML, link) {
		t.Errorf("team mail lacks the console link %s:\n%s", link, offline.Text)
	}
	visitor.Close()

	op, err := client.DialOperator(ctx, env.http.URL, client.Options{Header: http.Header{"X-Operator": {"alice"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	answer := func(text string) {
		t.Helper()
		err := op.Wait(ctx, func(c *client.Conn) bool {
			conv, ok := c.Conversation(q.Conv)
			return ok && conv.Status == protocol.StatusAssigned ||
				slices.ContainsFunc(c.Queue(), func(x protocol.Conversation) bool { return x.ID == q.Conv })
		})
		if err != nil {
			t.Fatal(err)
		}
		if conv, ok := op.Conversation(q.Conv); !ok || conv.Status != protocol.StatusAssigned {
			if err := op.Accept(ctx, q.Conv); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := op.Send(ctx, q.Conv, text); err != nil {
			t.Fatal(err)
		}
	}
	answer("Yes, in 3-5 days.")
	missed := rec.nextTo(testVisitor)
	text := strings.ReplaceAll(missed.Text, "\r\n", "\n")
	asked, replied := strings.Index(text, "You asked:\n> Do you ship to Norway?"), strings.Index(text, "Yes, in 3-5 days.")
	if asked < 0 || replied < asked {
		t.Errorf("missed-reply mail does not quote the question above the answer:\n%s", missed.Text)
	}
	if !strings.Contains(missed.HTML, "Do you ship to Norway?") {
		t.Errorf("HTML part lacks the question:\n%s", missed.HTML)
	}
	missedSubject := decodeHeader(t, missed.Header.Get("Subject"))

	// List-Unsubscribe, one-click, and the same link in both bodies.
	lu := missed.Header.Get("List-Unsubscribe")
	if !strings.HasPrefix(lu, "<https://shop.test/chat/mail/unsubscribe?t=") || !strings.HasSuffix(lu, ">") {
		t.Fatalf("List-Unsubscribe = %q", lu)
	}
	if got := missed.Header.Get("List-Unsubscribe-Post"); got != "List-Unsubscribe=One-Click" {
		t.Errorf("List-Unsubscribe-Post = %q", got)
	}
	link := strings.Trim(lu, "<>")
	if !strings.Contains(missed.Text, link) || !strings.Contains(missed.HTML, strings.ReplaceAll(link, "&", "&amp;")) {
		t.Errorf("no visible unsubscribe link in the bodies:\n%s", missed.Text)
	}
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	local := env.http.URL + u.Path + "?" + u.RawQuery // the shop's origin, here the test server
	optedOut := func() bool {
		c, err := env.store.Conversation(ctx, q.Conv)
		if err != nil {
			t.Fatal(err)
		}
		return c.MailOptOut
	}
	resp, err := http.Get(local)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), `<form method="post">`) || optedOut() {
		t.Fatalf("GET: %d, opted out %v, page:\n%s", resp.StatusCode, optedOut(), page)
	}
	if resp, err := http.Get(env.http.URL + u.Path + "?t=" + strings.Repeat("a", 48)); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("forged token: %v %v, want 404", resp.StatusCode, err)
	}
	// The mail provider's one-click POST (RFC 8058).
	resp, err = http.Post(local, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !optedOut() {
		t.Fatalf("one-click POST: %d, opted out %v", resp.StatusCode, optedOut())
	}
	// The operator sees mail is off (that no missed-reply mail follows an
	// opt-out is TestMailOptOutAndSilentMessages' in the chat package).
	if err := op.Wait(ctx, func(c *client.Conn) bool { conv, ok := c.Conversation(q.Conv); return ok && conv.MailOff }); err != nil {
		t.Errorf("the console never showed mail as off: %v", err)
	}
	answer("Anything else?")

	// A transcript has a subject of its own.
	if err := env.srv.SendTranscript(ctx, q.Conv); err != nil {
		t.Fatal(err)
	}
	transcript := rec.nextTo(testVisitor) // not the unsubscribed missed reply
	ts := decodeHeader(t, transcript.Header.Get("Subject"))
	if ts == missedSubject || !strings.Contains(ts, "Transcript") || !strings.Contains(missedSubject, "reply") {
		t.Errorf("subjects: missed reply %q, transcript %q", missedSubject, ts)
	}
	if !strings.Contains(transcript.Text, "Anything else?") {
		t.Errorf("the transcript lacks the last answer:\n%s", transcript.Text)
	}
	rec.none()
}

// Mail to the visitor speaks the widget's language when the conversation
// opened (the hello's lang); unknown languages get English.
func TestVisitorMailInTheWidgetsLanguage(t *testing.T) {
	for _, c := range []struct {
		lang, subject, from, asked, hint string
	}{
		{"de", "Neue Antwort: Ihr Gespräch mit Shop", "Alice von Shop", "Sie haben gefragt:", "Antworten Sie einfach auf diese E-Mail"},
		{"es", "Nueva respuesta: su conversación con Shop", "Alice de Shop", "Usted preguntó:", "Responda a este correo"},
		{"ru", "Новый ответ: ваша переписка с Shop", "Alice, Shop", "Вы спросили:", "Ответьте на это письмо"},
		{"xx", "New reply: your conversation with Shop", "Alice at Shop", "You asked:", "Reply to this email"},
	} {
		t.Run(c.lang, func(t *testing.T) {
			rec := newRecorder(t, "127.0.0.1:0", recOpts{})
			n := newNotifier(t, rec)
			env := newChat(t, func(cfg *chat.Config) {
				cfg.Notifier = n
				cfg.MissedReplyDelay = 20 * time.Millisecond
			})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			visitor, err := client.DialVisitor(ctx, env.http.URL, client.Options{Lang: c.lang})
			if err != nil {
				t.Fatal(err)
			}
			if err := visitor.SetProfile(ctx, client.Profile{Name: "Ann", Email: testVisitor}); err != nil {
				t.Fatal(err)
			}
			q, err := visitor.Send(ctx, "", "Haben Sie das in Blau?")
			if err != nil {
				t.Fatal(err)
			}
			rec.nextTo("team@shop.test") // the team's mail stays English
			visitor.Close()
			stored, err := env.store.Conversation(ctx, q.Conv)
			if err != nil {
				t.Fatal(err)
			}
			want := c.lang
			if want == "xx" {
				want = "" // not one of chat.Languages
			}
			if stored.Language != want {
				t.Fatalf("conversation language %q, want %q", stored.Language, want)
			}
			op, err := client.DialOperator(ctx, env.http.URL, client.Options{Header: http.Header{"X-Operator": {"alice"}}})
			if err != nil {
				t.Fatal(err)
			}
			defer op.Close()
			if err := op.Wait(ctx, func(cn *client.Conn) bool {
				cv, ok := cn.Conversation(q.Conv)
				return ok && cv.Status == protocol.StatusAssigned ||
					slices.ContainsFunc(cn.Queue(), func(x protocol.Conversation) bool { return x.ID == q.Conv })
			}); err != nil {
				t.Fatal(err)
			}
			if cv, ok := op.Conversation(q.Conv); !ok || cv.Status != protocol.StatusAssigned {
				if err := op.Accept(ctx, q.Conv); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := op.Send(ctx, q.Conv, "Ja."); err != nil {
				t.Fatal(err)
			}
			m := rec.nextTo(testVisitor)
			if got := decodeHeader(t, m.Header.Get("Subject")); got != c.subject {
				t.Errorf("subject %q, want %q", got, c.subject)
			}
			if got := decodeHeader(t, m.Header.Get("From")); !strings.Contains(got, c.from) {
				t.Errorf("From %q, want %q", got, c.from)
			}
			if !strings.Contains(m.Text, c.asked) || !strings.Contains(m.Text, c.hint) || !strings.Contains(m.HTML, c.asked) {
				t.Errorf("body lacks %q or %q:\n%s", c.asked, c.hint, m.Text)
			}
		})
	}
}
