// Command shop is shopchat's demo: a small coffee and tea shop on plain
// net/http and html/template with the chat embedded in a few lines (see
// chatConfig in shop.go), its pages tracked with middleware.Track (routes)
// and its orders tagged with the chat that led to them (checkout).
//
//	go run ./examples/shop                  # http://127.0.0.1:8080
//	go run ./examples/shop -prechat         # ask name, email and department first
//
// What is stored where:
//   - chat (visitors, conversations, messages): the SQLite file -db,
//     default shopchat-demo.db in the working directory;
//   - orders: a JSON file next to it, shopchat-demo-orders.json;
//   - the shop secret (chat tokens and the shop's cookies derive from it):
//     SHOPCHAT_SECRET if set, else the file -secret-file, default
//     shopchat-demo.secret next to the DB, generated on first start;
//   - carts: in memory (lost on restart); sessions and operator logins:
//     HMAC-signed cookies, nothing on the server.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/mail"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/shopchat/chat"
	natsbroker "github.com/shopchat/chat/broker/nats"
	pgbroker "github.com/shopchat/chat/broker/postgres"
	redisbroker "github.com/shopchat/chat/broker/redis"
	"github.com/shopchat/chat/notify/email"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	db := flag.String("db", "shopchat-demo.db", "SQLite file of the chat store")
	prechat := flag.Bool("prechat", false, "ask visitors for name, email and department before the first message")
	bot := flag.Bool("bot", true, "the FAQ bot answers first from the canned responses, and hands off to the team")
	smtp := flag.String("smtp", "", "SMTP server host:port for offline email, missed replies and transcripts (default: log the mail instead)")
	smtpTLS := flag.String("smtp-tls", "starttls", "SMTP security: starttls, tls or none (local relays)")
	mailFrom := flag.String("mail-from", "shop@shop.test", "sender address of the shop's mail; its domain is the reply domain")
	teamMail := flag.String("team-mail", "team@shop.test", "the operators' mailbox for offline messages")
	pgDSN := flag.String("postgres", "", "PostgreSQL DSN: keep the chat there instead of -db, so several shop processes can share it")
	brokerURL := flag.String("broker", "", "connect several shop processes (with -postgres): postgres, redis://host:port or nats://host:port")
	smtpListen := flag.String("smtp-listen", "", "address for the built-in SMTP receiver of email replies, e.g. 127.0.0.1:2525 (default: off)")
	secretFile := flag.String("secret-file", "", "file with the shop secret, created if missing (default: next to -db); $SHOPCHAT_SECRET takes precedence")
	baseURL := flag.String("base-url", "", "the shop's public URL, e.g. behind a proxy (default: http://<addr>)")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	mail, err := mailConfig(*smtp, *smtpTLS, *mailFrom, *teamMail)
	if err != nil {
		log.Error("shop", "err", err)
		os.Exit(2)
	}
	nodes := nodeConfig{postgres: *pgDSN, broker: *brokerURL}
	if err := run(log, *addr, *db, *secretFile, *baseURL, mail, nodes, *smtpListen, *prechat, *bot); err != nil {
		log.Error("shop", "err", err)
		os.Exit(1)
	}
}

// mailConfig turns the mail flags into the notifier's Config; without an
// SMTP server the notifier logs the mail it would send.
func mailConfig(server, security, from, team string) (email.Config, error) {
	cfg := email.Config{From: mail.Address{Name: shopName, Address: from}, Operators: []string{team}}
	if server == "" {
		return cfg, nil
	}
	host, port, err := net.SplitHostPort(server)
	if err != nil {
		return cfg, fmt.Errorf("-smtp %q: want host:port", server)
	}
	cfg.Host = host
	if cfg.Port, err = strconv.Atoi(port); err != nil {
		return cfg, fmt.Errorf("-smtp %q: bad port", server)
	}
	switch security {
	case "starttls":
		cfg.TLS = email.StartTLS
	case "tls":
		cfg.TLS = email.ImplicitTLS
	case "none":
		cfg.TLS = email.NoTLS
	default:
		return cfg, fmt.Errorf("-smtp-tls %q: want starttls, tls or none", security)
	}
	cfg.Username, cfg.Password = os.Getenv("SHOPCHAT_SMTP_USER"), os.Getenv("SHOPCHAT_SMTP_PASSWORD")
	return cfg, nil
}

// nodeConfig is how the shop runs as one of several nodes.
type nodeConfig struct{ postgres, broker string }

// openBroker connects the -broker flag's broker.
func (n nodeConfig) openBroker(ctx context.Context) (chat.Broker, func(), error) {
	switch {
	case n.broker == "":
		return nil, func() {}, nil
	case n.postgres == "":
		return nil, nil, errors.New("-broker needs -postgres: every node must share one store")
	case n.broker == "postgres":
		b, err := pgbroker.New(ctx, n.postgres)
		if err != nil {
			return nil, nil, err
		}
		return b, func() { b.Close() }, nil
	case strings.HasPrefix(n.broker, "redis://"):
		b, err := redisbroker.New(ctx, strings.TrimPrefix(n.broker, "redis://"))
		if err != nil {
			return nil, nil, err
		}
		return b, func() { b.Close() }, nil
	case strings.HasPrefix(n.broker, "nats://"):
		b, err := natsbroker.New(n.broker)
		if err != nil {
			return nil, nil, err
		}
		return b, func() { b.Close() }, nil
	}
	return nil, nil, fmt.Errorf("-broker %q: want postgres, redis://host:port or nats://host:port", n.broker)
}

