package chat_test

// Hostile uploads and downloads, sent from outside as an attacker would:
// raw HTTP against the real Server's Handler.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/client"
	"github.com/shopchat/chat/internal/testphoto"
	"github.com/shopchat/chat/protocol"
)

// attackConn is one client TCP connection speaking HTTP/1.1 by hand.
type attackConn struct {
	t    *testing.T
	conn net.Conn
	br   *bufio.Reader
}

func (e *attachEnv) dialAttack(t *testing.T) *attackConn {
	t.Helper()
	conn, err := net.Dial("tcp", e.Listener.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	// A guard so a server that waits for a body we never send fails the
	// test instead of hanging it; nothing is timed.
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	return &attackConn{t: t, conn: conn, br: bufio.NewReader(conn)}
}

func (c *attackConn) write(s string) {
	c.t.Helper()
	_, err := c.conn.Write([]byte(s))
	require.NoError(c.t, err)
}

// response reads the next response, body included.
func (c *attackConn) response() (*http.Response, string) {
	c.t.Helper()
	resp, err := http.ReadResponse(c.br, &http.Request{Method: http.MethodPost})
	require.NoError(c.t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

// closedByServer reports whether the server closed the connection: the
// next read ends with EOF (or a reset), not with our guard deadline.
func (c *attackConn) closedByServer() bool {
	c.t.Helper()
	_, err := c.br.ReadByte()
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return err != nil
}

// cookie returns the visitor cookie hc holds, as a Cookie header value.
func (e *attachEnv) cookie(hc *http.Client) string {
	for _, c := range hc.Jar.Cookies(mustURL(e.URL + "/chat/")) {
		if c.Name == "shopchat_visitor" {
			return c.Name + "=" + c.Value
		}
	}
	return ""
}

// uploadHead is the head of an upload with cookie; extra header lines end
// with "\r\n".
func uploadHead(cookie, extra string) string {
	return "POST /chat/attachments?name=f.txt HTTP/1.1\r\nHost: shop.test\r\nCookie: " + cookie + "\r\n" + extra + "\r\n"
}

// stalledUpload starts an upload that declares a body and sends none of
// it, and returns once the server is reading it (holding an upload slot):
// net/http answers "Expect: 100-continue" at the handler's first read.
func (e *attachEnv) stalledUpload(t *testing.T, cookie string) *attackConn {
	t.Helper()
	c := e.dialAttack(t)
	c.write(uploadHead(cookie, "Content-Length: 1000\r\nExpect: 100-continue\r\n"))
	line, err := c.br.ReadString('\n')
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(line, "HTTP/1.1 100"), "want 100 Continue, got %q", line)
	_, err = c.br.ReadString('\n') // the blank line ending the interim answer
	require.NoError(t, err)
	return c
}

func TestAttackUploadOverCapRefusedFromContentLength(t *testing.T) {
	// The per-message cap is below the per-file one here: the smaller binds.
	e := newAttachServer(t, func(c *chat.Config) { c.Attachments.MaxMessageSize = 2 << 20 })
	cookie := e.cookie(e.visitorClient(t))
	for _, size := range []int64{2<<20 + 1, 10<<20 + 1, 1 << 40} {
		c := e.dialAttack(t)
		// Only the head: a server that read the body first would wait.
		c.write(uploadHead(cookie, fmt.Sprintf("Content-Length: %d\r\n", size)))
		resp, body := c.response()
		assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, "Content-Length %d", size)
		assert.Contains(t, body, "larger than 2 MiB")
		assert.True(t, resp.Close, "a refusal says Connection: close")
		assert.True(t, c.closedByServer(), "the connection stays open after a refusal")
	}
	// No token: refused as well, and the body is not read either.
	c := e.dialAttack(t)
	c.write(uploadHead("x=y", "Content-Length: 1000\r\n"))
	resp, _ := c.response()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.True(t, c.closedByServer())
}

// A chunked body declares no size: it is refused once reading passes the
// cap, and the rest is not read (the last chunk never comes).
func TestAttackChunkedUploadOverCap(t *testing.T) {
	e := newAttachServer(t, func(c *chat.Config) { c.Attachments.MaxFileSize = 64 << 10 })
	cookie := e.cookie(e.visitorClient(t))
	c := e.dialAttack(t)
	c.write(uploadHead(cookie, "Transfer-Encoding: chunked\r\n"))
	chunk := strings.Repeat("a", 4096)
	go func() {
		for range 2 * (64 << 10) / len(chunk) {
			if _, err := fmt.Fprintf(c.conn, "%x\r\n%s\r\n", len(chunk), chunk); err != nil {
				return
			}
		}
	}()
	resp, _ := c.response()
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	assert.True(t, resp.Close, "a refusal says Connection: close")
	assert.True(t, c.closedByServer(), "the server waits for the rest of the body")
}

// The download name's extension is the sniffed type's, never the one the
// client gave.
func TestAttackDownloadNameUsesSniffedType(t *testing.T) {
	e := newAttachServer(t, func(c *chat.Config) {
		c.Attachments.Types = []string{"application/pdf", "text/plain", "application/octet-stream"}
	})
	hc := e.visitorClient(t)
	pdf := []byte("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"invoice.exe", pdf, "invoice.pdf"},
		{"page.html", []byte("just words, no markup"), "page.txt"},
		{"vector.svg", []byte("just words"), "vector.txt"},
		{"noext", []byte("just words"), "noext.txt"},
		{"payload.html", []byte{0, 1, 2, 3, 0xfe, 0xff, 0, 9}, "payload.bin"},
	} {
		status, a := e.upload(t, hc, "", tc.name, tc.data)
		require.Equal(t, http.StatusCreated, status, tc.name)
		assert.Equal(t, tc.want, a.Name, "%s: stored name", tc.name)
		resp, _ := e.download(t, hc, a.URL, false)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Contains(t, resp.Header.Get("Content-Disposition"), `filename=`+tc.want, tc.name)
		assert.NotContains(t, resp.Header.Get("Content-Disposition"), ".html")
	}
}

func TestAttackDecompressionBombRefused(t *testing.T) {
	e := newAttachServer(t)
	hc := e.visitorClient(t)
	bomb := testphoto.PNG(100_000, 100_000) // 10^10 pixels: 40 GB decoded
	require.Less(t, len(bomb), 200)
	req, _ := http.NewRequest(http.MethodPost, e.URL+"/chat/attachments?name=bomb.png", bytes.NewReader(bomb))
	resp, err := hc.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnsupportedMediaType, resp.StatusCode)
	assert.Contains(t, string(body), "larger than 40000000 pixels")
}

