package email

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/shopchat/chat"
)

// InboundConfig configures an Inbound.
type InboundConfig struct {
	// Server receives the replies. Required.
	Server *chat.Server
	// Domain is the reply domain: mail to reply+<token>@Domain is a reply.
	// It must equal the Notifier's Config.ReplyDomain. Required.
	Domain string
	// MaxSize caps a mail's size in bytes. Default 10 MiB.
	MaxSize int64
	// MaxDepth caps the nesting of MIME parts, counting the message as
	// level 1. Default 10.
	MaxDepth int
	// Secret authenticates the HTTP webhook (ServeHTTP): the provider sends
	// it in the X-Shopchat-Secret header (never in the URL, which ends up in
	// logs). Default empty: the webhook refuses every request.
	Secret string
	// Logger receives the Inbound's logs, one line per refused mail with
	// its reason. Default slog.Default().
	Logger *slog.Logger
	// Metrics receives the counters email_inbound_posted_total,
	// email_inbound_dropped_total (auto-replies, bounces, duplicates),
	// email_inbound_refused_total (bad token, wrong sender, unparsable),
	// email_inbound_failed_total (temporary: the store failed) and
	// email_inbound_bounces_total (permanent failures recorded). Default
	// none.
	Metrics chat.Metrics
}

// Inbound receives visitors' replies to our mail and posts them into
// their conversations, from an HTTP webhook (ServeHTTP), its own SMTP
// listener (ListenAndServeSMTP) or any other source (Handle). It is safe
// for concurrent use.
type Inbound struct {
	cfg InboundConfig
	log *slog.Logger

	mu     sync.Mutex
	seen   map[string]string // recent Message-IDs posted -> message id
	seenAt []string          // ring of seen keys, oldest first
}

// seenMax bounds the memory of recent Message-IDs that tells a duplicate
// delivery apart (for the HTTP status only: PostReply posts once anyway).
const seenMax = 4096

// NewInbound validates cfg and fills in its defaults.
func NewInbound(cfg InboundConfig) (*Inbound, error) {
	if cfg.Server == nil {
		return nil, errors.New("email: InboundConfig.Server is required")
	}
	cfg.Domain = strings.ToLower(strings.TrimSpace(cfg.Domain))
	if !validDomain(cfg.Domain) {
		return nil, fmt.Errorf("email: InboundConfig.Domain %q is not a domain", cfg.Domain)
	}
	defaultTo(&cfg.MaxSize, 10<<20)
	defaultTo(&cfg.MaxDepth, 10)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	in := &Inbound{cfg: cfg, log: cfg.Logger, seen: make(map[string]string)}
	if cfg.Secret == "" {
		in.log.Warn("email: InboundConfig.Secret is empty: the inbound webhook refuses every request")
	}
	return in, nil
}

// Parse reads a raw mail (RFC 5322, at most MaxSize bytes) and extracts
// the reply: the token from a reply+<token>@Domain recipient (To, Cc,
// Delivered-To, X-Original-To), the sender from the From header's
// address, the Message-ID, and the text with quoted history and signature
// removed (text/plain preferred; HTML converted to text). Errors:
// ErrAutoReply, ErrBounce, ErrNoToken, ErrTooLarge, ErrTooDeep,
// ErrMalformed, ErrNoText. Whether token and sender are genuine is
// (*chat.Server).PostReply's to decide.
func (in *Inbound) Parse(raw io.Reader) (chat.InboundReply, error) {
	return in.parse(raw, envelope{})
}

// Handle parses a raw mail and posts the reply into its conversation.
// envelopeRcpts, if known (from SMTP), are searched for the reply address
// before the headers. Refused mail (auto-replies, bounces, a bad or
// expired token, a sender who is not the visitor, unparsable mail) is
// logged with the reason, never posted, and its error returned. A mail
// whose Message-ID was posted before returns the message posted then. A
// delivery status notification to the return path (bounce+<token>@Domain)
// is recorded with (*chat.Server).PostBounce and returns no message.
func (in *Inbound) Handle(ctx context.Context, raw io.Reader, envelopeRcpts []string) (*chat.Message, error) {
	m, _, err := in.handle(ctx, raw, envelope{rcpts: envelopeRcpts})
	return m, err
}

// handle is Handle, also saying whether the mail was a duplicate.
func (in *Inbound) handle(ctx context.Context, raw io.Reader, env envelope) (*chat.Message, bool, error) {
	var r chat.InboundReply
	data, e, err := in.read(raw)
	if err == nil {
		if token := in.findToken(e.Header, env.rcpts, bouncePrefix); token != "" {
			return nil, false, in.handleBounce(ctx, e, token, messageID(e.Header, data))
		}
		r, err = in.parseReply(data, e, env)
	}
	if err != nil {
		in.refused(err, r)
		return nil, false, err
	}
	m, err := in.cfg.Server.PostReply(ctx, r)
	if err != nil {
		in.refused(err, r)
		return nil, false, err
	}
	key := m.ConversationID + " " + r.MessageID
	in.mu.Lock()
	prev, dup := in.seen[key]
	dup = dup && prev == m.ID
	if !dup {
		in.seen[key] = m.ID
		in.seenAt = append(in.seenAt, key)
		if len(in.seenAt) > seenMax {
			delete(in.seen, in.seenAt[0])
			in.seenAt = in.seenAt[1:]
		}
	}
	in.mu.Unlock()
	if dup {
		in.add("email_inbound_dropped_total")
		in.log.Info("email reply: duplicate delivery, posted before", "conversation", m.ConversationID, "message_id", r.MessageID)
		return m, true, nil
	}
	in.add("email_inbound_posted_total")
	in.log.Info("email reply posted", "conversation", m.ConversationID, "seq", m.Seq, "message_id", r.MessageID)
	return m, false, nil
}

