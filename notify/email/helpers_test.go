package email

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	netmail "net/mail"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-message"
	"github.com/emersion/go-smtp"
	"github.com/google/uuid"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/store/memory"
)

const (
	testDomain  = "reply.shop.test"
	testVisitor = "ann@example.com"
	waitFor     = 10 * time.Second
)

var testSecret = []byte("0123456789abcdef0123456789abcdef-email-test-secret")

// --- a recording SMTP server (go-smtp) ---

// received is one mail the recorder got, parsed.
type received struct {
	From   string   // MAIL FROM
	To     []string // RCPT TO
	Raw    []byte
	Header netmail.Header
	Text   string
	HTML   string
	TLS    bool // it came over TLS
}

// recorder is an SMTP server on loopback that records every mail. Its
// refuse hook, if set, may fail a DATA (e.g. 451 for the first tries).
type recorder struct {
	t      testing.TB
	addr   string
	srv    *smtp.Server
	mails  chan *received
	mu     sync.Mutex
	datas  int
	refuse func(n int) error // n counts DATA commands from 1
}

// recOpts configure a recorder.
type recOpts struct {
	refuse func(n int) error // fails DATA number n (from 1) if it returns an error
	tls    *tls.Config       // offer STARTTLS
}

// newRecorder starts a recorder on addr ("127.0.0.1:0" for any port).
func newRecorder(t testing.TB, addr string, opts recOpts) *recorder {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{t: t, addr: ln.Addr().String(), mails: make(chan *received, 100), refuse: opts.refuse}
	r.srv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &recSession{r: r, c: c}, nil
	}))
	r.srv.TLSConfig = opts.tls
	r.srv.Domain = "recorder.test"
	r.srv.AllowInsecureAuth = true
	r.srv.ErrorLog = slogPrinter{slog.New(slog.DiscardHandler)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.srv.Serve(ln)
	}()
	t.Cleanup(func() {
		r.srv.Close()
		<-done
	})
	return r
}

func (r *recorder) port() int {
	_, p, _ := net.SplitHostPort(r.addr)
	n, _ := strconv.Atoi(p)
	return n
}

// next returns the next mail, failing the test after waitFor.
func (r *recorder) next() *received {
	r.t.Helper()
	select {
	case m := <-r.mails:
		return m
	case <-time.After(waitFor):
		r.t.Fatal("no mail arrived at the test SMTP server")
		return nil
	}
}

// none asserts that no mail is waiting.
func (r *recorder) none() {
	r.t.Helper()
	select {
	case m := <-r.mails:
		r.t.Fatalf("unexpected mail to %v: %s", m.To, m.Header.Get("Subject"))
	default:
	}
}

type recSession struct {
	r    *recorder
	c    *smtp.Conn
	from string
	to   []string
}

func (s *recSession) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }
func (s *recSession) Rcpt(to string, _ *smtp.RcptOptions) error   { s.to = append(s.to, to); return nil }
func (s *recSession) Reset()                                      { s.from, s.to = "", nil }
func (s *recSession) Logout() error                               { return nil }

func (s *recSession) Data(rd io.Reader) error {
	raw, err := io.ReadAll(rd)
	if err != nil {
		return err
	}
	s.r.mu.Lock()
	s.r.datas++
	n := s.r.datas
	s.r.mu.Unlock()
	if s.r.refuse != nil {
		if err := s.r.refuse(n); err != nil {
			return err
		}
	}
	m := &received{From: s.from, To: append([]string(nil), s.to...), Raw: raw}
	_, m.TLS = s.c.TLSConnectionState()
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		s.r.t.Errorf("recorder: unparsable mail: %v\n%s", err, raw)
		return err
	}
	m.Header = msg.Header
	m.Text, m.HTML = mailBodies(s.r.t, raw)
	s.r.mails <- m
	return nil
}

// mailBodies decodes the text/plain and text/html parts of a mail.
func mailBodies(t testing.TB, raw []byte) (text, html string) {
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil {
		t.Errorf("parse mail: %v", err)
		return "", ""
	}
	e.Walk(func(_ []int, p *message.Entity, err error) error {
		if err != nil {
			return err
		}
		ct, _, _ := p.Header.ContentType()
		switch ct {
		case "text/plain":
			b, _ := io.ReadAll(p.Body)
			text = string(b)
		case "text/html":
			b, _ := io.ReadAll(p.Body)
			html = string(b)
		}
		return nil
	})
	return text, html
}

