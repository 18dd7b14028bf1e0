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
				case "idle":
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
