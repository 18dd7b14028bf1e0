package chat_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	natsgo "github.com/nats-io/nats.go"
	goredis "github.com/redis/go-redis/v9"

	"github.com/shopchat/chat"
	natsbroker "github.com/shopchat/chat/broker/nats"
	pgbroker "github.com/shopchat/chat/broker/postgres"
	redisbroker "github.com/shopchat/chat/broker/redis"
	"github.com/shopchat/chat/client"
	"github.com/shopchat/chat/protocol"
	"github.com/shopchat/chat/store/postgres"
)

const nodeChildEnv = "SHOPCHAT_TEST_NODE"

// nodeSpec describes a node for a child process.
type nodeSpec struct {
	DSN, Schema, Broker, BrokerAddr, Name string
	PresenceTTL                           time.Duration
	// Topic is the broker topic, if not the default: tests that run beside
	// others on the same broker hear only their own nodes.
	Topic string
}

func brokerAddr(t testing.TB, kind string) string {
	env := map[string]string{"postgres": "SHOPCHAT_POSTGRES_DSN", "redis": "SHOPCHAT_REDIS_ADDR", "nats": "SHOPCHAT_NATS_URL"}[kind]
	v := os.Getenv(env)
	if v == "" {
		t.Skipf("set %s to run the %s multi-node test", env, kind)
	}
	return v
}

// openBroker connects a node's broker; name labels its connections so the
// test can cut them. disrupt drops them (the broker reconnects).
func openBroker(ctx context.Context, kind, addr, name string) (b chat.Broker, closeFn func() error, disrupt func() error, err error) {
	switch kind {
	case "postgres":
		pb, err := pgbroker.New(ctx, addr, pgbroker.WithPoolConfig(func(c *pgxpool.Config) { c.ConnConfig.RuntimeParams["application_name"] = name }))
		if err != nil {
			return nil, nil, nil, err
		}
		return pb, pb.Close, func() error {
			conn, err := pgx.Connect(ctx, addr)
			if err != nil {
				return err
			}
			defer conn.Close(ctx)
			_, err = conn.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", name)
			return err
		}, nil
	case "redis":
		rb, err := redisbroker.New(ctx, addr, redisbroker.WithRedisOptions(func(o *goredis.Options) { o.ClientName = name }))
		if err != nil {
			return nil, nil, nil, err
		}
		return rb, rb.Close, func() error {
			admin := goredis.NewClient(&goredis.Options{Addr: addr})
			defer admin.Close()
			list, err := admin.ClientList(ctx).Result()
			if err != nil {
				return err
			}
			for _, line := range strings.Split(list, "\n") {
				if strings.Contains(line, " name="+name+" ") {
					id := strings.TrimPrefix(strings.Fields(line)[0], "id=")
					admin.Do(ctx, "CLIENT", "KILL", "ID", id)
				}
			}
			return nil
		}, nil
	case "nats":
		var mu sync.Mutex
		var conns []net.Conn
		dialer := &recordingDialer{record: func(c net.Conn) { mu.Lock(); conns = append(conns, c); mu.Unlock() }}
		nb, err := natsbroker.New(addr, natsbroker.WithNATSOptions(natsgo.SetCustomDialer(dialer), natsgo.ReconnectWait(50*time.Millisecond)))
		if err != nil {
			return nil, nil, nil, err
		}
		return nb, nb.Close, func() error {
			mu.Lock()
			defer mu.Unlock()
			for _, c := range conns {
				c.Close()
			}
			conns = nil
			return nil
		}, nil
	}
	return nil, nil, nil, fmt.Errorf("unknown broker %q", kind)
}

type recordingDialer struct{ record func(net.Conn) }

func (d *recordingDialer) Dial(network, address string) (net.Conn, error) {
	c, err := net.Dial(network, address)
	if err == nil {
		d.record(c)
	}
	return c, err
}

var multiTeam = map[string]*chat.Operator{
	"b1": {ID: "b1", Name: "Bea", Capacity: 20},
	"b2": {ID: "b2", Name: "Ben", Capacity: 20},
	"c1": {ID: "c1", Name: "Cid", Capacity: 20},
}

func multiAuth(r *http.Request) (*chat.Operator, error) {
	if op := multiTeam[r.Header.Get("X-Operator")]; op != nil {
		return op, nil
	}
	return nil, chat.ErrUnauthorized
}

