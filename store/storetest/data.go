package storetest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopchat/chat"
)

// goneConv asserts that conversation id and its messages are gone.
func goneConv(t testing.TB, s store, id string) {
	t.Helper()
	_, err := s.Conversation(ctx, id)
	isErr(t, err, chat.ErrNotFound, "Conversation "+id)
	_, err = s.Messages(ctx, chat.MessageQuery{ConversationID: id})
	isErr(t, err, chat.ErrNotFound, "Messages of "+id)
	_, err = s.AppendMessage(ctx, text(id, "", "after erasure", at(1000)))
	isErr(t, err, chat.ErrNotFound, "AppendMessage to "+id)
}

// keptConv asserts that conversation id still exists with status and its
// messages' texts.
func keptConv(t testing.TB, s store, id string, status chat.Status, texts ...string) {
	t.Helper()
	c, err := s.Conversation(ctx, id)
	if !assert.NoError(t, err, "Conversation %s must be kept", id) {
		return
	}
	assert.Equal(t, status, c.Status, "Status of kept %s", id)
	ms, err := s.Messages(ctx, chat.MessageQuery{ConversationID: id})
	require.NoError(t, err, "Messages of kept %s", id)
	got := make([]string, len(ms))
	for i, m := range ms {
		got[i] = m.Text
	}
	if len(texts) == 0 {
		texts = []string{}
	}
	assert.Equal(t, texts, got, "messages of kept %s", id)
}

// searchFinds returns the ids of the conversations whose messages an
// operator search for word finds, or ok false if s is not a Searcher.
func searchFinds(t testing.TB, s store, word string) (convs []string, ok bool) {
	t.Helper()
	if !provides(s, "search") {
		return nil, false
	}
	hits, err := s.Search(ctx, chat.SearchQuery{Text: word, Limit: 100})
	require.NoError(t, err, "Search %q", word)
	for _, h := range hits {
		require.NotNil(t, h.Message, "SearchHit.Message")
		convs = append(convs, h.Message.ConversationID)
	}
	return convs, true
}

