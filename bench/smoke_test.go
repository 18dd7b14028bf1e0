package bench

import (
	"context"
	"os"
	"testing"
	"time"
)

// TestScenariosSmoke runs every scenario at tiny size against the baseline
// and the full server in this process, asserting only correctness: every
// message delivered exactly once, every visitor resumed. Timings are never
// asserted.
func TestScenariosSmoke(t *testing.T) {
	dsn := os.Getenv("SHOPCHAT_POSTGRES_DSN")
	for _, sc := range Scenarios(true) {
		t.Run(sc.Name, func(t *testing.T) {
			var stores []string
			for _, st := range sc.Stores {
				if st == "postgres" && dsn == "" {
					t.Log("postgres skipped: SHOPCHAT_POSTGRES_DSN is not set (CI sets it)")
					continue
				}
				stores = append(stores, st)
			}
			sc.Stores = stores
			var brokers []string
			for _, b := range sc.Brokers {
				env := map[string]string{"postgres": "SHOPCHAT_POSTGRES_DSN", "redis": "SHOPCHAT_REDIS_ADDR", "nats": "SHOPCHAT_NATS_URL"}[b]
				if os.Getenv(env) == "" || dsn == "" {
					t.Logf("two nodes through %s skipped: %s or SHOPCHAT_POSTGRES_DSN is not set (CI sets them)", b, env)
					continue
				}
				brokers = append(brokers, b)
			}
			sc.Brokers = brokers
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			res, err := RunScenario(ctx, sc, InProcess, 1, testLog{t})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range res {
				switch sc.Name {
				case "idle", "idle-page":
					if r.Conns == 0 {
						t.Errorf("%s: no connections", r.Server)
					}
				case "storm":
					if r.Errors != 0 || r.Resumes != r.Conns-2 || r.Dups != 0 || r.MissedTotal != int64(r.Resumes*r.Missed) {
						t.Errorf("%s: %s", r.Server, r.Brief())
					}
				default:
					if r.Errors != 0 || r.Acked != r.Sent || r.Received != r.Acked || r.Dups != 0 || r.Sent == 0 {
						t.Errorf("%s: %s", r.Server, r.Brief())
					}
				}
			}
		})
	}
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) { l.t.Log(string(p)); return len(p), nil }

// TestBrokerFaultSmoke runs the black-holed broker measurement at tiny size
// in this process: every message acked and delivered (timings unasserted).
func TestBrokerFaultSmoke(t *testing.T) {
	if os.Getenv("SHOPCHAT_POSTGRES_DSN") == "" || os.Getenv("SHOPCHAT_REDIS_ADDR") == "" {
		t.Skip("SHOPCHAT_POSTGRES_DSN or SHOPCHAT_REDIS_ADDR is not set (CI sets them)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := RunBrokerFault(ctx, InProcess, BrokerFaultConfig{Broker: "redis", Visitors: 2, Rate: 20, Phase: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(res)
	if res.Sent == 0 || res.Acked != res.Sent || res.Delivered != res.Acked {
		t.Errorf("sent %d, acked %d, delivered %d: want all acked and delivered", res.Sent, res.Acked, res.Delivered)
	}
}
