package storetest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopchat/chat"
)

func conversationCases() []def {
	return []def{
		{"Conversations/Create", func(t testing.TB, s store) {
			mustVisitor(t, s, "v1", "")
			c := &chat.Conversation{ID: "c1", VisitorID: "v1", Department: "sales", CreatedAt: at(1), QueuedAt: at(2)}
			require.NoError(t, s.CreateConversation(ctx, c))
			assert.Equal(t, chat.Queued, c.Status, "CreateConversation sets c.Status")
			assert.NotZero(t, c.Epoch, "CreateConversation sets c.Epoch")
			assert.Zero(t, c.LastSeq, "c.LastSeq")

			got := mustGetConv(t, s, "c1")
			assert.Equal(t, "c1", got.ID)
			assert.Equal(t, "v1", got.VisitorID)
			assert.Equal(t, chat.Queued, got.Status, "Status")
			assert.Empty(t, got.OperatorID, "OperatorID")
			assert.Equal(t, "sales", got.Department, "Department")
			assert.NotZero(t, got.Epoch, "Epoch")
			assert.Equal(t, c.Epoch, got.Epoch, "stored Epoch equals the one set on c")
			assert.Zero(t, got.LastSeq, "LastSeq")
			assert.Zero(t, got.VisitorReadSeq, "VisitorReadSeq")
			assert.Zero(t, got.OperatorReadSeq, "OperatorReadSeq")
			sameTime(t, at(1), got.CreatedAt, "CreatedAt")
			sameTime(t, at(2), got.QueuedAt, "QueuedAt")
			assert.True(t, got.AssignedAt.IsZero(), "AssignedAt")
			assert.True(t, got.ClosedAt.IsZero(), "ClosedAt")
			assert.True(t, got.Open(), "Open")
		}},
		{"Conversations/CreateInvalid", func(t testing.TB, s store) {
			mustVisitor(t, s, "v1", "")
			err := s.CreateConversation(ctx, &chat.Conversation{VisitorID: "v1", CreatedAt: at(0), QueuedAt: at(0)})
			isErr(t, err, chat.ErrInvalid, "CreateConversation with empty ID")
			_, err = s.OpenConversation(ctx, "v1")
			isErr(t, err, chat.ErrNotFound, "OpenConversation after refused create")
			cs, err := s.Conversations(ctx, chat.ConversationFilter{})
			require.NoError(t, err)
			assert.Empty(t, convIDs(cs), "Conversations after refused create")
			mustConvFor(t, s, "c1", "v1", at(1))
		}},
		{"Conversations/CreateSetsCallerFields", func(t testing.TB, s store) {
			mustVisitor(t, s, "v1", "")
			// Stale values in the caller's struct do not survive.
			c := &chat.Conversation{ID: "c1", VisitorID: "v1", Status: chat.Closed, LastSeq: 7, CreatedAt: at(1), QueuedAt: at(1)}
			require.NoError(t, s.CreateConversation(ctx, c))
			assert.Equal(t, chat.Queued, c.Status, "c.Status")
			assert.Zero(t, c.LastSeq, "c.LastSeq")
			assert.NotZero(t, c.Epoch, "c.Epoch")
			got := mustGetConv(t, s, "c1")
			assert.Equal(t, chat.Queued, got.Status, "stored Status")
			assert.Zero(t, got.LastSeq, "stored LastSeq")
			assert.Equal(t, c.Epoch, got.Epoch, "stored Epoch")
			open, err := s.OpenConversation(ctx, "v1")
			require.NoError(t, err, "OpenConversation")
			assert.Equal(t, "c1", open.ID)
			q, err := s.Queue(ctx)
			require.NoError(t, err)
			assert.Equal(t, []string{"c1"}, convIDs(q), "Queue")
			assert.EqualValues(t, 1, mustAppend(t, s, text("c1", "", "first", at(2))).Message.Seq, "first Seq")
		}},
		{"Conversations/CreateAssigned", func(t testing.TB, s store) {
			// A conversation created with an operator (the Server's bot)
			// starts Assigned and is never queued.
			mustVisitor(t, s, "v1", "")
			mustOperator(t, s, "bot:faq")
			c := &chat.Conversation{ID: "c1", VisitorID: "v1", OperatorID: "bot:faq", CreatedAt: at(1), QueuedAt: at(1), LiveUntil: at(100)}
			require.NoError(t, s.CreateConversation(ctx, c))
			assert.Equal(t, chat.Assigned, c.Status, "c.Status")
			sameTime(t, at(1), c.AssignedAt, "c.AssignedAt")
			got := mustGetConv(t, s, "c1")
			assert.Equal(t, chat.Assigned, got.Status, "stored Status")
			assert.Equal(t, "bot:faq", got.OperatorID, "stored OperatorID")
			sameTime(t, at(1), got.AssignedAt, "stored AssignedAt")
			q, err := s.Queue(ctx)
			require.NoError(t, err)
			assert.Empty(t, convIDs(q), "Queue")
			assert.Equal(t, 1, loads(t, s, at(2))["bot:faq"].Active, "the operator's live load")
			cs, err := s.Conversations(ctx, chat.ConversationFilter{OperatorID: "bot:faq"})
			require.NoError(t, err)
			assert.Equal(t, []string{"c1"}, convIDs(cs), "by operator")
			// It hands off like any assigned conversation.
			mustOperator(t, s, "alice")
			moved := mustAssign(t, s, "c1", "bot:faq", "alice", at(3))
			assert.Equal(t, "alice", moved.OperatorID, "transferred")

			mustVisitor(t, s, "v2", "")
			err = s.CreateConversation(ctx, &chat.Conversation{ID: "c2", VisitorID: "v2", OperatorID: "nobody", CreatedAt: at(4), QueuedAt: at(4)})
			isErr(t, err, chat.ErrNotFound, "CreateConversation for an unknown operator")
			_, err = s.OpenConversation(ctx, "v2")
			isErr(t, err, chat.ErrNotFound, "OpenConversation after refused create")
		}},
		{"Conversations/CreateConflictID", func(t testing.TB, s store) {
			mustConv(t, s, "c1", at(0))
			mustVisitor(t, s, "v2", "")
			err := s.CreateConversation(ctx, &chat.Conversation{ID: "c1", VisitorID: "v2", CreatedAt: at(5), QueuedAt: at(5)})
			isErr(t, err, chat.ErrConflict, "CreateConversation with existing ID")
			assert.Equal(t, "c1-v", mustGetConv(t, s, "c1").VisitorID, "existing conversation overwritten")
			_, err = s.OpenConversation(ctx, "v2")
			isErr(t, err, chat.ErrNotFound, "OpenConversation of v2 after refused create")
		}},
		{"Conversations/CreateSecondOpen", func(t testing.TB, s store) {
			mustConv(t, s, "c1", at(0))
			err := s.CreateConversation(ctx, &chat.Conversation{ID: "c2", VisitorID: "c1-v", CreatedAt: at(1), QueuedAt: at(1)})
			isErr(t, err, chat.ErrConflict, "second open (Queued) conversation for a visitor")
			mustOperator(t, s, "alice")
			mustAssign(t, s, "c1", "", "alice", at(2))
			err = s.CreateConversation(ctx, &chat.Conversation{ID: "c2", VisitorID: "c1-v", CreatedAt: at(3), QueuedAt: at(3)})
			isErr(t, err, chat.ErrConflict, "second open (Assigned) conversation for a visitor")
			_, err = s.Conversation(ctx, "c2")
			isErr(t, err, chat.ErrNotFound, "Conversation after refused create")
			mustClose(t, s, "c1", at(4))
			mustConvFor(t, s, "c2", "c1-v", at(5))
		}},
		{"Conversations/CreateUnknownVisitor", func(t testing.TB, s store) {
			err := s.CreateConversation(ctx, &chat.Conversation{ID: "c1", VisitorID: "ghost", CreatedAt: at(0), QueuedAt: at(0)})
			isErr(t, err, chat.ErrNotFound, "CreateConversation for unknown visitor")
			_, err = s.Conversation(ctx, "c1")
			isErr(t, err, chat.ErrNotFound, "Conversation after refused create")
		}},
		{"Conversations/NotFound", func(t testing.TB, s store) {
			mustOperator(t, s, "alice")
			mustConv(t, s, "c1", at(0))
			_, err := s.Conversation(ctx, "nope")
			isErr(t, err, chat.ErrNotFound, "Conversation")
			_, err = s.OpenConversation(ctx, "ghost")
			isErr(t, err, chat.ErrNotFound, "OpenConversation of unknown visitor")
			_, err = s.Assign(ctx, "nope", "", "alice", 0, at(1))
			isErr(t, err, chat.ErrNotFound, "Assign unknown conversation")
			_, err = s.Assign(ctx, "c1", "", "ghost", 0, at(1))
			isErr(t, err, chat.ErrNotFound, "Assign to unknown operator")
			assert.Equal(t, chat.Queued, mustGetConv(t, s, "c1").Status, "after Assign to unknown operator")
			_, err = s.Requeue(ctx, "nope", "alice", "", at(1))
			isErr(t, err, chat.ErrNotFound, "Requeue")
			_, err = s.CloseConversation(ctx, "nope", at(1))
			isErr(t, err, chat.ErrNotFound, "CloseConversation")
			_, err = s.ReopenConversation(ctx, "nope", at(1))
			isErr(t, err, chat.ErrNotFound, "ReopenConversation")
			_, err = s.MarkRead(ctx, "nope", chat.VisitorText, 1)
			isErr(t, err, chat.ErrNotFound, "MarkRead")
		}},
		{"Conversations/Open", func(t testing.TB, s store) {
			mustVisitor(t, s, "v1", "")
			_, err := s.OpenConversation(ctx, "v1")
			isErr(t, err, chat.ErrNotFound, "OpenConversation of visitor without conversations")
			mustConvFor(t, s, "c1", "v1", at(0))
			mustConv(t, s, "other", at(0))
			got, err := s.OpenConversation(ctx, "v1")
			require.NoError(t, err)
			assert.Equal(t, "c1", got.ID)
			assert.Equal(t, chat.Queued, got.Status)
			mustOperator(t, s, "alice")
			mustAssign(t, s, "c1", "", "alice", at(1))
			got, err = s.OpenConversation(ctx, "v1")
			require.NoError(t, err)
			assert.Equal(t, "c1", got.ID, "Assigned is open")
			assert.Equal(t, "alice", got.OperatorID)
			mustClose(t, s, "c1", at(2))
			_, err = s.OpenConversation(ctx, "v1")
			isErr(t, err, chat.ErrNotFound, "OpenConversation after close")
			mustConvFor(t, s, "c2", "v1", at(3))
			got, err = s.OpenConversation(ctx, "v1")
			require.NoError(t, err)
			assert.Equal(t, "c2", got.ID)
		}},
		{"Conversations/EpochStable", func(t testing.TB, s store) {
			mustOperator(t, s, "alice")
			c := mustConv(t, s, "c1", at(0))
			require.NotZero(t, c.Epoch)
			a := mustAppend(t, s, text("c1", "m1", "hi", at(1)))
			assert.Equal(t, c.Epoch, a.Conversation.Epoch, "after AppendMessage")
			assert.Equal(t, c.Epoch, mustAssign(t, s, "c1", "", "alice", at(2)).Epoch, "after Assign")
			closed, err := s.CloseConversation(ctx, "c1", at(3))
			require.NoError(t, err)
			assert.Equal(t, c.Epoch, closed.Epoch, "after Close")
			assert.Equal(t, c.Epoch, mustGetConv(t, s, "c1").Epoch, "on read")
		}},
		{"Conversations/ListFilter", func(t testing.TB, s store) {
			mustOperator(t, s, "alice")
			mustOperator(t, s, "bob")
			mustVisitor(t, s, "v1", "")
			// v1: c1 (closed, alice), c2 (assigned, bob). Others: q1 queued, a1 assigned alice.
			mustConvFor(t, s, "c1", "v1", at(1))
			mustAssign(t, s, "c1", "", "alice", at(2))
			mustClose(t, s, "c1", at(3))
			mustConvFor(t, s, "c2", "v1", at(4))
			mustAssign(t, s, "c2", "", "bob", at(5))
			mustConv(t, s, "q1", at(6))
			mustConv(t, s, "a1", at(7))
			mustAssign(t, s, "a1", "", "alice", at(8))

			list := func(f chat.ConversationFilter) []string {
				t.Helper()
				cs, err := s.Conversations(ctx, f)
				require.NoError(t, err, "Conversations(%+v)", f)
				return convIDs(cs)
			}
			assert.Equal(t, []string{"a1", "q1", "c2", "c1"}, list(chat.ConversationFilter{}), "no filter")
			assert.Equal(t, []string{"c2", "c1"}, list(chat.ConversationFilter{VisitorID: "v1"}), "by visitor")
			assert.Equal(t, []string{"c2"}, list(chat.ConversationFilter{OperatorID: "bob"}), "by operator bob")
			assert.Contains(t, list(chat.ConversationFilter{OperatorID: "alice"}), "a1", "by operator alice")
			assert.NotContains(t, list(chat.ConversationFilter{OperatorID: "alice"}), "q1", "by operator alice")
			assert.Equal(t, []string{"q1"}, list(chat.ConversationFilter{Status: []chat.Status{chat.Queued}}), "queued")
			assert.Equal(t, []string{"a1", "q1", "c2"}, list(chat.ConversationFilter{Status: []chat.Status{chat.Queued, chat.Assigned}}), "queued or assigned")
			assert.Equal(t, []string{"c1"}, list(chat.ConversationFilter{Status: []chat.Status{chat.Closed}}), "closed")
			assert.Equal(t, []string{"c2"}, list(chat.ConversationFilter{VisitorID: "v1", Status: []chat.Status{chat.Assigned}}), "visitor and status")
			assert.Empty(t, list(chat.ConversationFilter{VisitorID: "v1", OperatorID: "alice", Status: []chat.Status{chat.Queued}}), "nothing matches")
			assert.Empty(t, list(chat.ConversationFilter{VisitorID: "ghost"}), "unknown visitor")
		}},
		{"Conversations/ListOrder", func(t testing.TB, s store) {
			// Created out of order; b and c share a CreatedAt, so ID breaks the tie.
			mustConv(t, s, "b", at(20))
			mustConv(t, s, "d", at(5))
			mustConv(t, s, "a", at(30))
			mustConv(t, s, "c", at(20))
			cs, err := s.Conversations(ctx, chat.ConversationFilter{})
			require.NoError(t, err)
			assert.Equal(t, []string{"a", "c", "b", "d"}, convIDs(cs), "newest CreatedAt first, then ID descending")
		}},
		{"Conversations/ListPaging", func(t testing.TB, s store) {
			const n = 55
			for i := range n {
				mustConv(t, s, id("c", i), at(i))
			}
			cs, err := s.Conversations(ctx, chat.ConversationFilter{})
			require.NoError(t, err)
			require.Len(t, cs, 50, "Limit 0 means 50")
			assert.Equal(t, id("c", n-1), cs[0].ID, "newest first")
			assert.Equal(t, id("c", 5), cs[49].ID)

			cs, err = s.Conversations(ctx, chat.ConversationFilter{Limit: 3})
			require.NoError(t, err)
			assert.Equal(t, []string{"c054", "c053", "c052"}, convIDs(cs), "Limit 3")

			cs, err = s.Conversations(ctx, chat.ConversationFilter{Limit: 3, Before: cs[2].CreatedAt})
			require.NoError(t, err)
			assert.Equal(t, []string{"c051", "c050", "c049"}, convIDs(cs), "next page: Before is exclusive")

			cs, err = s.Conversations(ctx, chat.ConversationFilter{Limit: 10, Before: at(3)})
			require.NoError(t, err)
			assert.Equal(t, []string{"c002", "c001", "c000"}, convIDs(cs), "last page")

			cs, err = s.Conversations(ctx, chat.ConversationFilter{Limit: 100})
			require.NoError(t, err)
			assert.Len(t, cs, n, "Limit above 50")
		}},
		{"Conversations/Queue", func(t testing.TB, s store) {
			mustOperator(t, s, "alice")
			q, err := s.Queue(ctx)
			require.NoError(t, err)
			assert.Empty(t, q, "empty queue")
			// QueuedAt order differs from both creation and ID order; q2 and q4 tie.
			for _, c := range []struct {
				id      string
				created int
				queued  int
			}{{"q1", 0, 30}, {"q2", 1, 10}, {"q3", 2, 5}, {"q4", 3, 10}, {"q5", 4, 1}, {"q6", 5, 2}} {
				mustVisitor(t, s, c.id+"-v", "")
				require.NoError(t, s.CreateConversation(ctx, &chat.Conversation{ID: c.id, VisitorID: c.id + "-v", CreatedAt: at(c.created), QueuedAt: at(c.queued)}))
			}
			mustAssign(t, s, "q5", "", "alice", at(40))
			mustClose(t, s, "q6", at(40))
			q, err = s.Queue(ctx)
			require.NoError(t, err)
			assert.Equal(t, []string{"q3", "q2", "q4", "q1"}, convIDs(q), "FIFO by QueuedAt then ID, Queued only")
			for _, c := range q {
				assert.Equal(t, chat.Queued, c.Status)
			}
		}},
		{"Conversations/Assign", func(t testing.TB, s store) {
			mustOperator(t, s, "alice")
			mustConv(t, s, "c1", at(0))
			mustConv(t, s, "c2", at(1))
			c, err := s.Assign(ctx, "c1", "", "alice", 3, at(10))
			require.NoError(t, err)
			assert.Equal(t, "c1", c.ID)
			assert.Equal(t, chat.Assigned, c.Status, "returned Status")
			assert.Equal(t, "alice", c.OperatorID, "returned OperatorID")
			sameTime(t, at(10), c.AssignedAt, "returned AssignedAt")
			got := mustGetConv(t, s, "c1")
			assert.Equal(t, chat.Assigned, got.Status, "stored Status")
			assert.Equal(t, "alice", got.OperatorID, "stored OperatorID")
			sameTime(t, at(10), got.AssignedAt, "stored AssignedAt")
			sameTime(t, at(0), got.CreatedAt, "CreatedAt unchanged")
			q, err := s.Queue(ctx)
			require.NoError(t, err)
			assert.Equal(t, []string{"c2"}, convIDs(q), "assigned conversation left the queue")
			assert.Equal(t, 1, loads(t, s, at(11))["alice"].Active)
		}},
		{"Conversations/AssignWrongFrom", func(t testing.TB, s store) {
			mustOperator(t, s, "alice")
			mustOperator(t, s, "bob")
			mustConv(t, s, "c1", at(0))
			_, err := s.Assign(ctx, "c1", "bob", "alice", 0, at(1))
			isErr(t, err, chat.ErrConflict, "Assign a Queued conversation with from=bob")
			got := mustGetConv(t, s, "c1")
			assert.Equal(t, chat.Queued, got.Status, "unchanged after refused Assign")
			assert.Empty(t, got.OperatorID)

			mustAssign(t, s, "c1", "", "alice", at(2))
			_, err = s.Assign(ctx, "c1", "", "bob", 0, at(3))
			isErr(t, err, chat.ErrConflict, "Assign an Assigned conversation with from=\"\"")
			_, err = s.Assign(ctx, "c1", "bob", "bob", 0, at(3))
			isErr(t, err, chat.ErrConflict, "Assign with from=bob when alice has it")
			got = mustGetConv(t, s, "c1")
			assert.Equal(t, "alice", got.OperatorID, "unchanged after refused Assign")
			sameTime(t, at(2), got.AssignedAt, "AssignedAt unchanged")
			l := loads(t, s, at(4))
			assert.Equal(t, 1, l["alice"].Active)
			assert.Equal(t, 0, l["bob"].Active)
		}},
		{"Conversations/AssignClosed", func(t testing.TB, s store) {
			mustOperator(t, s, "alice")
			mustOperator(t, s, "bob")
			mustConv(t, s, "c1", at(0))
			mustClose(t, s, "c1", at(1))
			_, err := s.Assign(ctx, "c1", "", "alice", 0, at(2))
			isErr(t, err, chat.ErrConflict, "Assign a closed (never assigned) conversation")
			mustConv(t, s, "c2", at(3))
			mustAssign(t, s, "c2", "", "alice", at(4))
			mustClose(t, s, "c2", at(5))
			closed := mustGetConv(t, s, "c2")
			_, err = s.Assign(ctx, "c2", closed.OperatorID, "bob", 0, at(6))
			isErr(t, err, chat.ErrConflict, "Assign a closed conversation from its last operator")
			_, err = s.Assign(ctx, "c2", "", "bob", 0, at(6))
			isErr(t, err, chat.ErrConflict, "Assign a closed conversation from \"\"")
			assert.Equal(t, chat.Closed, mustGetConv(t, s, "c1").Status)
			assert.Equal(t, chat.Closed, mustGetConv(t, s, "c2").Status)
			l := loads(t, s, at(7))
			assert.Equal(t, 0, l["alice"].Active)
			assert.Equal(t, 0, l["bob"].Active)
		}},
		{"Conversations/AssignCapacity", func(t testing.TB, s store) {
			mustOperator(t, s, "alice")
			for i := range 4 {
				mustConv(t, s, id("c", i), at(i))
			}
			_, err := s.Assign(ctx, "c000", "", "alice", 2, at(10))
			require.NoError(t, err)
			_, err = s.Assign(ctx, "c001", "", "alice", 2, at(11))
			require.NoError(t, err)
			_, err = s.Assign(ctx, "c002", "", "alice", 2, at(12))
			isErr(t, err, chat.ErrCapacity, "third Assign with capacity 2")
			got := mustGetConv(t, s, "c002")
			assert.Equal(t, chat.Queued, got.Status, "refused conversation stays queued")
			assert.Empty(t, got.OperatorID)
			assert.Equal(t, 2, loads(t, s, at(13))["alice"].Active)
			sameTime(t, at(11), loads(t, s, at(13))["alice"].LastAssignedAt, "refused Assign leaves LastAssignedAt")

			// Closed conversations free capacity.
			mustClose(t, s, "c000", at(14))
			_, err = s.Assign(ctx, "c002", "", "alice", 2, at(15))
			require.NoError(t, err, "Assign after a close freed capacity")
			_, err = s.Assign(ctx, "c003", "", "alice", 2, at(16))
			isErr(t, err, chat.ErrCapacity, "Assign at capacity again")
			_, err = s.Assign(ctx, "c003", "", "alice", 3, at(16))
			require.NoError(t, err, "capacity is the caller's: a higher one admits")
			assert.Equal(t, 3, loads(t, s, at(17))["alice"].Active)
		}},
		{"Conversations/AssignUnlimited", func(t testing.TB, s store) {
			mustOperator(t, s, "alice")
			for i := range 6 {
				mustConv(t, s, id("c", i), at(i))
			}
			for i := range 6 {
				capacity := 0
				if i%2 == 1 {
					capacity = -1
				}
				_, err := s.Assign(ctx, id("c", i), "", "alice", capacity, at(10+i))
				require.NoError(t, err, "Assign #%d with capacity %d (unlimited)", i, capacity)
			}
			assert.Equal(t, 6, loads(t, s, at(20))["alice"].Active)
		}},
		{"Conversations/Transfer", func(t testing.TB, s store) {
			mustOperator(t, s, "alice")
			mustOperator(t, s, "bob")
			mustOperator(t, s, "carol")
			mustConv(t, s, "c1", at(0))
			mustConv(t, s, "c2", at(1))
			mustAssign(t, s, "c1", "", "alice", at(2))
			c, err := s.Assign(ctx, "c1", "alice", "bob", 5, at(3))
			require.NoError(t, err, "transfer alice -> bob")
			assert.Equal(t, "bob", c.OperatorID)
			assert.Equal(t, chat.Assigned, c.Status)
			got := mustGetConv(t, s, "c1")
			assert.Equal(t, "bob", got.OperatorID, "stored after transfer")
			sameTime(t, at(3), got.AssignedAt, "AssignedAt after transfer")
			l := loads(t, s, at(4))
			assert.Equal(t, 0, l["alice"].Active, "alice after transfer")
			assert.Equal(t, 1, l["bob"].Active, "bob after transfer")
			sameTime(t, at(3), l["bob"].LastAssignedAt, "bob LastAssignedAt")

			_, err = s.Assign(ctx, "c1", "alice", "carol", 0, at(5))
			isErr(t, err, chat.ErrConflict, "transfer from the previous operator")

			// Capacity applies to the receiving operator.
			mustAssign(t, s, "c2", "", "carol", at(6))
			_, err = s.Assign(ctx, "c1", "bob", "carol", 1, at(7))
			isErr(t, err, chat.ErrCapacity, "transfer to an operator at capacity")
			assert.Equal(t, "bob", mustGetConv(t, s, "c1").OperatorID, "after refused transfer")
			l = loads(t, s, at(8))
			assert.Equal(t, 1, l["bob"].Active)
			assert.Equal(t, 1, l["carol"].Active)
		}},
		{"Conversations/Requeue", func(t testing.TB, s store) {
			mustOperator(t, s, "alice")
			mustConv(t, s, "c1", at(0))
			mustConv(t, s, "c2", at(1))
			mustConv(t, s, "c3", at(2))
			mustAssign(t, s, "c1", "", "alice", at(3))
			c, err := s.Requeue(ctx, "c1", "alice", "billing", at(10))
			require.NoError(t, err)
			assert.Equal(t, chat.Queued, c.Status, "returned Status")
			assert.Empty(t, c.OperatorID, "returned OperatorID")
			assert.Equal(t, "billing", c.Department, "returned Department")
			sameTime(t, at(10), c.QueuedAt, "returned QueuedAt")
			got := mustGetConv(t, s, "c1")
			assert.Equal(t, chat.Queued, got.Status, "stored Status")
			assert.Empty(t, got.OperatorID, "stored OperatorID")
			assert.Equal(t, "billing", got.Department, "stored Department")
			sameTime(t, at(10), got.QueuedAt, "stored QueuedAt")
			sameTime(t, at(0), got.CreatedAt, "CreatedAt unchanged")
			q, err := s.Queue(ctx)
			require.NoError(t, err)
			assert.Equal(t, []string{"c2", "c3", "c1"}, convIDs(q), "requeued conversation is at the tail")
			assert.Equal(t, 0, loads(t, s, at(11))["alice"].Active, "alice's load after requeue")
			// It can be assigned again from the queue.
			mustAssign(t, s, "c1", "", "alice", at(12))
		}},
		{"Conversations/RequeueDepartment", func(t testing.TB, s store) {
			mustOperator(t, s, "alice")
			mustVisitor(t, s, "v1", "")
			require.NoError(t, s.CreateConversation(ctx, &chat.Conversation{ID: "c1", VisitorID: "v1", Department: "sales", CreatedAt: at(0), QueuedAt: at(0)}))
			assert.Equal(t, "sales", mustGetConv(t, s, "c1").Department, "Department set by the caller")
			mustAssign(t, s, "c1", "", "alice", at(1))
			c, err := s.Requeue(ctx, "c1", "alice", "", at(5))
			require.NoError(t, err)
			assert.Empty(t, c.Department, "returned Department: empty clears it")
			assert.Empty(t, c.OperatorID, "returned OperatorID")
			assert.Equal(t, chat.Queued, c.Status, "returned Status")
			sameTime(t, at(5), c.QueuedAt, "returned QueuedAt")
			got := mustGetConv(t, s, "c1")
			assert.Empty(t, got.Department, "stored Department: empty clears it")
			assert.Empty(t, got.OperatorID, "stored OperatorID")
			sameTime(t, at(5), got.QueuedAt, "stored QueuedAt")
			mustAssign(t, s, "c1", "", "alice", at(6))
			c, err = s.Requeue(ctx, "c1", "alice", "returns", at(7))
			require.NoError(t, err)
			assert.Equal(t, "returns", c.Department, "returned Department")
			assert.Equal(t, "returns", mustGetConv(t, s, "c1").Department, "stored Department")
			sameTime(t, at(7), mustGetConv(t, s, "c1").QueuedAt, "stored QueuedAt after second Requeue")
		}},
		{"Conversations/RequeueConflict", func(t testing.TB, s store) {
			mustOperator(t, s, "alice")
			mustOperator(t, s, "bob")
			mustConv(t, s, "c1", at(0))
			_, err := s.Requeue(ctx, "c1", "", "", at(1))
			isErr(t, err, chat.ErrConflict, "Requeue a Queued conversation")
			mustAssign(t, s, "c1", "", "alice", at(2))
			_, err = s.Requeue(ctx, "c1", "bob", "", at(3))
			isErr(t, err, chat.ErrConflict, "Requeue with the wrong operator")
			_, err = s.Requeue(ctx, "c1", "", "", at(3))
			isErr(t, err, chat.ErrConflict, "Requeue an Assigned conversation with from=\"\"")
			got := mustGetConv(t, s, "c1")
			assert.Equal(t, chat.Assigned, got.Status, "after refused Requeue")
			assert.Equal(t, "alice", got.OperatorID)
			mustClose(t, s, "c1", at(4))
			_, err = s.Requeue(ctx, "c1", "alice", "", at(5))
			isErr(t, err, chat.ErrConflict, "Requeue a Closed conversation")
			assert.Equal(t, chat.Closed, mustGetConv(t, s, "c1").Status)
		}},
		{"Conversations/Close", func(t testing.TB, s store) {
			mustOperator(t, s, "alice")
			mustConv(t, s, "c1", at(0))
			mustConv(t, s, "q1", at(1))
			mustAssign(t, s, "c1", "", "alice", at(2))
			c, err := s.CloseConversation(ctx, "c1", at(10))
			require.NoError(t, err)
			assert.Equal(t, chat.Closed, c.Status, "returned Status")
			assert.False(t, c.Open())
			sameTime(t, at(10), c.ClosedAt, "returned ClosedAt")
			got := mustGetConv(t, s, "c1")
			assert.Equal(t, chat.Closed, got.Status, "stored Status")
			sameTime(t, at(10), got.ClosedAt, "stored ClosedAt")
			assert.Equal(t, 0, loads(t, s, at(11))["alice"].Active, "Active after close")

			_, err = s.CloseConversation(ctx, "c1", at(12))
			isErr(t, err, chat.ErrConflict, "close twice")
			sameTime(t, at(10), mustGetConv(t, s, "c1").ClosedAt, "ClosedAt after refused close")

			// A queued conversation can be closed too, and leaves the queue.
			_, err = s.CloseConversation(ctx, "q1", at(13))
			require.NoError(t, err, "close a Queued conversation")
			q, err := s.Queue(ctx)
			require.NoError(t, err)
			assert.Empty(t, q, "queue after closing")
		}},
		{"Conversations/CloseKeepsOperator", func(t testing.TB, s store) {
			mustOperator(t, s, "alice")
			mustOperator(t, s, "bob")
			mustConv(t, s, "c1", at(0))
			mustAssign(t, s, "c1", "", "alice", at(1))
			c, err := s.CloseConversation(ctx, "c1", at(10))
			require.NoError(t, err)
			assert.Equal(t, "alice", c.OperatorID, "returned OperatorID: the last operator")
			sameTime(t, at(10), c.ClosedAt, "returned ClosedAt")
			got := mustGetConv(t, s, "c1")
			assert.Equal(t, chat.Closed, got.Status, "stored Status")
			assert.Equal(t, "alice", got.OperatorID, "stored OperatorID: the last operator")
			sameTime(t, at(10), got.ClosedAt, "stored ClosedAt")
			cs, err := s.Conversations(ctx, chat.ConversationFilter{OperatorID: "alice"})
			require.NoError(t, err)
			assert.Equal(t, []string{"c1"}, convIDs(cs), "alice's history lists the closed conversation")
			assert.Equal(t, 0, loads(t, s, at(11))["alice"].Active, "a closed conversation is not Active")

			// After a transfer the last operator is the one kept.
			mustConv(t, s, "c2", at(12))
			mustAssign(t, s, "c2", "", "alice", at(13))
			mustAssign(t, s, "c2", "alice", "bob", at(14))
			mustClose(t, s, "c2", at(15))
			assert.Equal(t, "bob", mustGetConv(t, s, "c2").OperatorID, "OperatorID after transfer and close")
			l := loads(t, s, at(16))
			assert.Equal(t, 0, l["alice"].Active)
			assert.Equal(t, 0, l["bob"].Active)

			// A queued conversation closes without an operator.
			mustConv(t, s, "c3", at(17))
			c, err = s.CloseConversation(ctx, "c3", at(18))
			require.NoError(t, err)
			assert.Empty(t, c.OperatorID, "closed from the queue")
			sameTime(t, at(18), mustGetConv(t, s, "c3").ClosedAt, "ClosedAt of a conversation closed from the queue")
		}},
		{"Conversations/ReopenClears", func(t testing.TB, s store) {
			mustOperator(t, s, "alice")
			mustOperator(t, s, "bob")
			mustConv(t, s, "c1", at(0))
			mustAssign(t, s, "c1", "", "alice", at(1))
			mustClose(t, s, "c1", at(5))
			c, err := s.ReopenConversation(ctx, "c1", at(9))
			require.NoError(t, err)
			assert.Equal(t, chat.Queued, c.Status, "returned Status")
			assert.Empty(t, c.OperatorID, "returned OperatorID")
			assert.True(t, c.ClosedAt.IsZero(), "returned ClosedAt: want zero, got %v", c.ClosedAt)
			sameTime(t, at(9), c.QueuedAt, "returned QueuedAt")
			got := mustGetConv(t, s, "c1")
			assert.Equal(t, chat.Queued, got.Status, "stored Status")
			assert.True(t, got.Open(), "Open")
			assert.Empty(t, got.OperatorID, "stored OperatorID")
			assert.True(t, got.ClosedAt.IsZero(), "stored ClosedAt: want zero, got %v", got.ClosedAt)
			sameTime(t, at(9), got.QueuedAt, "stored QueuedAt")
			sameTime(t, at(0), got.CreatedAt, "CreatedAt unchanged")
			assert.Equal(t, 0, loads(t, s, at(10))["alice"].Active, "the reopened conversation is nobody's")
			cs, err := s.Conversations(ctx, chat.ConversationFilter{OperatorID: "alice"})
			require.NoError(t, err)
			assert.Empty(t, convIDs(cs), "alice's conversations after Reopen")
			// It is assigned from the queue like any other.
			_, err = s.Assign(ctx, "c1", "alice", "bob", 0, at(11))
			isErr(t, err, chat.ErrConflict, "Assign from the operator who had it before the close")
			c = mustAssign(t, s, "c1", "", "bob", at(12))
			assert.Equal(t, "bob", c.OperatorID)
			assert.True(t, c.ClosedAt.IsZero(), "ClosedAt after assigning the reopened conversation")
			assert.Equal(t, 1, loads(t, s, at(13))["bob"].Active)
		}},
		{"Conversations/Reopen", func(t testing.TB, s store) {
			mustOperator(t, s, "alice")
			mustVisitor(t, s, "v1", "")
			mustConvFor(t, s, "c1", "v1", at(0))
			_, err := s.ReopenConversation(ctx, "c1", at(1))
			isErr(t, err, chat.ErrConflict, "Reopen a Queued conversation")
			mustAssign(t, s, "c1", "", "alice", at(2))
			_, err = s.ReopenConversation(ctx, "c1", at(3))
			isErr(t, err, chat.ErrConflict, "Reopen an Assigned conversation")
			assert.Equal(t, "alice", mustGetConv(t, s, "c1").OperatorID, "after refused Reopen")
			mustClose(t, s, "c1", at(4))

			// The visitor started another conversation meanwhile.
			mustConvFor(t, s, "c2", "v1", at(5))
			_, err = s.ReopenConversation(ctx, "c1", at(6))
			isErr(t, err, chat.ErrConflict, "Reopen while the visitor has another open conversation")
			assert.Equal(t, chat.Closed, mustGetConv(t, s, "c1").Status, "after refused Reopen")
			mustClose(t, s, "c2", at(7))

			mustConv(t, s, "other", at(8))
			c, err := s.ReopenConversation(ctx, "c1", at(9))
			require.NoError(t, err)
			assert.Equal(t, chat.Queued, c.Status, "returned Status")
			assert.Empty(t, c.OperatorID, "returned OperatorID")
			sameTime(t, at(9), c.QueuedAt, "returned QueuedAt")
			got := mustGetConv(t, s, "c1")
			assert.Equal(t, chat.Queued, got.Status, "stored Status")
			assert.Empty(t, got.OperatorID, "stored OperatorID")
			open, err := s.OpenConversation(ctx, "v1")
			require.NoError(t, err)
			assert.Equal(t, "c1", open.ID, "OpenConversation after Reopen")
			q, err := s.Queue(ctx)
			require.NoError(t, err)
			assert.Equal(t, []string{"other", "c1"}, convIDs(q), "reopened conversation joins the tail of the queue")
			err = s.CreateConversation(ctx, &chat.Conversation{ID: "c3", VisitorID: "v1", CreatedAt: at(10), QueuedAt: at(10)})
			isErr(t, err, chat.ErrConflict, "CreateConversation while the reopened one is open")
			_, err = s.ReopenConversation(ctx, "c2", at(11))
			isErr(t, err, chat.ErrConflict, "Reopen a second conversation of the visitor")
		}},
		{"Conversations/MailOptOut", func(t testing.TB, s store) {
			mustConv(t, s, "c1", at(0))
			assert.False(t, mustGetConv(t, s, "c1").MailOptOut, "a new conversation allows mail")
			c, err := s.SetMailOptOut(ctx, "c1", true)
			require.NoError(t, err)
			assert.True(t, c.MailOptOut, "returned conversation")
			assert.True(t, mustGetConv(t, s, "c1").MailOptOut, "stored opt-out")
			mustAppend(t, s, text("c1", "k1", "still works", at(1)))
			assert.True(t, mustGetConv(t, s, "c1").MailOptOut, "opt-out survives an append")
			c, err = s.SetMailOptOut(ctx, "c1", false)
			require.NoError(t, err)
			assert.False(t, c.MailOptOut, "opted back in")
			_, err = s.SetMailOptOut(ctx, "nope", true)
			isErr(t, err, chat.ErrNotFound, "SetMailOptOut(unknown)")
		}},
		{"Conversations/Language", func(t testing.TB, s store) {
			mustVisitor(t, s, "v1", "")
			require.NoError(t, s.CreateConversation(ctx, &chat.Conversation{ID: "c1", VisitorID: "v1", Language: "de", CreatedAt: at(0), QueuedAt: at(0)}))
			assert.Equal(t, "de", mustGetConv(t, s, "c1").Language, "stored language")
			c, err := s.SetMailOptOut(ctx, "c1", true)
			require.NoError(t, err)
			assert.Equal(t, "de", c.Language, "language of a returned conversation")
			assert.Equal(t, "", mustConv(t, s, "c2", at(1)).Language, "no language given")
		}},
		{"Conversations/MarkRead", func(t testing.TB, s store) {
			mustConv(t, s, "c1", at(0))
			for i := range 5 {
				mustAppend(t, s, text("c1", "", "m", at(i+1)))
			}
			c, err := s.MarkRead(ctx, "c1", chat.VisitorText, 3)
			require.NoError(t, err)
			assert.EqualValues(t, 3, c.VisitorReadSeq, "returned VisitorReadSeq")
			assert.EqualValues(t, 0, c.OperatorReadSeq, "operator receipt untouched")
			c, err = s.MarkRead(ctx, "c1", chat.VisitorText, 1)
			require.NoError(t, err, "lower receipt is not an error")
			assert.EqualValues(t, 3, c.VisitorReadSeq, "VisitorReadSeq never lowers")
			c, err = s.MarkRead(ctx, "c1", chat.OperatorText, 4)
			require.NoError(t, err)
			assert.EqualValues(t, 4, c.OperatorReadSeq)
			assert.EqualValues(t, 3, c.VisitorReadSeq)
			c, err = s.MarkRead(ctx, "c1", chat.OperatorText, 2)
			require.NoError(t, err)
			assert.EqualValues(t, 4, c.OperatorReadSeq, "OperatorReadSeq never lowers")
			c, err = s.MarkRead(ctx, "c1", chat.VisitorText, 5)
			require.NoError(t, err)
			assert.EqualValues(t, 5, c.VisitorReadSeq)

			got := mustGetConv(t, s, "c1")
			assert.EqualValues(t, 5, got.VisitorReadSeq, "stored VisitorReadSeq")
			assert.EqualValues(t, 4, got.OperatorReadSeq, "stored OperatorReadSeq")

			for _, k := range []chat.MessageKind{chat.Note, chat.SystemEvent, "", "bogus"} {
				_, err = s.MarkRead(ctx, "c1", k, 5)
				isErr(t, err, chat.ErrInvalid, "MarkRead by "+string(k))
			}
			got = mustGetConv(t, s, "c1")
			assert.EqualValues(t, 5, got.VisitorReadSeq, "after refused MarkRead")
			assert.EqualValues(t, 4, got.OperatorReadSeq, "after refused MarkRead")
		}},
		{"Conversations/Copies", func(t testing.TB, s store) {
			mustOperator(t, s, "alice")
			mustConv(t, s, "c1", at(0))
			got := mustGetConv(t, s, "c1")
			got.Status = chat.Closed
			got.OperatorID = "mallory"
			got.LastSeq = 99
			again := mustGetConv(t, s, "c1")
			assert.Equal(t, chat.Queued, again.Status, "Conversation returned stored state")
			assert.Empty(t, again.OperatorID)
			assert.Zero(t, again.LastSeq)

			c := mustAssign(t, s, "c1", "", "alice", at(1))
			c.OperatorID = "mallory"
			assert.Equal(t, "alice", mustGetConv(t, s, "c1").OperatorID, "Assign returned stored state")
			open, err := s.OpenConversation(ctx, "c1-v")
			require.NoError(t, err)
			open.Status = chat.Closed
			assert.Equal(t, chat.Assigned, mustGetConv(t, s, "c1").Status, "OpenConversation returned stored state")
			list, err := s.Conversations(ctx, chat.ConversationFilter{})
			require.NoError(t, err)
			require.Len(t, list, 1)
			list[0].Status = chat.Closed
			assert.Equal(t, chat.Assigned, mustGetConv(t, s, "c1").Status, "Conversations returned stored state")
			a := mustAppend(t, s, text("c1", "", "hi", at(2)))
			a.Conversation.LastSeq = 42
			assert.EqualValues(t, 1, mustGetConv(t, s, "c1").LastSeq, "AppendMessage returned stored conversation")
		}},
	}
}
