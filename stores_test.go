package chat_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/client"
	"github.com/shopchat/chat/protocol"
	"github.com/shopchat/chat/store/postgres"
	"github.com/shopchat/chat/store/sqlite"
)

const restartChildEnv = "SHOPCHAT_TEST_SQLITE_SERVER"

func TestMain(m *testing.M) {
	if path := os.Getenv(restartChildEnv); path != "" {
		os.Exit(runSQLiteServer(path))
	}
	if spec := os.Getenv(nodeChildEnv); spec != "" {
		os.Exit(runNodeChild(spec))
	}
	os.Exit(m.Run())
}

// runSQLiteServer is the child process of TestSQLiteSurvivesProcessRestart:
// a chat server on a SQLite file that prints its URL and serves until
// killed.
func runSQLiteServer(path string) int {
	store, err := sqlite.Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv, err := chat.New(chat.Config{Store: store, Secret: testSecret, Operators: testOperators})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mux := http.NewServeMux()
	mux.Handle("/chat/", srv.Handler())
	fmt.Printf("http://%s\n", ln.Addr())
	http.Serve(ln, mux)
	return 0
}

func startSQLiteServer(t *testing.T, path string) (url string, kill func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), restartChildEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	kill = func() {
		cmd.Process.Kill() // SIGKILL: no graceful shutdown, nothing flushed on the way out
		cmd.Wait()
	}
	t.Cleanup(kill)
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("child server: %v", err)
	}
	return strings.TrimSpace(line), kill
}