// --- metrics and logs ---

// metrics records counters and signals every Add on events.
type metrics struct {
	mu     sync.Mutex
	counts map[string]float64
	events chan string
}

func newMetrics() *metrics {
	return &metrics{counts: make(map[string]float64), events: make(chan string, 1000)}
}

func (m *metrics) Add(name string, d float64) {
	m.mu.Lock()
	m.counts[name] += d
	m.mu.Unlock()
	select {
	case m.events <- name:
	default:
	}
}

func (m *metrics) Observe(string, float64) {}

func (m *metrics) get(name string) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.counts[name]
}

// waitEvent waits until the counter name is added to.
func (m *metrics) waitEvent(t testing.TB, name string) {
	t.Helper()
	timeout := time.After(waitFor)
	for {
		select {
		case e := <-m.events:
			if e == name {
				return
			}
		case <-timeout:
			t.Fatalf("metric %s was never counted", name)
		}
	}
}

// logBuffer is a concurrency-safe log sink.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// --- outbound ---

// newNotifier returns a Notifier sending to rec in plain text; edit
// changes the config.
func newNotifier(t testing.TB, rec *recorder, edit ...func(*Config)) *Notifier {
	t.Helper()
	cfg := Config{
		Host:        "127.0.0.1",
		Port:        rec.port(),
		TLS:         NoTLS,
		From:        netmail.Address{Name: "Shop", Address: "support@shop.test"},
		Operators:   []string{"team@shop.test"},
		ReplyDomain: testDomain,
		SiteName:    "Shop",
		ConsoleURL:  "https://shop.test/chat/console/",
		Logger:      slog.New(slog.DiscardHandler),
		MinBackoff:  5 * time.Millisecond,
		MaxBackoff:  20 * time.Millisecond,
	}
	for _, e := range edit {
		e(&cfg)
	}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		if err := n.Close(ctx); err != nil {
			t.Errorf("close notifier: %v", err)
		}
	})
	return n
}

// --- the chat server ---

var testTeam = map[string]*chat.Operator{
	"alice": {ID: "alice", Name: "Alice", Capacity: 5},
}

func testOperators(r *http.Request) (*chat.Operator, error) {
	if op := testTeam[r.Header.Get("X-Operator")]; op != nil {
		return op, nil
	}
	return nil, chat.ErrUnauthorized
}

type chatEnv struct {
	srv   *chat.Server
	store chat.Store
	http  *httptest.Server
}

// newChat starts a chat server with a memory store on loopback.
func newChat(t testing.TB, edit ...func(*chat.Config)) *chatEnv {
	t.Helper()
	cfg := chat.Config{Store: memory.New(), Secret: testSecret, Operators: testOperators, MaxFramesPerSecond: 100000, MaxConnsPerIP: -1, NewVisitorsPerMinute: -1}
	for _, e := range edit {
		e(&cfg)
	}
	srv, err := chat.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/chat/", srv.Handler())
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Errorf("close chat: %v", err)
		}
		hs.Close()
	})
	return &chatEnv{srv: srv, store: cfg.Store, http: hs}
}

// conversation creates a visitor with email and an open conversation in
// the store, and returns the conversation id.
func (e *chatEnv) conversation(t testing.TB, email string) string {
	t.Helper()
	ctx := context.Background()
	v := &chat.Visitor{ID: "v-" + uuid.NewString(), Name: "Ann", Email: email, CreatedAt: time.Now(), LastSeenAt: time.Now()}
	if err := e.store.CreateVisitor(ctx, v); err != nil {
		t.Fatal(err)
	}
	c := &chat.Conversation{ID: uuid.NewString(), VisitorID: v.ID, CreatedAt: time.Now(), QueuedAt: time.Now()}
	if err := e.store.CreateConversation(ctx, c); err != nil {
		t.Fatal(err)
	}
	return c.ID
}

