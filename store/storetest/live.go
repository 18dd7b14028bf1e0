package storetest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopchat/chat"
)

// liveCases check live conversations: Conversation.LiveUntil, KeepLive and
// capacity that counts only conversations whose visitor is on the site.
func liveCases() []def {
	// offline creates a queued conversation id whose visitor is not on the
	// site (LiveUntil zero): an offline message.
	offline := func(t testing.TB, s store, id string, created int) *chat.Conversation {
		t.Helper()
		mustVisitor(t, s, id+"-v", "")
		c := &chat.Conversation{ID: id, VisitorID: id + "-v", CreatedAt: at(created), QueuedAt: at(created)}
		require.NoError(t, s.CreateConversation(ctx, c), "CreateConversation %q", id)
		return mustGetConv(t, s, id)
	}
	return []def{
		{"Live/CreateKeepsLiveUntil", func(t testing.TB, s store) {
			live := mustConv(t, s, "live", at(0))
			sameTime(t, liveLong, live.LiveUntil, "LiveUntil as created")
			assert.True(t, live.Live(at(1)), "live before LiveUntil")
			off := offline(t, s, "off", 1)
			assert.True(t, off.LiveUntil.IsZero(), "zero LiveUntil reads back zero, got %v", off.LiveUntil)
			assert.False(t, off.Live(at(2)), "an offline message is not live")
			q, err := s.Queue(ctx)
			require.NoError(t, err)
			assert.Equal(t, []string{"live", "off"}, convIDs(q), "Queue lists live and waiting conversations, FIFO")
		}},
		{"Live/KeepLive", func(t testing.TB, s store) {
			offline(t, s, "c1", 0)
			offline(t, s, "c2", 1)
			offline(t, s, "c3", 2)
			mustClose(t, s, "c3", at(3))
			require.NoError(t, s.KeepLive(ctx, []string{"c1-v", "c3-v", "nobody"}, at(60)))
			sameTime(t, at(60), mustGetConv(t, s, "c1").LiveUntil, "c1 renewed")
			assert.True(t, mustGetConv(t, s, "c2").LiveUntil.IsZero(), "c2's visitor was not named")
			assert.True(t, mustGetConv(t, s, "c3").LiveUntil.IsZero(), "a closed conversation is not renewed")
			require.NoError(t, s.KeepLive(ctx, []string{"c1-v"}, at(30)))
			sameTime(t, at(60), mustGetConv(t, s, "c1").LiveUntil, "KeepLive never lowers LiveUntil")
			require.NoError(t, s.KeepLive(ctx, []string{"c1-v"}, at(90)))
			sameTime(t, at(90), mustGetConv(t, s, "c1").LiveUntil, "KeepLive raises LiveUntil")
			require.NoError(t, s.KeepLive(ctx, nil, at(100)), "KeepLive of nobody")
		}},
		{"Live/CapacityCountsLiveOnly", func(t testing.TB, s store) {
			mustOperator(t, s, "alice")
			for i := range 3 {
				offline(t, s, id("off", i), i)
			}
			for i := range 3 {
				_, err := s.Assign(ctx, id("off", i), "", "alice", 1, at(10+i))
				require.NoError(t, err, "conversations whose visitor is away take no live slot (#%d)", i)
			}
			assert.Equal(t, 0, loads(t, s, at(13))["alice"].Active, "Active counts live conversations only")
			mustConv(t, s, "live1", at(14))
			mustConv(t, s, "live2", at(15))
			mustAssign(t, s, "live1", "", "alice", at(16))
			assert.Equal(t, 1, loads(t, s, at(17))["alice"].Active)
			_, err := s.Assign(ctx, "live2", "", "alice", 1, at(18))
			isErr(t, err, chat.ErrCapacity, "one live conversation fills capacity 1")
			_, err = s.Assign(ctx, "live2", "", "alice", 0, at(18))
			require.NoError(t, err, "capacity 0 (an operator's explicit choice) admits")
			assert.Equal(t, 2, loads(t, s, at(19))["alice"].Active)
		}},
		{"Live/Expiry", func(t testing.TB, s store) {
			mustOperator(t, s, "alice")
			offline(t, s, "c1", 0)
			offline(t, s, "c2", 1)
			require.NoError(t, s.KeepLive(ctx, []string{"c1-v"}, at(30)))
			mustAssign(t, s, "c1", "", "alice", at(2))
			assert.Equal(t, 1, loads(t, s, at(29))["alice"].Active, "live until at(30)")
			_, err := s.Assign(ctx, "c2", "", "alice", 1, at(29))
			isErr(t, err, chat.ErrCapacity, "alice's live c1 fills capacity 1, whatever the new one is")
			_, err = s.Assign(ctx, "c2", "", "alice", 2, at(29))
			require.NoError(t, err, "c2 is not live: it takes no slot")
			require.NoError(t, s.KeepLive(ctx, []string{"c2-v"}, at(40)))
			_, err = s.Assign(ctx, "c2", "alice", "alice", 1, at(29))
			require.NoError(t, err, "re-assigning to the same operator moves nothing")
			assert.Equal(t, 2, loads(t, s, at(29))["alice"].Active, "a returning visitor counts again")
			assert.Equal(t, 1, loads(t, s, at(30))["alice"].Active, "c1's visitor left: from LiveUntil on it does not count")
			assert.Equal(t, 0, loads(t, s, at(40))["alice"].Active, "both gone")
			mustConv(t, s, "c3", at(41))
			_, err = s.Assign(ctx, "c3", "", "alice", 1, at(41))
			require.NoError(t, err, "capacity freed by visitors leaving")
		}},
	}
}
