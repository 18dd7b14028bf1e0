package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/mail"
	"strings"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/shopchat/chat"
)

// TLSPolicy says how the Notifier secures its connection to the SMTP
// server.
type TLSPolicy int

// TLS policies. The zero value, StartTLS, is the safe default for a
// submission server on port 587.
const (
	// StartTLS upgrades the connection with STARTTLS and refuses to send if
	// the server does not offer it.
	StartTLS TLSPolicy = iota
	// ImplicitTLS connects with TLS from the first byte ("SMTPS", port 465).
	ImplicitTLS
	// NoTLS sends in plain text. Use it only for a relay on the same
	// machine or network namespace, such as a local Postfix on 127.0.0.1.
	NoTLS
)

func (p TLSPolicy) String() string {
	switch p {
	case StartTLS:
		return "starttls"
	case ImplicitTLS:
		return "implicit-tls"
	case NoTLS:
		return "none"
	}
	return fmt.Sprintf("TLSPolicy(%d)", int(p))
}

// Config configures a Notifier. With Host empty the Notifier sends nothing
// and only logs the mail it would send, so a demo shop runs without an SMTP
// server; every other field has the default its comment names.
type Config struct {
	// Host is the SMTP submission server, e.g. "smtp.example.com". Default
	// empty: log-only mode.
	Host string
	// Port is the server's port. Default 587, or 465 with ImplicitTLS.
	Port int
	// TLS is the transport security. Default StartTLS (mandatory).
	TLS TLSPolicy
	// TLSConfig configures TLS, e.g. extra root CAs. Default: the system
	// roots and ServerName Host.
	TLSConfig *tls.Config
	// Username and Password authenticate to the server, with the strongest
	// mechanism it offers (PLAIN and LOGIN only over TLS). Default: no
	// authentication.
	Username, Password string
	// From is the sender: Address is required unless Host is empty (then
	// it defaults to "support@localhost"); Name defaults to SiteName. Mail
	// to visitors shows the operator, "Alice at Shop", with this address.
	From mail.Address
	// Operators are the team's mailboxes, which receive OfflineMessage and
	// NewConversation mail. Default none: those are logged and dropped.
	Operators []string
	// ReplyDomain is the domain of reply addresses, reply+<token>@ReplyDomain,
	// and of Message-IDs. Its MX must deliver to an Inbound with the same
	// Domain. Default: the domain of From.Address.
	ReplyDomain string
	// SiteName names the shop in subjects and sender names. Default
	// "Support".
	SiteName string
	// ConsoleURL, if set, is linked from mail to operators, e.g.
	// "https://shop.example.com/chat/console/", with the conversation
	// (#conv=<id>) so the console opens it. Default none.
	ConsoleURL string
	// ChatURL is the public URL of the chat handler (chat.Config.Path on
	// the shop's origin), e.g. "https://shop.example.com/chat/": mail to a
	// visitor links its unsubscribe endpoint (mail/unsubscribe) there,
	// visibly and in List-Unsubscribe with RFC 8058 one-click. Default:
	// ConsoleURL without its "console/"; none if that is empty.
	ChatURL string
	// Location is the time zone of the times shown in mail. Default UTC.
	Location *time.Location
	// Logger receives the Notifier's logs (and, in log-only mode, the
	// mail). Default slog.Default().
	Logger *slog.Logger
	// Metrics receives the counters email_sent_total,
	// email_send_failures_total (mail given up), email_send_retries_total,
	// email_queue_full_total and email_skipped_total (nobody to send to).
	// Default none.
	Metrics chat.Metrics
	// QueueSize bounds the mail waiting to be sent; Notify fails with
	// ErrQueueFull beyond it. Default 1000.
	QueueSize int
	// MaxRetries is how often a failed send is retried. Default 5; a
	// negative value means no retries. Permanent refusals (SMTP 5xx) are
	// not retried.
	MaxRetries int
	// MinBackoff and MaxBackoff bound the wait before a retry: it starts at
	// MinBackoff, doubles each time up to MaxBackoff, and is jittered to
	// between half and all of that. Defaults 1s and 5min.
	MinBackoff, MaxBackoff time.Duration
	// Timeout bounds one connection to the server. Default 30s.
	Timeout time.Duration
	// Now returns the current time, for the Date header. Default time.Now.
	Now func() time.Time
}

// Errors returned by Notify.
var (
	// ErrQueueFull: the send queue is full (SMTP has been down for long);
	// the mail is dropped and counted.
	ErrQueueFull = errors.New("email: send queue full")
	// ErrClosed: the Notifier has been closed.
	ErrClosed = errors.New("email: notifier closed")
)

