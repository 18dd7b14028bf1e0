package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

var (
	// ErrSignature is wrapped by Verify's error when the signature is
	// missing, malformed or wrong (a forged or altered request, or another
	// secret).
	ErrSignature = errors.New("webhook: missing or invalid signature")
	// ErrTimestamp is wrapped by Verify's error when the timestamp is
	// missing, malformed or further from now than the allowed skew (a
	// replayed request, or a clock far off).
	ErrTimestamp = errors.New("webhook: missing, invalid or stale timestamp")
)

// DefaultMaxSkew is the skew Verify allows when given 0.
const DefaultMaxSkew = 5 * time.Minute

// Verify authenticates a delivery on the receiving side and decodes it. It
// reads at most MaxBodySize bytes of r.Body, checks X-Shopchat-Signature
// against secret in constant time, refuses an X-Shopchat-Timestamp more
// than maxSkew away from now (0: DefaultMaxSkew), and decodes the Event
// (unknown fields are ignored, so receivers keep working when fields are
// added). Afterwards r.Body holds the same bytes again, so a receiver
// rotating secrets may call Verify once per secret.
//
// The error wraps ErrSignature or ErrTimestamp for requests that are not
// authentic or too old; answer them, and any other error, with a 4xx
// status, which the sender does not retry. Verify does not de-duplicate:
// retries of one event carry the same Event.ID.
func Verify(r *http.Request, secret []byte, maxSkew time.Duration) (*Event, error) {
	if len(secret) == 0 {
		return nil, fmt.Errorf("%w: no secret to check it with", ErrSignature)
	}
	if maxSkew <= 0 {
		maxSkew = DefaultMaxSkew
	}
	tsText := r.Header.Get(HeaderTimestamp)
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return nil, ErrTimestamp
	}
	hexSig, ok := strings.CutPrefix(r.Header.Get(HeaderSignature), "sha256=")
	got, err := hex.DecodeString(hexSig)
	if !ok || err != nil || len(got) != sha256.Size {
		return nil, ErrSignature
	}
	if r.Body == nil {
		return nil, errors.New("webhook: request has no body")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodySize+1))
	if err != nil {
		return nil, fmt.Errorf("webhook: reading body: %w", err)
	}
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(body))
	if len(body) > MaxBodySize {
		return nil, fmt.Errorf("webhook: body exceeds %d bytes", MaxBodySize)
	}
	if !hmac.Equal(got, sum(secret, tsText, body)) {
		return nil, ErrSignature
	}
	if skew := time.Since(time.Unix(ts, 0)).Abs(); skew > maxSkew {
		return nil, fmt.Errorf("%w: signed %v from now", ErrTimestamp, skew.Truncate(time.Second))
	}
	var ev Event
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, fmt.Errorf("webhook: decoding event: %w", err)
	}
	if id := r.Header.Get(HeaderDelivery); id != "" && id != ev.ID {
		return nil, fmt.Errorf("webhook: %s %q does not match the event id %q", HeaderDelivery, id, ev.ID)
	}
	if typ := r.Header.Get(HeaderEvent); typ != "" && typ != string(ev.Type) {
		return nil, fmt.Errorf("webhook: %s %q does not match the event type %q", HeaderEvent, typ, ev.Type)
	}
	return &ev, nil
}
