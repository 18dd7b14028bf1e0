package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopchat/chat"
)

func tables(t *testing.T, path string) []string {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	rows, err := db.Query("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
	require.NoError(t, err)
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		names = append(names, n)
	}
	return names
}

// TestFailingMigrationRollsBack: a migration that fails part-way leaves
// the schema at the previous version, with nothing of it applied.
func TestFailingMigrationRollsBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chat.db")
	bad := migration{version: len(migrations) + 1, name: "bad", sql: `
CREATE TABLE half_done (x INTEGER);
INSERT INTO half_done VALUES (1);
ALTER TABLE visitors ADD COLUMN nickname TEXT;
SELECT * FROM no_such_table;`}
	_, err := open(path, append(migrations[:len(migrations):len(migrations)], bad))
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf("migrate schema to version %d (bad)", len(migrations)+1))

	before := tables(t, path)
	assert.NotContains(t, before, "half_done", "the failed migration's table survived")
	assert.Contains(t, before, "visitors", "the good migrations were kept")

	s, err := Open(path)
	require.NoError(t, err, "the database is usable by this build")
	v, err := schemaVersion(context.Background(), s.wconn)
	require.NoError(t, err)
	assert.Equal(t, len(migrations), v)
	var n int
	require.NoError(t, s.wconn.QueryRowContext(context.Background(),
		"SELECT count(*) FROM pragma_table_info('visitors') WHERE name = 'nickname'").Scan(&n))
	assert.Zero(t, n, "ALTER TABLE of the failed migration survived")
	require.NoError(t, s.Close())

	// A first migration that fails leaves a fresh file without any table.
	fresh := filepath.Join(t.TempDir(), "fresh.db")
	_, err = open(fresh, []migration{{version: 1, name: "broken", sql: "CREATE TABLE a (x); CREATE TABLE a (x);"}})
	require.Error(t, err)
	assert.Empty(t, tables(t, fresh))
}

func TestLoadMigrations(t *testing.T) {
	require.Len(t, migrations, 11)
	for i, m := range migrations {
		assert.Equal(t, i+1, m.version)
		assert.NotEmpty(t, m.sql)
	}
	_, err := loadMigrations(fstest.MapFS{
		"migrations/0001_a.sql": {Data: []byte("SELECT 1")},
		"migrations/0003_c.sql": {Data: []byte("SELECT 1")},
	})
	assert.Error(t, err, "a gap in the numbering")
	_, err = loadMigrations(fstest.MapFS{"migrations/first.sql": {Data: []byte("SELECT 1")}})
	assert.Error(t, err, "no number")
}

func TestSynchronousSetting(t *testing.T) {
	for _, tc := range []struct {
		opts []Option
		want int
	}{{nil, 1}, {[]Option{WithFullSync()}, 2}} {
		s, err := Open(filepath.Join(t.TempDir(), "chat.db"), tc.opts...)
		require.NoError(t, err)
		var sync int
		var mode string
		require.NoError(t, s.wconn.QueryRowContext(context.Background(), "PRAGMA synchronous").Scan(&sync))
		require.NoError(t, s.wconn.QueryRowContext(context.Background(), "PRAGMA journal_mode").Scan(&mode))
		assert.Equal(t, tc.want, sync, "synchronous (1 NORMAL, 2 FULL)")
		assert.Equal(t, "wal", mode)
		var fk int
		require.NoError(t, s.wconn.QueryRowContext(context.Background(), "PRAGMA foreign_keys").Scan(&fk))
		assert.Equal(t, 1, fk, "foreign keys")
		require.NoError(t, s.Close())
	}
}

func TestZeroTimeMatchesSchema(t *testing.T) {
	b, err := migrationFiles.ReadFile("migrations/0001_init.sql")
	require.NoError(t, err)
	assert.Contains(t, string(b), "DEFAULT -62135596800000000")
	assert.EqualValues(t, -62135596800000000, zeroMicros)
	assert.True(t, fromMicros(zeroMicros).IsZero())
}

func TestMatchExpr(t *testing.T) {
	for in, want := range map[string]string{
		"hello":                  `"hello"*`,
		`Hello, "world"!`:        `"Hello"* "world"*`,
		`a OR b NOT c`:           `"a"* "OR"* "b"* "NOT"* "c"*`,
		`text:foo* ^bar NEAR(x)`: `"text"* "foo"* "bar"* "NEAR"* "x"*`,
		`'; DROP TABLE x; --`:    `"DROP"* "TABLE"* "x"*`,
		"Zürich e\u0301cole":     "\"Zürich\"* \"e\u0301cole\"*",
		`"*^:()-+{}`:             ``,
		"":                       ``,
		"a a A a":                `"a"*`,
		"ord Order o or":         `"Order"*`,
		"order ord parcel p":     `"order"* "parcel"*`,
		"ab ba":                  `"ab"* "ba"*`,
	} {
		assert.Equal(t, want, matchExpr(in), "matchExpr(%q)", in)
		assert.NotContains(t, strings.Trim(want, `"*`), `"""`)
	}
}

