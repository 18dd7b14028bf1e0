package storetest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopchat/chat"
)

func mustMessages(t testing.TB, s store, q chat.MessageQuery) []*chat.Message {
	t.Helper()
	ms, err := s.Messages(ctx, q)
	require.NoError(t, err, "Messages(%+v)", q)
	return ms
}

func messageCases() []def {
	return []def{
		{"Messages/Append", func(t testing.TB, s store) {
			mustConv(t, s, "c1", at(0))
			in := []*chat.Message{
				{ConversationID: "c1", ClientID: "k1", Kind: chat.VisitorText, AuthorID: "c1-v", AuthorName: "Ann", Text: "hello", CreatedAt: at(1)},
				{ConversationID: "c1", Kind: chat.SystemEvent, Text: "Alice joined", CreatedAt: at(2)},
				{ConversationID: "c1", ClientID: "k2", Kind: chat.OperatorText, AuthorID: "alice", AuthorName: "Alice", Text: "hi!", CreatedAt: at(3)},
				{ConversationID: "c1", ClientID: "k3", Kind: chat.Note, AuthorID: "alice", AuthorName: "Alice", Text: "VIP", CreatedAt: at(4)},
				{ID: "given-id", ConversationID: "c1", Kind: chat.SystemEvent, Text: "with id", CreatedAt: at(5)},
				{ConversationID: "c1", Kind: chat.BotText, AuthorID: "bot:Assistant", AuthorName: "Assistant", Text: "from the bot", CreatedAt: at(6)},
			}
			want := make([]chat.Message, len(in))
			ids := map[string]bool{}
			for i, m := range in {
				want[i] = *m
				a := mustAppend(t, s, m)
				assert.False(t, a.Duplicate, "Duplicate on first append of #%d", i)
				assert.EqualValues(t, i+1, a.Message.Seq, "Seq of #%d", i)
				assert.NotEmpty(t, a.Message.ID, "ID of #%d", i)
				assert.False(t, ids[a.Message.ID], "ID %q reused", a.Message.ID)
				ids[a.Message.ID] = true
				assert.Equal(t, "c1", a.Conversation.ID, "Appended.Conversation")
				assert.EqualValues(t, i+1, a.Conversation.LastSeq, "Appended.Conversation.LastSeq after #%d", i)
				want[i].Seq, want[i].ID = a.Message.Seq, a.Message.ID
			}
			assert.Equal(t, "given-id", want[4].ID, "a caller's ID is kept")
			assert.EqualValues(t, len(in), mustGetConv(t, s, "c1").LastSeq, "stored LastSeq")

			got := mustMessages(t, s, chat.MessageQuery{ConversationID: "c1"})
			require.Len(t, got, len(want))
			for i, m := range got {
				w := want[i]
				assert.Equal(t, w.ID, m.ID, "#%d ID", i)
				assert.Equal(t, w.ConversationID, m.ConversationID, "#%d ConversationID", i)
				assert.Equal(t, w.Seq, m.Seq, "#%d Seq", i)
				assert.Equal(t, w.ClientID, m.ClientID, "#%d ClientID", i)
				assert.Equal(t, w.Kind, m.Kind, "#%d Kind", i)
				assert.Equal(t, w.AuthorID, m.AuthorID, "#%d AuthorID", i)
				assert.Equal(t, w.AuthorName, m.AuthorName, "#%d AuthorName", i)
				assert.Equal(t, w.Text, m.Text, "#%d Text", i)
				sameTime(t, w.CreatedAt, m.CreatedAt, "message CreatedAt")
			}
		}},
		{"Messages/AppendIdempotent", func(t testing.TB, s store) {
			mustConv(t, s, "c1", at(0))
			first := mustAppend(t, s, text("c1", "k1", "original", at(1)))
			mustAppend(t, s, text("c1", "k2", "second", at(2)))
			retry := text("c1", "k1", "retry with other text", at(3))
			a := mustAppend(t, s, retry)
			assert.True(t, a.Duplicate, "Duplicate on retry")
			assert.Equal(t, first.Message.ID, a.Message.ID, "retry returns the original ID")
			assert.EqualValues(t, 1, a.Message.Seq, "retry returns the original Seq")
			assert.Equal(t, "original", a.Message.Text, "retry returns the original message")
			assert.Equal(t, "k1", a.Message.ClientID)
			assert.EqualValues(t, 2, a.Conversation.LastSeq, "conversation LastSeq after retry")
			assert.EqualValues(t, 2, mustGetConv(t, s, "c1").LastSeq, "stored LastSeq after retry")
			ms := mustMessages(t, s, chat.MessageQuery{ConversationID: "c1"})
			assert.Equal(t, []int64{1, 2}, seqs(ms), "nothing written on retry")
			// The next new message still gets the next Seq.
			assert.EqualValues(t, 3, mustAppend(t, s, text("c1", "k3", "third", at(4))).Message.Seq)
		}},
		{"Messages/RetryAfterClose", func(t testing.TB, s store) {
			// A retry is recognised before the closed check, so a client
			// whose conversation closed meanwhile gets its original back.
			mustConv(t, s, "c1", at(0))
			first := mustAppend(t, s, text("c1", "k1", "original", at(1)))
			mustClose(t, s, "c1", at(2))
			a := mustAppend(t, s, text("c1", "k1", "original", at(3)))
			assert.True(t, a.Duplicate, "Duplicate on retry into a closed conversation")
			assert.Equal(t, first.Message.ID, a.Message.ID, "retry returns the original")
			_, err := s.AppendMessage(ctx, text("c1", "k2", "new", at(4)))
			isErr(t, err, chat.ErrConflict, "AppendMessage(new client id, closed)")
		}},
		{"Messages/AppendEmptyClientID", func(t testing.TB, s store) {
			mustConv(t, s, "c1", at(0))
			for i := range 3 {
				a := mustAppend(t, s, &chat.Message{ConversationID: "c1", Kind: chat.SystemEvent, Text: "same", CreatedAt: at(1)})
				assert.False(t, a.Duplicate, "empty ClientID never deduplicates (#%d)", i)
				assert.EqualValues(t, i+1, a.Message.Seq)
			}
			assert.Len(t, mustMessages(t, s, chat.MessageQuery{ConversationID: "c1"}), 3)
		}},
		{"Messages/ClientIDPerConversation", func(t testing.TB, s store) {
			mustConv(t, s, "c1", at(0))
			mustConv(t, s, "c2", at(0))
			a1 := mustAppend(t, s, text("c1", "same", "in c1", at(1)))
			a2 := mustAppend(t, s, text("c2", "same", "in c2", at(2)))
			assert.False(t, a2.Duplicate, "a client id is unique per conversation, not globally")
			assert.EqualValues(t, 1, a2.Message.Seq)
			assert.NotEqual(t, a1.Message.ID, a2.Message.ID)
			assert.Equal(t, "c2", a2.Message.ConversationID)
			ms := mustMessages(t, s, chat.MessageQuery{ConversationID: "c2"})
			require.Len(t, ms, 1)
			assert.Equal(t, "in c2", ms[0].Text)
		}},
		{"Messages/AppendErrors", func(t testing.TB, s store) {
			mustConv(t, s, "c1", at(0))
			mustAppend(t, s, text("c1", "k1", "before close", at(1)))
			_, err := s.AppendMessage(ctx, text("ghost", "k", "x", at(2)))
			isErr(t, err, chat.ErrNotFound, "AppendMessage to unknown conversation")
			_, err = s.AppendMessage(ctx, &chat.Message{ConversationID: "c1", ClientID: "k2", Kind: "bogus", Text: "x", CreatedAt: at(2)})
			isErr(t, err, chat.ErrInvalid, "AppendMessage with undefined kind")
			_, err = s.AppendMessage(ctx, &chat.Message{ConversationID: "c1", Text: "x", CreatedAt: at(2)})
			isErr(t, err, chat.ErrInvalid, "AppendMessage with empty kind")
			// A refused append does not reserve its client id.
			a := mustAppend(t, s, text("c1", "k2", "valid now", at(2)))
			assert.False(t, a.Duplicate, "client id of a refused append")
			assert.EqualValues(t, 2, a.Message.Seq)
			mustClose(t, s, "c1", at(3))
			_, err = s.AppendMessage(ctx, text("c1", "k3", "after close", at(4)))
			isErr(t, err, chat.ErrConflict, "AppendMessage to closed conversation")
			_, err = s.AppendMessage(ctx, text("c1", "", "after close", at(4)))
			isErr(t, err, chat.ErrConflict, "AppendMessage without client id to closed conversation")
			assert.Equal(t, []int64{1, 2}, seqs(mustMessages(t, s, chat.MessageQuery{ConversationID: "c1"})), "nothing written by refused appends")
			assert.EqualValues(t, 2, mustGetConv(t, s, "c1").LastSeq)
		}},
		{"Messages/List", func(t testing.TB, s store) {
			mustConv(t, s, "c1", at(0))
			mustConv(t, s, "empty", at(0))
			mustConv(t, s, "other", at(0))
			for i := range 10 {
				mustAppend(t, s, text("c1", id("k", i), id("m", i), at(i+1)))
				if i < 3 {
					mustAppend(t, s, text("other", id("k", i), "other", at(i+1)))
				}
			}
			for _, tc := range []struct {
				name string
				q    chat.MessageQuery
				want []int64
			}{
				{"all", chat.MessageQuery{}, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
				{"AfterSeq", chat.MessageQuery{AfterSeq: 7}, []int64{8, 9, 10}},
				{"AfterSeq at end", chat.MessageQuery{AfterSeq: 10}, []int64{}},
				{"AfterSeq past end", chat.MessageQuery{AfterSeq: 50}, []int64{}},
				{"BeforeSeq", chat.MessageQuery{BeforeSeq: 5}, []int64{1, 2, 3, 4}},
				{"BeforeSeq 1", chat.MessageQuery{BeforeSeq: 1}, []int64{}},
				{"BeforeSeq past end", chat.MessageQuery{BeforeSeq: 50}, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
				{"Limit: oldest", chat.MessageQuery{Limit: 3}, []int64{1, 2, 3}},
				{"AfterSeq+Limit: oldest after", chat.MessageQuery{AfterSeq: 2, Limit: 3}, []int64{3, 4, 5}},
				{"BeforeSeq+Limit: newest before, ascending", chat.MessageQuery{BeforeSeq: 8, Limit: 3}, []int64{5, 6, 7}},
				{"BeforeSeq+Limit beyond start", chat.MessageQuery{BeforeSeq: 3, Limit: 5}, []int64{1, 2}},
				{"AfterSeq+BeforeSeq", chat.MessageQuery{AfterSeq: 3, BeforeSeq: 6}, []int64{4, 5}},
				{"AfterSeq+BeforeSeq+Limit", chat.MessageQuery{AfterSeq: 2, BeforeSeq: 9, Limit: 2}, []int64{7, 8}},
				{"empty range", chat.MessageQuery{AfterSeq: 5, BeforeSeq: 6}, []int64{}},
			} {
				tc.q.ConversationID = "c1"
				got := mustMessages(t, s, tc.q)
				assert.Equal(t, tc.want, seqs(got), "Messages %s (%+v)", tc.name, tc.q)
				for _, m := range got {
					assert.Equal(t, "c1", m.ConversationID, "Messages %s: other conversation's message", tc.name)
					assert.Equal(t, id("m", int(m.Seq-1)), m.Text, "Messages %s: body of Seq %d", tc.name, m.Seq)
				}
			}
			assert.Empty(t, mustMessages(t, s, chat.MessageQuery{ConversationID: "empty"}), "conversation without messages")
			_, err := s.Messages(ctx, chat.MessageQuery{ConversationID: "ghost"})
			isErr(t, err, chat.ErrNotFound, "Messages of unknown conversation")
		}},
		{"Messages/Copies", func(t testing.TB, s store) {
			mustConv(t, s, "c1", at(0))
			m := text("c1", "k1", "original", at(1))
			a := mustAppend(t, s, m)
			m.Text = "mutated input"
			a.Message.Text = "mutated output"
			ms := mustMessages(t, s, chat.MessageQuery{ConversationID: "c1"})
			require.Len(t, ms, 1)
			assert.Equal(t, "original", ms[0].Text, "AppendMessage kept a reference")
			ms[0].Text = "mutated list"
			ms = mustMessages(t, s, chat.MessageQuery{ConversationID: "c1"})
			assert.Equal(t, "original", ms[0].Text, "Messages returned stored state")
			dup := mustAppend(t, s, text("c1", "k1", "retry", at(2)))
			dup.Message.Text = "mutated duplicate"
			ms = mustMessages(t, s, chat.MessageQuery{ConversationID: "c1"})
			assert.Equal(t, "original", ms[0].Text, "duplicate AppendMessage returned stored state")
		}},
	}
}

// assignedAppenderCases check the assigned-append role.
func assignedAppenderCases() []def {
	return []def{
		{"AssignedAppender/Append", func(t testing.TB, s store) {
			aa := chat.AssignedAppender(s)
			mustOperator(t, s, "alice")
			mustOperator(t, s, "bob")
			mustConv(t, s, "c1", at(0))
			by := func(op, clientID, body string, n int) (chat.Appended, error) {
				return aa.AppendAssigned(ctx, &chat.Message{ConversationID: "c1", ClientID: clientID, Kind: chat.OperatorText,
					AuthorID: op, AuthorName: "Op " + op, Text: body, CreatedAt: at(n)}, op)
			}
			_, err := by("alice", "a1", "queued", 1)
			isErr(t, err, chat.ErrConflict, "AppendAssigned to a Queued conversation")
			mustAssign(t, s, "c1", "", "alice", at(2))
			_, err = by("bob", "b1", "not mine", 3)
			isErr(t, err, chat.ErrConflict, "AppendAssigned by another operator")
			first, err := by("alice", "a1", "hello", 4)
			require.NoError(t, err, "AppendAssigned by the assignee")
			assert.False(t, first.Duplicate)
			assert.EqualValues(t, 1, first.Message.Seq, "a refused append takes no Seq")
			assert.Equal(t, "alice", first.Conversation.OperatorID, "Appended.Conversation")

			// Transferred: the former operator is refused, the new one is not,
			// and a retry of what the former one stored still gets its original.
			mustAssign(t, s, "c1", "alice", "bob", at(5))
			_, err = by("alice", "a2", "too late", 6)
			isErr(t, err, chat.ErrConflict, "AppendAssigned by the former operator")
			retry, err := by("alice", "a1", "hello", 7)
			require.NoError(t, err, "retry by the former operator")
			assert.True(t, retry.Duplicate, "retry recognised before the assignment check")
			assert.Equal(t, first.Message.ID, retry.Message.ID)
			a, err := by("bob", "a2", "bob here", 8)
			require.NoError(t, err, "AppendAssigned by the new assignee")
			assert.False(t, a.Duplicate, "a refused append does not reserve its client id")
			assert.EqualValues(t, 2, a.Message.Seq)

			_, err = by("", "x", "nobody", 9)
			isErr(t, err, chat.ErrInvalid, "AppendAssigned with an empty operator")
			_, err = aa.AppendAssigned(ctx, text("ghost", "g1", "x", at(9)), "bob")
			isErr(t, err, chat.ErrNotFound, "AppendAssigned to an unknown conversation")
			mustClose(t, s, "c1", at(10))
			_, err = by("bob", "b9", "after close", 11)
			isErr(t, err, chat.ErrConflict, "AppendAssigned to a Closed conversation")
			assert.Equal(t, []int64{1, 2}, seqs(mustMessages(t, s, chat.MessageQuery{ConversationID: "c1"})), "nothing written by refused appends")
			assert.EqualValues(t, 2, mustGetConv(t, s, "c1").LastSeq)
		}},
	}
}

// batchAppenderCases check the batch-append role.
func batchAppenderCases() []def {
	return []def{
		{"BatchAppender/Append", func(t testing.TB, s store) {
			ba := chat.BatchAppender(s)
			mustOperator(t, s, "alice")
			mustOperator(t, s, "bob")
			mustConv(t, s, "open", at(0))
			mustConv(t, s, "theirs", at(0))
			mustAssign(t, s, "theirs", "", "alice", at(1))
			mustConv(t, s, "shut", at(0))
			mustAppend(t, s, text("shut", "s1", "before close", at(1)))
			mustClose(t, s, "shut", at(2))
			byOp := func(op, clientID, body string, n int) chat.AppendItem {
				return chat.AppendItem{OperatorID: op, Message: &chat.Message{ConversationID: "theirs", ClientID: clientID,
					Kind: chat.OperatorText, AuthorID: op, AuthorName: "Op " + op, Text: body, CreatedAt: at(n)}}
			}
			visitor := func(conv, clientID, body string, n int) chat.AppendItem {
				return chat.AppendItem{Message: text(conv, clientID, body, at(n))}
			}
			items := []chat.AppendItem{
				visitor("open", "v1", "one", 3),
				byOp("alice", "a1", "alice here", 3),
				visitor("open", "v2", "two", 4),
				visitor("shut", "x1", "into the closed one", 4),                                    // ErrConflict; the rest land
				visitor("open", "v1", "one again", 5),                                              // a retry within the batch
				byOp("bob", "b1", "not mine", 5),                                                   // ErrConflict: alice's
				visitor("ghost", "g1", "nowhere", 5),                                               // ErrNotFound
				{Message: &chat.Message{ConversationID: "open", ClientID: "bad", Text: "no kind"}}, // ErrInvalid
				visitor("open", "v3", "three", 6),
			}
			res := ba.AppendBatch(ctx, items)
			require.Len(t, res, len(items), "one result per item")
			for _, i := range []int{0, 1, 2, 4, 8} {
				require.NoError(t, res[i].Err, "item %d", i)
				require.NotNil(t, res[i].Message, "item %d: Appended.Message", i)
				require.NotNil(t, res[i].Conversation, "item %d: Appended.Conversation", i)
			}
			isErr(t, res[3].Err, chat.ErrConflict, "an item for a Closed conversation")
			isErr(t, res[5].Err, chat.ErrConflict, "an assigned item by another operator")
			isErr(t, res[6].Err, chat.ErrNotFound, "an item for an unknown conversation")
			isErr(t, res[7].Err, chat.ErrInvalid, "an item without a kind (Checked)")

			assert.Equal(t, []int64{1, 2, 3}, []int64{res[0].Message.Seq, res[2].Message.Seq, res[8].Message.Seq}, "order kept within a conversation")
			assert.Equal(t, []int64{1, 2, 3}, []int64{items[0].Message.Seq, items[2].Message.Seq, items[8].Message.Seq}, "Seq set on the items' messages")
			assert.False(t, res[0].Duplicate)
			assert.True(t, res[4].Duplicate, "a client id used earlier in the batch")
			assert.Equal(t, res[0].Message.ID, res[4].Message.ID, "the retry returns the original")
			assert.Equal(t, "one", res[4].Message.Text)
			assert.EqualValues(t, 1, res[1].Message.Seq)
			assert.Equal(t, "alice", res[1].Conversation.OperatorID, "an assigned item's Appended.Conversation")

			ms := mustMessages(t, s, chat.MessageQuery{ConversationID: "open"})
			assert.Equal(t, []int64{1, 2, 3}, seqs(ms))
			if len(ms) == 3 {
				assert.Equal(t, []string{"one", "two", "three"}, []string{ms[0].Text, ms[1].Text, ms[2].Text}, "stored in slice order")
			}
			assert.Equal(t, []int64{1}, seqs(mustMessages(t, s, chat.MessageQuery{ConversationID: "theirs"})), "bob's item wrote nothing")
			assert.Equal(t, []int64{1}, seqs(mustMessages(t, s, chat.MessageQuery{ConversationID: "shut"})), "nothing written into the Closed conversation")
			assert.EqualValues(t, 3, mustGetConv(t, s, "open").LastSeq)

			// Across batches: a retry is recognised first, also for an
			// operator no longer assigned (as AppendAssigned), and after
			// the conversation closed.
			mustAssign(t, s, "theirs", "alice", "bob", at(7))
			mustClose(t, s, "open", at(7))
			again := ba.AppendBatch(ctx, []chat.AppendItem{
				visitor("open", "v2", "two", 8),
				byOp("alice", "a1", "alice here", 8),
				byOp("alice", "a2", "too late", 8),
				byOp("bob", "b1", "bob here", 9),
			})
			require.Len(t, again, 4)
			require.NoError(t, again[0].Err, "a retry into a since-closed conversation")
			assert.True(t, again[0].Duplicate)
			assert.Equal(t, res[2].Message.ID, again[0].Message.ID)
			assert.EqualValues(t, 2, again[0].Message.Seq)
			require.NoError(t, again[1].Err, "a retry by the former operator")
			assert.True(t, again[1].Duplicate)
			assert.Equal(t, res[1].Message.ID, again[1].Message.ID)
			isErr(t, again[2].Err, chat.ErrConflict, "a new item by the former operator")
			require.NoError(t, again[3].Err, "an item by the new assignee")
			assert.False(t, again[3].Duplicate, "a refused item does not reserve its client id")
			assert.EqualValues(t, 2, again[3].Message.Seq)

			assert.Empty(t, ba.AppendBatch(ctx, nil), "an empty batch")
		}},
	}
}