func run(log *slog.Logger, addr, db, secretFile, baseURL string, mailCfg email.Config, nodes nodeConfig, smtpListen string, prechat, bot bool) error {
	stem := strings.TrimSuffix(db, filepath.Ext(db))
	if secretFile == "" {
		secretFile = stem + ".secret"
	}
	secret, err := loadSecret(log, secretFile)
	if err != nil {
		return err
	}
	if mailCfg.Host == "" {
		log.Info("email not configured (-smtp): mail is logged instead of sent")
	}

	broker, closeBroker, err := nodes.openBroker(context.Background())
	if err != nil {
		return err
	}
	defer closeBroker()

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	if baseURL == "" {
		baseURL = "http://" + urlHost(ln.Addr().(*net.TCPAddr))
	}
	s, handler, err := newShop(shopConfig{
		FAQBot:      bot,
		Secret:      secret,
		DBPath:      db,
		OrdersPath:  stem + "-orders.json",
		BaseURL:     baseURL,
		PreChat:     prechat,
		Logger:      log,
		Mail:        mailCfg,
		PostgresDSN: nodes.postgres,
		Broker:      broker,
	})
	if err != nil {
		ln.Close()
		return err
	}
	hs := newHTTPServer(handler)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()

	fmt.Printf("\n  %s is open: %s/\n", shopName, baseURL)
	fmt.Printf("  operator console:  %s/chat/console/\n", baseURL)
	fmt.Printf("  operators:         ")
	for i, op := range demoOperators {
		if i > 0 {
			fmt.Print(", ")
		}
		fmt.Printf("%s / %s (%s)", op.Email, op.Password, op.Department)
	}
	fmt.Printf("\n  customers:         ")
	for i, c := range demoCustomers {
		if i > 0 {
			fmt.Print(", ")
		}
		fmt.Printf("%s / %s", c.Email, c.Password)
	}
	store := db
	if nodes.postgres != "" {
		store = "PostgreSQL"
		if nodes.broker != "" {
			store += ", nodes connected through " + nodes.broker
		}
	}
	fmt.Printf("\n  chat store:        %s\n\n", store)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if smtpListen != "" {
		go func() {
			if err := s.inbound.ListenAndServeSMTP(ctx, smtpListen); err != nil {
				log.Error("smtp receiver", "err", err)
			}
		}()
		fmt.Printf("  email replies:     SMTP on %s (reply+<token>@%s)\n", smtpListen, s.mail.ReplyDomain())
	}
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err := <-errc:
		s.close()
		return err
	}
	stop() // a second Ctrl-C kills at once

	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Chat first: its sockets are hijacked connections, which
	// http.Server.Shutdown neither closes nor waits for.
	if err := s.closeChat(shutdown); err != nil {
		log.Warn("chat close", "err", err)
	}
	if err := hs.Shutdown(shutdown); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	return s.close() // the chat store, last: nothing uses it any more
}

// loadSecret returns $SHOPCHAT_SECRET, or the hex secret in path, creating
// the file with a random one if it does not exist.
func loadSecret(log *slog.Logger, path string) ([]byte, error) {
	if env := os.Getenv("SHOPCHAT_SECRET"); env != "" {
		if len(env) < 32 {
			return nil, errors.New("SHOPCHAT_SECRET must be at least 32 bytes")
		}
		return []byte(env), nil
	}
	warn := "a real shop must configure its own secret (e.g. $SHOPCHAT_SECRET from its secret store) and keep it stable"
	data, err := os.ReadFile(path)
	if err == nil {
		secret, err := hex.DecodeString(strings.TrimSpace(string(data)))
		if err != nil || len(secret) < 32 {
			return nil, fmt.Errorf("secret file %s: want at least 32 hex-encoded bytes", path)
		}
		log.Warn("using the demo secret from "+path+"; "+warn, "file", path)
		return secret, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("secret file: %w", err)
	}
	_, err = fmt.Fprintln(f, hex.EncodeToString(secret))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("secret file: %w", err)
	}
	log.Warn("generated a demo secret in "+path+" so restarts keep visitors' chat history; "+warn, "file", path)
	return secret, nil
}

// urlHost is a listener's address as a URL host: "localhost" for an
// unspecified (all interfaces) address.
func urlHost(a *net.TCPAddr) string {
	host := a.IP.String()
	if a.IP == nil || a.IP.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, fmt.Sprint(a.Port))
}

// newHTTPServer is the demo's http.Server with the timeouts a shop needs
// against slow clients (docs/security.md): headers or a body trickled a
// byte at a time end at ReadHeaderTimeout and ReadTimeout. The chat's
// sockets are hijacked, which clears these deadlines; pings keep them
// alive instead.
func newHTTPServer(handler http.Handler) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}
