package sqlite

import (
	"context"
	"time"
)

// Claim implements chat.Store in one statement through the writer; other
// processes sharing the file wait for SQLite's write lock, so the claim is
// atomic across them too.
func (s *Store) Claim(ctx context.Context, key string, now, expires time.Time) (bool, error) {
	var took bool
	err := s.write(ctx, func(w *writeStmts) error {
		res, err := w.claim.ExecContext(bg, key, micros(expires), micros(now))
		if err != nil {
			return dbErr("claim", err)
		}
		n, err := res.RowsAffected()
		took = n == 1
		return dbErr("claim", err)
	})
	if err != nil {
		return false, err
	}
	return took, nil
}
