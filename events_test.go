package chat_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/client"
	"github.com/shopchat/chat/store/sqlite"
)

// A consumer of the event stream handles a few events, recording its
// position only now and then, and stops; the Server restarts on the same
// database. Resumed from the recorded position, the consumer gets the
// events it handled but had not recorded again, with the same IDs and
// positions, then everything after: no event is lost, the ones written as
// the first Server shut down included.
func TestEventsResumeAfterRestart(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "chat.db")
		open := func() chat.Store {
			st, err := sqlite.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		}
		testEventsResume(t, open(), func(first chat.Store) chat.Store {
			first.(*sqlite.Store).Close()
			return open()
		})
	})
	t.Run("postgres", func(t *testing.T) {
		stores := freshPostgres(t, 2) // two pools: a process and its restart
		testEventsResume(t, stores[0], func(first chat.Store) chat.Store {
			first.(interface{ Close() }).Close()
			return stores[1]
		})
	})
}

func testEventsResume(t *testing.T, store chat.Store, restart func(chat.Store) chat.Store) {
	ctx := testCtx(t)
	srv1 := newTestServer(t, func(c *chat.Config) { c.Store = store })

	// Before the restart: a whole chat, from the visitor arriving to the
	// visitor leaving.
	op, err := client.DialOperator(ctx, srv1.URL, client.Options{Header: http.Header{"X-Operator": {"alice"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	v, err := client.DialVisitor(ctx, srv1.URL, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	first, err := v.Send(ctx, "", "Do you ship to Norway?")
	if err != nil {
		t.Fatal(err)
	}
	conv := first.Conv
	c := waitOwnedBy(t, store, conv, "alice")
	if err := op.Wait(ctx, func(c *client.Conn) bool { return containsSeq(c.Messages(conv), first.Seq) }); err != nil {
		t.Fatal(err)
	}
	if _, err := op.Send(ctx, conv, "We do, in three days."); err != nil {
		t.Fatal(err)
	}
	if err := v.Rate(ctx, conv, 5, "quick"); err != nil {
		t.Fatal(err)
	}
	if _, err := srv1.Chat.RecordOrder(ctx, chat.Order{ID: "order-1", VisitorID: c.VisitorID, Total: 4200, Currency: "EUR"}); err != nil {
		t.Fatal(err)
	}
	if err := srv1.Chat.CloseConversation(ctx, conv, "alice"); err != nil {
		t.Fatal(err)
	}
	v.Close()

	// The consumer handles five events, recording its position after the
	// third, and stops.
	var handled []chat.Event
	var recorded int64
	stopped := errors.New("consumer stopped")
	err = srv1.Chat.FollowEvents(ctx, 0, 0, func(ev chat.Event) error {
		handled = append(handled, ev)
		if len(handled) == 3 {
			recorded = ev.Pos
		}
		if len(handled) == 5 {
			return stopped
		}
		return nil
	})
	if !errors.Is(err, stopped) {
		t.Fatalf("FollowEvents: %v", err)
	}
	// The restart: the visitor's widget goes as the Server shuts down.
	closeCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	op.Close()
	if err := srv1.Chat.Close(closeCtx); err != nil {
		t.Fatal(err)
	}
	store = restart(store)
	srv2 := newTestServer(t, func(c *chat.Config) { c.Store = store })
	if err := srv2.Chat.ReopenConversation(ctx, conv, ""); err != nil {
		t.Fatal(err)
	}
	marker, err := srv2.Chat.PostMessage(ctx, chat.Post{Conversation: conv, As: chat.Author{System: true}, Text: "after the restart"})
	if err != nil {
		t.Fatal(err)
	}

	var resumed []chat.Event
	err = srv2.Chat.FollowEvents(ctx, recorded, 0, func(ev chat.Event) error {
		resumed = append(resumed, ev)
		if ev.Kind == chat.EventMessage && ev.Message.Seq == marker.Seq {
			return stopped
		}
		return nil
	})
	if !errors.Is(err, stopped) {
		t.Fatalf("FollowEvents after the restart: %v", err)
	}

	// Handled but not recorded: delivered again, the same events.
	for i, ev := range handled[3:] {
		if resumed[i].ID != ev.ID || resumed[i].Pos != ev.Pos || resumed[i].Kind != ev.Kind {
			t.Fatalf("after the restart, event %d is %s at %d (%s), want %s at %d (%s) again", i, resumed[i].ID, resumed[i].Pos, resumed[i].Kind, ev.ID, ev.Pos, ev.Kind)
		}
	}
	// Nothing lost: the consumer saw the whole log, in order, once it
	// drops the redelivered ones by ID.
	seen := map[string]bool{}
	var got []chat.Event
	for _, ev := range append(handled, resumed...) {
		if !seen[ev.ID] {
			seen[ev.ID] = true
			got = append(got, ev)
		}
	}
	all, err := srv2.Chat.Events(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(all) {
		t.Fatalf("the consumer got %d distinct events, the log holds %d", len(got), len(all))
	}
	kinds := map[chat.EventKind]int{}
	for i, ev := range all {
		if got[i].ID != ev.ID || got[i].Pos != ev.Pos {
			t.Fatalf("event %d: the consumer got %s at %d, the log holds %s at %d", i, got[i].ID, got[i].Pos, ev.ID, ev.Pos)
		}
		if i > 0 && ev.Pos <= all[i-1].Pos {
			t.Fatalf("positions not increasing: %d after %d", ev.Pos, all[i-1].Pos)
		}
		kinds[ev.Kind]++
	}
	for _, k := range []chat.EventKind{chat.EventVisitorOnline, chat.EventConversationStarted, chat.EventMessage, chat.EventAssigned,
		chat.EventRated, chat.EventOrderAttributed, chat.EventClosed, chat.EventVisitorOffline, chat.EventReopened} {
		if kinds[k] == 0 {
			t.Errorf("no %s event in the log: %v", k, kinds)
		}
	}
	// Every message of the conversation has its event, once.
	page, err := srv2.Chat.Messages(ctx, chat.MessageQuery{ConversationID: conv, Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	if kinds[chat.EventMessage] != len(page.Messages) {
		t.Errorf("%d message events for %d messages", kinds[chat.EventMessage], len(page.Messages))
	}
}

// A subscriber that does not read loses events beyond its buffer, counted,
// and the Server goes on: the buffer keeps the oldest, in order.
func TestSubscribeDropsWhenFull(t *testing.T) {
	ctx := testCtx(t)
	srv, conv, done := apiShop()
	defer done()
	sub := srv.Subscribe(2)
	defer sub.Close()
	const notes = 10
	var seqs []int64
	for range notes {
		m, err := srv.AddNote(ctx, conv, "bob", "a note")
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, m.Seq)
	}
	waitFor(t, ctx, "the dropped events counted", func() bool { return sub.Dropped() == notes-2 })
	for _, want := range seqs[:2] {
		ev := <-sub.C
		if ev.Kind != chat.EventMessage || ev.Message.Seq != want || ev.Pos == 0 {
			t.Fatalf("got %s seq %d at %d, want the message event of seq %d, stored", ev.Kind, ev.Message.Seq, ev.Pos, want)
		}
	}
}
