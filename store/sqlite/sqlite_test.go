package sqlite_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/store/sqlite"
	"github.com/shopchat/chat/store/storetest"
)

var ctx = context.Background()

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// checked returns s behind chat.Checked, as the Server calls it: input
// checks and limit defaults are the layer's, not the store's.
func checked(s *sqlite.Store) chat.Searcher { return chat.Checked(s).(chat.Searcher) }

// openTemp opens a fresh database file in a temporary directory and closes
// it when the test ends.
func openTemp(t testing.TB, opts ...sqlite.Option) *sqlite.Store {
	t.Helper()
	return openPath(t, filepath.Join(t.TempDir(), "chat.db"), opts...)
}

func openPath(t testing.TB, path string, opts ...sqlite.Option) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(path, opts...)
	require.NoError(t, err, "Open")
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t testing.TB) chat.Store { return openTemp(t) })
}

// TestFullSync runs the suite's concurrency cases and the basic append
// with synchronous=FULL, which changes only when commits reach the disk.
func TestFullSync(t *testing.T) {
	for _, c := range storetest.Cases() {
		if c.Name == "Messages/Append" || strings.HasPrefix(c.Name, "Concurrency/") {
			t.Run(c.Name, func(t *testing.T) { c.Fn(t, openTemp(t, sqlite.WithFullSync())) })
		}
	}
}

// rawExec runs statements on the file with a plain database/sql handle.
func rawExec(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	for _, q := range stmts {
		_, err := db.Exec(q)
		require.NoError(t, err, q)
	}
}

func rawInt(t *testing.T, path, q string) int64 {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	var n int64
	require.NoError(t, db.QueryRow(q).Scan(&n), q)
	return n
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

// noSideFiles asserts that no WAL or shared-memory file was left beside
// path.
func noSideFiles(t *testing.T, path string) {
	t.Helper()
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		_, err := os.Stat(path + suffix)
		assert.ErrorIs(t, err, fs.ErrNotExist, "%s left behind", filepath.Base(path+suffix))
	}
}

func TestOpenNotADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "random.db")
	junk := make([]byte, 64<<10)
	_, _ = rand.Read(junk)
	require.NoError(t, os.WriteFile(path, junk, 0o600))

	s, err := sqlite.Open(path)
	require.Error(t, err)
	assert.Nil(t, s)
	assert.ErrorIs(t, err, sqlite.ErrNotDatabase)
	assert.Contains(t, err.Error(), "not a database")
	assert.Contains(t, err.Error(), path, "the error names the file")
	assert.Equal(t, junk, readFile(t, path), "Open changed a file that is not a database")
	noSideFiles(t, path)

	// A text file is no better.
	txt := filepath.Join(t.TempDir(), "notes.txt")
	require.NoError(t, os.WriteFile(txt, []byte(strings.Repeat("hello, not sqlite\n", 100)), 0o600))
	_, err = sqlite.Open(txt)
	assert.ErrorIs(t, err, sqlite.ErrNotDatabase)
}

func TestOpenCorruptDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chat.db")
	s, err := sqlite.Open(path)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	// Keep the 100-byte header, scramble the rest of page 1 (the schema).
	b := readFile(t, path)
	require.Greater(t, len(b), 4096)
	_, _ = rand.Read(b[100:4096])
	require.NoError(t, os.WriteFile(path, b, 0o600))

	_, err = sqlite.Open(path)
	require.Error(t, err)
	assert.ErrorIs(t, err, sqlite.ErrNotDatabase)
	assert.Equal(t, b, readFile(t, path), "Open changed a corrupt file")
}

