package email

import (
	"context"
	"net/http"
	netsmtp "net/smtp"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopchat/chat/client"
	"github.com/shopchat/chat/protocol"
)

var replyToRE = regexp.MustCompile(`^reply\+([a-z2-7]+)@` + regexp.QuoteMeta(testDomain) + `$`)

// nextTo returns the next mail to addr, failing on mail to anyone else.
func (r *recorder) nextTo(addr string) *received {
	r.t.Helper()
	m := r.next()
	if !slices.Equal(m.To, []string{addr}) {
		r.t.Fatalf("mail to %v (%s), want one to %s", m.To, m.Header.Get("Subject"), addr)
	}
	return m
}

// The whole loop: an offline visitor's question mailed to the team, the
// operator's answer mailed to the visitor who left, and the visitor's
// replies from six mail clients, received by SMTP, posted into the
// conversation and seen live by the operator.
func TestEndToEndReplyByEmail(t *testing.T) {
	rec, env, smtpAddr := newMailLoop(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// A visitor asks while no operator is online.
	visitor, q, offline := askWhileOffline(t, ctx, env, rec)
	if !strings.Contains(offline.Text, "Do you ship to Norway?") || !strings.Contains(offline.Text, "Ann <"+testVisitor+">") {
		t.Errorf("offline mail lacks the question or the visitor:\n%s", offline.Text)
	}
	visitor.Close() // the visitor leaves

	// An operator comes online and answers.
	op, err := client.DialOperator(ctx, env.http.URL, client.Options{Header: http.Header{"X-Operator": {"alice"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	err = op.Wait(ctx, func(c *client.Conn) bool {
		if conv, ok := c.Conversation(q.Conv); ok && conv.Status == protocol.StatusAssigned {
			return true
		}
		return slices.ContainsFunc(c.Queue(), func(x protocol.Conversation) bool { return x.ID == q.Conv })
	})
	if err != nil {
		t.Fatal(err)
	}
	if conv, ok := op.Conversation(q.Conv); !ok || conv.Status != protocol.StatusAssigned {
		if err := op.Accept(ctx, q.Conv); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := op.Send(ctx, q.Conv, "Yes, we ship to Norway in 3-5 days."); err != nil {
		t.Fatal(err)
	}

	// The visitor is gone: the answer is mailed with a signed reply address.
	missed := rec.nextTo(testVisitor)
	if !strings.Contains(missed.Text, "Yes, we ship to Norway in 3-5 days.") {
		t.Errorf("missed-reply mail lacks the answer:\n%s", missed.Text)
	}
	rt, err := missed.Header.AddressList("Reply-To")
	if err != nil || len(rt) != 1 {
		t.Fatalf("Reply-To: %v %v", rt, err)
	}
	mt := replyToRE.FindStringSubmatch(rt[0].Address)
	if mt == nil {
		t.Fatalf("Reply-To %q is not reply+<token>@%s", rt[0].Address, testDomain)
	}
	token := mt[1]
	if got, want := missed.Header.Get("In-Reply-To"), "<conv-"+q.Conv+"@"+testDomain+">"; got != want {
		t.Errorf("In-Reply-To = %q, want %q", got, want)
	}
	if missed.Header.Get("Auto-Submitted") != "auto-generated" {
		t.Error("no Auto-Submitted")
	}

	// The visitor replies from several mail clients; each reply arrives
	// by SMTP and reaches the operator live, quoted history stripped.
	for _, f := range fixtures {
		raw := fixture(t, f.file, token, testVisitor)
		if err := netsmtp.SendMail(smtpAddr, nil, testVisitor, []string{"reply+" + token + "@" + testDomain}, raw); err != nil {
			t.Fatalf("%s: SMTP: %v", f.file, err)
		}
		err := op.Wait(ctx, func(c *client.Conn) bool {
			return slices.ContainsFunc(c.Messages(q.Conv), func(m protocol.Message) bool {
				return m.Kind == protocol.KindVisitor && m.Text == f.want
			})
		})
		if err != nil {
			var got []string
			for _, m := range op.Messages(q.Conv) {
				got = append(got, m.Kind+": "+m.Text)
			}
			t.Fatalf("%s: the operator never saw %q; has:\n%s", f.file, f.want, strings.Join(got, "\n"))
		}
	}
	if got := env.visitorTexts(t, q.Conv); len(got) != 1+len(fixtures) {
		t.Errorf("%d visitor messages stored, want %d: %q", len(got), 1+len(fixtures), got)
	}
}

// askWhileOffline connects visitor Ann (with her email) to env, sends
// "Do you ship to Norway?" while no operator is online, and returns her
// connection (closed with the test), her message and the team's mail
// about it.
func askWhileOffline(t *testing.T, ctx context.Context, env *chatEnv, rec *recorder) (*client.Conn, protocol.Message, *received) {
	t.Helper()
	visitor, err := client.DialVisitor(ctx, env.http.URL, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { visitor.Close() })
	if err := visitor.SetProfile(ctx, client.Profile{Name: "Ann", Email: testVisitor}); err != nil {
		t.Fatal(err)
	}
	q, err := visitor.Send(ctx, "", "Do you ship to Norway?")
	if err != nil {
		t.Fatal(err)
	}
	return visitor, q, rec.nextTo("team@shop.test")
}

// aliceTakes connects operator alice and has her take conversation conv
// (routed to her, or accepted from the queue). She is closed at the end of
// the test.
func aliceTakes(t *testing.T, ctx context.Context, env *chatEnv, conv string) *client.Conn {
	t.Helper()
	op, err := client.DialOperator(ctx, env.http.URL, client.Options{Header: http.Header{"X-Operator": {"alice"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { op.Close() })
	if err := op.Wait(ctx, func(c *client.Conn) bool {
		return slices.ContainsFunc(c.Queue(), func(x protocol.Conversation) bool { return x.ID == conv }) ||
			func() bool { cv, ok := c.Conversation(conv); return ok && cv.Status == protocol.StatusAssigned }()
	}); err != nil {
		t.Fatal(err)
	}
	if cv, ok := op.Conversation(conv); !ok || cv.Status != protocol.StatusAssigned {
		if err := op.Accept(ctx, conv); err != nil {
			t.Fatal(err)
		}
	}
	return op
}
