package client_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/shopchat/chat/client"
	"github.com/shopchat/chat/protocol"
)

// A visitor asks a question and an operator answers it. The example needs a
// running chat server, so it is compiled but not run.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const shop = "http://127.0.0.1:8080"

	visitor, err := client.DialVisitor(ctx, shop, client.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer visitor.Close()
	operator, err := client.DialOperator(ctx, shop, client.Options{
		Header: http.Header{"Authorization": {"Bearer demo-operator"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer operator.Close()

	q, err := visitor.Send(ctx, "", "Do you ship to Norway?")
	if err != nil {
		log.Fatal(err)
	}
	// The router assigns the conversation to the operator (or it waits in
	// the queue for Accept).
	err = operator.Wait(ctx, func(c *client.Conn) bool {
		conv, ok := c.Conversation(q.Conv)
		return ok && conv.Status == protocol.StatusAssigned
	})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := operator.Send(ctx, q.Conv, "Yes, in 3 to 5 days."); err != nil {
		log.Fatal(err)
	}
	err = visitor.Wait(ctx, func(c *client.Conn) bool {
		ms := c.Messages(q.Conv)
		return len(ms) > 0 && ms[len(ms)-1].Kind == protocol.KindOperator
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range visitor.Messages(q.Conv) {
		fmt.Println(m.Seq, m.Kind, m.Text)
	}
}
