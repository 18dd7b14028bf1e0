package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/store/storetest"
)

// dsnEnv names the server the tests use. CI sets it; without it the tests
// that need PostgreSQL skip.
const dsnEnv = "SHOPCHAT_POSTGRES_DSN"

func testDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(dsnEnv)
	if dsn == "" {
		t.Skip("set SHOPCHAT_POSTGRES_DSN to run PostgreSQL tests")
	}
	return dsn
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// adminExec runs one statement on its own connection, outside any Store.
func adminExec(t testing.TB, dsn, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err, "admin connection")
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql, args...)
	require.NoError(t, err, "admin: %s", sql)
}

// adminQuery runs a query on its own connection and scans its one row.
func adminQuery(t testing.TB, dsn, sql string, dest ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err, "admin connection")
	defer conn.Close(ctx)
	require.NoError(t, conn.QueryRow(ctx, sql).Scan(dest...), "admin: %s", sql)
}

// freshSchema names a schema no other test uses and drops it (with
// everything in it) when the test ends, after the test's Stores closed.
func freshSchema(t testing.TB, dsn string) string {
	t.Helper()
	name := "shopchat_test_" + randomHex(8)
	t.Cleanup(func() {
		adminExec(t, dsn, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE")
	})
	return name
}

// openStore opens a Store on schema and closes it when the test ends.
func openStore(t testing.TB, dsn, schema string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(context.Background(), dsn, append([]Option{WithSchema(schema)}, opts...)...)
	require.NoError(t, err, "Open")
	t.Cleanup(s.Close)
	return s
}

func TestConformance(t *testing.T) {
	dsn := testDSN(t)
	storetest.Run(t, func(t testing.TB) chat.Store {
		return openStore(t, dsn, freshSchema(t, dsn), WithMaxConns(8))
	})
}

// TestAssignAcrossStores: two Stores with their own pools, as two shop
// processes would have, assign from one queue concurrently.
func TestAssignAcrossStores(t *testing.T) {
	t.Parallel()
	dsn := testDSN(t)
	schema := freshSchema(t, dsn)
	stores := []*Store{openStore(t, dsn, schema), openStore(t, dsn, schema)}
	ctx := context.Background()
	const convs, ops, capacity, workers = 200, 10, 5, 20
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	opID := func(i int) string { return fmt.Sprintf("op%02d", i) }
	convID := func(i int) string { return fmt.Sprintf("c%03d", i) }
	for i := range ops {
		require.NoError(t, stores[0].PutOperator(ctx, &chat.Operator{ID: opID(i), Name: opID(i), Capacity: capacity}))
		require.NoError(t, stores[1].SetPresence(ctx, opID(i), chat.Online, time.Time{}))
	}
	for i := range convs {
		s := stores[i%2]
		require.NoError(t, s.CreateVisitor(ctx, &chat.Visitor{ID: convID(i) + "-v", CreatedAt: t0}))
		at := t0.Add(time.Duration(i) * time.Second)
		require.NoError(t, s.CreateConversation(ctx, &chat.Conversation{ID: convID(i), VisitorID: convID(i) + "-v", CreatedAt: at, QueuedAt: at, LiveUntil: t0.Add(24 * time.Hour)}))
	}

	type win struct{ conv, op string }
	var (
		mu         sync.Mutex
		wins       []win
		unexpected []error
	)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			s, op := stores[g%2], opID(g%ops)
			<-start
			for j := range convs {
				cid := convID((j + g*37) % convs)
				c, err := s.Assign(ctx, cid, "", op, capacity, t0.Add(time.Hour))
				mu.Lock()
				switch {
				case err == nil:
					if c.ID != cid || c.OperatorID != op || c.Status != chat.Assigned {
						unexpected = append(unexpected, fmt.Errorf("Assign(%s, %s) returned %+v", cid, op, c))
					}
					wins = append(wins, win{cid, op})
				case errors.Is(err, chat.ErrConflict):
				case errors.Is(err, chat.ErrCapacity):
					mu.Unlock()
					return // full, and nothing frees capacity in this test
				default:
					unexpected = append(unexpected, err)
				}
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	require.Empty(t, unexpected, "Assign: only ErrConflict and ErrCapacity are expected")

	owner := map[string]string{}
	perOp := map[string]int{}
	for _, w := range wins {
		if prev, ok := owner[w.conv]; ok {
			t.Errorf("conversation %s assigned twice: to %s and %s", w.conv, prev, w.op)
		}
		owner[w.conv] = w.op
		perOp[w.op]++
	}
	for i := range ops {
		assert.Equal(t, capacity, perOp[opID(i)], "successful Assigns to %s (every operator tried every conversation)", opID(i))
	}
	assert.Len(t, wins, ops*capacity, "successful Assigns")

	// The database agrees: count what it holds, not what the calls said.
	var overfull, assigned, mismatched int
	q := `SELECT
		(SELECT count(*) FROM (SELECT operator_id FROM %[1]s.chat_conversations WHERE status = 'assigned'
			GROUP BY operator_id HAVING count(*) > %[2]d) o),
		(SELECT count(*) FROM %[1]s.chat_conversations WHERE status = 'assigned'),
		(SELECT count(*) FROM %[1]s.chat_conversations WHERE status = 'assigned' AND operator_id IS NULL)`
	adminQuery(t, dsn, fmt.Sprintf(q, pgx.Identifier{schema}.Sanitize(), capacity), &overfull, &assigned, &mismatched)
	assert.Zero(t, overfull, "operators over capacity in the database")
	assert.Equal(t, ops*capacity, assigned, "assigned conversations in the database")
	assert.Zero(t, mismatched)
	for i := range convs {
		c, err := stores[i%2].Conversation(ctx, convID(i))
		require.NoError(t, err)
		assert.Equal(t, owner[c.ID], c.OperatorID, "stored operator of %s", c.ID)
	}
	loads, err := stores[1].OperatorLoads(ctx, t0)
	require.NoError(t, err)
	for _, l := range loads {
		assert.Equal(t, capacity, l.Active, "Active of %s", l.Operator.ID)
		assert.Equal(t, chat.Online, l.Presence, "Presence of %s", l.Operator.ID)
	}
}

// TestConcurrentOpen: processes starting together migrate exactly once.
func TestConcurrentOpen(t *testing.T) {
	t.Parallel()
	dsn := testDSN(t)
	schema := freshSchema(t, dsn)
	const n = 5
	stores := make([]*Store, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = Open(context.Background(), dsn, WithSchema(schema))
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i], "Open #%d", i)
		t.Cleanup(stores[i].Close)
	}
	for i := range n {
		assert.NotZero(t, stores[i].epoch, "epoch of store #%d", i)
		assert.Equal(t, stores[0].epoch, stores[i].epoch, "store #%d sees the one stored epoch", i)
	}
	ms, err := migrations()
	require.NoError(t, err)
	var rows, versions, latest, metas int
	adminQuery(t, dsn, fmt.Sprintf(`SELECT count(*), count(DISTINCT version), max(version),
		(SELECT count(*) FROM %[1]s.chat_meta) FROM %[1]s.chat_schema_migrations`, pgx.Identifier{schema}.Sanitize()),
		&rows, &versions, &latest, &metas)
	assert.Equal(t, len(ms), rows, "migration rows: each applied once")
	assert.Equal(t, len(ms), versions)
	assert.Equal(t, len(ms), latest)
	assert.Equal(t, 1, metas, "chat_meta rows")

	// Every store works on the one schema.
	ctx := context.Background()
	require.NoError(t, stores[0].CreateVisitor(ctx, &chat.Visitor{ID: "v1"}))
	_, err = stores[n-1].Visitor(ctx, "v1")
	require.NoError(t, err)
}

