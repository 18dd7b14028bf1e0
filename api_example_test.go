package chat_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/store/memory"
)

// apiShop is a Server with a team of two (Alice online, Bob online) and a
// visitor, Ann, whose question waits in the queue: what the examples of
// the Server API act on. In a shop, the visitor and the conversation come
// from the widget; here they are put in the store directly.
func apiShop() (srv *chat.Server, convID string, done func()) {
	ctx := context.Background()
	store := memory.New()
	for _, op := range []*chat.Operator{{ID: "alice", Name: "Alice"}, {ID: "bob", Name: "Bob"}} {
		store.PutOperator(ctx, op)
		// Online until the example ends, as if their consoles were open.
		store.SetPresence(ctx, op.ID, chat.Online, time.Time{})
	}
	now := time.Now()
	store.CreateVisitor(ctx, &chat.Visitor{ID: "v-ann", Name: "Ann", CreatedAt: now})
	c := &chat.Conversation{ID: "c-1", VisitorID: "v-ann", CreatedAt: now, QueuedAt: now}
	store.CreateConversation(ctx, c)
	store.AppendMessage(ctx, &chat.Message{ConversationID: c.ID, ClientID: "q1", Kind: chat.VisitorText, AuthorID: "v-ann", AuthorName: "Ann", Text: "Where is my order?", CreatedAt: now})
	srv, err := chat.New(chat.Config{
		Store:     store,
		Secret:    []byte("a stable secret of at least 32 bytes!"),
		Operators: func(*http.Request) (*chat.Operator, error) { return nil, chat.ErrUnauthorized },
	})
	if err != nil {
		panic(err)
	}
	return srv, c.ID, func() { srv.Close(ctx) }
}

func ExampleServer_Conversations() {
	srv, _, done := apiShop()
	defer done()
	waiting, err := srv.Conversations(context.Background(), chat.ConversationFilter{Status: []chat.Status{chat.Queued}})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range waiting {
		fmt.Println(c.ID, c.VisitorID, c.Status, c.LastSeq)
	}
	// Output: c-1 v-ann queued 1
}

func ExampleServer_Messages() {
	srv, conv, done := apiShop()
	defer done()
	ctx := context.Background()
	srv.PostMessage(ctx, chat.Post{Conversation: conv, As: chat.Author{System: true}, Text: "Order 1042 shipped today"})
	// Forwards from the start, one at a time (More: newer ones follow),
	// then backwards from seq 2 (More: nothing older).
	page, _ := srv.Messages(ctx, chat.MessageQuery{ConversationID: conv, Limit: 1})
	fmt.Println(page.Messages[0].Seq, page.Messages[0].Text, page.More)
	page, _ = srv.Messages(ctx, chat.MessageQuery{ConversationID: conv, BeforeSeq: 2, Limit: 1})
	fmt.Println(page.Messages[0].Seq, page.Messages[0].Text, page.More)
	_, err := srv.Messages(ctx, chat.MessageQuery{ConversationID: "nope"})
	fmt.Println(errors.Is(err, chat.ErrNotFound))
	// Output:
	// 1 Where is my order? true
	// 1 Where is my order? false
	// true
}

func ExampleServer_PostMessage() {
	srv, conv, done := apiShop()
	defer done()
	ctx := context.Background()
	// As an operator: only the assignee may, as in the console.
	_, err := srv.PostMessage(ctx, chat.Post{Conversation: conv, As: chat.Author{Operator: "alice"}, Text: "Let me check."})
	fmt.Println(errors.Is(err, chat.ErrForbidden))
	srv.Assign(ctx, conv, "alice", false)
	m, _ := srv.PostMessage(ctx, chat.Post{Conversation: conv, As: chat.Author{Operator: "alice"}, Text: "Let me check.", ClientID: "shop-1"})
	fmt.Println(m.Seq, m.Kind, m.AuthorName)
	// As a named bot, and as a system line.
	m, _ = srv.PostMessage(ctx, chat.Post{Conversation: conv, As: chat.Author{Bot: "Tracker"}, Text: "Parcel 1042: out for delivery."})
	fmt.Println(m.Seq, m.Kind, m.AuthorID, m.AuthorName)
	m, _ = srv.PostMessage(ctx, chat.Post{Conversation: conv, As: chat.Author{System: true}, Text: "Order 1042 delivered"})
	fmt.Println(m.Seq, m.Kind)
	// A retry with the same ClientID returns the stored message.
	m, _ = srv.PostMessage(ctx, chat.Post{Conversation: conv, As: chat.Author{Operator: "alice"}, Text: "Let me check.", ClientID: "shop-1"})
	fmt.Println(m.Seq)
	// Output:
	// true
	// 3 operator Alice
	// 4 bot bot:Tracker Tracker
	// 5 system
	// 3
}

