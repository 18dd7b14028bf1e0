package email

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopchat/chat"
)

// inboundEnv is a chat server with one conversation whose visitor is
// testVisitor, an Inbound for it, its SMTP receiver and its webhook.
type inboundEnv struct {
	*chatEnv
	in    *Inbound
	conv  string
	token string
	smtp  string // the SMTP receiver's address
	hook  *httptest.Server
	logs  *logBuffer
	met   *metrics
}

func newInboundEnv(t *testing.T, editChat func(*chat.Config), editIn func(*InboundConfig)) *inboundEnv {
	t.Helper()
	var edits []func(*chat.Config)
	if editChat != nil {
		edits = append(edits, editChat)
	}
	ce := newChat(t, edits...)
	e := &inboundEnv{chatEnv: ce, logs: &logBuffer{}, met: newMetrics()}
	e.in = ce.newInbound(t, func(c *InboundConfig) {
		c.Logger = e.logs.logger()
		c.Metrics = e.met
		if editIn != nil {
			editIn(c)
		}
	})
	e.conv = ce.conversation(t, testVisitor)
	e.token = ce.srv.ReplyToken(e.conv)
	e.smtp = serveSMTP(t, e.in)
	e.hook = httptest.NewServer(e.in)
	t.Cleanup(e.hook.Close)
	return e
}

func (e *inboundEnv) rcpt() string { return "reply+" + e.token + "@" + testDomain }

// handle runs Handle with the reply address as envelope recipient.
func (e *inboundEnv) handle(raw []byte) (*chat.Message, error) {
	return e.in.Handle(context.Background(), bytes.NewReader(raw), nil)
}

// post sends raw to the webhook with the right secret.
func (e *inboundEnv) post(t *testing.T, raw []byte) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.hook.URL, bytes.NewReader(raw))
	req.Header.Set("X-Shopchat-Secret", "webhook-secret")
	req.Header.Set("Content-Type", "message/rfc822")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// posted asserts how many visitor messages the conversation holds.
func (e *inboundEnv) posted(t *testing.T, want int) []string {
	t.Helper()
	got := e.visitorTexts(t, e.conv)
	if len(got) != want {
		t.Fatalf("%d messages posted, want %d: %q", len(got), want, got)
	}
	return got
}

const forgedToken = "abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnop"

func TestRefusesMissingForgedAndExpiredTokens(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	e := newInboundEnv(t, func(c *chat.Config) { c.Now = clock.now }, nil)

	// No reply address among the recipients (the token in From or
	// Reply-To does not count).
	noToken := reply{body: "hello", headers: [][2]string{
		{"To", "Shop <support@shop.test>"},
		{"Reply-To", e.rcpt()},
	}}.bytes(e.token, testVisitor)
	if _, err := e.in.Parse(bytes.NewReader(noToken)); !errors.Is(err, ErrNoToken) {
		t.Errorf("Parse without token: %v", err)
	}
	if _, err := e.handle(noToken); !errors.Is(err, ErrNoToken) {
		t.Errorf("Handle without token: %v", err)
	}
	if code := e.post(t, noToken); code != http.StatusUnprocessableEntity {
		t.Errorf("webhook without token: %d", code)
	}
	if err := sendSMTP(t, e.smtp, testVisitor, []string{"support@" + testDomain}, noToken); smtpCode(err) != 550 {
		t.Errorf("RCPT to a non-reply address: %v, want 550", err)
	}
	if err := sendSMTP(t, e.smtp, testVisitor, []string{"reply+" + e.token + "@other.test"}, noToken); smtpCode(err) != 550 {
		t.Errorf("RCPT to another domain: %v, want 550", err)
	}

	// A forged token.
	forged := plainReply(forgedToken, testVisitor, "hello")
	if _, err := e.handle(forged); !errors.Is(err, chat.ErrReplyToken) {
		t.Errorf("forged token: %v", err)
	}
	if code := e.post(t, forged); code != http.StatusUnprocessableEntity {
		t.Errorf("webhook with forged token: %d", code)
	}
	if err := sendSMTP(t, e.smtp, testVisitor, []string{"reply+" + forgedToken + "@" + testDomain}, forged); smtpCode(err) != 550 {
		t.Errorf("SMTP with forged token: %v, want 550", err)
	}

	// An expired token.
	clock.advance(31 * 24 * time.Hour)
	expired := plainReply(e.token, testVisitor, "hello")
	if _, err := e.handle(expired); !errors.Is(err, chat.ErrReplyToken) {
		t.Errorf("expired token: %v", err)
	}
	if err := sendSMTP(t, e.smtp, testVisitor, []string{e.rcpt()}, expired); smtpCode(err) != 550 {
		t.Errorf("SMTP with expired token: %v, want 550", err)
	}
	e.posted(t, 0)
	if !strings.Contains(e.logs.String(), `reason="bad or expired token"`) {
		t.Errorf("refusal not logged with its reason:\n%s", e.logs.String())
	}
	if strings.Contains(e.logs.String(), e.token) {
		t.Error("a reply token was logged")
	}
}