func TestNewerSchemaRefused(t *testing.T) {
	t.Parallel()
	dsn := testDSN(t)
	schema := freshSchema(t, dsn)
	s, err := Open(context.Background(), dsn, WithSchema(schema))
	require.NoError(t, err)
	s.Close()
	ms, err := migrations()
	require.NoError(t, err)
	adminExec(t, dsn, fmt.Sprintf("INSERT INTO %s.chat_schema_migrations (version, name) VALUES ($1, 'from_the_future')",
		pgx.Identifier{schema}.Sanitize()), len(ms)+1)

	s, err = Open(context.Background(), dsn, WithSchema(schema))
	if err == nil {
		s.Close()
	}
	require.Error(t, err, "Open of a database with a newer schema")
	assert.Contains(t, err.Error(), fmt.Sprintf(
		"postgres: database schema version %d is newer than this build supports (%d); upgrade shopchat", len(ms)+1, len(ms)))
}

// TestUnreachable needs no server: nothing listens on port 1.
func TestUnreachable(t *testing.T) {
	t.Parallel()
	const dsn = "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=5"
	start := time.Now()
	s, err := Open(context.Background(), dsn, WithConnectTimeout(5*time.Second))
	if err == nil {
		s.Close()
		t.Skip("something listens on 127.0.0.1:1")
	}
	assert.Contains(t, err.Error(), "postgres: cannot connect to 127.0.0.1:1", "the error names the server")
	assert.NotContains(t, err.Error(), "password")
	t.Logf("Open: %v (after %v)", err, time.Since(start).Round(time.Millisecond))

	// A context that ends first ends Open.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Open(ctx, dsn)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.Canceled)

	_, err = Open(context.Background(), "postgres://user:secret@[::1")
	require.Error(t, err, "malformed DSN")
	assert.NotContains(t, err.Error(), "secret", "the error leaks the password")
}

