package email

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	netmail "net/mail"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/google/uuid"

	"github.com/shopchat/chat"
)

var (
	convID = "0b6f1d1e-5c1a-4a55-9f0e-6a1a1c2d3e4f"
	when   = time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	// msgIDRE is a Message-ID we generate: a UUID at the reply domain.
	msgIDRE = regexp.MustCompile(`^<[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}@` + regexp.QuoteMeta(testDomain) + `>$`)
)

func offlineNote(visitorName, text string) chat.Notification {
	return chat.Notification{
		ID:           "offline_message:" + convID + ":1",
		Kind:         chat.OfflineMessage,
		Conversation: &chat.Conversation{ID: convID},
		Visitor:      &chat.Visitor{ID: "v1", Name: visitorName, Email: testVisitor},
		Messages:     []*chat.Message{{Seq: 1, Kind: chat.VisitorText, Text: text, CreatedAt: when}},
	}
}

func missedNote(operatorName, text, token string) chat.Notification {
	return chat.Notification{
		ID:           "missed_reply:" + convID + ":3",
		Kind:         chat.MissedReply,
		Conversation: &chat.Conversation{ID: convID, OperatorID: "alice"},
		Visitor:      &chat.Visitor{ID: "v1", Name: "Ann", Email: testVisitor},
		Operator:     &chat.Operator{ID: "alice", Name: operatorName},
		Messages: []*chat.Message{
			{Seq: 2, Kind: chat.Note, AuthorName: operatorName, Text: "internal: VIP customer", CreatedAt: when},
			{Seq: 3, Kind: chat.OperatorText, AuthorName: operatorName, Text: text, CreatedAt: when},
		},
		ReplyToken: token,
	}
}

// headerLines returns the raw header section's lines, unfolded.
func headerLines(raw []byte) []string {
	head, _, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(head))
	for sc.Scan() {
		l := sc.Text()
		if (strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")) && len(lines) > 0 {
			lines[len(lines)-1] += l
			continue
		}
		lines = append(lines, l)
	}
	return lines
}

func decodeHeader(t *testing.T, v string) string {
	t.Helper()
	s, err := wordDecoder.DecodeHeader(v)
	if err != nil {
		t.Fatalf("decode %q: %v", v, err)
	}
	return s
}

func assertThreading(t *testing.T, m *received) {
	t.Helper()
	if got := m.Header.Get("Auto-Submitted"); got != "auto-generated" {
		t.Errorf("Auto-Submitted = %q", got)
	}
	if id := m.Header.Get("Message-Id"); !msgIDRE.MatchString(id) {
		t.Errorf("Message-ID = %q, want <uuid@%s>", id, testDomain)
	}
	root := "<conv-" + convID + "@" + testDomain + ">"
	if got := m.Header.Get("In-Reply-To"); got != root {
		t.Errorf("In-Reply-To = %q, want %q", got, root)
	}
	if got := m.Header.Get("References"); got != root {
		t.Errorf("References = %q, want %q", got, root)
	}
}

func TestOfflineMessageMailsOperators(t *testing.T) {
	rec := newRecorder(t, "127.0.0.1:0", recOpts{})
	n := newNotifier(t, rec)
	if err := n.Notify(context.Background(), offlineNote("Ann", "Do you ship to Norway?")); err != nil {
		t.Fatal(err)
	}
	m := rec.next()
	if len(m.To) != 1 || m.To[0] != "team@shop.test" {
		t.Errorf("RCPT = %v, want the operators' mailbox", m.To)
	}
	if got, want := decodeHeader(t, m.Header.Get("Subject")), "[Shop] New message from Ann <ann@example.com>"; got != want {
		t.Errorf("Subject = %q, want %q", got, want)
	}
	if rt := m.Header.Get("Reply-To"); rt != "" {
		t.Errorf("operator mail has Reply-To %q; operators answer in the console", rt)
	}
	for _, want := range []string{"Do you ship to Norway?", "Ann <ann@example.com>", "https://shop.test/chat/console/"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("text body lacks %q:\n%s", want, m.Text)
		}
		if !strings.Contains(m.HTML, strings.ReplaceAll(strings.ReplaceAll(want, "<", "&lt;"), ">", "&gt;")) {
			t.Errorf("HTML body lacks %q:\n%s", want, m.HTML)
		}
	}
	assertThreading(t, m)
}

