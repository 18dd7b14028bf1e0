package memory_test

import (
	"testing"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/store/memory"
	"github.com/shopchat/chat/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(testing.TB) chat.Store { return memory.New() })
}

func TestEpochDiffersPerStore(t *testing.T) {
	epoch := func() int64 {
		s := memory.New()
		ctx := t.Context()
		if err := s.CreateVisitor(ctx, &chat.Visitor{ID: "v"}); err != nil {
			t.Fatal(err)
		}
		c := &chat.Conversation{ID: "c", VisitorID: "v"}
		if err := s.CreateConversation(ctx, c); err != nil {
			t.Fatal(err)
		}
		return c.Epoch
	}
	a, b := epoch(), epoch()
	if a == 0 || a == b {
		t.Fatalf("epochs %d and %d: want non-zero and different per store", a, b)
	}
}