// TestConnectionsTerminated kills the store's server connections between
// and during calls: each affected call returns an error (or succeeds after
// its retry), the pool recovers, and nothing committed is lost.
func TestConnectionsTerminated(t *testing.T) {
	t.Parallel()
	dsn := testDSN(t)
	app := "shopchat_fault_" + randomHex(6)
	s := openStore(t, dsn, freshSchema(t, dsn), WithApplicationName(app), WithMaxConns(4))
	ctx := context.Background()
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	require.NoError(t, s.CreateVisitor(ctx, &chat.Visitor{ID: "v1", CreatedAt: t0}))
	require.NoError(t, s.CreateConversation(ctx, &chat.Conversation{ID: "c1", VisitorID: "v1", CreatedAt: t0, QueuedAt: t0}))
	msg := func(clientID string) *chat.Message {
		return &chat.Message{ConversationID: "c1", ClientID: clientID, Kind: chat.VisitorText, Text: "hello " + clientID, CreatedAt: t0}
	}
	committed := map[string]int64{} // client id -> seq, for appends that returned success
	for i := range 5 {
		a, err := s.AppendMessage(ctx, msg(fmt.Sprintf("before-%d", i)))
		require.NoError(t, err)
		committed[a.Message.ClientID] = a.Message.Seq
	}

	// kill terminates every connection of this store and waits until they
	// are gone; it returns how many there were.
	kill := func() int {
		var n int
		adminQuery(t, dsn, fmt.Sprintf(`SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000))
			FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = '%s'`, app), &n)
		return n
	}

	// Between calls: the pool holds dead connections.
	var wg sync.WaitGroup
	for range 4 { // open several connections
		wg.Go(func() { _, _ = s.Messages(ctx, chat.MessageQuery{ConversationID: "c1"}) })
	}
	wg.Wait()
	require.Positive(t, kill(), "connections terminated")
	c, err := s.Conversation(ctx, "c1")
	require.NoError(t, err, "a read after the kill is retried on a new connection")
	assert.EqualValues(t, 5, c.LastSeq)

	require.Positive(t, kill(), "connections terminated")
	a, err := s.AppendMessage(ctx, msg("after-kill"))
	if err != nil {
		t.Logf("write after the kill: %v", err)
		assert.NotErrorIs(t, err, chat.ErrNotFound, "a lost connection must not look like a missing record")
		assert.NotErrorIs(t, err, chat.ErrConflict)
	} else {
		committed[a.Message.ClientID] = a.Message.Seq
	}

	// During calls: appenders run while the connections are killed twice.
	const workers, each = 4, 40
	var mu sync.Mutex
	var failed []string
	started := make(chan struct{})
	var once sync.Once
	for g := range workers {
		wg.Go(func() {
			for i := range each {
				if i == 5 {
					once.Do(func() { close(started) })
				}
				m := msg(fmt.Sprintf("g%d-%d", g, i))
				a, err := s.AppendMessage(ctx, m)
				mu.Lock()
				if err != nil {
					failed = append(failed, m.ClientID)
				} else {
					committed[m.ClientID] = a.Message.Seq
				}
				mu.Unlock()
			}
		})
	}
	<-started
	kill()
	time.Sleep(20 * time.Millisecond)
	kill()
	wg.Wait()
	t.Logf("appends that failed while connections were killed: %d of %d", len(failed), workers*each)

	// The pool recovered: retrying the failed appends succeeds (as
	// duplicates when the lost call had committed after all).
	for _, id := range append(failed, "after-kill") {
		// A connection killed while idle is found dead only when used, and
		// writes are never retried by the store (they may have committed):
		// the caller retries with the same client id, as the chat client does.
		a, err := s.AppendMessage(ctx, msg(id))
		for attempt := 0; err != nil && attempt < 4; attempt++ {
			a, err = s.AppendMessage(ctx, msg(id))
		}
		require.NoError(t, err, "append %s after recovery", id)
		if prev, ok := committed[id]; ok {
			assert.True(t, a.Duplicate, "%s was committed before", id)
			assert.Equal(t, prev, a.Message.Seq)
		}
		committed[id] = a.Message.Seq
	}
	ms, err := s.Messages(ctx, chat.MessageQuery{ConversationID: "c1"})
	require.NoError(t, err)
	stored := map[string]int64{}
	for i, m := range ms {
		assert.EqualValues(t, i+1, m.Seq, "stored Seqs are gapless")
		stored[m.ClientID] = m.Seq
	}
	assert.Equal(t, committed, stored, "every acknowledged message is stored, once, with its Seq")
	c, err = s.Conversation(ctx, "c1")
	require.NoError(t, err)
	assert.EqualValues(t, len(ms), c.LastSeq)
}