func TestSQLiteSurvivesProcessRestart(t *testing.T) {
	ctx := testCtx(t)
	path := filepath.Join(t.TempDir(), "chat.db")
	url, kill := startSQLiteServer(t, path)

	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	v, err := client.DialVisitor(ctx, url, client.Options{HTTPClient: hc, NoReconnect: true})
	if err != nil {
		t.Fatal(err)
	}
	op, err := client.DialOperator(ctx, url, client.Options{Header: http.Header{"X-Operator": {"alice"}}, NoReconnect: true})
	if err != nil {
		t.Fatal(err)
	}
	var conv string
	for i := range 20 {
		m, err := v.Send(ctx, conv, fmt.Sprintf("visitor %d", i))
		if err != nil {
			t.Fatal(err)
		}
		conv = m.Conv
		waitText(t, op, conv, m.Text)
		if _, err := op.Send(ctx, conv, fmt.Sprintf("operator %d", i)); err != nil {
			t.Fatal(err)
		}
		waitText(t, v, conv, fmt.Sprintf("operator %d", i))
	}
	before := v.Messages(conv)
	if _, err := op.Note(ctx, conv, "note before the crash"); err != nil {
		t.Fatal(err)
	}
	kill()
	v.Close()
	op.Close()

	// A new process on the same file: everything acked is there.
	url2, _ := startSQLiteServer(t, path)
	v2, err := client.DialVisitor(ctx, url2, client.Options{HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	defer v2.Close()
	if got, ok := v2.Conversation(conv); !ok || got.Status != protocol.StatusAssigned {
		t.Fatalf("after restart the visitor's conversation is %+v (found %v)", got, ok)
	}
	after := v2.Messages(conv)
	if len(after) != len(before) {
		t.Fatalf("visitor holds %d messages after restart, %d before", len(after), len(before))
	}
	for i := range before {
		if after[i].Seq != before[i].Seq || after[i].Text != before[i].Text || after[i].ID != before[i].ID {
			t.Fatalf("message %d differs after restart: %+v vs %+v", i, after[i], before[i])
		}
	}
	op2, err := client.DialOperator(ctx, url2, client.Options{Header: http.Header{"X-Operator": {"alice"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer op2.Close()
	waitText(t, op2, conv, "note before the crash")
	waitText(t, op2, conv, "visitor 19")
	// And the conversation goes on where it was.
	m, err := v2.Send(ctx, conv, "after the restart")
	if err != nil {
		t.Fatal(err)
	}
	if m.Seq != before[len(before)-1].Seq+2 { // +1 is the note
		t.Fatalf("first message after restart has seq %d, last before was %d", m.Seq, before[len(before)-1].Seq)
	}
}

// postgresDSN returns the test database, or skips naming the variable.
func postgresDSN(t testing.TB) string {
	dsn := os.Getenv("SHOPCHAT_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("set SHOPCHAT_POSTGRES_DSN to run PostgreSQL tests")
	}
	return dsn
}

// freshPostgres opens n stores (separate pools, like separate processes) on
// a new schema that is dropped afterwards.
func freshPostgres(t testing.TB, n int, opts ...postgres.Option) []*postgres.Store {
	stores, _ := freshPostgresSchema(t, n, opts...)
	return stores
}

// freshPostgresSchema is freshPostgres that also names the schema, for
// nodes in other processes.
func freshPostgresSchema(t testing.TB, n int, opts ...postgres.Option) ([]*postgres.Store, string) {
	dsn := postgresDSN(t)
	schema := fmt.Sprintf("shopchat_srv_%d", time.Now().UnixNano())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("drop schema: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	stores := make([]*postgres.Store, n)
	for i := range stores {
		s, err := postgres.Open(context.Background(), dsn, append([]postgres.Option{postgres.WithSchema(schema)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		stores[i] = s
	}
	return stores, schema
}

func TestTwoServersShareOnePostgres(t *testing.T) {
	stores := freshPostgres(t, 2)
	team := map[string]*chat.Operator{}
	for i := range 10 {
		id := fmt.Sprintf("op%02d", i)
		team[id] = &chat.Operator{ID: id, Name: "Operator " + id, Capacity: 5}
	}
	auth := func(r *http.Request) (*chat.Operator, error) {
		if op := team[r.Header.Get("X-Operator")]; op != nil {
			return op, nil
		}
		return nil, chat.ErrUnauthorized
	}
	nodes := make([]*testServer, 2)
	for i := range nodes {
		nodes[i] = newTestServer(t, func(c *chat.Config) { c.Store = stores[i]; c.Operators = auth })
	}
	ctx := testCtx(t)
	// Five operators on each node.
	for i := range 10 {
		c, err := client.DialOperator(ctx, nodes[i%2].URL, client.Options{Header: http.Header{"X-Operator": {fmt.Sprintf("op%02d", i)}}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	// 200 visitors, half on each node, open conversations at once.
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := client.DialVisitor(ctx, nodes[i%2].URL, client.Options{})
			if err != nil {
				errs <- err
				return
			}
			// The visitors stay on the site: a visitor who left would
			// take no capacity after the grace period.
			t.Cleanup(func() { v.Close() })
			if _, err := v.Send(ctx, "", fmt.Sprintf("visitor %d", i)); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Both nodes dispatch once more, as a presence heartbeat would.
	for i := range 2 {
		c, err := client.DialOperator(ctx, nodes[i].URL, client.Options{Header: http.Header{"X-Operator": {"op00"}}})
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}

	all, err := stores[0].Conversations(ctx, chat.ConversationFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 200 {
		t.Fatalf("%d conversations, want 200", len(all))
	}
	perOp := map[string]int{}
	assigned := 0
	for _, c := range all {
		if c.Status != chat.Assigned {
			continue
		}
		assigned++
		perOp[c.OperatorID]++
		// Exactly one "joined" event: it was assigned once, by one node.
		ms, err := stores[1].Messages(ctx, chat.MessageQuery{ConversationID: c.ID})
		if err != nil {
			t.Fatal(err)
		}
		joined := 0
		for _, m := range ms {
			if m.Kind == chat.SystemEvent && strings.HasSuffix(m.Text, "joined the conversation") {
				joined++
			}
		}
		if joined != 1 {
			t.Errorf("conversation %s was assigned %d times", c.ID, joined)
		}
	}
	for op, n := range perOp {
		if n > 5 {
			t.Errorf("operator %s has %d conversations, capacity 5", op, n)
		}
	}
	if assigned != 50 {
		t.Errorf("%d conversations assigned, want all 50 places filled", assigned)
	}
}

func TestPostgresOutageMidRun(t *testing.T) {
	stores := freshPostgres(t, 1, postgres.WithApplicationName(fmt.Sprintf("shopchat-outage-%d", time.Now().UnixNano())))
	dsn := postgresDSN(t)
	ts := newTestServer(t, func(c *chat.Config) { c.Store = stores[0] })
	ctx := testCtx(t)
	other := ts.visitor(t, nil)
	frames := &frameLog{}
	v := ts.visitor(t, frames)
	first, err := v.Send(ctx, "", "before the outage")
	if err != nil {
		t.Fatal(err)
	}
	conv := first.Conv
	acked := map[string]int64{first.Text: first.Seq}
	// An outage: every connection the store opens is killed, over and over,
	// until stop is closed.
	stop := make(chan struct{})
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		for {
			select {
			case <-stop:
				return
			default:
				terminateBackends(t, dsn)
			}
		}
	}()
	// The visitor writes on through it: the server answers "unavailable"
	// and the client sends again, with the same id, until acked.
	unavailable := func() (n int) {
		for _, f := range frames.all() {
			if f.Type != protocol.TypeError {
				continue
			}
			if f.Code != protocol.CodeUnavailable {
				t.Errorf("store outage surfaced as %q: %s", f.Code, f.Error)
			}
			if strings.Contains(f.Error, "SQLSTATE") || strings.Contains(f.Error, "terminat") {
				t.Errorf("error frame leaks database details: %q", f.Error)
			}
			n++
		}
		return n
	}
	type sent struct {
		text string
		seq  int64
	}
	// It writes until the database is back (at most maxSends): how many
	// of its appends the outage hits depends on the machine's speed.
	const maxSends = 2000
	results := make(chan sent, maxSends)
	sendErr := make(chan error, 1)
	go func() {
		defer close(results)
		for i := range maxSends {
			select {
			case <-stop:
				return
			default:
			}
			text := fmt.Sprintf("during %d", i)
			m, err := v.Send(ctx, conv, text)
			if err != nil {
				sendErr <- fmt.Errorf("send %d: %w", i, err)
				return
			}
			results <- sent{text, m.Seq}
		}
	}()
	waitFor(t, ctx, "the outage reaching the client", func() bool { return unavailable() >= 3 })
	close(stop) // the database comes back
	<-killed
	for r := range results {
		acked[r.text] = r.seq
	}
	select {
	case err := <-sendErr:
		t.Fatal(err)
	default:
	}
	if len(acked) < 2 {
		t.Fatalf("%d messages acked: none during the outage", len(acked))
	}
	t.Logf("the server answered \"unavailable\" %d times; the client retried each", unavailable())
	// Nothing acked is lost, nothing is doubled, and other conversations work.
	stored, err := stores[0].Messages(ctx, chat.MessageQuery{ConversationID: conv})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, m := range stored {
		count[m.Text]++
		if want, ok := acked[m.Text]; ok && want != m.Seq {
			t.Errorf("%q acked as seq %d, stored as %d", m.Text, want, m.Seq)
		}
	}
	for text := range acked {
		if count[text] != 1 {
			t.Errorf("%q stored %d times", text, count[text])
		}
	}
	if _, err := other.Send(ctx, "", "another conversation still works"); err != nil {
		t.Fatal(err)
	}
}

// terminateBackends kills every connection of this test's store.
func terminateBackends(t testing.TB, dsn string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name LIKE 'shopchat-outage-%' AND pid <> pg_backend_pid()`); err != nil {
		t.Error(err)
	}
}