func nodeConfig(store chat.Store, b chat.Broker, ttl time.Duration) chat.Config {
	return chat.Config{
		Store: store, Broker: b, Secret: testSecret, Operators: multiAuth,
		MaxFramesPerSecond: 100000, PresenceTTL: ttl, RequeueOffline: ttl, SneakPeek: true,
		SyncInterval:  200 * time.Millisecond,
		MaxConnsPerIP: -1, MaxFramesPerSecondPerIP: -1, NewVisitorsPerMinute: -1,
		// The test repeats invitations the broker may lose.
		MaxProactivePerVisit: 100,
	}
}

// runNodeChild is a node in its own process (node C), killed outright by
// the test.
func runNodeChild(raw string) int {
	var spec nodeSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx := context.Background()
	store, err := postgres.Open(ctx, spec.DSN, postgres.WithSchema(spec.Schema))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	b, _, _, err := openBroker(ctx, spec.Broker, spec.BrokerAddr, spec.Name)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cfg := nodeConfig(store, b, spec.PresenceTTL)
	cfg.BrokerTopic = spec.Topic
	srv, err := chat.New(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 1
	}
	mux := http.NewServeMux()
	mux.Handle("/chat/", srv.Handler())
	fmt.Printf("http://%s\n", ln.Addr())
	http.Serve(ln, mux)
	return 0
}

// startNodeChild starts a node in a child process and returns its URL and
// process, killed when the test ends.
func startNodeChild(t testing.TB, spec nodeSpec) (string, *exec.Cmd) {
	t.Helper()
	raw, _ := json.Marshal(spec)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), nodeChildEnv+"="+string(raw))
	cmd.Stderr = os.Stderr
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("node %s: %v", spec.Name, err)
	}
	return strings.TrimSpace(line), cmd
}

func TestManyNodes(t *testing.T) {
	for _, kind := range []string{"postgres", "redis", "nats"} {
		t.Run(kind, func(t *testing.T) { testManyNodes(t, kind) })
	}
}

