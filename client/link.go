package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/shopchat/chat/transport/sse"
)

// link is one connection to the server: a WebSocket, or with Options.SSE
// an event stream and the POSTs that feed it.
type link interface {
	read(ctx context.Context) ([]byte, error)
	write(ctx context.Context, frame []byte) error
	close()    // politely
	closeNow() // at once; a read or write in flight fails
}

type wsLink struct{ ws *websocket.Conn }

func (l wsLink) read(ctx context.Context) ([]byte, error) {
	_, data, err := l.ws.Read(ctx)
	return data, err
}
func (l wsLink) write(ctx context.Context, frame []byte) error {
	return l.ws.Write(ctx, websocket.MessageText, frame)
}
func (l wsLink) close()    { l.ws.Close(websocket.StatusNormalClosure, "") }
func (l wsLink) closeNow() { l.ws.CloseNow() }

// closeError is a stream ended by the server's close event.
type closeError struct {
	Code   int    `json:"code"`
	Reason string `json:"reason"`
}

func (e *closeError) Error() string {
	return fmt.Sprintf("client: stream closed with status %d: %s", e.Code, e.Reason)
}

// closeStatus is the close status err carries, WebSocket's or the stream's
// close event's; -1 for none.
func closeStatus(err error) int {
	if s := websocket.CloseStatus(err); s != -1 {
		return int(s)
	}
	var ce *closeError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return -1
}

func (c *Conn) dialSocket(ctx context.Context) (link, error) {
	if c.opts.SSE {
		return c.dialStream(ctx)
	}
	ws, resp, err := websocket.Dial(ctx, c.wsURL, &websocket.DialOptions{HTTPClient: c.hc, HTTPHeader: c.header})
	if err == nil {
		ws.SetReadLimit(readLimit)
		return wsLink{ws}, nil
	}
	if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols && resp.StatusCode != 0 {
		return nil, refused(c.wsURL, resp)
	}
	return nil, fmt.Errorf("client: dial %s: %w", c.wsURL, err)
}

func refused(url string, resp *http.Response) error {
	var body []byte
	if resp.Body != nil {
		body, _ = io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	}
	return &statusError{code: resp.StatusCode, msg: fmt.Sprintf("GET %s: HTTP %d: %s", url, resp.StatusCode, strings.TrimSpace(string(body)))}
}

// sseLink is an event stream (GET) and the POSTs that send frames to it.
type sseLink struct {
	c       *Conn
	id      string // the stream's id, from its first event
	body    io.ReadCloser
	sc      *bufio.Scanner
	cancel  context.CancelFunc // ends the stream
	postURL string
}

// dialStream opens the event stream; ctx bounds the opening only.
func (c *Conn) dialStream(ctx context.Context) (link, error) {
	sctx, cancel := context.WithCancel(c.ctx)
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	req, err := http.NewRequestWithContext(sctx, http.MethodGet, c.sseURL, nil)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("client: %w", err)
	}
	req.Header = c.header.Clone()
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.hc.Do(req)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("client: dial %s: %w", c.sseURL, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		cancel()
		return nil, refused(c.sseURL, resp)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), readLimit)
	l := &sseLink{c: c, body: resp.Body, sc: sc, cancel: cancel, postURL: c.sseURL}
	ev, data, err := l.next()
	if err == nil && ev != "stream" {
		err = fmt.Errorf("client: %s: first event %q, want stream", c.sseURL, ev)
	}
	if err != nil {
		l.closeNow()
		return nil, err
	}
	l.id = data
	return l, nil
}

// next reads one event: its name ("" for a frame) and data.
func (l *sseLink) next() (event, data string, err error) {
	var b strings.Builder
	has := false
	for l.sc.Scan() {
		line := l.sc.Text()
		switch {
		case line == "":
			if has || event != "" {
				return event, b.String(), nil
			}
		case strings.HasPrefix(line, ":"): // a heartbeat
		default:
			k, v, _ := strings.Cut(line, ":")
			v = strings.TrimPrefix(v, " ")
			switch k {
			case "event":
				event = v
			case "data":
				if has {
					b.WriteByte('\n')
				}
				b.WriteString(v)
				has = true
			}
		}
	}
	err = l.sc.Err()
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return "", "", fmt.Errorf("client: event stream: %w", err)
}

func (l *sseLink) read(context.Context) ([]byte, error) { // closeNow ends it
	for {
		ev, data, err := l.next()
		switch {
		case err != nil:
			return nil, err
		case ev == "" || ev == "message":
			return []byte(data), nil
		case ev == "close":
			ce := &closeError{}
			json.Unmarshal([]byte(data), ce)
			return nil, ce
		}
	}
}

// write POSTs frame, again after a pause while the stream holds all the
// frames it may. A frame too large or not text is refused with 413 or 415
// and the stream's close event, which read reports, as over WebSocket.
func (l *sseLink) write(ctx context.Context, frame []byte) error {
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.postURL, bytes.NewReader(frame))
		if err != nil {
			return fmt.Errorf("client: %w", err)
		}
		req.Header = l.c.header.Clone()
		req.Header.Set(sse.StreamHeader, l.id)
		req.Header.Set("Content-Type", "text/plain; charset=utf-8")
		resp, err := l.c.hc.Do(req)
		if err != nil {
			return fmt.Errorf("client: POST %s: %w", l.postURL, err)
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusNoContent, http.StatusOK, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
			return nil
		case http.StatusTooManyRequests:
			t := time.NewTimer(50 * time.Millisecond)
			select {
			case <-t.C:
				continue
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			}
		}
		return fmt.Errorf("client: POST %s: HTTP %d", l.postURL, resp.StatusCode)
	}
}

func (l *sseLink) close() { l.closeNow() }

func (l *sseLink) closeNow() {
	l.cancel()
	l.body.Close()
}
