package postgres

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopchat/chat"
)

// TestAppendBatchItemsStandAlone: one AppendBatch with items for several
// conversations keeps slice order per conversation, and each refused item
// (closed, not assigned, unknown, a repeated client id, a value the
// database refuses) fails or returns alone.
func TestAppendBatchItemsStandAlone(t *testing.T) {
	t.Parallel()
	dsn := testDSN(t)
	s := openStore(t, dsn, freshSchema(t, dsn))
	ctx := context.Background()
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	require.NoError(t, s.PutOperator(ctx, &chat.Operator{ID: "op1", Name: "op1", Capacity: 5}))
	for _, id := range []string{"open", "closed", "assigned"} {
		require.NoError(t, s.CreateVisitor(ctx, &chat.Visitor{ID: id + "-v", CreatedAt: t0}))
		require.NoError(t, s.CreateConversation(ctx, &chat.Conversation{ID: id, VisitorID: id + "-v", CreatedAt: t0, QueuedAt: t0}))
	}
	_, err := s.CloseConversation(ctx, "closed", t0)
	require.NoError(t, err)
	_, err = s.Assign(ctx, "assigned", "", "op1", 5, t0)
	require.NoError(t, err)

	msg := func(conv, client, text string) *chat.Message {
		return &chat.Message{ConversationID: conv, ClientID: client, Kind: chat.VisitorText, AuthorID: conv + "-v", Text: text, CreatedAt: t0}
	}
	bad := msg("open", "", "bad kind")
	bad.Kind = "no such kind" // refused by the table's CHECK: the batch statement fails, items are retried alone
	items := []chat.AppendItem{
		{Message: msg("open", "a", "one")},
		{Message: msg("closed", "x", "to a closed one")},
		{Message: msg("open", "b", "two")},
		{Message: msg("assigned", "", "by someone else"), OperatorID: "op2"},
		{Message: msg("open", "a", "one again")},
		{Message: msg("nowhere", "", "unknown")},
		{Message: msg("assigned", "", "by op1"), OperatorID: "op1"},
		{Message: bad},
		{Message: msg("open", "", "three")},
	}
	res := s.AppendBatch(ctx, items)
	require.Len(t, res, len(items))

	stored := func(i int, seq int64) {
		t.Helper()
		require.NoError(t, res[i].Err, "item %d", i)
		assert.False(t, res[i].Duplicate, "item %d", i)
		assert.Equal(t, seq, res[i].Message.Seq, "item %d", i)
		assert.Equal(t, seq, items[i].Message.Seq, "item %d: the caller's message", i)
		assert.Equal(t, res[i].Message.ID, items[i].Message.ID, "item %d", i)
		assert.Equal(t, items[i].Message.Text, res[i].Message.Text, "item %d", i)
		assert.GreaterOrEqual(t, res[i].Conversation.LastSeq, seq, "item %d", i)
	}
	stored(0, 1)
	assert.ErrorIs(t, res[1].Err, chat.ErrConflict, "closed")
	stored(2, 2)
	assert.ErrorIs(t, res[3].Err, chat.ErrConflict, "not assigned to op2")
	require.NoError(t, res[4].Err)
	assert.True(t, res[4].Duplicate, "a repeated client id")
	assert.Equal(t, int64(1), res[4].Message.Seq, "the original's seq")
	assert.Equal(t, "one", res[4].Message.Text, "the original")
	assert.Zero(t, items[4].Message.Seq, "a duplicate leaves the caller's message")
	assert.ErrorIs(t, res[5].Err, chat.ErrNotFound, "unknown conversation")
	stored(6, 1)
	assert.Error(t, res[7].Err, "a kind the table refuses")
	stored(8, 3)

	ms, err := s.Messages(ctx, chat.MessageQuery{ConversationID: "open"})
	require.NoError(t, err)
	var texts []string
	for _, m := range ms {
		texts = append(texts, m.Text)
	}
	assert.Equal(t, []string{"one", "two", "three"}, texts)
	c, err := s.Conversation(ctx, "open")
	require.NoError(t, err)
	assert.Equal(t, int64(3), c.LastSeq)
	c, err = s.Conversation(ctx, "closed")
	require.NoError(t, err)
	assert.Zero(t, c.LastSeq, "a refused item uses no seq")
}

