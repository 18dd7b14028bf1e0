package chat

import (
	"errors"
	"fmt"
)

// Sentinel errors. Stores, routers and the Server wrap them, so test with
// errors.Is.
var (
	// ErrNotFound: no such visitor, operator, conversation or message, or
	// one the caller may not see (the two are never told apart).
	ErrNotFound = errors.New("chat: not found")
	// ErrConflict: the record exists already, or is not in the state the
	// operation needs (assigning a closed conversation, a second open
	// conversation for one visitor).
	ErrConflict = errors.New("chat: conflict")
	// ErrCapacity: the operator already has as many open conversations as
	// their capacity allows.
	ErrCapacity = errors.New("chat: operator at capacity")
	// ErrInvalid: the input is malformed, empty or too long.
	ErrInvalid = errors.New("chat: invalid input")
	// ErrUnauthorized: no valid visitor token or operator credentials.
	ErrUnauthorized = errors.New("chat: unauthorized")
	// ErrForbidden: the caller is known but may not do this.
	ErrForbidden = errors.New("chat: forbidden")
	// ErrRateLimited: the caller did this too often; try again later.
	ErrRateLimited = errors.New("chat: rate limited")
	// ErrClosed: the Server has been closed.
	ErrClosed = errors.New("chat: server closed")
)

// invalidf returns an error wrapping ErrInvalid.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}
