package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// ErrUnhealthy is wrapped by Check's error: a dependency is unreachable.
var ErrUnhealthy = errors.New("chat: unhealthy")

// Check reports whether the Server can work: the Store answers a read and,
// with a Broker, the last publish succeeded. It returns nil or an error
// wrapping ErrUnhealthy that names what failed. Mount HealthHandler for a
// load balancer or an orchestrator's probe.
func (s *Server) Check(ctx context.Context) error {
	if s.ctx.Err() != nil {
		return fmt.Errorf("%w: the server is closed", ErrUnhealthy)
	}
	// A read that finds nothing: it reaches the store and costs an index
	// lookup.
	if _, err := s.store.Conversation(ctx, "00000000-0000-0000-0000-000000000000"); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%w: store: %w", ErrUnhealthy, err)
	}
	if s.bridge != nil && s.bridge.failing.Load() {
		return fmt.Errorf("%w: broker: publishing fails (other nodes catch up from the store once it is back)", ErrUnhealthy)
	}
	return nil
}

// HealthHandler answers with 200 and {"status":"ok"} when Check passes,
// else 503 and {"status":"unhealthy"} (the reason goes to the log, not to
// whoever asks), within 5 s.
// Mount it where the shop's probes look, e.g. mux.Handle("/healthz", srv.HealthHandler()).
func (s *Server) HealthHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if err := s.Check(ctx); err != nil {
			s.log.Warn("health check failed", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			json.NewEncoder(w).Encode(map[string]string{"status": "unhealthy"})
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"status": "ok"})
	})
}
