package nats_test

import (
	"context"
	"log"
	"net/http"
	"os"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/broker/nats"
	pgstore "github.com/shopchat/chat/store/postgres"
)

// Every shop process opens the shared store and a broker on the shop's
// NATS and passes both to chat.New.
func Example() {
	ctx := context.Background()
	store, err := pgstore.Open(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	b, err := nats.New(os.Getenv("NATS_URL")) // e.g. nats://127.0.0.1:4222
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	srv, err := chat.New(chat.Config{
		Store:     store,
		Broker:    b,
		Secret:    []byte(os.Getenv("SHOPCHAT_SECRET")),
		Operators: func(r *http.Request) (*chat.Operator, error) { return nil, chat.ErrUnauthorized },
	})
	if err != nil {
		log.Fatal(err)
	}
	http.Handle("/chat/", srv.Handler())
}
