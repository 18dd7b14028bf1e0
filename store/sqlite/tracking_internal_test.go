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

// TestMigrateToTracking: a database written by the build before the
// tracking tables (schema version 3) opens with its data, gains the
// tables, and erasing one of its visitors reaches them.
func TestMigrateToTracking(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "chat.db")
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	olderDatabase(t, path, 3, `INSERT INTO visitors (id, created_at, last_seen_at) VALUES ('v1', ?1, ?1);
INSERT INTO conversations (id, visitor_id, status, created_at, queued_at, assigned_at, closed_at)
	VALUES ('c1', 'v1', 'queued', ?1, ?1, ?2, ?2)`, micros(t0), zeroMicros)

	s, err := Open(path)
	require.NoError(t, err, "open with the tracking migration")
	defer s.Close()
	v, err := schemaVersion(ctx, s.wconn)
	require.NoError(t, err)
	assert.Equal(t, len(migrations), v)
	assert.Subset(t, tables(t, path), []string{"page_views", "activities", "orders", "canned", "triggers"})
	c, err := s.Conversation(ctx, "c1")
	require.NoError(t, err, "a conversation from before the migration")
	assert.Equal(t, "v1", c.VisitorID)

	require.NoError(t, s.AddPageViews(ctx, []chat.PageView{{VisitorID: "v1", URL: "/a", At: t0}}))
	require.NoError(t, s.AddActivities(ctx, []chat.Activity{{Kind: chat.TriggerShown, VisitorID: "v1", At: t0}}))
	_, created, err := s.PutOrder(ctx, &chat.Order{ID: "o1", VisitorID: "v1", Total: 100, PlacedAt: t0})
	require.NoError(t, err)
	require.True(t, created)
	require.NoError(t, s.DeleteVisitor(ctx, "v1"), "erase a visitor from before the migration")
	var views, acts int
	require.NoError(t, s.wconn.QueryRowContext(ctx, "SELECT count(*) FROM page_views").Scan(&views))
	require.NoError(t, s.wconn.QueryRowContext(ctx, "SELECT count(*) FROM activities").Scan(&acts))
	assert.Zero(t, views, "page views of the erased visitor")
	assert.Zero(t, acts, "activities of the erased visitor")
	os, err := chat.Checked(s).(chat.OrderStore).Orders(ctx, chat.OrderQuery{})
	require.NoError(t, err)
	require.Len(t, os, 1, "the order stays")
	assert.Empty(t, os[0].VisitorID, "the order's visitor is cleared")
}

// olderDatabase writes a database at path as a build of schema version
// version left it, with rows inserted by the statements rows. The older
// build's Store would not open with this build's statements, so the schema
// and rows are written directly.
func olderDatabase(t *testing.T, path string, version int, rows string, args ...any) {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, migrate(ctx, conn, path, 0, migrations[:version]), "migrate to version %d", version)
	_, err = conn.ExecContext(ctx, rows, args...)
	require.NoError(t, err, "rows of version %d", version)
}