func TestRefusesSenderOtherThanVisitor(t *testing.T) {
	e := newInboundEnv(t, nil, nil)
	for name, headers := range map[string][][2]string{
		"other address":             {{"From", "Mallory <mallory@evil.test>"}},
		"visitor in Reply-To":       {{"From", "mallory@evil.test"}, {"Reply-To", testVisitor}},
		"visitor as display name":   {{"From", `"` + testVisitor + `" <mallory@evil.test>`}},
		"visitor in Sender":         {{"From", "mallory@evil.test"}, {"Sender", testVisitor}},
		"two senders":               {{"From", testVisitor + ", mallory@evil.test"}},
		"encoded visitor disp name": {{"From", "=?utf-8?q?ann=40example=2Ecom?= <mallory@evil.test>"}},
	} {
		raw := reply{body: "let me in", headers: headers}.bytes(e.token, testVisitor)
		_, err := e.handle(raw)
		if !errors.Is(err, chat.ErrForbidden) && !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrForbidden", name, err)
		}
		if code := e.post(t, raw); code != http.StatusUnprocessableEntity {
			t.Errorf("%s: webhook %d", name, code)
		}
		if err := sendSMTP(t, e.smtp, "mallory@evil.test", []string{e.rcpt()}, raw); smtpCode(err) != 550 {
			t.Errorf("%s: SMTP %v, want 550", name, err)
		}
	}
	e.posted(t, 0)
	if !strings.Contains(e.logs.String(), "sender is not the conversation's visitor") {
		t.Errorf("refusal reason not logged:\n%s", e.logs.String())
	}
}

func TestDropsAutoRepliesAndBounces(t *testing.T) {
	e := newInboundEnv(t, nil, nil)
	dsn := "From: Mail Delivery System <postmaster@mx.example.com>\r\n" +
		"To: " + e.rcpt() + "\r\n" +
		"Subject: Undelivered Mail Returned to Sender\r\n" +
		"Message-ID: <dsn-1@mx.example.com>\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"dsn\"\r\n\r\n" +
		"--dsn\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n" +
		"--dsn\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.com\r\n\r\n" +
		"Final-Recipient: rfc822; ann@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n" +
		"--dsn--\r\n"
	for name, c := range map[string]struct {
		raw  []byte
		want error
	}{
		"Auto-Submitted: auto-replied":   {plainReply(e.token, testVisitor, "I am on holiday.", [2]string{"Auto-Submitted", "auto-replied"}), ErrAutoReply},
		"Auto-Submitted: auto-generated": {plainReply(e.token, testVisitor, "x", [2]string{"Auto-Submitted", "Auto-Generated; type=ooo"}), ErrAutoReply},
		"Precedence: bulk":               {plainReply(e.token, testVisitor, "x", [2]string{"Precedence", "bulk"}), ErrAutoReply},
		"Precedence: auto_reply":         {plainReply(e.token, testVisitor, "x", [2]string{"Precedence", "auto_reply"}), ErrAutoReply},
		"X-Autoreply":                    {plainReply(e.token, testVisitor, "x", [2]string{"X-Autoreply", "yes"}), ErrAutoReply},
		"X-Autorespond":                  {plainReply(e.token, testVisitor, "x", [2]string{"X-Autorespond", "on"}), ErrAutoReply},
		"DSN":                            {[]byte(dsn), ErrBounce},
		"MAILER-DAEMON":                  {plainReply(e.token, "MAILER-DAEMON@mx.example.com", "failed"), ErrBounce},
		"null Return-Path":               {plainReply(e.token, testVisitor, "x", [2]string{"Return-Path", "<>"}), ErrBounce},
	} {
		if _, err := e.handle(c.raw); !errors.Is(err, c.want) {
			t.Errorf("%s: Handle = %v, want %v", name, err, c.want)
		}
		if code := e.post(t, c.raw); code != http.StatusOK {
			t.Errorf("%s: webhook %d, want 200", name, code)
		}
		if err := sendSMTP(t, e.smtp, "robot@example.com", []string{e.rcpt()}, c.raw); err != nil {
			t.Errorf("%s: SMTP %v, want accepted and dropped", name, err)
		}
	}
	// A valid reply from a null envelope sender is a bounce too.
	if err := sendSMTP(t, e.smtp, "", []string{e.rcpt()}, plainReply(e.token, testVisitor, "x")); err != nil {
		t.Errorf("null sender: %v, want accepted and dropped", err)
	}
	e.posted(t, 0)

	// Auto-Submitted: no is a person.
	if _, err := e.handle(plainReply(e.token, testVisitor, "I wrote this myself.", [2]string{"Auto-Submitted", "no"})); err != nil {
		t.Errorf("Auto-Submitted: no: %v", err)
	}
	e.posted(t, 1)
	if got := e.met.get("email_inbound_dropped_total"); got < 10 {
		t.Errorf("dropped counted %v times", got)
	}
}