// Notifier sends the chat.Notifications meant for people by email: to the
// team's mailbox (OfflineMessage, NewConversation) and to visitors
// (MissedReply, Transcript, with a signed reply address). Notify only
// queues; one goroutine sends, with retries. Create it with New and Close
// it on shutdown.
type Notifier struct {
	cfg    Config
	log    *slog.Logger
	client *gomail.Client // nil in log-only mode; used by the worker only

	queue  chan *job
	ctx    context.Context // cancelled when Close gives up waiting
	cancel context.CancelFunc
	done   chan struct{} // closed when the worker has exited

	mu     sync.RWMutex
	closed bool
}

var _ chat.Notifier = (*Notifier)(nil)

// job is one mail waiting to be sent.
type job struct {
	msg     *gomail.Msg
	kind    chat.NotificationKind
	conv    string
	to      []string
	subject string
	text    string // the plain-text body, for log-only mode
}

// New validates cfg, fills in its defaults and starts the sending
// goroutine (none in log-only mode).
func New(cfg Config) (*Notifier, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	defaultTo(&cfg.SiteName, "Support")
	cfg.SiteName = headerText(cfg.SiteName, 80)
	if cfg.From.Address == "" && cfg.Host == "" {
		cfg.From.Address = "support@localhost"
	}
	if !validAddress(cfg.From.Address) {
		return nil, fmt.Errorf("email: Config.From.Address %q is not an email address", cfg.From.Address)
	}
	defaultTo(&cfg.From.Name, cfg.SiteName)
	cfg.From.Name = headerText(cfg.From.Name, 80)
	for _, op := range cfg.Operators {
		if !chat.ValidEmail(op) {
			return nil, fmt.Errorf("email: Config.Operators: %q is not an email address", op)
		}
	}
	if cfg.ReplyDomain == "" {
		cfg.ReplyDomain = cfg.From.Address[strings.LastIndexByte(cfg.From.Address, '@')+1:]
	}
	cfg.ReplyDomain = strings.ToLower(cfg.ReplyDomain)
	if !validDomain(cfg.ReplyDomain) {
		return nil, fmt.Errorf("email: Config.ReplyDomain %q is not a domain", cfg.ReplyDomain)
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if cfg.ChatURL == "" && strings.HasSuffix(cfg.ConsoleURL, "/console/") {
		cfg.ChatURL = strings.TrimSuffix(cfg.ConsoleURL, "console/")
	}
	if cfg.ChatURL != "" && !strings.HasSuffix(cfg.ChatURL, "/") {
		cfg.ChatURL += "/"
	}
	if cfg.Port == 0 {
		cfg.Port = 587
		if cfg.TLS == ImplicitTLS {
			cfg.Port = 465
		}
	}
	defaultTo(&cfg.QueueSize, 1000)
	switch {
	case cfg.MaxRetries == 0:
		cfg.MaxRetries = 5
	case cfg.MaxRetries < 0:
		cfg.MaxRetries = 0
	}
	defaultTo(&cfg.MinBackoff, time.Second)
	defaultTo(&cfg.MaxBackoff, 5*time.Minute)
	cfg.MaxBackoff = max(cfg.MaxBackoff, cfg.MinBackoff)
	defaultTo(&cfg.Timeout, 30*time.Second)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	n := &Notifier{cfg: cfg, log: cfg.Logger, done: make(chan struct{})}
	if len(cfg.Operators) == 0 {
		n.log.Warn("email: no Config.Operators: mail to the team is logged and dropped")
	}
	if cfg.Host == "" {
		close(n.done)
		return n, nil
	}
	client, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	n.client = client
	n.queue = make(chan *job, cfg.QueueSize)
	n.ctx, n.cancel = context.WithCancel(context.Background())
	go n.run()
	return n, nil
}

func newClient(cfg Config) (*gomail.Client, error) {
	opts := []gomail.Option{gomail.WithPort(cfg.Port), gomail.WithTimeout(cfg.Timeout)}
	tc := cfg.TLSConfig
	if tc == nil {
		tc = &tls.Config{ServerName: cfg.Host, MinVersion: tls.VersionTLS12}
	}
	switch cfg.TLS {
	case StartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory), gomail.WithTLSConfig(tc))
	case ImplicitTLS:
		opts = append(opts, gomail.WithSSL(), gomail.WithTLSConfig(tc))
	case NoTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		return nil, fmt.Errorf("email: unknown Config.TLS %v", cfg.TLS)
	}
	if cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(cfg.Username), gomail.WithPassword(cfg.Password))
	}
	c, err := gomail.NewClient(cfg.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("email: %w", err)
	}
	return c, nil
}

func defaultTo[T comparable](field *T, def T) {
	var zero T
	if *field == zero {
		*field = def
	}
}

