package brokertest_test

import (
	"github.com/shopchat/chat/internal/tbrecord"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/broker/brokertest"
)

func TestMain(m *testing.M) {
	// The in-memory brokers answer in microseconds; a broken one makes a
	// case wait for what never comes, so wait less than against a server.
	brokertest.SetTimeouts(500*time.Millisecond, time.Second, 50*time.Millisecond)
	os.Exit(m.Run())
}

// openMemory opens nodes of one fresh in-memory bus per test.
func openMemory(buffer int, wrap func(*node) chat.Broker) func(testing.TB) chat.Broker {
	bs := newBus()
	return func(t testing.TB) chat.Broker {
		n := bs.open(buffer)
		t.Cleanup(func() { _ = n.Close() })
		return wrap(n)
	}
}

func asIs(n *node) chat.Broker { return n }

// TestMemory runs the suite, as a backend's test does, against the
// correct in-memory broker.
func TestMemory(t *testing.T) {
	brokertest.Run(t, openMemory(64, asIs))
}

// run runs one case against nodes from open through a recorder.
func run(t *testing.T, c brokertest.Case, open func(testing.TB) chat.Broker) (failed, skipped bool, log string) {
	return tbrecord.Run(t, func(tb testing.TB) { c.Fn(tb, open) })
}

// TestRecorderPassesCorrectBroker makes sure a failure seen through the
// recorder comes from the broken broker, not from the harness, and that
// the correct broker, which has every optional method, skips nothing.
func TestRecorderPassesCorrectBroker(t *testing.T) {
	for _, c := range brokertest.Cases() {
		failed, skipped, log := run(t, c, openMemory(64, asIs))
		if failed {
			t.Errorf("%s failed on the in-memory broker through the recorder:\n%s", c.Name, log)
		}
		if skipped {
			t.Errorf("%s skipped on the in-memory broker:\n%s", c.Name, log)
		}
	}
}

// plain hides every method beyond chat.Broker.
type plain struct{ chat.Broker }

// TestOptionalMethods checks that a broker without Close, Disrupt and
// PublishBatch skips the cases that need them, saying why, and passes the
// others (the Slow case without checking drops).
func TestOptionalMethods(t *testing.T) {
	for _, c := range brokertest.Cases() {
		failed, skipped, log := run(t, c, openMemory(64, func(n *node) chat.Broker { return plain{n} }))
		if failed {
			t.Errorf("%s failed on a broker without optional methods:\n%s", c.Name, log)
		}
		optional := strings.HasPrefix(c.Name, "Close/") || strings.HasPrefix(c.Name, "Reconnect/") || c.Name == "Order/Batch"
		switch {
		case optional && !skipped:
			t.Errorf("%s did not skip on a broker without Close, Disrupt and PublishBatch", c.Name)
		case optional && !strings.Contains(log, "Close() error") && !strings.Contains(log, "brokertest.Disrupter") && !strings.Contains(log, "chat.BatchPublisher"):
			t.Errorf("%s skipped without naming what is missing: %q", c.Name, log)
		case !optional && skipped:
			t.Errorf("%s skipped:\n%s", c.Name, log)
		}
	}
}

func TestCaseNamesUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range brokertest.Cases() {
		area, name, ok := strings.Cut(c.Name, "/")
		if !ok || area == "" || name == "" || strings.Contains(name, "/") || strings.ContainsAny(c.Name, " \t") {
			t.Errorf("case name %q is not Area/Check", c.Name)
		}
		if seen[c.Name] {
			t.Errorf("case name %q used twice", c.Name)
		}
		seen[c.Name] = true
	}
}