func TestDuplicateMessageIDPostsOnce(t *testing.T) {
	e := newInboundEnv(t, nil, nil)
	raw := plainReply(e.token, testVisitor, "Only once, please.", [2]string{"Message-ID", "<dup-1@example.com>"})
	m1, err := e.handle(raw)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := e.handle(raw)
	if err != nil {
		t.Fatal(err)
	}
	if m1.ID != m2.ID || m1.Seq != m2.Seq {
		t.Errorf("second delivery posted %v, first %v", m2, m1)
	}
	if err := sendSMTP(t, e.smtp, testVisitor, []string{e.rcpt()}, raw); err != nil {
		t.Errorf("SMTP redelivery: %v", err)
	}
	e.posted(t, 1)

	// Through the webhook: 202, then 200 for the duplicate.
	raw2 := plainReply(e.token, testVisitor, "Webhook once.", [2]string{"Message-ID", "<dup-2@example.com>"})
	if code := e.post(t, raw2); code != http.StatusAccepted {
		t.Errorf("first POST: %d, want 202", code)
	}
	if code := e.post(t, raw2); code != http.StatusOK {
		t.Errorf("second POST: %d, want 200", code)
	}
	e.posted(t, 2)

	// A mail without a Message-ID is identified by its bytes.
	raw3 := plainReply(e.token, testVisitor, "No id.", [2]string{"Message-ID", ""})
	for range 2 {
		if _, err := e.handle(raw3); err != nil {
			t.Fatal(err)
		}
	}
	e.posted(t, 3)
}

func TestOversizedMessage(t *testing.T) {
	e := newInboundEnv(t, nil, func(c *InboundConfig) { c.MaxSize = 64 << 10 })
	big := plainReply(e.token, testVisitor, strings.Repeat("all work and no play\n", 5000))
	if _, err := e.in.Parse(bytes.NewReader(big)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Parse: %v", err)
	}
	if code := e.post(t, big); code != http.StatusRequestEntityTooLarge {
		t.Errorf("webhook: %d, want 413", code)
	}
	if err := sendSMTP(t, e.smtp, testVisitor, []string{e.rcpt()}, big); smtpCode(err) != 552 {
		t.Errorf("SMTP: %v, want 552", err)
	}
	e.posted(t, 0)
}

