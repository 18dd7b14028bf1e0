// Package refuse answers a request whose body the server will not read,
// and makes sure it is not read: the one rule that the Server's endpoints
// taking a body (uploads, frame POSTs) and transport/sse share.
package refuse

import (
	"net/http"
	"time"
)

// Error answers r with status and msg (as http.Error) and stops reading
// r's body, ending an HTTP/1 connection after the answer.
func Error(w http.ResponseWriter, r *http.Request, msg string, status int) {
	Close(w, r)
	http.Error(w, msg, status)
}

// Close makes the answer about to be written stop the reading of r's body:
// call it before writing the answer.
//
// Why a read deadline in the past, and "Connection: close" on HTTP/1: the
// header alone stops net/http from reading a next request, but after the
// handler it still reads up to 256 KiB of an unread body (for a chunked
// one, before it even writes the answer), and waits for it as long as the
// client stalls; the deadline ends that read at once, and the answer is
// still written. On HTTP/2 the deadline ends only the request's own stream
// and the header is not set: there it would shut the whole connection
// down, the client's other requests (an event stream) with it.
func Close(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 1 {
		w.Header().Set("Connection", "close")
	}
	// ErrNotSupported (a test recorder): no connection to stop reading.
	http.NewResponseController(w).SetReadDeadline(time.Now())
}
