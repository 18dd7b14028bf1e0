package routertest

import "time"

// SetTimeout shortens the wait for one Rank call, for tests of the suite
// itself, where a broken Router blocks. It returns a func that restores it.
func SetTimeout(wait time.Duration) (restore func()) {
	w := waitTimeout
	waitTimeout = wait
	return func() { waitTimeout = w }
}