// TestSuiteCatchesBrokenBrokers runs cases against deliberately broken
// brokers (broken_test.go) and requires that each fails where named.
func TestSuiteCatchesBrokenBrokers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		buffer int
		wrap   func(*node) chat.Broker
		caught []string // cases that must fail
	}{
		{"IgnoresCancel", 64, func(n *node) chat.Broker { return ignoresCancel{n} },
			[]string{"Cancel/StopsDelivery", "Cancel/Pending", "Cancel/Idempotent", "Cancel/FromDeliver"}},
		{"DeliversQueuedAfterCancel", 64, func(n *node) chat.Broker { return queuesAfterCancel{n} },
			[]string{"Cancel/Pending"}},
		{"CancelFromDeliverDeadlocks", 64, func(n *node) chat.Broker { return waitsForItself{n} },
			[]string{"Cancel/FromDeliver"}},
		{"CancelRemovesTopic", 64, func(n *node) chat.Broker { return &cancelsTopic{node: n, subs: map[string][]func(){}} },
			[]string{"Cancel/Idempotent"}},
		{"CancelTwiceUnrefsTwice", 64, func(n *node) chat.Broker { return &refcounted{node: n, topics: map[string]*rcTopic{}} },
			[]string{"Cancel/Idempotent"}},
		{"EveryTopic", 64, func(n *node) chat.Broker { return everyTopic{n} },
			[]string{"Delivery/EverySubscriber", "Delivery/TopicNames"}},
		{"TruncatedFoldedTopics", 64, func(n *node) chat.Broker { return foldedTopics{n} },
			[]string{"Delivery/TopicNames"}},
		{"LocalOnly", 64, func(n *node) chat.Broker { return localOnly{n} },
			[]string{"Delivery/OtherNode", "Delivery/EverySubscriber", "Order/OnePublisher", "Payload/Binary"}},
		{"LiveAfterSubscribeReturns", 64, func(n *node) chat.Broker { return &late{node: n} },
			[]string{"Delivery/SameNode", "Delivery/OtherNode", "Cancel/Resubscribe", "Concurrency/PublishSubscribe"}},
		{"Reorders", 64, func(n *node) chat.Broker { return reorders{n} },
			[]string{"Order/OnePublisher"}},
		{"BatchReversed", 64, func(n *node) chat.Broker { return batchReversed{n} },
			[]string{"Order/Batch"}},
		{"BatchFoldsIdentical", 64, func(n *node) chat.Broker { return batchFolds{n} },
			[]string{"Order/Batch"}},
		{"TextOnly", 64, func(n *node) chat.Broker { return textOnly{n} },
			[]string{"Payload/Binary"}},
		{"SmallLimit", 64, func(n *node) chat.Broker { return smallLimit{n} },
			[]string{"Payload/Large"}},
		{"SharesBuffers", 64, func(n *node) chat.Broker { return sharesBuffers{n} },
			[]string{"Payload/Copies"}},
		{"DeliversInPublish", 64, func(n *node) chat.Broker { return inPublish(n) },
			[]string{"Slow/OthersNotBlocked"}},
		{"UnboundedBuffer", 1 << 30, asIs,
			[]string{"Slow/OthersNotBlocked"}},
		{"IgnoresContext", 64, func(n *node) chat.Broker { return ignoresContext{n} },
			[]string{"Context/Done"}},
		{"LeaksFailedSubscribe", 64, func(n *node) chat.Broker { return leaksFailedSubscribe{n} },
			[]string{"Context/Done"}},
		{"PanicsAfterClose", 64, func(n *node) chat.Broker { return panicsAfterClose{n} },
			[]string{"Close/AfterClose", "Close/WhileBusy"}},
		{"NoErrorAfterClose", 64, func(n *node) chat.Broker { return noErrorAfterClose{n} },
			[]string{"Close/AfterClose", "Close/WhileBusy"}},
		{"DeliversAfterClose", 64, func(n *node) chat.Broker { return deliversAfterClose{n} },
			[]string{"Close/AfterClose"}},
		{"DeadAfterDisrupt", 64, func(n *node) chat.Broker { return deadAfterDisrupt{n} },
			[]string{"Reconnect/Disrupt"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, c := range brokertest.Cases() {
				if !slices.Contains(tc.caught, c.Name) {
					continue
				}
				failed, _, log := run(t, c, openMemory(tc.buffer, tc.wrap))
				if !failed {
					t.Errorf("%s passed against the broken broker", c.Name)
				} else if testing.Verbose() {
					t.Logf("%s failed as it should:\n%s", c.Name, log)
				}
			}
		})
	}
}