func TestMissedReplyMailsVisitor(t *testing.T) {
	rec := newRecorder(t, "127.0.0.1:0", recOpts{})
	met := newMetrics()
	n := newNotifier(t, rec, func(c *Config) { c.Metrics = met })
	const token = "abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnop"
	if err := n.Notify(context.Background(), missedNote("Alice", "Yes, in 3 to 5 days.", token)); err != nil {
		t.Fatal(err)
	}
	m := rec.next()
	if len(m.To) != 1 || m.To[0] != testVisitor {
		t.Errorf("RCPT = %v, want the visitor", m.To)
	}
	from, err := m.Header.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Name != "Alice at Shop" || from[0].Address != "support@shop.test" {
		t.Errorf("From = %v (%v), want \"Alice at Shop\" <support@shop.test>", from, err)
	}
	rt, err := m.Header.AddressList("Reply-To")
	if err != nil || len(rt) != 1 || rt[0].Address != "reply+"+token+"@"+testDomain {
		t.Errorf("Reply-To = %v (%v), want reply+<token>@%s", rt, err, testDomain)
	}
	assertThreading(t, m)
	for _, want := range []string{"Alice", "Yes, in 3 to 5 days.", "Tue, 3 Nov 2026 10:00 UTC", "Reply to this email to answer"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("text body lacks %q:\n%s", want, m.Text)
		}
	}
	if strings.Contains(m.Text, "VIP") || strings.Contains(m.HTML, "VIP") {
		t.Error("an internal note reached the visitor")
	}
	met.waitEvent(t, "email_sent_total")

	// Another notification gets another Message-ID.
	other := missedNote("Alice", "And one more thing.", token)
	other.ID = "missed_reply:" + convID + ":4"
	if err := n.Notify(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	if m2 := rec.next(); m2.Header.Get("Message-Id") == m.Header.Get("Message-Id") {
		t.Error("two notifications share a Message-ID")
	}
}

func TestHeaderInjection(t *testing.T) {
	rec := newRecorder(t, "127.0.0.1:0", recOpts{})
	n := newNotifier(t, rec)
	ctx := context.Background()
	if err := n.Notify(ctx, offlineNote("Ann\r\nBcc: evil@x.test", "hi")); err != nil {
		t.Fatal(err)
	}
	if err := n.Notify(ctx, missedNote("Alice\r\nBcc: evil@x.test\u2028X-Evil: 1", "hello", "abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnop")); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		m := rec.next()
		for _, to := range m.To {
			if strings.Contains(to, "evil") {
				t.Errorf("injected recipient %q", to)
			}
		}
		for _, l := range headerLines(m.Raw) {
			name, _, _ := strings.Cut(l, ":")
			if strings.EqualFold(name, "Bcc") || strings.EqualFold(name, "X-Evil") {
				t.Errorf("injected header line %q", l)
			}
		}
		if m.Header.Get("Bcc") != "" || m.Header.Get("X-Evil") != "" {
			t.Errorf("injected header in %v", m.Header)
		}
	}
}

func TestHTMLBodyEscapesUserText(t *testing.T) {
	rec := newRecorder(t, "127.0.0.1:0", recOpts{})
	n := newNotifier(t, rec)
	const evil = `<img src=x onerror=alert(1)>`
	if err := n.Notify(context.Background(), offlineNote(`<b>Ann</b>`, evil)); err != nil {
		t.Fatal(err)
	}
	m := rec.next()
	if strings.Contains(m.HTML, "<img") || strings.Contains(m.HTML, "<b>Ann") {
		t.Errorf("user HTML reached the HTML body:\n%s", m.HTML)
	}
	if !strings.Contains(m.HTML, "&lt;img src=x onerror=alert(1)&gt;") {
		t.Errorf("HTML body lacks the escaped text:\n%s", m.HTML)
	}
	if !strings.Contains(m.Text, evil) {
		t.Errorf("text body should carry the text as typed:\n%s", m.Text)
	}
}

