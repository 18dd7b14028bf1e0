// Package settle helps the brokers' tests check that Close leaves no
// goroutine behind.
package settle

import (
	"runtime"
	"testing"
	"time"
)

// Goroutines waits up to five seconds for the number of goroutines to fall
// back to baseline (taken with runtime.NumGoroutine before the brokers
// under test were opened) and fails t, with the stacks, if it does not.
func Goroutines(t testing.TB, baseline int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= baseline {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines left running after Close, %d before the brokers were opened:\n%s", n, baseline, buf)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
