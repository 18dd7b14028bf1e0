package chat_test

import (
	"slices"
	"testing"
	"time"

	"github.com/shopchat/chat"
)

// notesUntil returns the notifications rec receives, in order, up to and
// including the first of kind about conv.
func notesUntil(t testing.TB, rec *recordingNotifier, kind chat.NotificationKind, conv string) []chat.Notification {
	t.Helper()
	var got []chat.Notification
	timeout := time.After(30 * time.Second) // guards a hang; never synchronises
	for {
		select {
		case n := <-rec.ch:
			got = append(got, n)
			if n.Kind == kind && n.Conversation != nil && n.Conversation.ID == conv {
				return got
			}
		case <-timeout:
			t.Fatalf("no %s notification about %s; got %v", kind, conv, kindsOf(got, ""))
		}
	}
}

// kindsOf lists the kinds of ns about conv (all if conv is "").
func kindsOf(ns []chat.Notification, conv string) []chat.NotificationKind {
	var out []chat.NotificationKind
	for _, n := range ns {
		if conv == "" || n.Conversation != nil && n.Conversation.ID == conv {
			out = append(out, n.Kind)
		}
	}
	return out
}

// TestEventOrder checks the order the Notifier hears of a conversation:
// conversation_started (with the first message) before that message's own
// notification, and both before its assignment; the next conversation of
// the same visitor starts the same way.
func TestEventOrder(t *testing.T) {
	rec := newRecorder()
	ts := newTestServer(t, func(c *chat.Config) { c.Notifier = rec; c.MissedReplyDelay = time.Hour })
	ctx := testCtx(t)
	v := ts.visitor(t, nil)
	first, err := v.Send(ctx, "", "Is anyone there?")
	if err != nil {
		t.Fatal(err)
	}
	conv := first.Conv
	got := notesUntil(t, rec, chat.OfflineMessage, conv) // nobody is online
	want := []chat.NotificationKind{chat.ConversationStarted, chat.MessagePosted, chat.OfflineMessage}
	if k := kindsOf(got, conv); !slices.Equal(k, want) {
		t.Fatalf("first message: notifications %v, want %v", k, want)
	}
	started := got[0]
	if len(started.Messages) != 1 || started.Messages[0].Seq != first.Seq || started.Messages[0].Text != "Is anyone there?" {
		t.Errorf("conversation_started carries %+v, want the first message (seq %d)", started.Messages, first.Seq)
	}
	if got[1].ID == started.ID {
		t.Errorf("conversation_started and message share the ID %q", started.ID)
	}

	second, err := v.Send(ctx, conv, "Hello?")
	if err != nil {
		t.Fatal(err)
	}
	op := ts.operator(t, "alice", nil)
	got = notesUntil(t, rec, chat.ConversationAssigned, conv)
	k := kindsOf(got, conv)
	if slices.Contains(k, chat.ConversationStarted) {
		t.Errorf("a second conversation_started for %s: %v", conv, k)
	}
	if i := slices.Index(k, chat.MessagePosted); i < 0 || i > slices.Index(k, chat.ConversationAssigned) {
		t.Errorf("second message %d: notifications %v, want its message before the assignment", second.Seq, k)
	}

	if err := op.CloseConversation(ctx, conv); err != nil {
		t.Fatal(err)
	}
	notesUntil(t, rec, chat.ConversationClosed, conv)
	next, err := v.Send(ctx, "", "One more question")
	if err != nil {
		t.Fatal(err)
	}
	if next.Conv == conv {
		t.Fatal("the message after close went to the closed conversation")
	}
	got = notesUntil(t, rec, chat.MessagePosted, next.Conv)
	if k := kindsOf(got, next.Conv); !slices.Equal(k, []chat.NotificationKind{chat.ConversationStarted, chat.MessagePosted}) {
		t.Errorf("next conversation: notifications %v, want started then message", k)
	}
}