func TestOpenUnwritablePath(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "regular-file")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o600))

	t.Run("UnderRegularFile", func(t *testing.T) {
		_, err := sqlite.Open(filepath.Join(file, "chat.db"))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "not a directory")
		assert.Contains(t, err.Error(), file)
		assert.Equal(t, []byte("x"), readFile(t, file))
	})
	t.Run("MissingDirectory", func(t *testing.T) {
		_, err := sqlite.Open(filepath.Join(dir, "no", "such", "dir", "chat.db"))
		require.Error(t, err)
		assert.ErrorIs(t, err, fs.ErrNotExist)
		assert.Contains(t, err.Error(), "cannot create database")
	})
	t.Run("Directory", func(t *testing.T) {
		_, err := sqlite.Open(dir)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "is a directory")
	})
	t.Run("ReadOnlyDirectory", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root ignores directory permissions")
		}
		ro := filepath.Join(dir, "ro")
		require.NoError(t, os.Mkdir(ro, 0o500))
		t.Cleanup(func() { _ = os.Chmod(ro, 0o700) })
		_, err := sqlite.Open(filepath.Join(ro, "chat.db"))
		require.Error(t, err)
		assert.ErrorIs(t, err, fs.ErrPermission)
	})
	t.Run("NotAFilePath", func(t *testing.T) {
		for _, p := range []string{"", ":memory:", "file:chat.db?mode=memory"} {
			_, err := sqlite.Open(p)
			assert.Error(t, err, "Open(%q)", p)
		}
	})
}

func TestOpenNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chat.db")
	s, err := sqlite.Open(path)
	require.NoError(t, err)
	require.NoError(t, s.CreateVisitor(ctx, &chat.Visitor{ID: "v1", CreatedAt: t0}))
	require.NoError(t, s.Close())
	supported := rawInt(t, path, "SELECT max(version) FROM schema_version")

	// A newer build added the next version.
	future := supported + 1
	rawExec(t, path, fmt.Sprintf("INSERT INTO schema_version (version, name, applied_at) VALUES (%d, 'future', '2030-01-01T00:00:00Z')", future))
	before := readFile(t, path)
	_, err = os.Stat(path + "-wal")
	require.ErrorIs(t, err, fs.ErrNotExist, "the raw handle left a WAL behind")

	_, err = sqlite.Open(path)
	require.Error(t, err)
	assert.ErrorIs(t, err, sqlite.ErrSchemaTooNew)
	assert.Contains(t, err.Error(), fmt.Sprintf("database schema version %d is newer than this build supports (%d); upgrade shopchat", future, supported))
	assert.Equal(t, before, readFile(t, path), "Open changed a database with a newer schema")
	noSideFiles(t, path)
	assert.EqualValues(t, future, rawInt(t, path, "SELECT max(version) FROM schema_version"))
}

func TestOpenTwiceMigratesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chat.db")
	s, err := sqlite.Open(path)
	require.NoError(t, err)
	require.NoError(t, s.CreateVisitor(ctx, &chat.Visitor{ID: "v1", CreatedAt: t0}))
	epoch := s.Epoch()
	require.NoError(t, s.Close())
	versions := rawInt(t, path, "SELECT count(*) FROM schema_version")
	latest := rawInt(t, path, "SELECT max(version) FROM schema_version")
	require.Equal(t, versions, latest, "one schema_version row per migration")

	for range 2 {
		s, err := sqlite.Open(path)
		require.NoError(t, err, "reopen")
		assert.Equal(t, epoch, s.Epoch(), "epoch after reopen")
		v, err := s.Visitor(ctx, "v1")
		require.NoError(t, err)
		assert.Equal(t, "v1", v.ID)
		require.NoError(t, s.Close())
	}
	assert.Equal(t, versions, rawInt(t, path, "SELECT count(*) FROM schema_version"), "reopening re-applied migrations")

	// Two Stores on one file at once (two processes, say) share it.
	a := openPath(t, path)
	b := openPath(t, path)
	require.NoError(t, a.CreateVisitor(ctx, &chat.Visitor{ID: "from-a", CreatedAt: t0}))
	_, err = b.Visitor(ctx, "from-a")
	require.NoError(t, err, "a write through one Store is visible through the other")
	assert.Equal(t, a.Epoch(), b.Epoch())
}

func TestRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chat.db")
	s, err := sqlite.Open(path)
	require.NoError(t, err)
	require.NotZero(t, s.Epoch())
	epoch := s.Epoch()

	v := &chat.Visitor{ID: "v1", CustomerID: "cust-1", Name: "Ann", Email: "ann@example.com", CreatedAt: t0, LastSeenAt: t0.Add(time.Minute)}
	require.NoError(t, s.CreateVisitor(ctx, v))
	op := &chat.Operator{ID: "alice", Name: "Alice", Departments: []string{"sales", "returns"}, Capacity: 4}
	require.NoError(t, s.PutOperator(ctx, op))
	require.NoError(t, s.SetPresence(ctx, "alice", chat.Online, time.Time{}))
	c := &chat.Conversation{ID: "c1", VisitorID: "v1", Department: "sales", CreatedAt: t0, QueuedAt: t0, LiveUntil: t0.Add(2 * time.Hour)}
	require.NoError(t, s.CreateConversation(ctx, c))
	assert.Equal(t, epoch, c.Epoch)
	_, err = s.Assign(ctx, "c1", "", "alice", 4, t0.Add(2*time.Second))
	require.NoError(t, err)
	var sent []*chat.Message
	for i := range 5 {
		a, err := s.AppendMessage(ctx, &chat.Message{ConversationID: "c1", ClientID: fmt.Sprintf("k%d", i), Kind: chat.VisitorText,
			AuthorID: "v1", AuthorName: "Ann", Text: fmt.Sprintf("where is parcel number %d", i), CreatedAt: t0.Add(time.Duration(i) * time.Second)})
		require.NoError(t, err)
		sent = append(sent, a.Message)
	}
	_, err = s.MarkRead(ctx, "c1", chat.OperatorText, 3)
	require.NoError(t, err)
	require.NoError(t, s.Close())

	s = openPath(t, path)
	assert.Equal(t, epoch, s.Epoch(), "Epoch after restart")
	gotV, err := s.VisitorByCustomer(ctx, "cust-1")
	require.NoError(t, err)
	assert.Equal(t, v.Name, gotV.Name)
	assert.True(t, v.LastSeenAt.Equal(gotV.LastSeenAt))
	gotOp, err := s.Operator(ctx, "alice")
	require.NoError(t, err)
	assert.Equal(t, op.Departments, gotOp.Departments)
	loads, err := s.OperatorLoads(ctx, t0.Add(time.Hour))
	require.NoError(t, err)
	require.Len(t, loads, 1)
	assert.Equal(t, chat.Online, loads[0].Presence, "a presence without expiry survives")
	assert.Equal(t, 1, loads[0].Active, "the conversation is live until t0+2h")
	assert.True(t, loads[0].LastAssignedAt.Equal(t0.Add(2*time.Second)))

	gotC, err := s.Conversation(ctx, "c1")
	require.NoError(t, err)
	assert.Equal(t, epoch, gotC.Epoch, "conversation Epoch after restart")
	assert.Equal(t, chat.Assigned, gotC.Status)
	assert.Equal(t, "alice", gotC.OperatorID)
	assert.EqualValues(t, 5, gotC.LastSeq)
	assert.EqualValues(t, 3, gotC.OperatorReadSeq)

	ms, err := s.Messages(ctx, chat.MessageQuery{ConversationID: "c1"})
	require.NoError(t, err)
	require.Len(t, ms, len(sent))
	for i, m := range ms {
		assert.Equal(t, sent[i].ID, m.ID)
		assert.Equal(t, sent[i].Seq, m.Seq)
		assert.Equal(t, sent[i].Text, m.Text)
		assert.True(t, sent[i].CreatedAt.Equal(m.CreatedAt))
	}

	// Idempotency and sequence numbers carry on across the restart.
	a, err := s.AppendMessage(ctx, &chat.Message{ConversationID: "c1", ClientID: "k2", Kind: chat.VisitorText, Text: "retry"})
	require.NoError(t, err)
	assert.True(t, a.Duplicate)
	assert.Equal(t, sent[2].ID, a.Message.ID)
	a, err = s.AppendMessage(ctx, &chat.Message{ConversationID: "c1", ClientID: "k5", Kind: chat.VisitorText, Text: "after restart"})
	require.NoError(t, err)
	assert.EqualValues(t, 6, a.Message.Seq)
	assert.Equal(t, epoch, a.Conversation.Epoch)

	hits, err := checked(s).Search(ctx, chat.SearchQuery{Text: "parcel 3"})
	require.NoError(t, err)
	require.Len(t, hits, 1, "the search index survives the restart")
	assert.Equal(t, sent[3].ID, hits[0].Message.ID)
}

