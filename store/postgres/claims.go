package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// Claim implements chat.Store in one statement: a concurrent claim of the
// same key waits on the row's lock and then sees the winner's expiry, so
// of any number of racing calls (on any node) one takes it. RETURNING
// yields a row only when this call inserted or re-took the key.
func (s *Store) Claim(ctx context.Context, key string, now, expires time.Time) (bool, error) {
	if err := unstorable("claim key", key); err != nil {
		return false, err
	}
	took := false
	err := s.write(ctx, "claim", func() error {
		var k string
		err := s.pool.QueryRow(ctx, `INSERT INTO chat_claims (key, expires) VALUES ($1, $2)
			ON CONFLICT (key) DO UPDATE SET expires = excluded.expires WHERE chat_claims.expires <= $3
			RETURNING key`, key, expires, now).Scan(&k)
		took = err == nil
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	})
	if err != nil {
		return false, err
	}
	return took, nil
}
