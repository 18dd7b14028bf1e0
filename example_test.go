package chat_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/store/memory"
)

// The few lines a shop adds: a store, a Server with the shop's own operator
// auth, and the handler mounted under /chat/.
func ExampleNew() {
	srv, err := chat.New(chat.Config{
		Store:  memory.New(), // store/sqlite or store/postgres in production
		Secret: []byte("a stable secret of at least 32 bytes!"),
		Operators: func(r *http.Request) (*chat.Operator, error) {
			if r.Header.Get("X-Staff") != "alice" { // the shop's own auth
				return nil, chat.ErrUnauthorized
			}
			return &chat.Operator{ID: "alice", Name: "Alice"}, nil
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close(context.Background())

	mux := http.NewServeMux()
	mux.Handle("/chat/", srv.Handler())

	// A visitor's browser gets a token cookie, then the widget script.
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("POST", "/chat/session", nil))
	fmt.Println(rec.Code, rec.Result().Cookies()[0].Name)
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/chat/widget.js", nil))
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
	// Output:
	// 200 shopchat_visitor
	// 200 text/javascript; charset=utf-8
}

// A missing setting is a clear error from New.
func ExampleNew_missingConfig() {
	_, err := chat.New(chat.Config{Store: memory.New()})
	fmt.Println(err)
	// Output: chat: Config.Operators, Config.Secret required
}