func dataCases() []def {
	return []def{
		{"Data/DeleteVisitor", func(t testing.TB, s store) {
			mustOperator(t, s, "alice")
			// v1 has a closed conversation c1 and an assigned one c2, both with
			// messages; v2 (c3, assigned) and v3 (c4, queued) are bystanders.
			mustVisitor(t, s, "v1", "cust-1")
			mustConvFor(t, s, "c1", "v1", at(1))
			mustAppend(t, s, text("c1", "k1", "erasable zanzibar one", at(2)))
			mustAssign(t, s, "c1", "", "alice", at(3))
			mustClose(t, s, "c1", at(4))
			mustConvFor(t, s, "c2", "v1", at(5))
			mustAppend(t, s, text("c2", "k1", "erasable zanzibar two", at(6)))
			mustAssign(t, s, "c2", "", "alice", at(7))
			mustAppend(t, s, &chat.Message{ConversationID: "c2", ClientID: "k2", Kind: chat.Note, AuthorID: "alice", Text: "zanzibar note", CreatedAt: at(8)})
			mustVisitor(t, s, "v2", "cust-2")
			mustConvFor(t, s, "c3", "v2", at(9))
			mustAppend(t, s, text("c3", "k1", "bystander zanzibar", at(10)))
			mustAssign(t, s, "c3", "", "alice", at(11))
			mustVisitor(t, s, "v3", "")
			mustConvFor(t, s, "c4", "v3", at(12))
			mustAppend(t, s, text("c4", "k1", "queued bystander", at(13)))
			require.Equal(t, 2, loads(t, s, at(14))["alice"].Active, "alice's load before DeleteVisitor")

			require.NoError(t, s.DeleteVisitor(ctx, "v1"))
			_, err := s.Visitor(ctx, "v1")
			isErr(t, err, chat.ErrNotFound, "Visitor after DeleteVisitor")
			_, err = s.VisitorByCustomer(ctx, "cust-1")
			isErr(t, err, chat.ErrNotFound, "VisitorByCustomer of the erased visitor's customer id")
			_, err = s.OpenConversation(ctx, "v1")
			isErr(t, err, chat.ErrNotFound, "OpenConversation after DeleteVisitor")
			goneConv(t, s, "c1")
			goneConv(t, s, "c2")
			cs, err := s.Conversations(ctx, chat.ConversationFilter{VisitorID: "v1"})
			require.NoError(t, err)
			assert.Empty(t, convIDs(cs), "Conversations of the erased visitor")
			cs, err = s.Conversations(ctx, chat.ConversationFilter{})
			require.NoError(t, err)
			assert.Equal(t, []string{"c4", "c3"}, convIDs(cs), "Conversations after DeleteVisitor")
			cs, err = s.Conversations(ctx, chat.ConversationFilter{OperatorID: "alice"})
			require.NoError(t, err)
			assert.Equal(t, []string{"c3"}, convIDs(cs), "alice's conversations after DeleteVisitor")
			assert.Equal(t, 1, loads(t, s, at(15))["alice"].Active, "alice's Active drops with the erased assigned conversation")
			_, err = s.Operator(ctx, "alice")
			require.NoError(t, err, "the operator is not erased")
			if convs, ok := searchFinds(t, s, "zanzibar"); ok {
				assert.Equal(t, []string{"c3"}, convs, "Search finds only the bystander's message after DeleteVisitor")
			}

			// Bystanders are untouched.
			v2, err := s.Visitor(ctx, "v2")
			require.NoError(t, err, "Visitor v2")
			assert.Equal(t, "cust-2", v2.CustomerID)
			byc, err := s.VisitorByCustomer(ctx, "cust-2")
			require.NoError(t, err, "VisitorByCustomer cust-2")
			assert.Equal(t, "v2", byc.ID)
			open, err := s.OpenConversation(ctx, "v2")
			require.NoError(t, err, "OpenConversation v2")
			assert.Equal(t, "c3", open.ID)
			keptConv(t, s, "c3", chat.Assigned, "bystander zanzibar")
			keptConv(t, s, "c4", chat.Queued, "queued bystander")

			// Erasing a visitor with a queued conversation empties their queue slot.
			require.NoError(t, s.DeleteVisitor(ctx, "v3"))
			q, err := s.Queue(ctx)
			require.NoError(t, err)
			assert.Empty(t, convIDs(q), "Queue after erasing the queued conversation's visitor")
			goneConv(t, s, "c4")

			isErr(t, s.DeleteVisitor(ctx, "v1"), chat.ErrNotFound, "DeleteVisitor twice")
			isErr(t, s.DeleteVisitor(ctx, "ghost"), chat.ErrNotFound, "DeleteVisitor of an unknown visitor")
			keptConv(t, s, "c3", chat.Assigned, "bystander zanzibar")

			// The erased ids are free again: the customer can come back.
			v1 := mustVisitor(t, s, "v1", "cust-1")
			got, err := s.VisitorByCustomer(ctx, "cust-1")
			require.NoError(t, err, "VisitorByCustomer of the returning customer")
			sameVisitor(t, v1, got)
			mustConvFor(t, s, "c5", "v1", at(20))
			open, err = s.OpenConversation(ctx, "v1")
			require.NoError(t, err, "OpenConversation of the returning visitor")
			assert.Equal(t, "c5", open.ID)
			assert.Empty(t, mustMessages(t, s, chat.MessageQuery{ConversationID: "c5"}), "the returning visitor's new conversation")
		}},
		{"Data/DeleteVisitorKeepsOthersLoad", func(t testing.TB, s store) {
			mustOperator(t, s, "alice")
			mustOperator(t, s, "bob")
			mustConv(t, s, "c1", at(0))
			mustConv(t, s, "c2", at(1))
			mustAssign(t, s, "c1", "", "alice", at(2))
			mustAssign(t, s, "c2", "", "alice", at(3))
			// A transfer leaves bob with c1; alice keeps c2.
			mustAssign(t, s, "c1", "alice", "bob", at(4))
			require.NoError(t, s.DeleteVisitor(ctx, "c1-v"))
			l := loads(t, s, at(5))
			assert.Equal(t, 1, l["alice"].Active, "alice keeps c2")
			assert.Equal(t, 0, l["bob"].Active, "bob's transferred conversation was erased")
			// Capacity is freed: bob can take one more with capacity 1.
			mustConv(t, s, "c3", at(6))
			_, err := s.Assign(ctx, "c3", "", "bob", 1, at(7))
			require.NoError(t, err, "Assign to bob with capacity 1 after his only conversation was erased")
		}},
		{"Data/PurgeClosed", func(t testing.TB, s store) {
			mustOperator(t, s, "alice")
			cutoff := at(100)
			closed := func(id string, closedAt int) {
				t.Helper()
				mustConv(t, s, id, at(0))
				mustAppend(t, s, text(id, "k1", "retention quokka "+id, at(1)))
				mustAppend(t, s, text(id, "k2", "second "+id, at(2)))
				mustAssign(t, s, id, "", "alice", at(3))
				mustClose(t, s, id, at(closedAt))
			}
			closed("old", 50)
			closed("recent", 99)      // purged: before cutoff
			closed("atcutoff", 100)   // kept: not before cutoff
			closed("afterwards", 150) // kept
			// Open conversations, however old, are never purged.
			mustConv(t, s, "queued", at(0))
			mustAppend(t, s, text("queued", "k1", "retention quokka queued", at(1)))
			mustConv(t, s, "assigned", at(0))
			mustAssign(t, s, "assigned", "", "alice", at(1))
			// Closed long ago, then reopened: open now.
			mustConv(t, s, "reopened", at(0))
			mustClose(t, s, "reopened", at(10))
			_, err := s.ReopenConversation(ctx, "reopened", at(20))
			require.NoError(t, err, "ReopenConversation")
			// The purged conversation's visitor has a newer, open one.
			mustConvFor(t, s, "next", "old-v", at(60))

			n, err := s.PurgeClosed(ctx, cutoff)
			require.NoError(t, err, "PurgeClosed")
			assert.Equal(t, 2, n, "PurgeClosed count: old and recent")
			goneConv(t, s, "old")
			goneConv(t, s, "recent")
			keptConv(t, s, "atcutoff", chat.Closed, "retention quokka atcutoff", "second atcutoff")
			keptConv(t, s, "afterwards", chat.Closed, "retention quokka afterwards", "second afterwards")
			keptConv(t, s, "queued", chat.Queued, "retention quokka queued")
			keptConv(t, s, "assigned", chat.Assigned)
			keptConv(t, s, "reopened", chat.Queued)
			keptConv(t, s, "next", chat.Queued)
			if convs, ok := searchFinds(t, s, "quokka"); ok {
				assert.ElementsMatch(t, []string{"atcutoff", "afterwards", "queued"}, convs, "Search after PurgeClosed")
			}

			// Visitors are not purged, nor are their open conversations.
			_, err = s.Visitor(ctx, "old-v")
			require.NoError(t, err, "PurgeClosed must keep the visitor")
			open, err := s.OpenConversation(ctx, "old-v")
			require.NoError(t, err, "OpenConversation of a purged conversation's visitor")
			assert.Equal(t, "next", open.ID)
			cs, err := s.Conversations(ctx, chat.ConversationFilter{Status: []chat.Status{chat.Closed}})
			require.NoError(t, err)
			assert.ElementsMatch(t, []string{"atcutoff", "afterwards"}, convIDs(cs), "closed conversations after PurgeClosed")
			assert.Equal(t, 1, loads(t, s, at(200))["alice"].Active, "alice's load is unaffected by PurgeClosed")

			n, err = s.PurgeClosed(ctx, cutoff)
			require.NoError(t, err, "PurgeClosed again")
			assert.Zero(t, n, "PurgeClosed again deletes nothing")
			n, err = s.PurgeClosed(ctx, at(151))
			require.NoError(t, err, "PurgeClosed with a later cutoff")
			assert.Equal(t, 2, n, "PurgeClosed with a later cutoff: atcutoff and afterwards")
			keptConv(t, s, "queued", chat.Queued, "retention quokka queued")
			keptConv(t, s, "reopened", chat.Queued)
		}},
		{"Data/PurgeClosedEmpty", func(t testing.TB, s store) {
			n, err := s.PurgeClosed(ctx, at(100))
			require.NoError(t, err, "PurgeClosed of an empty store")
			assert.Zero(t, n)
			mustConv(t, s, "c1", at(0))
			n, err = s.PurgeClosed(ctx, at(100))
			require.NoError(t, err, "PurgeClosed with only an open conversation")
			assert.Zero(t, n)
			keptConv(t, s, "c1", chat.Queued)
		}},
	}
}