func TestEpochDiffersPerDatabase(t *testing.T) {
	a, b := openTemp(t), openTemp(t)
	assert.NotZero(t, a.Epoch())
	assert.NotEqual(t, a.Epoch(), b.Epoch())
}

// searchStore holds a small corpus: v1's conversation c1 (with a note) and
// v2's conversation c2.
func searchStore(t *testing.T) *sqlite.Store {
	t.Helper()
	s := openTemp(t)
	for _, v := range []string{"v1", "v2"} {
		require.NoError(t, s.CreateVisitor(ctx, &chat.Visitor{ID: v, CreatedAt: t0}))
	}
	require.NoError(t, s.CreateConversation(ctx, &chat.Conversation{ID: "c1", VisitorID: "v1", CreatedAt: t0, QueuedAt: t0}))
	require.NoError(t, s.CreateConversation(ctx, &chat.Conversation{ID: "c2", VisitorID: "v2", CreatedAt: t0, QueuedAt: t0}))
	for _, m := range []chat.Message{
		{ConversationID: "c1", Kind: chat.VisitorText, Text: "Where is my ORDER 12345? The parcel is late."},
		{ConversationID: "c1", Kind: chat.OperatorText, Text: "Your order ships tomorrow from the Berlin warehouse."},
		{ConversationID: "c1", Kind: chat.Note, Text: "Customer is a VIP: refund the shipping for this order."},
		{ConversationID: "c2", Kind: chat.VisitorText, Text: "Do you ship orders to Zürich? Café au lait mugs."},
		{ConversationID: "c2", Kind: chat.VisitorText, Text: strings.Repeat("very long message about an order of socks ", 40)},
	} {
		m.CreatedAt = t0
		_, err := s.AppendMessage(ctx, &m)
		require.NoError(t, err)
	}
	return s
}

func hitTexts(hits []chat.SearchHit) []string {
	var out []string
	for _, h := range hits {
		out = append(out, h.Message.Text)
	}
	return out
}