// An SMTP server that is down is retried with backoff until it comes up.
func TestRetriesUntilServerComesUp(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens there now
	met := newMetrics()
	n, err := New(Config{
		Host: "127.0.0.1", Port: port, TLS: NoTLS,
		From: netmail.Address{Address: "support@shop.test"}, Operators: []string{"team@shop.test"},
		Metrics: met, MaxRetries: 1000, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond,
		Logger: testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(context.Background()) })
	if err := n.Notify(context.Background(), offlineNote("Ann", "anyone there?")); err != nil {
		t.Fatal(err)
	}
	met.waitEvent(t, "email_send_retries_total") // it failed at least once
	rec := newRecorder(t, addr, recOpts{})       // the server comes up
	m := rec.next()
	if !strings.Contains(m.Text, "anyone there?") {
		t.Errorf("wrong mail:\n%s", m.Text)
	}
	met.waitEvent(t, "email_sent_total")
	if met.get("email_sent_total") != 1 || met.get("email_send_failures_total") != 0 {
		t.Errorf("sent %v, failed %v", met.get("email_sent_total"), met.get("email_send_failures_total"))
	}
}

// A server answering 451 is retried; one answering 550 is not.
func TestRetriesTemporaryRefusalOnly(t *testing.T) {
	rec := newRecorder(t, "127.0.0.1:0", recOpts{refuse: func(n int) error {
		if n <= 2 {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
		}
		return nil
	}})
	met := newMetrics()
	n := newNotifier(t, rec, func(c *Config) { c.Metrics = met })
	if err := n.Notify(context.Background(), offlineNote("Ann", "third time lucky")); err != nil {
		t.Fatal(err)
	}
	rec.next()
	if got := met.get("email_send_retries_total"); got != 2 {
		t.Errorf("retries = %v, want 2", got)
	}

	perm := newRecorder(t, "127.0.0.1:0", recOpts{refuse: func(int) error {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}})
	met2 := newMetrics()
	n2 := newNotifier(t, perm, func(c *Config) { c.Metrics = met2 })
	if err := n2.Notify(context.Background(), offlineNote("Ann", "never")); err != nil {
		t.Fatal(err)
	}
	met2.waitEvent(t, "email_send_failures_total")
	if got := met2.get("email_send_retries_total"); got != 0 {
		t.Errorf("a permanent refusal was retried %v times", got)
	}
	perm.mu.Lock()
	datas := perm.datas
	perm.mu.Unlock()
	if datas != 1 {
		t.Errorf("server saw %d attempts, want 1", datas)
	}
}

