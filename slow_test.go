package chat_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/client"
)

// stallingConn stops reading (like a client on a frozen phone) while
// stalled is set, until released.
type stallingConn struct {
	net.Conn
	stalled *atomic.Bool
	release chan struct{}
}

func (c *stallingConn) Read(p []byte) (int, error) {
	if c.stalled.Load() {
		<-c.release
	}
	return c.Conn.Read(p)
}

func TestSlowConsumerIsDisconnectedAndResumes(t *testing.T) {
	metrics := &countingMetrics{}
	ts := newTestServer(t, func(c *chat.Config) { c.SendQueue = 16; c.Metrics = metrics })
	ctx := testCtx(t)

	var stalled atomic.Bool
	release := make(chan struct{})
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &stallingConn{Conn: c, stalled: &stalled, release: release}, nil
		},
	}}
	v, err := client.DialVisitor(ctx, ts.URL, client.Options{HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	op := ts.operator(t, "alice", nil)
	first, err := v.Send(ctx, "", "hello")
	if err != nil {
		t.Fatal(err)
	}
	waitText(t, op, first.Conv, "hello")

	// The visitor stops reading; the operator keeps talking until the
	// server gives up on the visitor rather than buffering without bound.
	stalled.Store(true)
	big := strings.Repeat("x", 3000)
	sent := 0
	for metrics.get("slow_consumer_disconnects_total") == 0 {
		if sent == 5000 {
			t.Fatal("5,000 messages to a stalled visitor and the server never disconnected it")
		}
		if _, err := op.Send(ctx, first.Conv, fmt.Sprintf("%d %s", sent, big)); err != nil {
			t.Fatal(err)
		}
		sent++
	}
	// Unaffected: the operator's own connection still works.
	if _, err := op.Send(ctx, first.Conv, "last one"); err != nil {
		t.Fatal(err)
	}
	// The visitor wakes up, reconnects and resumes: every message, once, in order.
	stalled.Store(false)
	close(release)
	if err := v.Wait(ctx, func(c *client.Conn) bool { return c.Reconnects() > 0 && hasText(c, first.Conv, "last one") }); err != nil {
		t.Fatalf("visitor never caught up: %v", err)
	}
	ms := v.Messages(first.Conv)
	assertOrderedOnce(t, ms)
	got := 0
	for _, m := range ms {
		if strings.HasSuffix(m.Text, big) {
			got++
		}
	}
	if got != sent {
		t.Fatalf("visitor holds %d of the %d messages", got, sent)
	}
	t.Logf("disconnected after %d messages; reconnected %d times", sent, v.Reconnects())
}