// TestSearchHostile: query-language syntax in the search text is only
// text, and never a database error.
func TestSearchHostile(t *testing.T) {
	t.Parallel()
	dsn := testDSN(t)
	s := openStore(t, dsn, freshSchema(t, dsn))
	ctx := context.Background()
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, v := range []string{"v1", "v2"} {
		require.NoError(t, s.CreateVisitor(ctx, &chat.Visitor{ID: v, CreatedAt: t0}))
		require.NoError(t, s.CreateConversation(ctx, &chat.Conversation{ID: "c-" + v, VisitorID: v, CreatedAt: t0, QueuedAt: t0}))
	}
	long := strings.Repeat("filler words here ", 40) + "the refund policy is thirty days " + strings.Repeat("more filler ", 40)
	for i, m := range []*chat.Message{
		{ConversationID: "c-v1", Kind: chat.VisitorText, Text: "Mail me at alice@example.com about order #1234-5"},
		{ConversationID: "c-v1", Kind: chat.Note, Text: "internal: example customer, refund approved"},
		{ConversationID: "c-v1", Kind: chat.OperatorText, Text: "Ça marche, café naïve Straße 日本語"},
		{ConversationID: "c-v2", Kind: chat.VisitorText, Text: "another example from v2: it's a 'quoted' & (odd) text:*"},
		{ConversationID: "c-v2", Kind: chat.OperatorText, Text: long},
	} {
		m.CreatedAt = t0.Add(time.Duration(i) * time.Second)
		_, err := s.AppendMessage(ctx, m)
		require.NoError(t, err)
	}
	search := func(text, visitor string) []string {
		t.Helper()
		hits, err := chat.Checked(s).(chat.Searcher).Search(ctx, chat.SearchQuery{Text: text, VisitorID: visitor})
		require.NoError(t, err, "Search(%q)", text)
		var out []string
		for _, h := range hits {
			out = append(out, fmt.Sprintf("%s/%d", h.Message.ConversationID, h.Message.Seq))
			assert.LessOrEqual(t, len(h.Snippet), 200, "snippet length")
			assert.NotEmpty(t, h.Snippet)
		}
		return out
	}
	assert.ElementsMatch(t, []string{"c-v1/1", "c-v1/2", "c-v2/1"}, search("example", ""), "example, inside an email address too")
	assert.ElementsMatch(t, []string{"c-v1/1"}, search("example", "v1"), "v1's view leaves out notes")
	assert.Empty(t, search("example", "ghost"), "unknown visitor")
	assert.Equal(t, []string{"c-v1/1"}, search("ALICE 1234", ""), "every word, case-insensitive")
	assert.Equal(t, []string{"c-v1/1"}, search("ord", ""), "word prefix")
	assert.Equal(t, []string{"c-v1/3"}, search("CAFÉ straß", ""), "non-ASCII")
	assert.Equal(t, []string{"c-v1/3"}, search("日本", ""), "CJK prefix")
	assert.Empty(t, search("example zebra", ""), "every word must match")
	for _, q := range []string{
		`'`, `"example"`, `example:*`, `example & !refund`, `example | zebra`, `!example`, `(example`,
		`example <-> refund`, `example <2> refund`, `\`, `'example'`, `''`, `example:A`, `*:*`, `e''x`,
		`NEAR(example refund)`, `body:example`, `example AND zebra`, `-example`, `example)`, "exa\u0301mple",
	} {
		hits, err := chat.Checked(s).(chat.Searcher).Search(ctx, chat.SearchQuery{Text: q})
		if err != nil {
			assert.ErrorIs(t, err, chat.ErrInvalid, "Search(%q)", q)
			continue
		}
		for _, h := range hits {
			assert.NotNil(t, h.Message, "Search(%q)", q)
		}
	}
	assert.Equal(t, []string{"c-v2/1"}, search(`"another" & example`, ""), "operators are words' separators")
	for _, q := range []string{"", "   ", "&|!:*()'", strings.Repeat("a", 257), "\xff\xfe"} {
		_, err := chat.Checked(s).(chat.Searcher).Search(ctx, chat.SearchQuery{Text: q})
		assert.ErrorIs(t, err, chat.ErrInvalid, "Search(%q)", q)
	}
	hits, err := chat.Checked(s).(chat.Searcher).Search(ctx, chat.SearchQuery{Text: "refund policy"})
	require.NoError(t, err)
	require.Len(t, hits, 1)
	assert.Contains(t, hits[0].Snippet, "refund policy", "snippet around the match")
	assert.LessOrEqual(t, len(hits[0].Snippet), 200)
}

// TestBadInput: values PostgreSQL cannot store are chat.ErrInvalid, and ids
// it cannot store name nothing; the server's message never reaches the
// caller.
func TestBadInput(t *testing.T) {
	t.Parallel()
	dsn := testDSN(t)
	s := openStore(t, dsn, freshSchema(t, dsn))
	ctx := context.Background()
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	require.NoError(t, s.CreateVisitor(ctx, &chat.Visitor{ID: "v1", CreatedAt: t0}))
	require.NoError(t, s.CreateConversation(ctx, &chat.Conversation{ID: "c1", VisitorID: "v1", CreatedAt: t0, QueuedAt: t0}))

	err := s.CreateVisitor(ctx, &chat.Visitor{ID: "bad\x00id"})
	assert.ErrorIs(t, err, chat.ErrInvalid)
	assert.NotContains(t, err.Error(), "SQLSTATE")
	_, err = s.AppendMessage(ctx, &chat.Message{ConversationID: "c1", Kind: chat.VisitorText, Text: "nul \x00 byte"})
	assert.ErrorIs(t, err, chat.ErrInvalid)
	_, err = s.AppendMessage(ctx, &chat.Message{ConversationID: "c1", Kind: chat.VisitorText, Text: "bad \xff utf-8"})
	assert.ErrorIs(t, err, chat.ErrInvalid)
	a, err := s.AppendMessage(ctx, &chat.Message{ConversationID: "c1", Kind: chat.VisitorText, Text: "fine"})
	require.NoError(t, err)
	assert.EqualValues(t, 1, a.Message.Seq, "refused appends consume no Seq")

	_, err = s.Visitor(ctx, "bad\x00id")
	assert.ErrorIs(t, err, chat.ErrNotFound)
	_, err = s.Conversation(ctx, "\xff")
	assert.ErrorIs(t, err, chat.ErrNotFound)
	_, err = s.AppendMessage(ctx, &chat.Message{ConversationID: "\xff", Kind: chat.VisitorText, Text: "x"})
	assert.ErrorIs(t, err, chat.ErrNotFound)
	_, err = s.Messages(ctx, chat.MessageQuery{ConversationID: "a\x00"})
	assert.ErrorIs(t, err, chat.ErrNotFound)
	cs, err := chat.Checked(s).Conversations(ctx, chat.ConversationFilter{VisitorID: "\xff"})
	require.NoError(t, err)
	assert.Empty(t, cs)

	// Duplicate message ids chosen by a caller conflict.
	_, err = s.AppendMessage(ctx, &chat.Message{ID: a.Message.ID, ConversationID: "c1", Kind: chat.VisitorText, Text: "again"})
	assert.ErrorIs(t, err, chat.ErrConflict)
	assert.NotContains(t, err.Error(), "SQLSTATE")
}

func TestWords(t *testing.T) {
	assert.Equal(t, []string{"mail", "alice", "example", "com", "1234", "5"}, words("Mail alice@example.com #1234-5"))
	assert.Equal(t, []string{"ça", "naïve", "日本語"}, words("Ça, naïve! 日本語"))
	assert.Empty(t, words(`'"&|!:*()<->\`))
	assert.Equal(t, `'it':* & 's':*`, tsQuery(words("it's")))
}