func ExampleServer_AddNote() {
	srv, conv, done := apiShop()
	defer done()
	m, err := srv.AddNote(context.Background(), conv, "bob", "Ann ordered twice; refund one.")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.Kind, m.AuthorName, m.Kind.VisibleToVisitor())
	// Output: note Bob false
}

func ExampleServer_Assign() {
	srv, conv, done := apiShop()
	defer done()
	ctx := context.Background()
	fmt.Println(srv.Assign(ctx, conv, "alice", false))
	c, _ := srv.Conversation(ctx, conv)
	fmt.Println(c.Status, c.OperatorID)
	fmt.Println(errors.Is(srv.Assign(ctx, conv, "bob", false), chat.ErrConflict))
	// Output:
	// <nil>
	// assigned alice
	// true
}

func ExampleServer_Transfer() {
	srv, conv, done := apiShop()
	defer done()
	ctx := context.Background()
	srv.Assign(ctx, conv, "alice", false)
	// Bob is not the assignee: he cannot hand it on.
	err := srv.Transfer(ctx, chat.Transfer{Conversation: conv, By: "bob", To: "alice"})
	fmt.Println(errors.Is(err, chat.ErrForbidden))
	err = srv.Transfer(ctx, chat.Transfer{Conversation: conv, By: "alice", To: "bob", Comment: "Refund question"})
	fmt.Println(err)
	c, _ := srv.Conversation(ctx, conv)
	fmt.Println(c.OperatorID)
	page, _ := srv.Messages(ctx, chat.MessageQuery{ConversationID: conv})
	for _, m := range page.Messages[1:] {
		fmt.Println(m.Kind, m.Text)
	}
	// Output:
	// true
	// <nil>
	// bob
	// system Alice joined the conversation
	// note Refund question
	// system Alice transferred the conversation to Bob
}

func ExampleServer_CloseConversation() {
	srv, conv, done := apiShop()
	defer done()
	ctx := context.Background()
	fmt.Println(srv.CloseConversation(ctx, conv, "")) // the shop closes it
	c, _ := srv.Conversation(ctx, conv)
	fmt.Println(c.Status)
	fmt.Println(errors.Is(srv.CloseConversation(ctx, conv, ""), chat.ErrConflict))
	// Output:
	// <nil>
	// closed
	// true
}

func ExampleServer_ReopenConversation() {
	srv, conv, done := apiShop()
	defer done()
	ctx := context.Background()
	srv.CloseConversation(ctx, conv, "")
	fmt.Println(srv.ReopenConversation(ctx, conv, "bob"))
	c, _ := srv.Conversation(ctx, conv)
	fmt.Println(c.Status, c.OperatorID)
	// Output:
	// <nil>
	// assigned bob
}

func ExampleServer_SetVisitorLabels() {
	srv, _, done := apiShop()
	defer done()
	ctx := context.Background()
	labels, err := srv.SetVisitorLabels(ctx, "v-ann", []string{"vip", " wholesale", "vip"})
	fmt.Println(labels, err)
	labels, _ = srv.VisitorLabels(ctx, "v-ann")
	fmt.Println(labels)
	_, err = srv.SetVisitorLabels(ctx, "v-ann", []string{"a,b"})
	fmt.Println(errors.Is(err, chat.ErrInvalid))
	// Output:
	// [vip wholesale] <nil>
	// [vip wholesale]
	// true
}

// The shop's code follows the event log from the last position it handled
// (kept in its own database), so it sees every event at least once, also
// across restarts.
func ExampleServer_FollowEvents() {
	srv, conv, done := apiShop()
	defer done()
	ctx, stop := context.WithCancel(context.Background())
	srv.Assign(ctx, conv, "alice", false)
	srv.CloseConversation(ctx, conv, "alice")

	var lastPos int64 // the shop would load this from its database
	err := srv.FollowEvents(ctx, lastPos, 0, func(ev chat.Event) error {
		switch ev.Kind {
		case chat.EventMessage:
			fmt.Println(ev.Kind, ev.Message.Kind, ev.Message.Text)
		default:
			fmt.Println(ev.Kind, ev.OperatorID)
		}
		lastPos = ev.Pos // and store it, after handling the event
		if ev.Kind == chat.EventClosed {
			stop()
		}
		return nil
	})
	fmt.Println(errors.Is(err, context.Canceled), lastPos > 0)
	// Output:
	// message system Alice joined the conversation
	// conversation_assigned alice
	// message system Alice closed the conversation
	// conversation_closed alice
	// true true
}

// A bounded in-memory subscription sees this node's events as they are
// stored; a slow reader loses events (counted), never slows the chat.
func ExampleServer_Subscribe() {
	srv, conv, done := apiShop()
	defer done()
	sub := srv.Subscribe(16)
	defer sub.Close()
	srv.AddNote(context.Background(), conv, "bob", "VIP customer")
	ev := <-sub.C
	fmt.Println(ev.Kind, ev.Message.Text, sub.Dropped())
	// Output: message VIP customer 0
}
