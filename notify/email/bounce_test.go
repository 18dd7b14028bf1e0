package email

import (
	"context"
	"errors"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/client"
	"github.com/shopchat/chat/protocol"
)

// dsn is a delivery status notification (RFC 3464) from the visitor's
// mail server about recipient, with the given Action and Status.
func dsn(rcpt, id, recipient, action, status string) []byte {
	return []byte("From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\r\n" +
		"To: " + rcpt + "\r\n" +
		"Subject: Undelivered Mail Returned to Sender\r\n" +
		"Message-ID: <" + id + "@mx.example.com>\r\n" +
		"Auto-Submitted: auto-replied\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"dsn\"\r\n\r\n" +
		"--dsn\r\nContent-Type: text/plain\r\n\r\nThis is the mail system at host mx.example.com.\r\n" +
		"--dsn\r\nContent-Type: message/delivery-status\r\n\r\n" +
		"Reporting-MTA: dns; mx.example.com\r\nArrival-Date: Tue, 3 Nov 2026 10:00:00 +0100\r\n\r\n" +
		"Final-Recipient: rfc822; " + recipient + "\r\nOriginal-Recipient: rfc822;" + recipient + "\r\n" +
		"Action: " + action + "\r\nStatus: " + status + "\r\n" +
		"Diagnostic-Code: smtp; 550 5.1.1 <" + recipient + ">: Recipient address\r\n rejected: User unknown\r\n" +
		"--dsn\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: Alice at Shop <support@shop.test>\r\nSubject: x\r\n" +
		"--dsn--\r\n")
}

// Bounces: mail to a visitor goes out from a signed, per-conversation
// return path; a DSN to it saying delivery failed for good (sent by swaks
// with the null sender, as mail servers send them) stops mail about the
// conversation and shows the team why, live in the console. An
// out-of-office reply or a delay notice to the return path changes
// nothing; a forged return path is refused.
func TestBounceStopsMailAndShowsInConsole(t *testing.T) {
	swaks, err := exec.LookPath("swaks")
	if err != nil {
		t.Skip("swaks is not installed") // CI installs it; TestSwaksReply fails there without it
	}
	rec, env, smtpAddr := newMailLoop(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	visitor, q, _ := askWhileOffline(t, ctx, env, rec)
	visitor.Close()
	op := aliceTakes(t, ctx, env, q.Conv)
	if _, err := op.Send(ctx, q.Conv, "Yes, in 3-5 days."); err != nil {
		t.Fatal(err)
	}
	missed := rec.nextTo(testVisitor)
	token, ok := strings.CutPrefix(missed.From, "bounce+")
	token, ok2 := strings.CutSuffix(token, "@"+testDomain)
	if !ok || !ok2 || !validToken(token) {
		t.Fatalf("return path (MAIL FROM) %q is not bounce+<token>@%s", missed.From, testDomain)
	}
	if token == env.srv.ReplyToken(q.Conv) || strings.Contains(missed.Header.Get("Reply-To"), token) {
		t.Fatal("the return path's token is the reply address's")
	}
	returnPath := missed.From
	optedOut := func() bool {
		c, err := env.store.Conversation(ctx, q.Conv)
		if err != nil {
			t.Fatal(err)
		}
		return c.MailOptOut
	}
	send := func(what string, raw []byte) {
		t.Helper()
		if err := sendSMTP(t, smtpAddr, "", []string{returnPath}, raw); err != nil {
			t.Fatalf("%s: SMTP %v, want accepted", what, err)
		}
	}

	// An out-of-office reply to the return path (RFC 3834 sends them
	// there) and a delay notice: accepted, nothing changes.
	send("out of office", plainReply(token, testVisitor, "I am away until Monday.", [2]string{"To", returnPath}, [2]string{"Auto-Submitted", "auto-replied"}))
	send("delay", dsn(returnPath, "delay-1", testVisitor, "delayed", "4.4.7"))
	if optedOut() {
		t.Fatal("an auto-reply or a delay stopped the mail")
	}

	// The permanent failure, as a mail server sends it: null sender, by
	// swaks, a real SMTP client.
	cmd := exec.CommandContext(ctx, swaks, "--server", smtpAddr, "--from", "<>", "--to", returnPath,
		"--data", "-", "--timeout", "20", "--silent", "1")
	cmd.Stdin = strings.NewReader(string(dsn(returnPath, "fail-1", testVisitor, "failed", "5.1.1")))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("swaks DSN: %v\n%s", err, out)
	}
	if !optedOut() {
		t.Fatal("the bounce did not stop mail about the conversation")
	}
	// The team sees why, live: an internal note and mail shown as off.
	err = op.Wait(ctx, func(c *client.Conn) bool {
		cv, ok := c.Conversation(q.Conv)
		return ok && cv.MailOff && slices.ContainsFunc(c.Messages(q.Conv), func(m protocol.Message) bool {
			return m.Kind == protocol.KindNote && strings.Contains(m.Text, "Mail to "+testVisitor+" bounced (5.1.1: 550 5.1.1") &&
				strings.Contains(m.Text, "User unknown")
		})
	})
	if err != nil {
		t.Fatalf("the console never showed the bounce: %v; messages %+v", err, op.Messages(q.Conv))
	}
	// The address is marked for the visitor, shown beside it in the side
	// panel, and no mail goes to it, about this conversation or another.
	details, err := op.VisitorDetails(ctx, q.Conv)
	if err != nil {
		t.Fatal(err)
	}
	if details.Email != testVisitor || !details.EmailBounces {
		t.Errorf("visitor details %+v, want the address marked as bouncing", details)
	}
	if err := env.srv.SendTranscript(ctx, q.Conv); !errors.Is(err, chat.ErrInvalid) {
		t.Errorf("transcript to a bouncing address: %v, want ErrInvalid", err)
	}
	// The same DSN again records nothing new; a forged return path is
	// refused.
	send("redelivered", dsn(returnPath, "fail-1", testVisitor, "failed", "5.1.1"))
	forged := "bounce+" + strings.Repeat("a", 48) + "@" + testDomain
	if err := sendSMTP(t, smtpAddr, "", []string{forged}, dsn(forged, "fail-2", testVisitor, "failed", "5.1.1")); smtpCode(err) != 550 {
		t.Errorf("forged return path: %v, want 550", err)
	}
	ms, err := env.store.Messages(ctx, chat.MessageQuery{ConversationID: q.Conv})
	if err != nil {
		t.Fatal(err)
	}
	notes := 0
	for _, m := range ms {
		if m.Kind == chat.Note {
			notes++
		}
		if m.Kind == chat.VisitorText && m.Text != "Do you ship to Norway?" {
			t.Errorf("mail to the return path was posted as the visitor's: %q", m.Text)
		}
	}
	if notes != 1 {
		t.Errorf("%d bounce notes, want 1", notes)
	}
}

// A provider's webhook delivers the DSN: the same record, answered 202.
func TestBounceByWebhook(t *testing.T) {
	e := newInboundEnv(t, nil, nil)
	returnPath := "bounce+" + e.srv.BounceToken(e.conv) + "@" + testDomain
	if code := e.post(t, dsn(returnPath, "w-1", testVisitor, "failed", "5.2.1")); code != http.StatusAccepted {
		t.Fatalf("webhook: %d, want 202", code)
	}
	c, err := e.store.Conversation(context.Background(), e.conv)
	if err != nil {
		t.Fatal(err)
	}
	if !c.MailOptOut {
		t.Error("the bounce did not stop mail")
	}
	if got := e.met.get("email_inbound_bounces_total"); got != 1 {
		t.Errorf("bounces counted %v, want 1", got)
	}
}