func TestSearch(t *testing.T) {
	s := searchStore(t)
	search := func(q chat.SearchQuery) []chat.SearchHit {
		t.Helper()
		hits, err := checked(s).Search(ctx, q)
		require.NoError(t, err, "Search(%+v)", q)
		return hits
	}

	hits := search(chat.SearchQuery{Text: "order"})
	assert.Len(t, hits, 5, "order matches order, ORDER, orders (prefix), case-insensitively")
	for i, h := range hits {
		require.NotNil(t, h.Message)
		assert.LessOrEqual(t, len(h.Snippet), 200, "snippet %d is at most 200 bytes", i)
		assert.NotContains(t, h.Snippet, "<b>")
		assert.NotEmpty(t, h.Snippet)
		if i > 0 {
			assert.GreaterOrEqual(t, hits[i-1].Rank, h.Rank, "best first")
		}
	}

	assert.Len(t, search(chat.SearchQuery{Text: "ord ship"}), 3, "every word must match, as a prefix")
	assert.Equal(t, []string{"Do you ship orders to Zürich? Café au lait mugs."}, hitTexts(search(chat.SearchQuery{Text: "zurich cafe"})),
		"diacritics are folded")
	assert.Empty(t, search(chat.SearchQuery{Text: "order pizza"}))

	// A visitor sees their own conversations only, and no internal notes.
	for _, h := range search(chat.SearchQuery{Text: "order", VisitorID: "v1"}) {
		assert.Equal(t, "c1", h.Message.ConversationID)
		assert.NotEqual(t, chat.Note, h.Message.Kind, "a note reached the visitor")
	}
	assert.Len(t, search(chat.SearchQuery{Text: "order", VisitorID: "v1"}), 2)
	assert.Empty(t, search(chat.SearchQuery{Text: "vip refund", VisitorID: "v1"}), "note hidden from its visitor")
	assert.Len(t, search(chat.SearchQuery{Text: "vip refund"}), 1, "operators find notes")
	assert.Empty(t, search(chat.SearchQuery{Text: "order", VisitorID: "ghost"}))

	assert.Len(t, search(chat.SearchQuery{Text: "order", Limit: 2}), 2, "Limit")

	// Erasure and retention remove messages from the index.
	require.NoError(t, s.DeleteVisitor(ctx, "v2"))
	assert.Empty(t, search(chat.SearchQuery{Text: "zurich"}), "after DeleteVisitor")
	_, err := s.CloseConversation(ctx, "c1", t0.Add(time.Hour))
	require.NoError(t, err)
	n, err := s.PurgeClosed(ctx, t0.Add(2*time.Hour))
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Empty(t, search(chat.SearchQuery{Text: "order"}), "after PurgeClosed")
}

func TestSearchLimits(t *testing.T) {
	s := openTemp(t)
	require.NoError(t, s.CreateVisitor(ctx, &chat.Visitor{ID: "v", CreatedAt: t0}))
	require.NoError(t, s.CreateConversation(ctx, &chat.Conversation{ID: "c", VisitorID: "v", CreatedAt: t0, QueuedAt: t0}))
	for i := range 130 {
		_, err := s.AppendMessage(ctx, &chat.Message{ConversationID: "c", Kind: chat.SystemEvent, Text: fmt.Sprintf("event %d happened", i)})
		require.NoError(t, err)
	}
	hits, err := checked(s).Search(ctx, chat.SearchQuery{Text: "event"})
	require.NoError(t, err)
	assert.Len(t, hits, 20, "Limit 0 means 20")
	hits, err = checked(s).Search(ctx, chat.SearchQuery{Text: "event", Limit: 1000})
	require.NoError(t, err)
	assert.Len(t, hits, 100, "at most 100")
}