// One visitor holds at most two upload slots: their further uploads wait
// for a turn (up to ten in all, one message's files), another visitor's
// upload goes through meanwhile, and the waiting ones go once the slots
// are given back.
func TestAttackOneUploaderCannotTakeEverySlot(t *testing.T) {
	e := newAttachServer(t)
	waiting := make(chan struct{}, 20)
	chat.OnUploadWaiting(e.Chat, func() { waiting <- struct{}{} })
	greedy, other := e.visitorClient(t), e.visitorClient(t)
	cookie := e.cookie(greedy)
	stalled := []*attackConn{e.stalledUpload(t, cookie), e.stalledUpload(t, cookie)}

	var queued []*attackConn
	for range chat.MaxAttachmentsPerMessage - 2 {
		c := e.dialAttack(t)
		c.write(uploadHead(cookie, "Content-Length: 5\r\n") + "hello")
		queued = append(queued, c)
		<-waiting // it holds no slot: it waits for the greedy visitor's turn
	}
	c := e.dialAttack(t)
	c.write(uploadHead(cookie, "Content-Length: 5\r\n") + "hello")
	resp, _ := c.response()
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "an eleventh upload at once")
	assert.NotEmpty(t, resp.Header.Get("Retry-After"))
	assert.True(t, c.closedByServer())

	status, _ := e.upload(t, other, "", "note.txt", []byte("mine"))
	assert.Equal(t, http.StatusCreated, status, "another visitor's upload while one holds two slots")

	for _, c := range stalled {
		c.conn.Close() // the stalled uploads fail, and give their turns back
	}
	for i, c := range queued {
		resp, _ := c.response()
		assert.Equal(t, http.StatusCreated, resp.StatusCode, "waiting upload %d", i)
	}
}

