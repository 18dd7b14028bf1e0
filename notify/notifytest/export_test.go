package notifytest

import "time"

// SetTimeouts shortens the suite's waits for tests of the suite itself,
// where a broken Notifier makes cases time out. It returns a func that
// restores them.
func SetTimeouts(wait, grace time.Duration) (restore func()) {
	w, g := waitTimeout, graceTimeout
	waitTimeout, graceTimeout = wait, grace
	return func() { waitTimeout, graceTimeout = w, g }
}
