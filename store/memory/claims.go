package memory

import (
	"context"
	"time"
)

// Claim implements chat.Store. Only this process shares a memory Store, so
// the mutex makes the claim atomic.
func (s *Store) Claim(_ context.Context, key string, now, expires time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if exp, ok := s.claims[key]; ok && exp.After(now) {
		return false, nil
	}
	s.claims[key] = expires
	return true, nil
}

// purgeClaims drops claims expired before cutoff, in PurgeClosed; s.mu is
// held.
func (s *Store) purgeClaims(cutoff time.Time) {
	for k, exp := range s.claims {
		if exp.Before(cutoff) {
			delete(s.claims, k)
		}
	}
}
