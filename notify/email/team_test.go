package email

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/client"
	"github.com/shopchat/chat/protocol"
)

// The team answers by email: the offline-message mail to the team carries
// a signed team Reply-To; an operator's answer from their known address,
// sent by swaks to the SMTP receiver, is posted as that operator and
// reaches the visitor live; once the visitor has left, the next mailed
// answer is mailed on to them. Any other sender is refused with 550, and
// the visitor's and the team's tokens do not stand in for each other.
func TestTeamAnswersByEmail(t *testing.T) {
	rec, env, smtpAddr := newMailLoop(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bob := &chat.Operator{ID: "bob", Name: "Bob", Email: "bob@shop.test"}
	if err := env.store.PutOperator(ctx, bob); err != nil {
		t.Fatal(err)
	}

	visitor, q, offline := askWhileOffline(t, ctx, env, rec)
	rt, err := offline.Header.AddressList("Reply-To")
	if err != nil || len(rt) != 1 {
		t.Fatalf("team mail Reply-To: %v %v", rt, err)
	}
	mt := replyToRE.FindStringSubmatch(rt[0].Address)
	if mt == nil {
		t.Fatalf("team Reply-To %q is not reply+<token>@%s", rt[0].Address, testDomain)
	}
	teamRcpt, teamToken := rt[0].Address, mt[1]
	if teamToken == env.srv.ReplyToken(q.Conv) {
		t.Fatal("the team's token is the visitor's")
	}
	if !strings.Contains(offline.Text, "reply to this email") {
		t.Errorf("team mail does not say it can be answered by mail:\n%s", offline.Text)
	}

	// Bob answers from his mail client: swaks, a real SMTP client.
	swaks, err := exec.LookPath("swaks")
	if err != nil {
		t.Skip("swaks is not installed") // CI installs it; TestSwaksReply fails there without it
	}
	body := "Yes, we ship to Norway in 3-5 days.\n\nOn Tue, 3 Nov 2026 at 10:00, Shop chat <" + teamRcpt + "> wrote:\n> Ann <" + testVisitor + "> wrote while no one was available:\n> Do you ship to Norway?\n"
	cmd := exec.CommandContext(ctx, swaks, "--server", smtpAddr, "--to", teamRcpt, "--from", bob.Email,
		"--header", "Subject: Re: [Shop] New message", "--body", body, "--timeout", "20", "--silent", "1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	// The visitor, still here, sees it live, from Bob.
	err = visitor.Wait(ctx, func(c *client.Conn) bool {
		return slices.ContainsFunc(c.Messages(q.Conv), func(m protocol.Message) bool {
			return m.Kind == protocol.KindOperator && m.Text == "Yes, we ship to Norway in 3-5 days." && m.Author != nil && m.Author.Name == "Bob"
		})
	})
	if err != nil {
		t.Fatalf("the visitor never saw Bob's mailed answer: %v; has %+v", err, visitor.Messages(q.Conv))
	}

	// The visitor reads it and leaves; Bob's next mailed answer is mailed on
	// to them. The read receipt can lose to the (short) missed-reply delay,
	// so a mail of the first answer alone may come first; once read, it is
	// never mailed again.
	const firstAnswer = "Yes, we ship to Norway in 3-5 days."
	var firstSeq int64
	for _, m := range visitor.Messages(q.Conv) {
		if m.Text == firstAnswer {
			firstSeq = m.Seq
		}
	}
	if err := visitor.MarkRead(ctx, q.Conv, firstSeq); err != nil {
		t.Fatalf("mark read: %v", err)
	}
	visitor.Close()
	if err := sendSMTP(t, smtpAddr, bob.Email, []string{teamRcpt}, plainReply(teamToken, bob.Email, "Shipping is free above 50 EUR.\n\nSent from my iPhone")); err != nil {
		t.Fatalf("second answer: %v", err)
	}
	missed := rec.nextTo(testVisitor)
	if strings.Contains(missed.Text, firstAnswer) && !strings.Contains(missed.Text, "Shipping is free") {
		missed = rec.nextTo(testVisitor) // the first answer's mail, sent before the receipt
	}
	if strings.Contains(missed.Text, firstAnswer) {
		t.Errorf("an answer the visitor read was mailed with the next one:\n%s", missed.Text)
	}
	if !strings.Contains(missed.Text, "Shipping is free above 50 EUR.") || strings.Contains(missed.Text, "iPhone") {
		t.Errorf("missed-reply mail lacks Bob's answer or keeps his footer:\n%s", missed.Text)
	}
	if got := missed.Header.Get("From"); !strings.Contains(got, "Bob") {
		t.Errorf("missed-reply mail From = %q, want Bob's name", got)
	}

	// Refused: a stranger with the team token, the visitor with the team
	// token, Bob with the visitor's token.
	for name, c := range map[string]struct{ from, token string }{
		"stranger, team token":    {"mallory@evil.test", teamToken},
		"visitor, team token":     {testVisitor, teamToken},
		"operator, visitor token": {bob.Email, env.srv.ReplyToken(q.Conv)},
	} {
		raw := plainReply(c.token, c.from, "I am "+c.from)
		if err := sendSMTP(t, smtpAddr, c.from, []string{"reply+" + c.token + "@" + testDomain}, raw); smtpCode(err) != 550 {
			t.Errorf("%s: SMTP %v, want 550", name, err)
		}
	}
	ms, err := env.store.Messages(ctx, chat.MessageQuery{ConversationID: q.Conv})
	if err != nil {
		t.Fatal(err)
	}
	var operator []string
	for _, m := range ms {
		if strings.HasPrefix(m.Text, "I am ") {
			t.Errorf("a refused reply was posted: %+v", m)
		}
		if m.Kind == chat.OperatorText {
			operator = append(operator, m.AuthorID+": "+m.Text)
		}
	}
	if want := []string{"bob: Yes, we ship to Norway in 3-5 days.", "bob: Shipping is free above 50 EUR."}; !slices.Equal(operator, want) {
		t.Errorf("operator messages %q, want %q", operator, want)
	}
}
