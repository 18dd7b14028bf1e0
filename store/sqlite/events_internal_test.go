package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopchat/chat"
)

// TestMigrateToBotMessages: migration 0011 rebuilds the messages table to
// allow bot messages. A database of the version before keeps its messages,
// their search index and its triggers: old messages are found, new bot
// messages are stored and found, and erasing the visitor empties the index.
func TestMigrateToBotMessages(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "chat.db")
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	before := len(migrations) - 1
	require.Equal(t, "events_labels", migrations[before].name, "this test is about migration 0011")
	olderDatabase(t, path, before, `INSERT INTO visitors (id, created_at, last_seen_at) VALUES ('v1', ?1, ?1);
INSERT INTO conversations (id, visitor_id, status, created_at, queued_at, assigned_at, closed_at, last_seq)
	VALUES ('c1', 'v1', 'queued', ?1, ?1, ?2, ?2, 1);
INSERT INTO messages (id, conversation_id, seq, client_id, kind, text, created_at) VALUES ('m1', 'c1', 1, 'x', 'visitor', 'parcel to Norway', ?1);
INSERT INTO messages_fts (rowid, text) SELECT rid, text FROM messages`, micros(t0), zeroMicros)

	s, err := Open(path)
	require.NoError(t, err, "open with migration 0011")
	defer s.Close()
	hits, err := s.Search(ctx, chat.SearchQuery{Text: "norway", Limit: 10})
	require.NoError(t, err)
	require.Len(t, hits, 1, "a message from before the migration is found")
	res, err := s.AppendMessage(ctx, &chat.Message{ConversationID: "c1", Kind: chat.BotText, AuthorID: "bot:faq", AuthorName: "faq", Text: "Norway takes three days", CreatedAt: t0})
	require.NoError(t, err, "a bot message")
	assert.Equal(t, int64(2), res.Message.Seq)
	hits, err = s.Search(ctx, chat.SearchQuery{Text: "norway", Limit: 10})
	require.NoError(t, err)
	assert.Len(t, hits, 2, "the bot's message is indexed too")
	require.NoError(t, s.SetVisitorLabels(ctx, "v1", []string{"vip"}))
	require.NoError(t, s.DeleteVisitor(ctx, "v1"))
	hits, err = s.Search(ctx, chat.SearchQuery{Text: "norway", Limit: 10})
	require.NoError(t, err)
	assert.Empty(t, hits, "the delete trigger still maintains the index")
}
