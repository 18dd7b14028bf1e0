package chat_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/client"
)

// With the default PresenceTTL and RequeueOffline, the chats of an
// operator whose node dies (killed: no goodbye, no more heartbeats) move to
// an operator on another node within what a visitor will wait, about 50 s
// (docs/scaling.md); the old defaults took about 2.5 minutes, past
// waitOwnedBy's 90 s.
func TestDeadNodesChatsMoveWithDefaults(t *testing.T) {
	addr := brokerAddr(t, "postgres")
	dsn := postgresDSN(t)
	stores, schema := freshPostgresSchema(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	run := fmt.Sprintf("dn%d", time.Now().UnixNano())
	b, closeB, _, err := openBroker(ctx, "postgres", addr, run+"-a")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeB() })
	cfg := nodeConfig(stores[0], b, 0) // 0: the defaults
	cfg.BrokerTopic = run
	a := newTestServer(t, func(c *chat.Config) { *c = cfg })
	urlB, nodeB := startNodeChild(t, nodeSpec{DSN: dsn, Schema: schema, Broker: "postgres", BrokerAddr: addr, Name: run + "-b", Topic: run})

	opB, err := client.DialOperator(ctx, urlB, client.Options{Header: http.Header{"X-Operator": {"b1"}}, NoReconnect: true})
	if err != nil {
		t.Fatal(err)
	}
	defer opB.Close()
	v, err := client.DialVisitor(ctx, a.URL, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	m, err := v.Send(ctx, "", "is anyone there?")
	if err != nil {
		t.Fatal(err)
	}
	waitOwnedBy(t, stores[0], m.Conv, "b1")
	opA, err := client.DialOperator(ctx, a.URL, client.Options{Header: http.Header{"X-Operator": {"c1"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer opA.Close()

	if err := nodeB.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	waitOwnedBy(t, stores[0], m.Conv, "c1")
	t.Logf("the dead node's chat moved to another operator %s after the kill", time.Since(killed).Round(time.Second))
}
