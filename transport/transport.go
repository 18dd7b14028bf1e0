// Package transport defines how a chat server turns an HTTP request into a
// connection that carries protocol frames both ways. The root package chat
// re-exports these types; implementations live in subpackages named after
// what they use: transport/websocket (the default) and transport/sse
// (Server-Sent Events down, POST up, for networks that break WebSocket).
package transport

import (
	"context"
	"errors"
	"net/http"
)

// A Transport upgrades HTTP requests to frame connections.
type Transport interface {
	// Accept upgrades r. On failure it has already written an HTTP error
	// response (403 for a refused Origin) and returns the reason.
	Accept(w http.ResponseWriter, r *http.Request) (Conn, error)
}

// A Poster is a Transport whose clients send frames up in HTTP requests of
// their own (transport/sse: Server-Sent Events down, one POST per frame up).
// The Server routes those requests to Post, beside Accept's route, after
// authenticating them exactly as it authenticates Accept's request, and
// passes the authenticated principal to both with WithOwner.
//
// A Poster's connection writes to the response of the request Accept was
// given, so the Server keeps that request's handler running, reading the
// connection, until Read returns an error; the connection touches the
// response no more after that.
type Poster interface {
	Transport
	// Post hands the frame in r's body to the connection r names. A
	// connection that does not exist, or that Accept opened for another
	// owner, is refused with ErrUnknownConn (wrapped), after Post has
	// written an HTTP error response; so are frames the connection cannot
	// hold now. An oversized or non-text frame closes the connection as
	// Read describes.
	Post(w http.ResponseWriter, r *http.Request) error
}

type ownerKey struct{}

// WithOwner returns ctx naming the authenticated principal of a request
// (e.g. "v:" and a visitor id). The Server sets it on the requests it
// gives a Transport; a Poster binds each connection to it.
func WithOwner(ctx context.Context, owner string) context.Context {
	return context.WithValue(ctx, ownerKey{}, owner)
}

// Owner returns the principal WithOwner set on ctx, or "".
func Owner(ctx context.Context) string {
	o, _ := ctx.Value(ownerKey{}).(string)
	return o
}

// Conn is one client connection. Read is called from one goroutine only;
// Write may be called from another concurrently with Read, but never from
// two goroutines at once.
type Conn interface {
	// Read blocks for the next frame. It returns ErrClosed (wrapped) once the
	// connection is gone, and ErrTooLarge (wrapped) after closing it with
	// StatusTooLarge when a frame exceeds the read limit, and ErrUnsupported
	// (wrapped) after closing it with StatusUnsupported for a binary frame.
	Read(ctx context.Context) ([]byte, error)
	// Write sends one frame.
	Write(ctx context.Context, frame []byte) error
	// Close closes the connection with a status code and a short reason.
	Close(code StatusCode, reason string) error
}

// StatusCode is a close status, numbered as WebSocket's (RFC 6455 7.4).
type StatusCode int

// Close statuses used by the server.
const (
	StatusNormal        StatusCode = 1000 // the server is shutting down or the session ended
	StatusGoingAway     StatusCode = 1001
	StatusUnsupported   StatusCode = 1003 // a binary frame: the protocol is text
	StatusPolicy        StatusCode = 1008 // e.g. unsupported protocol version, no hello in time, logged out
	StatusTooLarge      StatusCode = 1009 // a frame exceeded the read limit
	StatusInternal      StatusCode = 1011
	StatusTryAgainLater StatusCode = 1013 // slow consumer or overload: reconnect and resume
)

var (
	// ErrClosed is returned by Read and Write once the connection is closed.
	ErrClosed = errors.New("transport: connection closed")
	// ErrTooLarge is returned by Read when a frame exceeds the read limit.
	ErrTooLarge = errors.New("transport: frame too large")
	// ErrUnsupported is returned by Read after closing the connection with
	// StatusUnsupported when a frame is not text.
	ErrUnsupported = errors.New("transport: binary frame")
	// ErrUnknownConn is returned by Poster.Post for a frame sent to a
	// connection that does not exist or belongs to another owner.
	ErrUnknownConn = errors.New("transport: no such connection")
	// ErrBusy is returned by Poster.Post when the connection holds as many
	// frames as it may; the client sends again shortly.
	ErrBusy = errors.New("transport: too many frames pending")
)
