package chat

import (
	"context"
	"sync"
	"time"
)

// ClaimStore is the claims role of Store (optional): nodes use it to do a
// thing once across processes (a trigger's message per visit, an
// invitation's acceptance).
//
// Without it New uses an in-process stand-in on a single node, where one
// process is every node, and refuses to start with a Broker: claims are
// how the nodes agree.
type ClaimStore interface {
	// Claim atomically records key as taken until expires and reports
	// whether this call took it: false if an unexpired claim on key exists
	// (from any process sharing the store). A claim whose expiry has passed
	// may be taken again. PurgeClosed drops claims expired before its
	// cutoff. (Checked: key is 1 to MaxClaimKey bytes.)
	Claim(ctx context.Context, key string, now, expires time.Time) (bool, error)
}

// MaxClaimKey is the longest key Store.Claim takes, in bytes.
const MaxClaimKey = 200

func (c *checked) Claim(ctx context.Context, key string, now, expires time.Time) (bool, error) {
	if key == "" || len(key) > MaxClaimKey {
		return false, storeInvalid("claim key must be 1-%d bytes", MaxClaimKey)
	}
	if c.claims == nil {
		return false, c.missing("claims")
	}
	return c.claims.Claim(ctx, key, now, expires)
}

// claimsStandIn is the in-process ClaimStore for a store without the
// claims role. Expired claims are dropped as it grows, so it holds about
// as many claims as are live.
type claimsStandIn struct {
	mu     sync.Mutex
	claims map[string]time.Time // key -> expires
	sweep  int                  // size at which expired claims are next dropped
}

func (s *claimsStandIn) Claim(_ context.Context, key string, now, expires time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if exp, ok := s.claims[key]; ok && exp.After(now) {
		return false, nil
	}
	s.claims[key] = expires
	if len(s.claims) >= s.sweep {
		s.dropExpired(now)
		s.sweep = max(2*len(s.claims), 1024)
	}
	return true, nil
}

func (s *claimsStandIn) dropExpired(cutoff time.Time) {
	for k, exp := range s.claims {
		if exp.Before(cutoff) {
			delete(s.claims, k)
		}
	}
}

func (s *claimsStandIn) eraseVisitor(string) {}

func (s *claimsStandIn) purge(cutoff time.Time) {
	s.mu.Lock()
	s.dropExpired(cutoff)
	s.mu.Unlock()
}
