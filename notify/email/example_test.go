package email_test

import (
	"context"
	"log"
	"net/http"
	"net/mail"
	"os"
	"os/signal"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/notify/email"
	"github.com/shopchat/chat/store/memory"
)

// Wiring outbound and inbound email into a shop. It needs an SMTP server
// and a mail domain, so it is compiled but not run.
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	n, err := email.New(email.Config{
		Host:        os.Getenv("SMTP_HOST"), // empty: only log the mail
		Username:    os.Getenv("SMTP_USER"),
		Password:    os.Getenv("SMTP_PASSWORD"),
		From:        mail.Address{Name: "Shop", Address: "support@shop.example"},
		Operators:   []string{"team@shop.example"},
		ReplyDomain: "reply.shop.example",
		SiteName:    "Shop",
		ConsoleURL:  "https://shop.example/chat/console/",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer n.Close(context.Background())

	srv, err := chat.New(chat.Config{
		Store:     memory.New(),
		Secret:    []byte(os.Getenv("CHAT_SECRET")),
		Operators: func(r *http.Request) (*chat.Operator, error) { return nil, chat.ErrUnauthorized },
		Notifier:  n,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close(context.Background())

	inbound, err := email.NewInbound(email.InboundConfig{
		Server: srv,
		Domain: "reply.shop.example",
		Secret: os.Getenv("INBOUND_EMAIL_SECRET"),
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/chat/", srv.Handler())
	mux.Handle("/chat/inbound/email", inbound)
	go func() {
		if err := inbound.ListenAndServeSMTP(ctx, "127.0.0.1:2525"); err != nil {
			log.Print(err)
		}
	}()
	hs := &http.Server{Addr: ":8080", Handler: mux}
	go func() {
		<-ctx.Done()
		hs.Shutdown(context.Background())
	}()
	if err := hs.ListenAndServe(); err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