func TestLogOnlyWithoutHost(t *testing.T) {
	var logs logBuffer
	n, err := New(Config{Logger: logs.logger(), Operators: []string{"team@shop.test"}, SiteName: "Demo"})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Notify(context.Background(), offlineNote("Ann", "Do you ship to Norway?")); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	for _, want := range []string{"email not configured: would send", "to=team@shop.test", "[Demo] New message from Ann <ann@example.com>", "Do you ship to Norway?"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if err := n.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestSkipsWhatIsNotForPeopleOrHasNoAddress(t *testing.T) {
	rec := newRecorder(t, "127.0.0.1:0", recOpts{})
	met := newMetrics()
	var logs logBuffer
	n := newNotifier(t, rec, func(c *Config) { c.Metrics = met; c.Logger = logs.logger() })
	ctx := context.Background()
	event := offlineNote("Ann", "x")
	event.Kind = chat.MessagePosted
	if err := n.Notify(ctx, event); err != nil {
		t.Errorf("event kind: %v", err)
	}
	for _, email := range []string{"", "not an address", "ann@example.com\r\nBcc: evil@x.test"} {
		note := missedNote("Alice", "hi", "abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnop")
		note.Visitor.Email = email
		if err := n.Notify(ctx, note); err != nil {
			t.Errorf("email %q: %v", email, err)
		}
	}
	if got := met.get("email_skipped_total"); got != 3 {
		t.Errorf("skipped = %v, want 3", got)
	}
	if !strings.Contains(logs.String(), "no valid email address") {
		t.Errorf("no log line for the skipped mail:\n%s", logs.String())
	}
	// Something that is sent proves nothing else was queued before it.
	if err := n.Notify(ctx, offlineNote("Ann", "marker")); err != nil {
		t.Fatal(err)
	}
	if m := rec.next(); !strings.Contains(m.Text, "marker") {
		t.Errorf("unexpected mail:\n%s", m.Text)
	}
	rec.none()
}

// The queue is bounded; Close with an ended context gives up on what is
// queued and still waits for the worker.
func TestQueueFullAndCloseGivesUp(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	met := newMetrics()
	n, err := New(Config{
		Host: "127.0.0.1", Port: port, TLS: NoTLS, From: netmail.Address{Address: "support@shop.test"},
		Operators: []string{"team@shop.test"}, Metrics: met, QueueSize: 1,
		MaxRetries: 1000, MinBackoff: time.Hour, MaxBackoff: time.Hour, Logger: (&logBuffer{}).logger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := n.Notify(ctx, offlineNote("Ann", "1")); err != nil {
		t.Fatal(err)
	}
	met.waitEvent(t, "email_send_retries_total") // the worker holds mail 1, waiting an hour
	if err := n.Notify(ctx, offlineNote("Ann", "2")); err != nil {
		t.Fatal(err)
	}
	if err := n.Notify(ctx, offlineNote("Ann", "3")); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("third mail: %v, want ErrQueueFull", err)
	}
	if met.get("email_queue_full_total") != 1 {
		t.Errorf("queue full not counted")
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	if err := n.Close(done); !errors.Is(err, context.Canceled) {
		t.Errorf("Close = %v, want context.Canceled", err)
	}
	if got := met.get("email_send_failures_total"); got != 2 {
		t.Errorf("failures = %v, want 2 (the one in backoff and the queued one)", got)
	}
	if err := n.Notify(ctx, offlineNote("Ann", "4")); !errors.Is(err, ErrClosed) {
		t.Errorf("Notify after Close = %v, want ErrClosed", err)
	}
}

// Close sends what is queued before it returns.
func TestCloseDrainsQueue(t *testing.T) {
	rec := newRecorder(t, "127.0.0.1:0", recOpts{})
	n := newNotifier(t, rec)
	for i := range 5 {
		note := offlineNote("Ann", "question")
		note.ID = uuid.NewString()
		note.Messages[0].Text = fmt.Sprint("question ", i)
		if err := n.Notify(context.Background(), note); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(rec.mails); got != 5 {
		t.Errorf("%d mails sent before Close returned, want 5", got)
	}
}

// The default policy, mandatory STARTTLS, upgrades the connection and
// refuses a server without STARTTLS.
func TestStartTLS(t *testing.T) {
	ts := httptest.NewTLSServer(nil) // for its certificate (127.0.0.1)
	ts.Close()
	roots := x509.NewCertPool()
	roots.AddCert(ts.Certificate())
	rec := newRecorder(t, "127.0.0.1:0", recOpts{tls: ts.TLS.Clone()})
	n := newNotifier(t, rec, func(c *Config) {
		c.TLS = StartTLS
		c.TLSConfig = &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}
	})
	if err := n.Notify(context.Background(), offlineNote("Ann", "secret question")); err != nil {
		t.Fatal(err)
	}
	if m := rec.next(); !m.TLS {
		t.Error("mail was not sent over TLS")
	}

	plain := newRecorder(t, "127.0.0.1:0", recOpts{})
	met := newMetrics()
	n2 := newNotifier(t, plain, func(c *Config) {
		c.TLS = StartTLS
		c.TLSConfig = &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}
		c.Metrics = met
		c.MaxRetries = -1
	})
	if err := n2.Notify(context.Background(), offlineNote("Ann", "secret question")); err != nil {
		t.Fatal(err)
	}
	met.waitEvent(t, "email_send_failures_total")
	plain.none()
}

func TestNewValidates(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no from":         {Host: "smtp.test"},
		"bad from":        {Host: "smtp.test", From: netmail.Address{Address: "nope"}},
		"bad operator":    {Host: "smtp.test", From: netmail.Address{Address: "a@b.test"}, Operators: []string{"x"}},
		"bad domain":      {Host: "smtp.test", From: netmail.Address{Address: "a@b.test"}, ReplyDomain: "a b"},
		"bad tls":         {Host: "smtp.test", From: netmail.Address{Address: "a@b.test"}, TLS: TLSPolicy(9)},
		"injected domain": {Host: "smtp.test", From: netmail.Address{Address: "a@b.test"}, ReplyDomain: "b.test>\r\nBcc: x@y"},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
}
