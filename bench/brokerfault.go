package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/shopchat/chat/client"
	"github.com/shopchat/chat/internal/faultproxy"
)

// BrokerFaultConfig is a run of the broker fault measurement: two node
// processes sharing PostgreSQL reach their broker through a proxy; visitors
// on the first node write to an operator on the second at a steady pace
// while the broker is healthy, then black-holed (the proxy stops
// forwarding without closing anything), then restored.
type BrokerFaultConfig struct {
	Broker   string        // postgres, redis or nats
	DSN      string        // PostgreSQL for the store (default $SHOPCHAT_POSTGRES_DSN)
	Visitors int           // conversations, one visitor each
	Rate     float64       // messages per second per visitor
	Phase    time.Duration // length of each phase
}

// BrokerFaultResult is the ack latency of each phase and how the messages
// fared.
type BrokerFaultResult struct {
	Broker string
	Phases []FaultPhase
	// Sent and Acked count every message; Delivered counts those the
	// operator on the other node held at the end.
	Sent, Acked, Delivered int
	// Healed is how long after the restore the operator held every message
	// acked before it.
	Healed time.Duration
}

// FaultPhase is one phase's acks: latency (from send to ack) of the
// messages sent in it, and errors.
type FaultPhase struct {
	Name   string
	Ack    Latency
	Errors int
}

func (r BrokerFaultResult) String() string {
	s := fmt.Sprintf("broker %s: sent %d acked %d delivered %d; what was acked before the restore was delivered %v after it\n", r.Broker, r.Sent, r.Acked, r.Delivered, r.Healed.Round(time.Millisecond))
	for _, p := range r.Phases {
		s += fmt.Sprintf("  %-12s acks %5d  %s  errors %d\n", p.Name, p.Ack.N, p.Ack, p.Errors)
	}
	return s
}

// RunBrokerFault runs the measurement with node processes from spawn.
func RunBrokerFault(ctx context.Context, spawn Spawner, cfg BrokerFaultConfig) (BrokerFaultResult, error) {
	res := BrokerFaultResult{Broker: cfg.Broker}
	addr, target, err := brokerTarget(cfg.Broker)
	if err != nil {
		return res, err
	}
	proxy, err := faultproxy.New(target)
	if err != nil {
		return res, err
	}
	defer proxy.Close()
	proxied := proxy.Addr()
	if u, err := url.Parse(addr); err == nil && u.Host != "" {
		u.Host = proxied
		proxied = u.String()
	}
	t, stop, err := twoNodes(spawn)(ctx, ServerConfig{Store: "postgres", DSN: cfg.DSN, Broker: cfg.Broker, BrokerAddr: proxied}, "")
	if err != nil {
		return res, err
	}
	defer stop()

	op, err := client.DialOperator(ctx, t.OperatorURL, client.Options{Header: http.Header{OperatorHeader: {"op"}}})
	if err != nil {
		return res, err
	}
	defer op.Close()
	vs := make([]*client.Conn, cfg.Visitors)
	convs := make([]string, cfg.Visitors)
	for i := range vs {
		v, err := client.DialVisitor(ctx, t.URL, client.Options{})
		if err != nil {
			return res, err
		}
		defer v.Close()
		m, err := v.Send(ctx, "", "hello")
		if err != nil {
			return res, err
		}
		if err := op.Wait(ctx, func(c *client.Conn) bool { return holds(c, m.Conv, m.Seq) }); err != nil {
			return res, fmt.Errorf("operator never got a first message: %w", err)
		}
		vs[i], convs[i] = v, m.Conv
	}

	names := []string{"healthy", "black-holed", "restored"}
	var mu sync.Mutex
	lat := make([][]time.Duration, len(names))
	errs := make([]int, len(names))
	last := make([]int64, len(vs))
	phase := 0
	done := make(chan struct{})
	var wg sync.WaitGroup
	for i, v := range vs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(time.Duration(float64(time.Second) / cfg.Rate))
			defer tick.Stop()
			for n := 0; ; n++ {
				select {
				case <-done:
					return
				case <-tick.C:
				}
				mu.Lock()
				p := phase
				res.Sent++
				mu.Unlock()
				sendCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
				start := time.Now()
				m, err := v.Send(sendCtx, convs[i], fmt.Sprintf("message %d", n))
				took := time.Since(start)
				cancel()
				mu.Lock()
				if err != nil {
					errs[p]++
				} else {
					res.Acked++
					lat[p] = append(lat[p], took)
					last[i] = m.Seq
				}
				mu.Unlock()
			}
		}()
	}
	healed := make(chan time.Duration, 1)
	for p := range names {
		mu.Lock()
		phase = p
		before := append([]int64(nil), last...)
		mu.Unlock()
		switch names[p] {
		case "black-holed":
			proxy.Blackhole()
		case "restored":
			proxy.Restore()
			go func() {
				start := time.Now()
				for i, conv := range convs {
					op.Wait(ctx, func(c *client.Conn) bool { return holds(c, conv, before[i]) })
				}
				healed <- time.Since(start)
			}()
		}
		select {
		case <-ctx.Done():
		case <-time.After(cfg.Phase):
		}
	}
	close(done)
	wg.Wait()
	for p, name := range names {
		res.Phases = append(res.Phases, FaultPhase{Name: name, Ack: summarize(lat[p]), Errors: errs[p]})
	}
	for i, conv := range convs {
		wait, cancel := context.WithTimeout(ctx, time.Minute)
		err := op.Wait(wait, func(c *client.Conn) bool { return holds(c, conv, last[i]) })
		cancel()
		if err != nil {
			return res, fmt.Errorf("conversation %d: the operator never got seq %d: %w", i, last[i], err)
		}
		for _, m := range op.Messages(conv) {
			if strings.HasPrefix(m.Text, "message ") {
				res.Delivered++
			}
		}
	}
	res.Healed = <-healed
	return res, nil
}

func holds(c *client.Conn, conv string, seq int64) bool {
	for _, m := range c.Messages(conv) {
		if m.Seq == seq {
			return true
		}
	}
	return false
}

// brokerTarget returns the broker's address and the host:port behind it.
func brokerTarget(kind string) (addr, target string, err error) {
	switch kind {
	case "postgres":
		addr = os.Getenv("SHOPCHAT_POSTGRES_DSN")
	case "redis":
		addr = envOr("SHOPCHAT_REDIS_ADDR", "127.0.0.1:6379")
		return addr, addr, nil
	case "nats":
		addr = envOr("SHOPCHAT_NATS_URL", "nats://127.0.0.1:4222")
	default:
		return "", "", fmt.Errorf("unknown broker %q (postgres, redis, nats)", kind)
	}
	u, err := url.Parse(addr)
	if err != nil || u.Host == "" {
		return "", "", fmt.Errorf("broker %s: %q is not a URL the proxy can stand in for", kind, addr)
	}
	return addr, u.Host, nil
}