// TestSearchHostileInput feeds query-language syntax, SQL and junk to
// Search: each either finds messages or fails with ErrInvalid, never with
// a database error, and the store keeps working.
func TestSearchHostileInput(t *testing.T) {
	s := searchStore(t)
	inputs := []string{
		`"`, `""`, `"""`, `*`, `**`, `^`, `:`, `(`, `)`, `()`, `{`, `}`, `-`, `+`, `'`, `\`, `;`, `NOT`, `AND`, `OR`, `NEAR`,
		`"order`, `order"`, `order"*`, `"order" OR "parcel"`, `order OR pizza`, `order NOT parcel`, `order AND`, `AND order`,
		`NEAR(order parcel, 2)`, `NEAR(`, `text:order`, `{text}: order`, `- order`, `^order`, `order*`, `*order`, `ord* ship*`,
		`text : "x"`, `rank:1`, `messages_fts MATCH 'x'`, `'; DROP TABLE messages; --`, `" OR 1=1 --`, `') OR ('1'='1`,
		"order\x00parcel", "\x00", "tab\tnew\nline", `%`, `_`, `order%`, `$1`, `?`, `?1`, `:name`, `@p`,
		"日本語の注文", "🙂 order 🙂", "ℌ𝔢𝔩𝔩𝔬", "e\u0301cole", "\u200b", "\ufeff", "order\u00a0parcel",
		strings.Repeat("a", 256), strings.Repeat("a ", 128), strings.Repeat(`"`, 256), strings.Repeat("x*", 128),
		strings.Repeat("a", 257), "\xff\xfe", "order \xc3",
	}
	for _, in := range inputs {
		hits, err := checked(s).Search(ctx, chat.SearchQuery{Text: in})
		if err != nil {
			assert.ErrorIs(t, err, chat.ErrInvalid, "Search(%q)", in)
			msg := strings.ToLower(err.Error())
			for _, leak := range []string{"fts5", "syntax", "sql logic", "near \"", "match"} {
				assert.NotContains(t, msg, leak, "Search(%q) error leaks the database: %v", in, err)
			}
			continue
		}
		for _, h := range hits {
			assert.NotNil(t, h.Message, "Search(%q)", in)
		}
	}
	// Words keep their meaning: quotes and operators are just separators.
	hits, err := checked(s).Search(ctx, chat.SearchQuery{Text: `"order" OR "pizza"`})
	require.NoError(t, err)
	assert.Empty(t, hits, "OR is a word to match, not an operator")
	hits, err = checked(s).Search(ctx, chat.SearchQuery{Text: `-order +parcel`})
	require.NoError(t, err)
	assert.Len(t, hits, 1, "- and + are not operators")
	hits, err = checked(s).Search(ctx, chat.SearchQuery{Text: `text:parcel`})
	require.NoError(t, err)
	assert.Empty(t, hits, "a column filter is two words, and no message has a word starting with text")

	// Repeated and prefix-redundant words collapse: "every word" is kept
	// and FTS5 is not made to evaluate one prefix 128 times.
	hits, err = checked(s).Search(ctx, chat.SearchQuery{Text: strings.Repeat("o ", 126) + "ord"})
	require.NoError(t, err)
	assert.Len(t, hits, 5, "as the one word ord")

	for _, in := range []string{"", "   ", `"*^:()`, strings.Repeat("a", 257), "\xff"} {
		_, err := checked(s).Search(ctx, chat.SearchQuery{Text: in})
		assert.ErrorIs(t, err, chat.ErrInvalid, "Search(%q)", in)
	}
	ms, err := s.Messages(ctx, chat.MessageQuery{ConversationID: "c1"})
	require.NoError(t, err)
	assert.Len(t, ms, 3, "store intact after hostile searches")
}

// TestGroupCommitIsolation appends from many goroutines at once, some to a
// closed conversation, some retries, some with cancelled contexts: each
// caller gets its own result, and the good appends all land, gapless.
func TestGroupCommitIsolation(t *testing.T) {
	s := openTemp(t)
	for _, id := range []string{"open", "closed"} {
		require.NoError(t, s.CreateVisitor(ctx, &chat.Visitor{ID: id + "-v", CreatedAt: t0}))
		require.NoError(t, s.CreateConversation(ctx, &chat.Conversation{ID: id, VisitorID: id + "-v", CreatedAt: t0, QueuedAt: t0}))
	}
	_, err := s.CloseConversation(ctx, "closed", t0)
	require.NoError(t, err)

	const n = 200
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			m := &chat.Message{ConversationID: "open", ClientID: fmt.Sprintf("k%d", i), Kind: chat.VisitorText, Text: "hi"}
			c := ctx
			switch i % 4 {
			case 1:
				m.ConversationID = "closed"
			case 2:
				m.Kind = "bogus"
			case 3:
				if i%8 == 3 {
					c = cancelled
				} else {
					m.ConversationID = "ghost"
				}
			}
			_, errs[i] = s.AppendMessage(c, m)
		})
	}
	wg.Wait()
	good := 0
	for i, err := range errs {
		switch {
		case i%4 == 0:
			assert.NoError(t, err, "append %d", i)
			good++
		case i%4 == 1:
			assert.ErrorIs(t, err, chat.ErrConflict, "append %d to a closed conversation", i)
		case i%4 == 2:
			assert.ErrorIs(t, err, chat.ErrInvalid, "append %d", i)
		case i%8 == 3:
			assert.ErrorIs(t, err, context.Canceled, "append %d", i)
		default:
			assert.ErrorIs(t, err, chat.ErrNotFound, "append %d", i)
		}
	}
	ms, err := s.Messages(ctx, chat.MessageQuery{ConversationID: "open"})
	require.NoError(t, err)
	require.Len(t, ms, good)
	for i, m := range ms {
		assert.EqualValues(t, i+1, m.Seq)
	}
	closed, err := s.Messages(ctx, chat.MessageQuery{ConversationID: "closed"})
	require.NoError(t, err)
	assert.Empty(t, closed)
}

