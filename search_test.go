package chat_test

import (
	"errors"
	"testing"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/protocol"
)

func TestSearchOverTheWire(t *testing.T) {
	ts := newTestServer(t)
	ctx := testCtx(t)
	alice := ts.operator(t, "alice", nil)
	ann := ts.visitor(t, nil)
	bea := ts.visitor(t, nil)
	a, err := ann.Send(ctx, "", "Where is my parcel to Oslo?")
	if err != nil {
		t.Fatal(err)
	}
	waitText(t, alice, a.Conv, a.Text)
	if _, err := alice.Note(ctx, a.Conv, "parcel stuck in customs, internal"); err != nil {
		t.Fatal(err)
	}
	if _, err := bea.Send(ctx, "", "My parcel never came"); err != nil {
		t.Fatal(err)
	}

	// The operator finds both visitors' messages and the note.
	hits, err := alice.Search(ctx, "PARCEL", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 3 {
		t.Fatalf("operator search: %d hits, want 3: %+v", len(hits), hits)
	}
	// A visitor finds only their own, and no note.
	hits, err = ann.Search(ctx, "parcel", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 1 || hits[0].Message.Conv != a.Conv || hits[0].Message.Kind != protocol.KindVisitor {
		t.Fatalf("visitor search: %+v", hits)
	}
	// Hostile input is an invalid query or a result, never a failure.
	for _, q := range []string{`"unbalanced`, `a AND OR NOT b`, `'; DROP TABLE messages; --`, "", string([]byte{0xff, 0xfe})} {
		_, err := alice.Search(ctx, q, 10)
		if err != nil && !isCode(err, protocol.CodeInvalid) {
			t.Errorf("search %q: %v", q, err)
		}
	}
	// The Go API sees the same.
	got, err := ts.Chat.Search(ctx, chat.SearchQuery{Text: "oslo"})
	if err != nil || len(got) != 1 {
		t.Fatalf("Server.Search: %v %v", got, err)
	}
}

func TestDeleteVisitorErasesAndDisconnects(t *testing.T) {
	ts := newTestServer(t)
	ctx := testCtx(t)
	v := ts.visitor(t, nil)
	m, err := v.Send(ctx, "", "please forget me")
	if err != nil {
		t.Fatal(err)
	}
	c, err := ts.Store.Conversation(ctx, m.Conv)
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.Chat.DeleteVisitor(ctx, c.VisitorID); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Store.Conversation(ctx, m.Conv); !isNotFound(err) {
		t.Fatalf("conversation after erasure: %v", err)
	}
	if err := ts.Chat.DeleteVisitor(ctx, c.VisitorID); !isNotFound(err) {
		t.Fatalf("second erasure: %v, want not found", err)
	}
}

func isNotFound(err error) bool { return errors.Is(err, chat.ErrNotFound) }