func TestTrimSnippet(t *testing.T) {
	short := "short snippet"
	assert.Equal(t, short, trimSnippet(short))
	long := strings.Repeat("é", 150) // 300 bytes
	got := trimSnippet(long)
	assert.LessOrEqual(t, len(got), maxSnippetBytes)
	assert.True(t, strings.HasSuffix(got, ellipsis))
	assert.True(t, strings.HasPrefix(long, strings.TrimSuffix(got, ellipsis)), "cut at a rune boundary")
}

// TestBatchIsolation runs a mix of writes as one batch: each gets its own
// result, the failures are rolled back alone, and the appends are indexed
// for search even with a deletion between them. The test takes the
// requests off the writer's channel itself, while the writer is held, and
// commits them as one batch once the writer is idle again.
func TestBatchIsolation(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "chat.db"))
	require.NoError(t, err)
	defer s.Close()
	for _, id := range []string{"a", "b", "gone"} {
		require.NoError(t, s.CreateVisitor(ctx, &chat.Visitor{ID: id}))
		require.NoError(t, s.CreateConversation(ctx, &chat.Conversation{ID: "c-" + id, VisitorID: id}))
	}
	_, err = s.CloseConversation(ctx, "c-b", time.Time{})
	require.NoError(t, err)

	release, held, idle := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		_ = s.write(ctx, func(*writeStmts) error { close(held); <-release; return nil })
		close(idle)
	}()
	<-held

	appendTo := func(conv, client, text string) func() error {
		return func() error {
			_, err := s.AppendMessage(ctx, &chat.Message{ConversationID: conv, ClientID: client, Kind: chat.VisitorText, Text: text})
			return err
		}
	}
	calls := []struct {
		fn   func() error
		want error
	}{
		{appendTo("c-a", "k1", "first kiwi"), nil},
		{appendTo("c-b", "k1", "closed kiwi"), chat.ErrConflict},
		{appendTo("c-gone", "k1", "doomed kiwi"), nil},
		{func() error { return s.CreateVisitor(ctx, &chat.Visitor{ID: "a"}) }, chat.ErrConflict},
		{appendTo("c-a", "k1", "retry kiwi"), nil},
		{func() error { return s.DeleteVisitor(ctx, "gone") }, nil},
		{appendTo("c-a", "k2", "second kiwi"), nil},
		{appendTo("c-ghost", "k1", "ghost kiwi"), chat.ErrNotFound},
		{func() error { return s.CreateVisitor(ctx, &chat.Visitor{ID: "new"}) }, nil},
		{appendTo("c-a", "k3", "third kiwi"), nil},
	}
	errs := make([]chan error, len(calls))
	var batch []*request
	for i, c := range calls {
		errs[i] = make(chan error, 1)
		go func() { errs[i] <- c.fn() }()
		batch = append(batch, <-s.reqs)
	}
	close(release)
	<-idle
	s.commit(batch)
	for i, c := range calls {
		if err := <-errs[i]; c.want == nil {
			assert.NoError(t, err, "call %d", i)
		} else {
			assert.ErrorIs(t, err, c.want, "call %d", i)
		}
	}

	ms, err := s.Messages(ctx, chat.MessageQuery{ConversationID: "c-a"})
	require.NoError(t, err)
	var texts []string
	for i, m := range ms {
		assert.EqualValues(t, i+1, m.Seq)
		texts = append(texts, m.Text)
	}
	assert.Equal(t, []string{"first kiwi", "second kiwi", "third kiwi"}, texts)
	_, err = s.Visitor(ctx, "new")
	assert.NoError(t, err)
	hits, err := chat.Checked(s).(chat.Searcher).Search(ctx, chat.SearchQuery{Text: "kiwi"})
	require.NoError(t, err)
	texts = texts[:0]
	for _, h := range hits {
		texts = append(texts, h.Message.Text)
	}
	assert.ElementsMatch(t, []string{"first kiwi", "second kiwi", "third kiwi"}, texts)
	_, err = s.wconn.ExecContext(ctx, "INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)")
	assert.NoError(t, err, "the search index matches the messages")
}
