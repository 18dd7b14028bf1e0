package chat_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	ws "github.com/coder/websocket"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/store/memory"
)

// A logout on one node closes the visitor's socket and the operator's
// console on another, through each real broker.
func TestLogoutAcrossBrokers(t *testing.T) {
	for _, kind := range []string{"postgres", "redis", "nats"} {
		t.Run(kind, func(t *testing.T) {
			addr := brokerAddr(t, kind)
			stores, _ := freshPostgresSchema(t, 2)
			ctx := testCtx(t)
			run := fmt.Sprintf("lo%d", time.Now().UnixNano())
			var nodes [2]*testServer
			for i := range nodes {
				b, closeB, _, err := openBroker(ctx, kind, addr, fmt.Sprintf("%s-%d", run, i))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { closeB() })
				cfg := nodeConfig(stores[i], b, time.Minute)
				cfg.BrokerTopic = run
				nodes[i] = newTestServer(t, func(c *chat.Config) { *c = cfg })
			}
			a, b := nodes[0], nodes[1]
			token := newToken(t, a)
			onB, _ := b.dialToken(t, b.URL, "/chat/ws", token) // stores the visitor
			onB.hello()
			op := b.dialRaw(t, nil, "/chat/operator/ws", http.Header{"X-Operator": {"b1"}})
			op.hello()
			id, _, _ := strings.Cut(token, ".")
			if err := a.Chat.RevokeVisitor(ctx, id); err != nil {
				t.Fatal(err)
			}
			if got := onB.closeStatus(); got != ws.StatusPolicyViolation {
				t.Fatalf("the visitor's socket on the other node ended with %d, want 1008", got)
			}
			if err := a.Chat.DisconnectOperator(ctx, "b1"); err != nil {
				t.Fatal(err)
			}
			if got := op.closeStatus(); got != ws.StatusPolicyViolation {
				t.Fatalf("the operator's console on the other node ended with %d, want 1008", got)
			}
		})
	}
}

// DeleteVisitor on one node closes the erased visitor's sockets on the
// others too: a widget left open there would go on writing for a visitor
// who no longer exists.
func TestDeleteVisitorClosesSocketsOnEveryNode(t *testing.T) {
	bus, store := &testBus{}, memory.New()
	var nodes [2]*testServer
	for i := range nodes {
		nodes[i] = newTestServer(t, func(c *chat.Config) { c.Store, c.Broker = store, bus })
	}
	a, b := nodes[0], nodes[1]
	token := newToken(t, a)
	onA, _ := a.dialToken(t, a.URL, "/chat/ws", token)
	onA.hello()
	onB, _ := b.dialToken(t, b.URL, "/chat/ws", token)
	onB.hello()
	id, _, _ := strings.Cut(token, ".")
	if err := a.Chat.DeleteVisitor(testCtx(t), id); err != nil {
		t.Fatal(err)
	}
	if got := onB.closeStatus(); got != ws.StatusPolicyViolation {
		t.Fatalf("the visitor's socket on the other node ended with %d, want 1008", got)
	}
	if got := onA.closeStatus(); got != ws.StatusPolicyViolation {
		t.Fatalf("the visitor's socket on the erasing node ended with %d, want 1008", got)
	}
}