func TestClosed(t *testing.T) {
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "chat.db"))
	require.NoError(t, err)
	require.NoError(t, s.CreateVisitor(ctx, &chat.Visitor{ID: "v1", CreatedAt: t0}))
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is idempotent")
	err = s.CreateVisitor(ctx, &chat.Visitor{ID: "v2"})
	assert.ErrorIs(t, err, chat.ErrClosed, "write after Close")
	_, err = s.Visitor(ctx, "v1")
	assert.ErrorIs(t, err, chat.ErrClosed, "read after Close")
	_, err = checked(s).Search(ctx, chat.SearchQuery{Text: "x"})
	assert.ErrorIs(t, err, chat.ErrClosed, "search after Close")
}

func TestTimesRoundTrip(t *testing.T) {
	s := openTemp(t)
	loc := time.FixedZone("UTC+5", 5*3600)
	created := time.Date(2025, 3, 1, 17, 0, 0, 123456789, loc)
	require.NoError(t, s.CreateVisitor(ctx, &chat.Visitor{ID: "v1", CreatedAt: created}))
	v, err := s.Visitor(ctx, "v1")
	require.NoError(t, err)
	assert.True(t, created.Truncate(time.Microsecond).Equal(v.CreatedAt), "rounded to microseconds: %v", v.CreatedAt)
	assert.True(t, v.LastSeenAt.IsZero(), "the zero time reads back as zero")
}

func TestContextCancelled(t *testing.T) {
	s := openTemp(t)
	c, cancel := context.WithCancel(ctx)
	cancel()
	err := s.CreateVisitor(c, &chat.Visitor{ID: "v1"})
	assert.True(t, errors.Is(err, context.Canceled), "got %v", err)
	_, err = s.Visitor(ctx, "v1")
	assert.ErrorIs(t, err, chat.ErrNotFound, "a cancelled write is not written")
}

func TestConcurrentReadsDuringWrites(t *testing.T) {
	s := openTemp(t)
	require.NoError(t, s.CreateVisitor(ctx, &chat.Visitor{ID: "v", CreatedAt: t0}))
	require.NoError(t, s.CreateConversation(ctx, &chat.Conversation{ID: "c", VisitorID: "v", CreatedAt: t0, QueuedAt: t0}))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				ms, err := s.Messages(ctx, chat.MessageQuery{ConversationID: "c"})
				if !assert.NoError(t, err) {
					return
				}
				for i, m := range ms {
					if m.Seq != int64(i+1) {
						t.Errorf("reader saw a gap: %d at %d", m.Seq, i)
						return
					}
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
	for i := range 100 {
		_, err := s.AppendMessage(ctx, &chat.Message{ConversationID: "c", ClientID: fmt.Sprint(i), Kind: chat.VisitorText, Text: "x"})
		require.NoError(t, err)
	}
	close(stop)
	wg.Wait()
}

func TestWALFilesBesideDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chat.db")
	s := openPath(t, path)
	require.NoError(t, s.CreateVisitor(ctx, &chat.Visitor{ID: "v", CreatedAt: t0}))
	_, err := os.Stat(path + "-wal")
	assert.NoError(t, err, "WAL mode")
	header := readFile(t, path)[:16]
	assert.True(t, bytes.Equal(header, []byte("SQLite format 3\x00")))
	assert.Equal(t, path, s.Path())
}