// An upload whose body stalls is ended at UploadTimeout with 408, and its
// slot is free again: nothing here depends on how long that takes.
func TestAttackStalledUploadTimesOut(t *testing.T) {
	e := newAttachServer(t, func(c *chat.Config) { c.Attachments.UploadTimeout = 50 * time.Millisecond })
	hc := e.visitorClient(t)
	cookie := e.cookie(hc)
	stalled := []*attackConn{e.stalledUpload(t, cookie), e.stalledUpload(t, cookie)}
	for _, c := range stalled {
		resp, _ := c.response()
		assert.Equal(t, http.StatusRequestTimeout, resp.StatusCode)
		assert.True(t, c.closedByServer())
	}
	status, _ := e.upload(t, hc, "", "after.txt", []byte("slots are back"))
	assert.Equal(t, http.StatusCreated, status, "the stalled uploads kept their slots")
}

// The Go client reports a stalled upload's 408 as "unavailable", a code
// worth retrying, not as a refused file.
func TestClientStalledUploadIsUnavailable(t *testing.T) {
	e := newAttachServer(t, func(c *chat.Config) { c.Attachments.UploadTimeout = 50 * time.Millisecond })
	v := e.visitor(t, nil)
	stall, feed := io.Pipe()
	t.Cleanup(func() { feed.Close() })
	_, err := v.Upload(testCtx(t), "slow.txt", stall)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Code != protocol.CodeUnavailable {
		t.Fatalf("stalled upload: %v, want a client.Error with code %q", err, protocol.CodeUnavailable)
	}
}

// visitorID returns hc's visitor id (renewing its token, as the widget does).
func (e *attachEnv) visitorID(t *testing.T, hc *http.Client) string {
	t.Helper()
	resp, err := hc.Post(e.URL+"/chat/session", "application/json", nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	var s struct {
		Visitor struct{ ID string } `json:"visitor"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&s))
	return s.Visitor.ID
}

// An expired or revoked token neither uploads nor downloads, not even the
// visitor's own files; nor does a visitor claiming to be an operator.
func TestAttackExpiredOrRevokedTokenCannotUploadOrDownload(t *testing.T) {
	e := newAttachServer(t, func(c *chat.Config) { c.VisitorTokenTTL = time.Hour })
	expiring, revoked := e.visitorClient(t), e.visitorClient(t)
	_, mine := e.upload(t, expiring, "", "mine.txt", []byte("mine"))
	_, theirs := e.upload(t, revoked, "", "theirs.txt", []byte("theirs"))
	require.NotEmpty(t, mine.ID)
	require.NotEmpty(t, theirs.ID)

	require.NoError(t, e.Chat.RevokeVisitor(context.Background(), e.visitorID(t, revoked)))
	status, _ := e.upload(t, revoked, "", "again.txt", []byte("again"))
	assert.Equal(t, http.StatusUnauthorized, status, "a revoked token uploads")
	resp, _ := e.download(t, revoked, theirs.URL, false)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "a revoked token downloads")

	req, _ := http.NewRequest(http.MethodGet, e.URL+theirs.URL+"?role=operator", nil)
	resp, err := expiring.Do(req) // a visitor's cookie, no operator login
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "a visitor posing as an operator")

	e.clock.Add(2 * 3600)
	status, _ = e.upload(t, expiring, "", "late.txt", []byte("late"))
	assert.Equal(t, http.StatusUnauthorized, status, "an expired token uploads")
	resp, _ = e.download(t, expiring, mine.URL, false)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "an expired token downloads")
}

// HEAD on a download answers the headers of a GET.
func TestAttackHeadDownload(t *testing.T) {
	e := newAttachServer(t)
	hc := e.visitorClient(t)
	_, a := e.upload(t, hc, "", "f.txt", []byte("twelve bytes"))
	req, _ := http.NewRequest(http.MethodHead, e.URL+a.URL, nil)
	resp, err := hc.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, int64(12), resp.ContentLength)
	assert.Contains(t, resp.Header.Get("Content-Disposition"), "f.txt")
}
