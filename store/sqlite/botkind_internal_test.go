package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopchat/chat"
)

// TestMigrateToBotMessages: the rebuild of messages that admits the bot's
// kind keeps the rows, their search index and its delete trigger.
func TestMigrateToBotMessages(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "chat.db")
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	before := len(migrations) - 1
	require.NoError(t, migrate(ctx, conn, path, 0, migrations[:before]), "migrate to the version before")
	_, err = conn.ExecContext(ctx, `INSERT INTO visitors (id, created_at, last_seen_at) VALUES ('v1', ?1, ?1);
INSERT INTO conversations (id, visitor_id, status, created_at, queued_at, assigned_at, closed_at)
	VALUES ('c1', 'v1', 'queued', ?1, ?1, ?2, ?2);
INSERT INTO messages (id, conversation_id, seq, kind, text, created_at) VALUES ('m1', 'c1', 1, 'visitor', 'where is my parcel', ?1);
INSERT INTO messages_fts (rowid, text) SELECT rid, text FROM messages;
UPDATE conversations SET last_seq = 1`, micros(t0), zeroMicros)
	require.NoError(t, err)
	require.NoError(t, conn.Close())
	require.NoError(t, db.Close())

	s, err := Open(path)
	require.NoError(t, err)
	defer s.Close()
	hits, err := s.Search(ctx, chat.SearchQuery{Text: "parcel", Limit: 10})
	require.NoError(t, err)
	require.Len(t, hits, 1, "a message from before the rebuild is still found")
	assert.Equal(t, "m1", hits[0].Message.ID)
	_, err = s.AppendMessage(ctx, &chat.Message{ConversationID: "c1", Kind: chat.BotText, AuthorID: "bot:A", Text: "parcel bot answer", CreatedAt: t0})
	require.NoError(t, err, "a bot's message")
	hits, err = s.Search(ctx, chat.SearchQuery{Text: "parcel", Limit: 10})
	require.NoError(t, err)
	assert.Len(t, hits, 2)
	require.NoError(t, s.DeleteVisitor(ctx, "v1"))
	hits, err = s.Search(ctx, chat.SearchQuery{Text: "parcel", Limit: 10})
	require.NoError(t, err)
	assert.Empty(t, hits, "the delete trigger keeps the index in step")
}