// refused logs and counts a mail not posted. The token is never logged.
func (in *Inbound) refused(err error, r chat.InboundReply) {
	args := []any{"reason", reason(err), "from", r.From, "message_id", r.MessageID, "err", err}
	switch class(err) {
	case dropped:
		in.add("email_inbound_dropped_total")
		in.log.Info("email reply dropped", args...)
	case refused:
		in.add("email_inbound_refused_total")
		in.log.Warn("email reply refused", args...)
	case tooLarge:
		in.add("email_inbound_refused_total")
		in.log.Warn("email reply refused", args...)
	default:
		in.add("email_inbound_failed_total")
		in.log.Error("email reply failed (temporary)", args...)
	}
}

func reason(err error) string {
	switch {
	case errors.Is(err, ErrAutoReply):
		return "auto-reply"
	case errors.Is(err, ErrBounce):
		return "bounce"
	case errors.Is(err, ErrNoToken):
		return "no reply address"
	case errors.Is(err, chat.ErrReplyToken):
		return "bad or expired token"
	case errors.Is(err, chat.ErrForbidden):
		return "sender is not the conversation's visitor"
	case errors.Is(err, ErrTooLarge):
		return "too large"
	case errors.Is(err, ErrTooDeep):
		return "MIME nesting too deep"
	case errors.Is(err, ErrMalformed):
		return "malformed"
	case errors.Is(err, ErrNoText):
		return "empty reply: only our quoted mail"
	case errors.Is(err, chat.ErrInvalid):
		return "no text"
	case errors.Is(err, chat.ErrNotFound):
		return "conversation gone"
	case errors.Is(err, chat.ErrConflict):
		return "conversation cannot take replies"
	}
	return "internal error"
}

type errClass int

const (
	temporary errClass = iota // the store failed: try again later
	dropped                   // on purpose: auto-reply, bounce, empty reply
	refused                   // permanently: bad token, sender, content
	tooLarge
)

func class(err error) errClass {
	switch {
	case errors.Is(err, ErrAutoReply), errors.Is(err, ErrBounce), errors.Is(err, ErrNoText):
		return dropped
	case errors.Is(err, ErrTooLarge):
		return tooLarge
	case errors.Is(err, ErrNoToken), errors.Is(err, chat.ErrUnauthorized), errors.Is(err, chat.ErrForbidden),
		errors.Is(err, ErrTooDeep), errors.Is(err, ErrMalformed),
		errors.Is(err, chat.ErrInvalid), errors.Is(err, chat.ErrNotFound), errors.Is(err, chat.ErrConflict):
		return refused
	}
	return temporary
}

func (in *Inbound) add(name string) {
	if in.cfg.Metrics != nil {
		in.cfg.Metrics.Add(name, 1)
	}
}

// ServeHTTP receives one raw mail (RFC 5322) as the body of a POST, as
// mail providers' inbound webhooks send it (any Content-Type; at most
// MaxSize bytes). The request must carry InboundConfig.Secret in the
// X-Shopchat-Secret header; a secret in the URL is refused. Responses: 202
// posted; 200 dropped on purpose (auto-reply, bounce, duplicate, a reply
// with nothing of its own), so the provider does not retry; 403 bad or
// unconfigured secret; 405 not POST;
// 413 too large; 422 bad token, wrong sender or unparsable; 503 temporary
// failure (the provider should retry).
func (in *Inbound) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST a raw MIME message", http.StatusMethodNotAllowed)
		return
	}
	if in.cfg.Secret == "" {
		in.log.Warn("email webhook refused: InboundConfig.Secret is not set", "remote", r.RemoteAddr)
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	if r.URL.Query().Has("secret") {
		in.log.Warn("email webhook refused: secret in the URL; send it in the X-Shopchat-Secret header", "remote", r.RemoteAddr)
		http.Error(w, "forbidden: send the secret in the X-Shopchat-Secret header, not the URL", http.StatusForbidden)
		return
	}
	got := r.Header.Get("X-Shopchat-Secret")
	want := sha256.Sum256([]byte(in.cfg.Secret))
	have := sha256.Sum256([]byte(got))
	if subtle.ConstantTimeCompare(want[:], have[:]) != 1 {
		in.log.Warn("email webhook refused: wrong or missing secret", "remote", r.RemoteAddr)
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, in.cfg.MaxSize))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			in.refused(fmt.Errorf("%w: more than %d bytes", ErrTooLarge, in.cfg.MaxSize), chat.InboundReply{})
			http.Error(w, "message too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "cannot read the body", http.StatusBadRequest)
		return
	}
	m, dup, err := in.handle(r.Context(), bytes.NewReader(body), envelope{})
	switch {
	case err == nil && dup:
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "duplicate: posted before\n")
	case err == nil && m == nil:
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "bounce recorded\n")
	case err == nil:
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "posted\n")
	default:
		switch class(err) {
		case dropped:
			w.WriteHeader(http.StatusOK)
			fmt.Fprintf(w, "dropped: %s\n", reason(err))
		case tooLarge:
			http.Error(w, "message too large", http.StatusRequestEntityTooLarge)
		case refused:
			http.Error(w, "refused: "+reason(err), http.StatusUnprocessableEntity)
		default:
			http.Error(w, "temporary failure, try again", http.StatusServiceUnavailable)
		}
	}
}