// Notify queues the mail for n and returns without waiting for SMTP.
// Kinds not meant for people (n.Kind.ForPeople() is false) are ignored; so
// is mail to a visitor without a valid address (logged). It returns
// ErrQueueFull when too much mail is waiting, ErrClosed after Close.
func (n *Notifier) Notify(ctx context.Context, note chat.Notification) error {
	if !note.Kind.ForPeople() {
		return nil
	}
	j, err := n.compose(note)
	if err != nil || j == nil {
		return err
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.closed {
		return ErrClosed
	}
	if n.client == nil {
		n.logOnly(j)
		return nil
	}
	select {
	case n.queue <- j:
		return nil
	default:
		n.add("email_queue_full_total")
		return fmt.Errorf("%w (%d waiting): dropped %s mail for conversation %s", ErrQueueFull, cap(n.queue), j.kind, j.conv)
	}
}

// logOnly is log-only mode: the mail is written to the log instead.
func (n *Notifier) logOnly(j *job) {
	n.log.Info("email not configured: would send mail",
		"kind", j.kind, "conversation", j.conv,
		"to", strings.Join(j.to, ", "), "subject", j.subject, "body", j.text)
}

// run is the worker: it sends queued mail, one at a time, until the queue
// is closed and drained.
func (n *Notifier) run() {
	defer close(n.done)
	for j := range n.queue {
		if n.ctx.Err() != nil {
			n.add("email_send_failures_total")
			n.log.Warn("email: notifier closed: dropped unsent mail", "kind", j.kind, "conversation", j.conv, "to", strings.Join(j.to, ", "))
			continue
		}
		n.deliver(j)
	}
}

// deliver sends j, retrying temporary failures with backoff.
func (n *Notifier) deliver(j *job) {
	for attempt := 0; ; attempt++ {
		err := n.client.DialAndSendWithContext(n.ctx, j.msg)
		if err == nil {
			n.add("email_sent_total")
			n.log.Debug("email sent", "kind", j.kind, "conversation", j.conv, "to", strings.Join(j.to, ", "))
			return
		}
		permanent := isPermanent(err)
		if permanent || attempt >= n.cfg.MaxRetries || n.ctx.Err() != nil {
			n.add("email_send_failures_total")
			n.log.Error("email: send failed: giving up", "kind", j.kind, "conversation", j.conv,
				"to", strings.Join(j.to, ", "), "attempts", attempt+1, "permanent", permanent, "err", err)
			return
		}
		wait := backoff(n.cfg.MinBackoff, n.cfg.MaxBackoff, attempt)
		n.add("email_send_retries_total")
		n.log.Warn("email: send failed: will retry", "kind", j.kind, "conversation", j.conv,
			"attempt", attempt+1, "retry_in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-n.ctx.Done():
			t.Stop()
			n.add("email_send_failures_total")
			n.log.Error("email: notifier closed: gave up retrying", "kind", j.kind, "conversation", j.conv,
				"to", strings.Join(j.to, ", "), "attempts", attempt+1, "err", err)
			return
		}
	}
}

// isPermanent reports whether the server refused the mail for good (a 5xx
// reply), so that retrying is pointless.
func isPermanent(err error) bool {
	var se *gomail.SendError
	return errors.As(err, &se) && !se.IsTemp() && se.ErrorCode() >= 500
}

// backoff returns the wait before retry number attempt+1: min doubled
// attempt times, capped at max, jittered to between half and all of it.
func backoff(lo, hi time.Duration, attempt int) time.Duration {
	d := lo
	for i := 0; i < attempt && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	half := d / 2
	return half + rand.N(d-half+1)
}

// Close stops accepting mail, sends what is queued and stops the worker.
// If ctx ends first, the mail still queued is dropped (logged and counted)
// and Close returns ctx's error once the worker has exited; a send in
// progress then finishes first, within Config.Timeout.
func (n *Notifier) Close(ctx context.Context) error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		<-n.done
		return nil
	}
	n.closed = true
	if n.queue != nil {
		close(n.queue)
	}
	n.mu.Unlock()
	select {
	case <-n.done:
		if n.cancel != nil {
			n.cancel()
		}
		return nil
	case <-ctx.Done():
		n.cancel()
		<-n.done
		return fmt.Errorf("email: close: %w", ctx.Err())
	}
}

func (n *Notifier) add(name string) {
	if n.cfg.Metrics != nil {
		n.cfg.Metrics.Add(name, 1)
	}
}

// ReplyDomain is the domain of the reply addresses this Notifier writes
// (Config.ReplyDomain after defaults): an Inbound must use the same.
func (n *Notifier) ReplyDomain() string { return n.cfg.ReplyDomain }
