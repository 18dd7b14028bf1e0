package brokertest

import "time"

// SetTimeouts shortens the suite's waits for tests of the suite itself,
// where a broken broker makes cases time out. It returns a func that
// restores them.
func SetTimeouts(wait, recover, grace time.Duration) (restore func()) {
	w, r, g := waitTimeout, recoverTimeout, graceTimeout
	waitTimeout, recoverTimeout, graceTimeout = wait, recover, grace
	return func() { waitTimeout, recoverTimeout, graceTimeout = w, r, g }
}
