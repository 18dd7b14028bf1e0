package chat

import (
	"fmt"
	"testing"
)

// BenchmarkHubPublish measures fan-out of one event to n subscribed
// sessions (queueing only; the writers are held).
func BenchmarkHubPublish(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			s := &Server{cfg: Config{SendQueue: 1 << 30}}
			h := newHub()
			subs := make([]*session, n)
			for i := range subs {
				subs[i] = &session{s: s, held: true}
				h.subscribe(subs[i], "t")
			}
			ev := event{kind: evMessage}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				h.publish("t", ev)
				if i%1024 == 0 {
					for _, ss := range subs {
						ss.queue = ss.queue[:0]
					}
				}
			}
		})
	}
}
