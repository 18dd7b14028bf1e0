// Command minimal is the smallest embedding of shopchat: a page with a
// chat-ready server, an in-memory store and one demo operator.
//
//	go run ./examples/minimal
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/store/memory"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	flag.Parse()

	secret := make([]byte, 32)
	rand.Read(secret) // a real shop loads a stable secret from its config

	srv, err := chat.New(chat.Config{
		Store:  memory.New(),
		Secret: secret,
		// The shop's own operator auth; here a demo token in a header.
		Operators: func(r *http.Request) (*chat.Operator, error) {
			if r.Header.Get("Authorization") != "Bearer demo-operator" {
				return nil, chat.ErrUnauthorized
			}
			return &chat.Operator{ID: "alice", Name: "Alice"}, nil
		},
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.Handle("/chat/", srv.Handler())
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "shopchat minimal example: visitors POST /chat/session and open /chat/ws; operators open /chat/operator/ws with 'Authorization: Bearer demo-operator'")
	})

	hs := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		log.Printf("listening on http://%s", *addr)
		if err := hs.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Fatal(err)
		}
	}()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Close(shutdown) // close chat sockets first: Shutdown does not wait for hijacked connections
	hs.Shutdown(shutdown)
}
