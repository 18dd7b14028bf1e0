package postgres_test

import (
	"context"
	"log"
	"net/http"
	"os"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/broker/postgres"
	pgstore "github.com/shopchat/chat/store/postgres"
)

// Every shop process opens the store and the broker on the same database
// and passes both to chat.New.
func Example() {
	ctx := context.Background()
	dsn := os.Getenv("DATABASE_URL")
	store, err := pgstore.Open(ctx, dsn)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	b, err := postgres.New(ctx, dsn)
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