func testManyNodes(t *testing.T, kind string) {
	addr := brokerAddr(t, kind)
	dsn := postgresDSN(t)
	const ttl = time.Second
	stores, schema := freshPostgresSchema(t, 2)
	// 2,000 messages through three nodes, a killed process and reconnects:
	// generous, since CI runs the other packages' tests beside it.
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	run := fmt.Sprintf("mn%d", time.Now().UnixNano())

	// Nodes A and B in this process, C in a child process.
	var nodes [2]*testServer
	var disruptA func() error
	for i := range nodes {
		b, closeB, disrupt, err := openBroker(ctx, kind, addr, fmt.Sprintf("%s-%d", run, i))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { closeB() })
		if i == 0 {
			disruptA = disrupt
		}
		cfg := nodeConfig(stores[i], b, ttl)
		nodes[i] = newTestServer(t, func(c *chat.Config) { *c = cfg })
	}
	nodeA, nodeB := nodes[0], nodes[1]
	urlC, cmd := startNodeChild(t, nodeSpec{DSN: dsn, Schema: schema, Broker: kind, BrokerAddr: addr, Name: run + "-c", PresenceTTL: ttl})

	// Operators on B and C; visitors on A, whose connections the test cuts.
	ops := map[string]*client.Conn{}
	logs := map[string]*frameLog{"b1": {}, "b2": {}, "c1": {}}
	for id, url := range map[string]string{"b1": nodeB.URL, "b2": nodeB.URL, "c1": urlC} {
		c, err := client.DialOperator(ctx, url, client.Options{Header: http.Header{"X-Operator": {id}}, OnFrame: logs[id].add})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ops[id] = c
	}
	net := &cutter{conns: map[string][]net.Conn{}}
	const visitors = 9
	vs := make([]*client.Conn, visitors)
	vlogs := make([]*frameLog, visitors)
	convs := make([]string, visitors)
	for i := range vs {
		vlogs[i] = &frameLog{}
		c, err := client.DialVisitor(ctx, nodeA.URL, client.Options{HTTPClient: net.client("visitors"), OnFrame: vlogs[i].add})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		vs[i] = c
		m, err := c.Send(ctx, "", fmt.Sprintf("visitor %d: hello", i))
		if err != nil {
			t.Fatal(err)
		}
		convs[i] = m.Conv
	}
	// Everyone is assigned; who has what?
	owner := map[string]string{}
	for _, conv := range convs {
		c := waitAssigned(t, stores[0], conv)
		owner[conv] = c.OperatorID
	}
	t.Logf("assignment: %v", owner)

	// Traffic: visitors and B's operators write 2,000 messages in all
	// while the test cuts A's connections, drops the broker's and kills C.
	var sent atomic.Int64
	disruptions := map[int64]func(){
		400:  func() { net.cut("visitors") },
		800:  func() { disruptA() },
		1200: func() { cmd.Process.Kill() },
		1600: func() { net.cut("visitors") },
	}
	var dmu sync.Mutex
	tick := func() {
		n := sent.Add(1)
		dmu.Lock()
		d := disruptions[n]
		delete(disruptions, n)
		dmu.Unlock()
		if d != nil {
			d()
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i, v := range vs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 160 {
				tick()
				if _, err := v.Send(ctx, convs[i], fmt.Sprintf("visitor %d says %d", i, j)); err != nil {
					errs <- fmt.Errorf("visitor %d: %w", i, err)
					return
				}
			}
		}()
	}
	for _, id := range []string{"b1", "b2"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []string
			for conv, op := range owner {
				if op == id {
					mine = append(mine, conv)
				}
			}
			for j := 0; len(mine) > 0 && j < 560/2; j++ {
				conv := mine[j%len(mine)]
				tick()
				if _, err := ops[id].Send(ctx, conv, fmt.Sprintf("%s answers %d", id, j)); err != nil {
					errs <- fmt.Errorf("operator %s: %w", id, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("%d messages sent", sent.Load())

	// C's operator goes offline within the presence expiry, by itself.
	deadline := time.Now().Add(10 * ttl)
	for {
		loads, err := stores[1].OperatorLoads(ctx, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		offline := false
		for _, l := range loads {
			offline = offline || (l.Operator.ID == "c1" && l.Presence == chat.Offline)
		}
		if offline {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("node C's operator still online long after its node died")
		}
		time.Sleep(ttl / 10)
	}

	// Every acked message is on both sides exactly once, in order, and each
	// conversation has one live operator (C's went back to the queue and to B).
	for i, conv := range convs {
		c := waitOwnedBy(t, stores[0], conv, "b1", "b2")
		for name, cl := range map[string]*client.Conn{"visitor": vs[i], "operator " + c.OperatorID: ops[c.OperatorID]} {
			// Wait until the client holds the newest stored message it may
			// see; read the store again in case a system message ("Bea
			// joined") landed meanwhile.
			var want []*chat.Message
			for attempt := 0; ; attempt++ {
				stored, err := stores[0].Messages(ctx, chat.MessageQuery{ConversationID: conv})
				if err != nil {
					t.Fatal(err)
				}
				want = want[:0]
				for _, m := range stored {
					if name != "visitor" || m.Kind.VisibleToVisitor() {
						want = append(want, m)
					}
				}
				target := want[len(want)-1].Seq
				if err := cl.Wait(ctx, func(cl *client.Conn) bool { return containsSeq(cl.Messages(conv), target) }); err != nil {
					t.Fatalf("conversation %d: %s never caught up to seq %d: %v", i, name, target, err)
				}
				again, err := stores[0].Messages(ctx, chat.MessageQuery{ConversationID: conv})
				if err != nil {
					t.Fatal(err)
				}
				if len(again) == len(stored) || attempt == 5 {
					break
				}
			}
			ms := cl.Messages(conv)
			assertOrderedOnce(t, ms)
			if len(ms) != len(want) {
				t.Fatalf("conversation %d: %s holds %d messages, store has %d", i, name, len(ms), len(want))
			}
			for j := range ms {
				if ms[j].Seq != want[j].Seq || ms[j].Text != want[j].Text {
					t.Fatalf("conversation %d: %s message %d is seq %d, store has seq %d", i, name, j, ms[j].Seq, want[j].Seq)
				}
			}
		}
	}

	// Typing crosses nodes both ways: the visitor's draft (sneak peek) from A
	// reaches the operator on B; the operator's typing reaches the visitor.
	// Typing, invitations and live-list updates are at most once across the
	// broker (A's connection to it was dropped above), so each is repeated
	// until it arrives, as a typing widget does anyway.
	c0 := waitOwnedBy(t, stores[0], convs[0], "b1", "b2")
	op := ops[c0.OperatorID]
	sendUntilSeen(ctx, t, "the visitor's draft on the operator's node",
		func() error { return vs[0].Typing(ctx, convs[0], true, "is the card 4111 1111 1111 1111 ok") },
		op, logs[c0.OperatorID], func(f protocol.ServerFrame) bool {
			return f.Type == protocol.TypeTyping && f.Conv == convs[0] && f.Draft == "is the card •••• •••• •••• 1111 ok"
		})
	sendUntilSeen(ctx, t, "the operator's typing on the visitor's node",
		func() error { return op.Typing(ctx, convs[0], true, "") },
		vs[0], vlogs[0], func(f protocol.ServerFrame) bool {
			return f.Type == protocol.TypeTyping && f.From == protocol.RoleOperator && f.Typing
		})

	// The live list crosses nodes: the page a visitor on A opens shows in
	// B's list; an operator on B invites them and the invitation reaches A.
	browsing := &frameLog{}
	vb, err := client.DialVisitor(ctx, nodeA.URL, client.Options{OnFrame: browsing.add})
	if err != nil {
		t.Fatal(err)
	}
	defer vb.Close()
	visitor := vb.Me().ID
	if _, err := ops["b1"].LiveVisitors(ctx); err != nil { // later changes are pushed
		t.Fatal(err)
	}
	page := 0
	sendUntilSeen(ctx, t, "the visitor's page in the other node's live list",
		func() error { page++; return vb.Page(ctx, fmt.Sprintf("/product/%d", page), "A product", "") },
		ops["b1"], logs["b1"], func(f protocol.ServerFrame) bool {
			return f.Type == protocol.TypeVisitors && slices.ContainsFunc(f.Live, func(l protocol.LiveVisitor) bool {
				return l.ID == visitor && strings.HasPrefix(l.URL, "/product/")
			})
		})
	sendUntilSeen(ctx, t, "the invitation from the other node",
		func() error { return ops["b1"].Invite(ctx, visitor, "Can I help with this product?") },
		vb, browsing, func(f protocol.ServerFrame) bool {
			return f.Type == protocol.TypeInvite && f.Invite != nil && f.Invite.Text == "Can I help with this product?" &&
				f.Invite.Operator != nil && f.Invite.Operator.ID == "b1"
		})
}

// sendUntilSeen calls send, then waits up to two seconds for a frame
// matching seen in log (the frames of receiver), and repeats until one
// arrives or ctx ends: for frames the broker carries at most once.
func sendUntilSeen(ctx context.Context, t *testing.T, what string, send func() error, receiver *client.Conn, log *frameLog, seen func(protocol.ServerFrame) bool) {
	t.Helper()
	arrived := func(*client.Conn) bool { return slices.ContainsFunc(log.all(), seen) }
	for ctx.Err() == nil {
		if err := send(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		attempt, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := receiver.Wait(attempt, arrived)
		cancel()
		if err == nil {
			return
		}
	}
	t.Fatalf("%s never arrived: %v", what, ctx.Err())
}

func containsSeq(ms []protocol.Message, seq int64) bool {
	for _, m := range ms {
		if m.Seq == seq {
			return true
		}
	}
	return false
}

// waitAssigned waits until conv is assigned.
func waitAssigned(t testing.TB, st chat.Store, conv string) *chat.Conversation {
	return waitOwnedBy(t, st, conv)
}

// waitOwnedBy waits until conv is assigned (to one of ops, if given).
func waitOwnedBy(t testing.TB, st chat.Store, conv string, ops ...string) *chat.Conversation {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		c, err := st.Conversation(context.Background(), conv)
		if err != nil {
			t.Fatal(err)
		}
		if c.Status == chat.Assigned && (len(ops) == 0 || strings.Contains(strings.Join(ops, ","), c.OperatorID)) {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("conversation %s is %s with %q, want assigned to %v", conv, c.Status, c.OperatorID, ops)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
