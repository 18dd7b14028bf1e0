package ratelimit

import (
	"strconv"
	"testing"
	"time"
)

func TestBucketRefills(t *testing.T) {
	now := time.Unix(0, 0)
	b := NewBucket(2, 4, now)
	for i := range 4 {
		if !b.Allow(now) {
			t.Fatalf("token %d refused from a full bucket of 4", i)
		}
	}
	if b.Allow(now) {
		t.Fatal("an empty bucket allowed a fifth token")
	}
	if !b.Allow(now.Add(500 * time.Millisecond)) {
		t.Fatal("half a second at 2/s did not give one token back")
	}
	if b.Allow(now.Add(500 * time.Millisecond)) {
		t.Fatal("a refilled token was spent twice")
	}
}

func TestKeyedBoundsKeys(t *testing.T) {
	now := time.Unix(0, 0)
	k := NewKeyed(1, 1, 10)
	for i := range 1000 {
		k.Allow(strconv.Itoa(i), now)
	}
	if n := k.Len(); n > 10 {
		t.Fatalf("holds %d keys, want at most 10", n)
	}
	// Keys past the bound share the overflow bucket: it is spent.
	if k.Allow("new", now) {
		t.Fatal("a key past the bound escaped the limit")
	}
	// Once buckets refill they are forgotten and new keys get their own.
	later := now.Add(time.Hour)
	if !k.Allow("fresh", later) {
		t.Fatal("after every bucket refilled, a new key was refused")
	}
}
