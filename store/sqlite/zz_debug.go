package sqlite

import (
	"sync/atomic"
	"time"
)

var DebugBatches, DebugItems, DebugBusyNs atomic.Int64

func debugRecord(n int, d time.Duration) {
	DebugBatches.Add(1)
	DebugItems.Add(int64(n))
	DebugBusyNs.Add(int64(d))
}
