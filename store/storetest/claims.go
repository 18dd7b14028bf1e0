package storetest

import (
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopchat/chat"
)

// mustClaim claims key at now until expires and returns whether it took it.
func mustClaim(t testing.TB, s store, key string, now, expires int) bool {
	t.Helper()
	took, err := s.Claim(ctx, key, at(now), at(expires))
	require.NoError(t, err, "Claim %q at %d until %d", key, now, expires)
	return took
}

func claimCases() []def {
	return []def{
		{"Claims/Once", func(t testing.TB, s store) {
			require.True(t, mustClaim(t, s, "trigger:t1:v1:x", 0, 60), "a free key is taken")
			assert.False(t, mustClaim(t, s, "trigger:t1:v1:x", 0, 60), "the same claim again")
			assert.False(t, mustClaim(t, s, "trigger:t1:v1:x", 59, 120), "a claim a second before the expiry")
		}},
		{"Claims/Expiry", func(t testing.TB, s store) {
			require.True(t, mustClaim(t, s, "k", 0, 60))
			assert.False(t, mustClaim(t, s, "k", 10, 1000), "refused while taken")
			require.True(t, mustClaim(t, s, "k", 60, 120), "taken again at its expiry (a refused claim changes no expiry)")
			assert.False(t, mustClaim(t, s, "k", 61, 200), "the new claim holds until its own expiry")
			assert.True(t, mustClaim(t, s, "k", 500, 600), "taken again long after")
		}},
		{"Claims/DistinctKeys", func(t testing.TB, s store) {
			for _, k := range []string{"a", "b", "a:1", "A", "invitation:a"} {
				assert.True(t, mustClaim(t, s, k, 0, 60), "key %q is its own", k)
			}
			assert.False(t, mustClaim(t, s, "a", 1, 60))
		}},
		{"Claims/Race", func(t testing.TB, s store) {
			const workers = 16
			var took atomic.Int32
			var unexpected firstErr
			parallel(workers, func(int) {
				ok, err := s.Claim(ctx, "invitation:race", at(0), at(60))
				if err != nil {
					unexpected.set(err)
				} else if ok {
					took.Add(1)
				}
			})
			require.NoError(t, unexpected.err, "Claim")
			assert.Equal(t, int32(1), took.Load(), "of %d racing claims of one key exactly one takes it", workers)
		}},
		{"Claims/Invalid", func(t testing.TB, s store) {
			for _, k := range []string{"", strings.Repeat("k", chat.MaxClaimKey+1)} {
				_, err := s.Claim(ctx, k, at(0), at(60))
				assert.ErrorIs(t, err, chat.ErrInvalid, "Claim of a %d-byte key", len(k))
			}
			assert.True(t, mustClaim(t, s, strings.Repeat("k", chat.MaxClaimKey), 0, 60), "a key of the longest length")
		}},
		{"Claims/PurgeKeepsUnexpired", func(t testing.TB, s store) {
			require.True(t, mustClaim(t, s, "k", 0, 100))
			_, err := s.PurgeClosed(ctx, at(50))
			require.NoError(t, err, "PurgeClosed")
			assert.False(t, mustClaim(t, s, "k", 60, 200), "PurgeClosed freed a claim that had not expired by its cutoff")
		}},
	}
}
