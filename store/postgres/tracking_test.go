package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopchat/chat"
)

// TestMigrateToTracking: a schema of the build before the tracking tables
// (version 2, made here by taking migrations 3 and later, with their
// tables, back out of a fresh one)
// opens with its data, gains the tables, and erasing one of its visitors
// reaches them.
func TestMigrateToTracking(t *testing.T) {
	dsn := testDSN(t)
	schema := freshSchema(t, dsn)
	ctx := context.Background()
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

	s := openStore(t, dsn, schema)
	require.NoError(t, s.CreateVisitor(ctx, &chat.Visitor{ID: "v1", CreatedAt: t0}))
	require.NoError(t, s.CreateConversation(ctx, &chat.Conversation{ID: "c1", VisitorID: "v1", CreatedAt: t0, QueuedAt: t0}))
	s.Close()
	q := func(table string) string { return pgx.Identifier{schema, table}.Sanitize() }
	adminExec(t, dsn, `DROP TABLE `+q("chat_page_views")+`, `+q("chat_activities")+`, `+q("chat_orders")+`, `+
		q("chat_canned")+`, `+q("chat_triggers")+`, `+q("chat_claims")+`; ALTER TABLE `+q("chat_conversations")+` DROP COLUMN live_until; DELETE FROM `+q("chat_schema_migrations")+` WHERE version >= 3`)

	s = openStore(t, dsn, schema)
	var version int
	adminQuery(t, dsn, `SELECT max(version) FROM `+q("chat_schema_migrations"), &version)
	ms, err := migrations()
	require.NoError(t, err)
	assert.Equal(t, len(ms), version, "schema version after Open")
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
	adminQuery(t, dsn, `SELECT (SELECT count(*) FROM `+q("chat_page_views")+`), (SELECT count(*) FROM `+q("chat_activities")+`)`, &views, &acts)
	assert.Zero(t, views, "page views of the erased visitor")
	assert.Zero(t, acts, "activities of the erased visitor")
	os, err := chat.Checked(s).(chat.OrderStore).Orders(ctx, chat.OrderQuery{})
	require.NoError(t, err)
	require.Len(t, os, 1, "the order stays")
	assert.Empty(t, os[0].VisitorID, "the order's visitor is cleared")
}
