// Package ratelimit has the token buckets the chat server limits clients
// with: one Bucket per socket-independent key (a visitor, an operator, a
// remote address), kept in a bounded Keyed set.
package ratelimit

import (
	"sync"
	"time"
)

// Bucket is a token bucket: Rate tokens a second up to Burst. The zero
// value allows nothing; use NewBucket.
type Bucket struct {
	rate, burst, tokens float64
	last                time.Time
}

// NewBucket returns a full bucket.
func NewBucket(perSecond, burst float64, now time.Time) Bucket {
	return Bucket{rate: perSecond, burst: burst, tokens: burst, last: now}
}

// Allow takes one token if there is one.
func (b *Bucket) Allow(now time.Time) bool {
	b.refill(now)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func (b *Bucket) refill(now time.Time) {
	if now.After(b.last) {
		b.tokens += now.Sub(b.last).Seconds() * b.rate
		b.last = now
	}
	if b.tokens > b.burst {
		b.tokens = b.burst
	}
}

// full reports whether the bucket has refilled completely, so forgetting it
// changes nothing.
func (b *Bucket) full(now time.Time) bool {
	b.refill(now)
	return b.tokens >= b.burst
}

// Keyed is a set of buckets by key, safe for concurrent use. It holds at
// most Max keys: when full, it forgets the buckets that have refilled, and
// if none has, new keys share one overflow bucket, so a flood of distinct
// keys (addresses) neither grows memory nor escapes the limit.
type Keyed struct {
	rate, burst float64
	max         int

	mu        sync.Mutex
	buckets   map[string]*Bucket
	overflow  *Bucket
	lastPrune time.Time
}

// NewKeyed returns a set of buckets of perSecond tokens up to burst, for at
// most max keys.
func NewKeyed(perSecond, burst float64, max int) *Keyed {
	return &Keyed{rate: perSecond, burst: burst, max: max, buckets: make(map[string]*Bucket)}
}

// Allow takes a token from key's bucket.
func (k *Keyed) Allow(key string, now time.Time) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	b := k.buckets[key]
	if b == nil {
		if len(k.buckets) >= k.max && now.Sub(k.lastPrune) >= time.Second {
			k.lastPrune = now // at most once a second: a scan costs O(max)
			for key, b := range k.buckets {
				if b.full(now) {
					delete(k.buckets, key)
				}
			}
		}
		if len(k.buckets) >= k.max {
			if k.overflow == nil {
				ob := NewBucket(k.rate, k.burst, now)
				k.overflow = &ob
			}
			return k.overflow.Allow(now)
		}
		nb := NewBucket(k.rate, k.burst, now)
		b = &nb
		k.buckets[key] = b
	}
	return b.Allow(now)
}

// Len is the number of keys held.
func (k *Keyed) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.buckets)
}