// visitorTexts returns the texts of the visitor messages in conv.
func (e *chatEnv) visitorTexts(t testing.TB, conv string) []string {
	t.Helper()
	ms, err := e.store.Messages(context.Background(), chat.MessageQuery{ConversationID: conv})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		if m.Kind == chat.VisitorText {
			out = append(out, m.Text)
		}
	}
	return out
}

// newInbound returns an Inbound for e's server.
func (e *chatEnv) newInbound(t testing.TB, edit ...func(*InboundConfig)) *Inbound {
	t.Helper()
	cfg := InboundConfig{Server: e.srv, Domain: testDomain, Secret: "webhook-secret", Logger: slog.New(slog.DiscardHandler)}
	for _, ed := range edit {
		ed(&cfg)
	}
	in, err := NewInbound(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// serveSMTP runs in's SMTP receiver on a loopback port until the test
// ends, and returns its address.
func serveSMTP(t testing.TB, in *Inbound) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.ServeSMTP(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeSMTP: %v", err)
		}
	})
	return ln.Addr().String()
}

// --- reply mail ---

// fixture reads testdata/name with the placeholders replaced.
func fixture(t testing.TB, name, token, visitor string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.NewReplacer("{{TOKEN}}", token, "{{VISITOR}}", visitor, "{{DOMAIN}}", testDomain).Replace(string(b))
	return []byte(strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n"))
}

// reply is a simple reply mail; extra headers come first and may replace
// the defaults (a header with an empty value is left out).
type reply struct {
	headers [][2]string
	body    string
}

func plainReply(token, from, body string, extra ...[2]string) []byte {
	r := reply{body: body, headers: extra}
	return r.bytes(token, from)
}

func (r reply) bytes(token, from string) []byte {
	defaults := [][2]string{
		{"From", "Ann <" + from + ">"},
		{"To", "Shop <reply+" + token + "@" + testDomain + ">"},
		{"Subject", "Re: Your conversation with Shop"},
		{"Message-ID", "<" + uuid.NewString() + "@example.com>"},
		{"Date", time.Now().Format(time.RFC1123Z)},
		{"MIME-Version", "1.0"},
		{"Content-Type", "text/plain; charset=utf-8"},
	}
	var b strings.Builder
	set := map[string]bool{}
	for _, h := range r.headers {
		set[strings.ToLower(h[0])] = true
		if h[1] != "" {
			b.WriteString(h[0] + ": " + h[1] + "\r\n")
		}
	}
	for _, h := range defaults {
		if !set[strings.ToLower(h[0])] {
			b.WriteString(h[0] + ": " + h[1] + "\r\n")
		}
	}
	b.WriteString("\r\n")
	b.WriteString(strings.ReplaceAll(r.body, "\n", "\r\n"))
	return []byte(b.String())
}

// sendSMTP delivers raw to addr with go-smtp's client and returns the
// server's error (an *smtp.SMTPError) from RCPT or DATA, if any.
func sendSMTP(t testing.TB, addr, from string, rcpts []string, raw []byte) error {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	for _, r := range rcpts {
		if err := c.Rcpt(r, nil); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(raw); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

func smtpCode(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// testLogger logs through t.Log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// newMailLoop is the whole mail loop of the end-to-end tests: a recording
// SMTP server the Notifier sends through, a chat whose missed replies are
// mailed after 50 ms, and its Inbound behind a real SMTP receiver at
// smtpAddr.
// Each edit is called once with the notifier's Config (chat nil) and once
// with the chat's (mail nil).
func newMailLoop(t testing.TB, edits ...func(c *chat.Config, mail *Config)) (rec *recorder, env *chatEnv, smtpAddr string) {
	t.Helper()
	rec = newRecorder(t, "127.0.0.1:0", recOpts{})
	n := newNotifier(t, rec, func(mail *Config) {
		for _, e := range edits {
			e(nil, mail)
		}
	})
	env = newChat(t, func(c *chat.Config) {
		c.Notifier = n
		c.MissedReplyDelay = 50 * time.Millisecond
		for _, e := range edits {
			e(c, nil)
		}
	})
	return rec, env, serveSMTP(t, env.newInbound(t))
}