func TestSnippet(t *testing.T) {
	short := "short text"
	assert.Equal(t, short, snippet(short, []string{"text"}))
	long := strings.Repeat("aé ", 100) + "needle in the haystack" + strings.Repeat(" bß", 100)
	s := snippet(long, []string{"needle"})
	assert.LessOrEqual(t, len(s), 200)
	assert.Contains(t, s, "needle in the haystack")
	assert.True(t, strings.HasPrefix(s, "…") && strings.HasSuffix(s, "…"), "%q", s)
	for _, q := range []string{"aé", "bß", "zzz"} {
		s := snippet(long, []string{q})
		assert.LessOrEqual(t, len(s), 200, q)
		assert.True(t, utf8Valid(s), "%q", s)
	}
}

func utf8Valid(s string) bool { return storable(s) }

// withSearchPath returns dsn with its search_path set to schema.
func withSearchPath(dsn, schema string) string {
	if strings.Contains(dsn, "://") {
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		return dsn + sep + "options=-csearch_path%3D" + schema
	}
	return dsn + " options='-csearch_path=" + schema + "'"
}

// TestDSNSearchPath: without WithSchema the tables go in the schema the
// DSN's search_path names, and a search_path naming no schema is refused.
func TestDSNSearchPath(t *testing.T) {
	t.Parallel()
	dsn := testDSN(t)
	schema := freshSchema(t, dsn)
	adminExec(t, dsn, "CREATE SCHEMA "+schema)
	s, err := Open(context.Background(), withSearchPath(dsn, schema))
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.CreateVisitor(context.Background(), &chat.Visitor{ID: "v1"}))
	var n int
	adminQuery(t, dsn, fmt.Sprintf("SELECT count(*) FROM %s.chat_visitors", schema), &n)
	assert.Equal(t, 1, n, "visitors in the DSN's schema")

	_, err = Open(context.Background(), withSearchPath(dsn, "shopchat_test_missing_"+randomHex(4)))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "search_path names no existing schema")
}