// TestAppendConcurrentAcrossStores: 50 goroutines on two Stores (two
// nodes) append to 5 conversations at once, single and batched, where
// every client id is sent by two goroutines (a retry racing its
// original). Each conversation's seqs are 1..N without a gap, each client
// id is stored once, and each duplicate returns the original's seq.
func TestAppendConcurrentAcrossStores(t *testing.T) {
	t.Parallel()
	dsn := testDSN(t)
	schema := freshSchema(t, dsn)
	stores := []*Store{openStore(t, dsn, schema), openStore(t, dsn, schema)}
	ctx := context.Background()
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	const convs, workers, perWorker = 5, 50, 20
	convID := func(i int) string { return fmt.Sprintf("c%d", i) }
	for i := range convs {
		require.NoError(t, stores[0].CreateVisitor(ctx, &chat.Visitor{ID: convID(i) + "-v", CreatedAt: t0}))
		require.NoError(t, stores[0].CreateConversation(ctx, &chat.Conversation{ID: convID(i), VisitorID: convID(i) + "-v", CreatedAt: t0, QueuedAt: t0}))
	}

	type outcome struct {
		conv, client string
		seq          int64
		duplicate    bool
	}
	var (
		mu       sync.Mutex
		outcomes []outcome
		errs     []error
	)
	// Workers g and g+workers/2 send the same client ids to the same
	// conversations, one through each Store.
	start := make(chan struct{})
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			s, pair := stores[g%2], g%(workers/2)
			<-start
			for j := 0; j < perWorker; {
				// Alternate single appends and batches of three.
				n := 1 + 2*(j%2)
				var items []chat.AppendItem
				for k := 0; k < n && j < perWorker; k, j = k+1, j+1 {
					conv := convID((pair + j) % convs)
					items = append(items, chat.AppendItem{Message: &chat.Message{ConversationID: conv,
						ClientID: fmt.Sprintf("p%d-%d", pair, j), Kind: chat.VisitorText, Text: "hi", CreatedAt: t0}})
				}
				var res []chat.AppendResult
				if len(items) == 1 {
					a, err := s.AppendMessage(ctx, items[0].Message)
					res = []chat.AppendResult{{Appended: a, Err: err}}
				} else {
					res = s.AppendBatch(ctx, items)
				}
				mu.Lock()
				for i, r := range res {
					if r.Err != nil {
						errs = append(errs, r.Err)
						continue
					}
					outcomes = append(outcomes, outcome{items[i].Message.ConversationID, items[i].Message.ClientID, r.Message.Seq, r.Duplicate})
				}
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	require.Empty(t, errs)
	require.Len(t, outcomes, workers*perWorker)

	type key struct{ conv, client string }
	storedSeq := map[key]int64{}
	for i := range convs {
		ms, err := stores[1].Messages(ctx, chat.MessageQuery{ConversationID: convID(i)})
		require.NoError(t, err)
		for j, m := range ms {
			require.Equal(t, int64(j+1), m.Seq, "conversation %s: seqs without gaps", convID(i))
			k := key{m.ConversationID, m.ClientID}
			_, seen := storedSeq[k]
			require.False(t, seen, "client id %s stored twice", m.ClientID)
			storedSeq[k] = m.Seq
		}
		c, err := stores[0].Conversation(ctx, convID(i))
		require.NoError(t, err)
		assert.Equal(t, int64(len(ms)), c.LastSeq, "conversation %s: last_seq", convID(i))
	}
	assert.Len(t, storedSeq, workers/2*perWorker, "each client id stored once")
	firsts := map[key]int{}
	for _, o := range outcomes {
		k := key{o.conv, o.client}
		require.Equal(t, storedSeq[k], o.seq, "client id %s: the stored seq", o.client)
		if !o.duplicate {
			firsts[k]++
		}
	}
	for k, n := range firsts {
		assert.Equal(t, 1, n, "client id %s: one original, one duplicate", k.client)
	}
	assert.Len(t, firsts, workers/2*perWorker)
}

// TestAppendAfterClose: appends after Close fail instead of hanging.
func TestAppendAfterClose(t *testing.T) {
	t.Parallel()
	dsn := testDSN(t)
	s := openStore(t, dsn, freshSchema(t, dsn))
	s.Close()
	_, err := s.AppendMessage(context.Background(), &chat.Message{ConversationID: "c", Kind: chat.VisitorText})
	assert.ErrorIs(t, err, errClosed)
}

// TestAppendBatchGivenUp: a batch stuck on a conversation's row lock ends
// once its callers have given up, so the appends queued behind it (to
// other conversations) go on while the lock is still held.
func TestAppendBatchGivenUp(t *testing.T) {
	t.Parallel()
	dsn := testDSN(t)
	schema := freshSchema(t, dsn)
	s := openStore(t, dsn, schema)
	ctx := context.Background()
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, id := range []string{"locked", "free"} {
		require.NoError(t, s.CreateVisitor(ctx, &chat.Visitor{ID: id + "-v", CreatedAt: t0}))
		require.NoError(t, s.CreateConversation(ctx, &chat.Conversation{ID: id, VisitorID: id + "-v", CreatedAt: t0, QueuedAt: t0}))
	}
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx)
	_, err = tx.Exec(ctx, `SELECT 1 FROM `+pgx.Identifier{schema, "chat_conversations"}.Sanitize()+` WHERE id = 'locked' FOR UPDATE`)
	require.NoError(t, err)

	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	_, err = s.AppendMessage(short, &chat.Message{ConversationID: "locked", Kind: chat.VisitorText, Text: "waits", CreatedAt: t0})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	a, err := s.AppendMessage(ctx, &chat.Message{ConversationID: "free", Kind: chat.VisitorText, Text: "goes on", CreatedAt: t0})
	require.NoError(t, err, "an append behind the given-up batch, while the lock is held")
	assert.Equal(t, int64(1), a.Message.Seq)
	require.NoError(t, tx.Rollback(ctx))
	c, err := s.Conversation(ctx, "locked")
	require.NoError(t, err)
	assert.Zero(t, c.LastSeq, "the given-up append was not stored")
}