// nested returns a reply whose text sits levels MIME levels deep.
func nested(token string, levels int) []byte {
	var b strings.Builder
	b.WriteString("From: " + testVisitor + "\r\nTo: reply+" + token + "@" + testDomain + "\r\n")
	b.WriteString("Message-ID: <nested-" + fmt.Sprint(levels) + "@example.com>\r\nMIME-Version: 1.0\r\n")
	for i := 0; i < levels-1; i++ {
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n--b%d\r\n", i, i)
	}
	b.WriteString("Content-Type: text/plain\r\n\r\nfrom deep down\r\n")
	for i := levels - 2; i >= 0; i-- {
		fmt.Fprintf(&b, "--b%d--\r\n", i)
	}
	return []byte(b.String())
}

func TestDeepMIMENesting(t *testing.T) {
	e := newInboundEnv(t, nil, nil)
	deep := nested(e.token, 50)
	if _, err := e.handle(deep); !errors.Is(err, ErrTooDeep) {
		t.Errorf("50 levels: %v", err)
	}
	if code := e.post(t, deep); code != http.StatusUnprocessableEntity {
		t.Errorf("webhook: %d", code)
	}
	e.posted(t, 0)
	if _, err := e.handle(nested(e.token, 10)); err != nil {
		t.Errorf("10 levels (the default limit): %v", err)
	}
	if got := e.posted(t, 1); got[0] != "from deep down" {
		t.Errorf("posted %q", got[0])
	}
}

func TestCharsetsAndEncodings(t *testing.T) {
	e := newInboundEnv(t, nil, nil)
	// An unknown charset is read as UTF-8; text that is not UTF-8 after
	// decoding is refused, not stored with U+FFFD in place of the words.
	unknown := plainReply(e.token, testVisitor, "Hello from Qo'noS \xff!", [2]string{"Content-Type", "text/plain; charset=x-klingon"})
	if _, err := e.handle(unknown); !errors.Is(err, ErrMalformed) {
		t.Fatalf("unknown charset, bytes not UTF-8: %v, want ErrMalformed", err)
	}
	badUTF8 := plainReply(e.token, testVisitor, "caf\xe9 au lait", [2]string{"Content-Type", "text/plain; charset=utf-8"})
	if _, err := e.handle(badUTF8); !errors.Is(err, ErrMalformed) {
		t.Fatalf("charset=utf-8 with Latin-1 bytes: %v, want ErrMalformed", err)
	}
	e.posted(t, 0)
	fine := plainReply(e.token, testVisitor, "Hello from Qo'noS \u00e9!", [2]string{"Content-Type", "text/plain; charset=x-klingon"})
	if _, err := e.handle(fine); err != nil {
		t.Fatalf("unknown charset, UTF-8 bytes: %v", err)
	}
	if got := e.posted(t, 1); got[0] != "Hello from Qo'noS \u00e9!" {
		t.Errorf("unknown charset posted %q", got[0])
	}
	// Broken base64 is refused as malformed.
	broken := plainReply(e.token, testVisitor, "!!!! this is *not* base64 ####\n",
		[2]string{"Content-Transfer-Encoding", "base64"})
	if _, err := e.handle(broken); !errors.Is(err, ErrMalformed) {
		t.Errorf("broken base64: %v, want ErrMalformed", err)
	}
	if code := e.post(t, broken); code != http.StatusUnprocessableEntity {
		t.Errorf("broken base64 webhook: %d", code)
	}
	if !strings.Contains(e.logs.String(), "body cannot be decoded") {
		t.Errorf("broken encoding not logged clearly:\n%s", e.logs.String())
	}
	// Windows-1252 is decoded.
	cp := plainReply(e.token, testVisitor, "Caf\xe9 \x80 5", [2]string{"Content-Type", "text/plain; charset=windows-1252"})
	if _, err := e.handle(cp); err != nil {
		t.Fatal(err)
	}
	if got := e.posted(t, 2); got[1] != "Café € 5" {
		t.Errorf("windows-1252 posted %q", got[1])
	}
}

func TestHTMLNeverReachesTheConsole(t *testing.T) {
	e := newInboundEnv(t, nil, nil)
	html := `<html><head><script>steal()</script></head><body><p>Hi <b>there</b></p>` +
		`<script type="text/javascript">alert(document.cookie)</script><img src=x onerror=alert(2)>` +
		`<a href="javascript:alert(3)">click</a><SCRIPT>more()</SCRIPT></body></html>`
	raw := plainReply(e.token, testVisitor, html, [2]string{"Content-Type", "text/html; charset=utf-8"})
	if _, err := e.handle(raw); err != nil {
		t.Fatal(err)
	}
	got := e.posted(t, 1)[0]
	if strings.Contains(strings.ToLower(got), "<script") || strings.Contains(got, "<") || strings.Contains(got, "alert") {
		t.Errorf("markup reached the conversation: %q", got)
	}
	if got != "Hi there\n\nclick" {
		t.Errorf("posted %q", got)
	}
}

