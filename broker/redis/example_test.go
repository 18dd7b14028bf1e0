package redis_test

import (
	"context"
	"log"
	"net/http"
	"os"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/broker/redis"
	pgstore "github.com/shopchat/chat/store/postgres"
)

// Every shop process opens the shared store and a broker on the shop's
// Redis and passes both to chat.New.
func Example() {
	ctx := context.Background()
	store, err := pgstore.Open(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	b, err := redis.New(ctx, os.Getenv("REDIS_URL")) // host:port or redis://...
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
