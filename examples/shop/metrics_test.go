package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shopchat/chat/client"
)

// The shop's monitoring scrapes /metrics: message latency histograms and
// queue gauges once a visitor has written, and /healthz says the chat's
// store answers.
func TestMetricsAndHealth(t *testing.T) {
	s, ts := startShop(t, shopConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := client.DialVisitor(ctx, ts.URL, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	m, err := v.Send(ctx, "", "Do you have the grinder in black?")
	if err != nil {
		t.Fatal(err)
	}
	// Alice comes online: the queue is dispatched and the message
	// delivered to her.
	alice := s.dialOperator(t, ctx, ts, "alice", client.Options{})
	if err := alice.Wait(ctx, func(c *client.Conn) bool { return len(c.Messages(m.Conv)) > 0 }); err != nil {
		t.Fatal(err)
	}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	want := []string{
		"shopchat_store_append_seconds_bucket",     // a message's store write
		"shopchat_message_delivery_seconds_bucket", // stored to delivered (the sender's own echo)
		"shopchat_queue_live ",                     // the queue's gauges
		"shopchat_queue_waiting_for_reply ",
		"shopchat_messages_total ",
		"shopchat_connections_total ",
	}
	// The gauges follow the queue's publication, just after the delivery.
	for {
		code, body := get("/metrics")
		if code != http.StatusOK {
			t.Fatalf("/metrics: %d", code)
		}
		var missing []string
		for _, w := range want {
			if !strings.Contains(body, w) {
				missing = append(missing, strings.TrimSpace(w))
			}
		}
		if len(missing) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("/metrics lacks %q:\n%s", missing, body)
		case <-time.After(50 * time.Millisecond): // a condition poll
		}
	}
	if code, body := get("/healthz"); code != http.StatusOK || !strings.Contains(body, `"ok"`) {
		t.Fatalf("/healthz: %d %s", code, body)
	}
}