func TestWebhookSecret(t *testing.T) {
	e := newInboundEnv(t, nil, nil)
	raw := plainReply(e.token, testVisitor, "via webhook")
	do := func(url string, header string) int {
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(raw))
		if header != "" {
			req.Header.Set("X-Shopchat-Secret", header)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := do(e.hook.URL, ""); code != http.StatusForbidden {
		t.Errorf("no secret: %d", code)
	}
	if code := do(e.hook.URL, "wrong"); code != http.StatusForbidden {
		t.Errorf("wrong secret: %d", code)
	}
	if code := do(e.hook.URL+"?secret=wrong", ""); code != http.StatusForbidden {
		t.Errorf("wrong query secret: %d", code)
	}
	// A secret in the URL is refused even when right: URLs end up in logs.
	if code := do(e.hook.URL+"?secret=webhook-secret", ""); code != http.StatusForbidden {
		t.Errorf("right secret in the query: %d, want 403", code)
	}
	e.posted(t, 0)
	if code := do(e.hook.URL, "webhook-secret"); code != http.StatusAccepted {
		t.Errorf("header secret: %d", code)
	}
	resp, err := http.Get(e.hook.URL + "?secret=webhook-secret")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", resp.StatusCode)
	}

	// An Inbound without a secret refuses everything, and says why.
	open := newInboundEnv(t, nil, func(c *InboundConfig) { c.Secret = "" })
	req, _ := http.NewRequest(http.MethodPost, open.hook.URL, bytes.NewReader(raw))
	req.Header.Set("X-Shopchat-Secret", "")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("no Secret configured: %d", resp.StatusCode)
	}
	if !strings.Contains(open.logs.String(), "Secret is not set") {
		t.Errorf("no log line says why:\n%s", open.logs.String())
	}
}

// A failing store is a temporary failure: SMTP 451, webhook 503, so the
// sender retries.
func TestStoreDownIsTemporary(t *testing.T) {
	var fs *failingStore
	e := newInboundEnv(t, func(c *chat.Config) {
		fs = &failingStore{Store: c.Store}
		c.Store = fs
	}, nil)
	raw := plainReply(e.token, testVisitor, "are you there?")
	fs.setDown(true)
	if err := sendSMTP(t, e.smtp, testVisitor, []string{e.rcpt()}, raw); smtpCode(err) != 451 {
		t.Errorf("SMTP: %v, want 451", err)
	}
	if code := e.post(t, raw); code != http.StatusServiceUnavailable {
		t.Errorf("webhook: %d, want 503", code)
	}
	fs.setDown(false)
	if err := sendSMTP(t, e.smtp, testVisitor, []string{e.rcpt()}, raw); err != nil {
		t.Errorf("SMTP after recovery: %v", err)
	}
	e.posted(t, 1)
}

type failingStore struct {
	chat.Store
	mu   sync.Mutex
	down bool
}

// Unwrap keeps the wrapped store's optional roles.
func (s *failingStore) Unwrap() chat.Store { return s.Store }

func (s *failingStore) setDown(d bool) {
	s.mu.Lock()
	s.down = d
	s.mu.Unlock()
}

func (s *failingStore) Conversation(ctx context.Context, id string) (*chat.Conversation, error) {
	s.mu.Lock()
	down := s.down
	s.mu.Unlock()
	if down {
		return nil, errors.New("store: connection refused")
	}
	return s.Store.Conversation(ctx, id)
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestNewInboundValidates(t *testing.T) {
	env := newChat(t)
	for name, cfg := range map[string]InboundConfig{
		"no server": {Domain: testDomain},
		"no domain": {Server: env.srv},
		"bad":       {Server: env.srv, Domain: "reply.shop.test>"},
	} {
		if _, err := NewInbound(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
