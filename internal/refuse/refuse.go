// Package refuse answers a request whose body the server will not read,
// and makes sure it is not read: the one rule that the Server's endpoints
// taking a body (uploads, frame POSTs) and transport/sse share.
package refuse

import (
	"net/http"
	"time"
)

// Error answers r with status and msg (as http.Error) and ends the HTTP
// connection after the answer without reading the rest of the body.
func Error(w http.ResponseWriter, msg string, status int) {
	Close(w)
	http.Error(w, msg, status)
}

// Close makes the answer about to be written the connection's last, and
// stops reading the connection: call it before writing the answer.
//
// Why both: "Connection: close" alone stops net/http from reading the next
// request, but after the handler it still reads up to 256 KiB of an unread
// body (for a chunked one, before it even writes the answer), and waits
// for it as long as the client stalls. A read deadline in the past ends
// that read at once; the answer is still written.
func Close(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
	// ErrNotSupported (a test recorder): no connection to stop reading.
	http.NewResponseController(w).SetReadDeadline(time.Now())
}
