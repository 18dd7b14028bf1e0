package chat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/blob/file"
	"github.com/shopchat/chat/client"
	"github.com/shopchat/chat/protocol"
)

// gpsJPEG returns a small JPEG carrying an EXIF segment with a GPS tag, as
// a phone photo does, followed by an HTML tail (a polyglot's trick).
func gpsJPEG(t testing.TB) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for x := range 40 {
		for y := range 30 {
			img.Set(x, y, color.RGBA{uint8(x * 6), uint8(y * 8), 90, 255})
		}
	}
	var plain bytes.Buffer
	require.NoError(t, jpeg.Encode(&plain, img, nil))
	exif := []byte("Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08GPSLatitude 47.3769N GPSLongitude 8.5417E")
	seg := append([]byte{0xFF, 0xE1, byte((len(exif) + 2) >> 8), byte(len(exif) + 2)}, exif...)
	out := append([]byte{}, plain.Bytes()[:2]...) // SOI
	out = append(out, seg...)
	out = append(out, plain.Bytes()[2:]...)
	return append(out, []byte("<html><script>alert(1)</script></html>")...)
}

type attachEnv struct {
	*testServer
	dir   string
	clock *atomic.Int64 // unix seconds
}

func newAttachServer(t *testing.T, edit ...func(*chat.Config)) *attachEnv {
	t.Helper()
	dir := t.TempDir()
	blobs, err := file.Open(dir)
	require.NoError(t, err)
	clock := new(atomic.Int64)
	clock.Store(time.Now().Unix()) // blob stores stamp blobs with the real time
	ts := newTestServer(t, append([]func(*chat.Config){func(c *chat.Config) {
		c.Attachments.Blobs = blobs
		c.Now = func() time.Time { return time.Unix(clock.Load(), 0) }
	}}, edit...)...)
	return &attachEnv{testServer: ts, dir: dir, clock: clock}
}

// upload posts data as name and returns the response status and metadata.
func (e *attachEnv) upload(t testing.TB, hc *http.Client, query, name string, data []byte) (int, protocol.Attachment) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.URL+"/chat/attachments?name="+name+query, bytes.NewReader(data))
	req.Header.Set("Content-Type", "image/jpeg") // a claim the server ignores
	req.Header.Set("X-Operator", "alice")
	resp, err := hc.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var a protocol.Attachment
	if resp.StatusCode == http.StatusCreated {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&a))
	}
	return resp.StatusCode, a
}

func (e *attachEnv) download(t testing.TB, hc *http.Client, url string, operator bool) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.URL+url, nil)
	if operator {
		req.Header.Set("X-Operator", "alice")
	}
	resp, err := hc.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, body
}

func (e *attachEnv) blobCount(t testing.TB) int {
	t.Helper()
	entries, err := os.ReadDir(e.dir)
	require.NoError(t, err)
	return len(entries)
}

func TestAttachmentSafetyAndAccess(t *testing.T) {
	e := newAttachServer(t)
	alice, mallory := e.visitorClient(t), e.visitorClient(t)

	status, photo := e.upload(t, alice, "", "holiday.jpeg", gpsJPEG(t))
	require.Equal(t, http.StatusCreated, status)
	assert.Equal(t, "image/jpeg", photo.Type)
	assert.Equal(t, [2]int{40, 30}, [2]int{photo.Width, photo.Height})
	assert.Equal(t, "holiday.jpg", photo.Name)

	resp, stored := e.download(t, alice, photo.URL, false)
	require.Equal(t, http.StatusOK, resp.StatusCode, "the uploader reads an unsent upload")
	assert.NotContains(t, string(stored), "Exif", "EXIF survived re-encoding")
	assert.NotContains(t, string(stored), "GPS")
	assert.NotContains(t, string(stored), "<script>", "the polyglot's tail survived")
	assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
	assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "sandbox")
	assert.Equal(t, "image/jpeg", resp.Header.Get("Content-Type"))
	_, err := jpeg.Decode(bytes.NewReader(stored))
	assert.NoError(t, err, "the stored image is a JPEG")

	resp, _ = e.download(t, mallory, photo.URL, false)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "another visitor reads an unsent upload")

	status, _ = e.upload(t, alice, "", "cat.jpg", []byte("<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"))
	assert.Equal(t, http.StatusUnsupportedMediaType, status, "HTML renamed .jpg")
	status, _ = e.upload(t, alice, "", "tool.exe", append([]byte("MZ\x90\x00"), make([]byte, 600)...))
	assert.Equal(t, http.StatusUnsupportedMediaType, status, "a program")
	status, _ = e.upload(t, alice, "", "fake.jpg", append([]byte{0xFF, 0xD8, 0xFF}, []byte("not really a jpeg at all, just bytes")...))
	assert.Equal(t, http.StatusUnsupportedMediaType, status, "a JPEG header on junk")
	status, _ = e.upload(t, alice, "", "big.txt", bytes.Repeat([]byte("a"), 10<<20+1))
	assert.Equal(t, http.StatusRequestEntityTooLarge, status, "over MaxFileSize")
	status, _ = e.upload(t, &http.Client{}, "", "x.txt", []byte("no token"))
	assert.Equal(t, http.StatusUnauthorized, status)

	// Alice sends it; a retry of the same client id binds it once.
	conn := e.dialRaw(t, alice, "/chat/ws", nil)
	conn.hello()
	send := protocol.ClientFrame{Type: protocol.TypeMessage, ID: "m1", Text: "it arrived broken", Attachments: []string{photo.ID}}
	conn.send(send)
	ack := conn.until(protocol.TypeAck)
	require.NotNil(t, ack.Message)
	require.Len(t, ack.Message.Attachments, 1)
	assert.Equal(t, photo.ID, ack.Message.Attachments[0].ID)
	conn.send(send)
	again := conn.until(protocol.TypeAck)
	assert.Equal(t, ack.Message.Seq, again.Message.Seq, "a retry is the original")
	require.Len(t, again.Message.Attachments, 1)

	// Every operator reads it; Mallory still does not.
	resp, _ = e.download(t, http.DefaultClient, photo.URL+"?role=operator", true)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "an operator reads a sent attachment")
	resp, _ = e.download(t, mallory, photo.URL, false)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "another visitor reads a sent attachment")

	// A PDF from the operator is a download, and a note's file stays internal.
	status, pdf := e.upload(t, http.DefaultClient, "&role=operator", "invoice.pdf", []byte("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"))
	require.Equal(t, http.StatusCreated, status)
	assert.Equal(t, "application/pdf", pdf.Type)
	op := e.dialRaw(t, http.DefaultClient, "/chat/operator/ws", http.Header{"X-Operator": {"alice"}})
	op.hello()
	op.send(protocol.ClientFrame{Type: protocol.TypeNote, ID: "n1", Conv: ack.Message.Conv, Attachments: []string{pdf.ID}})
	noteAck := op.until(protocol.TypeAck)
	require.Len(t, noteAck.Message.Attachments, 1)
	resp, _ = e.download(t, alice, pdf.URL, false)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "a visitor reads an internal note's file")
	resp, _ = e.download(t, http.DefaultClient, pdf.URL+"?role=operator", true)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("Content-Disposition"), "attachment")
	assert.Contains(t, resp.Header.Get("Content-Disposition"), "invoice.pdf")

	// A signed mail link works without a cookie until it expires.
	link := "/chat/" + e.Chat.AttachmentLink(photo.ID, time.Unix(e.clock.Load(), 0).Add(time.Hour))
	resp, _ = e.download(t, &http.Client{}, link, false)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "a signed link")
	resp, _ = e.download(t, &http.Client{}, strings.Replace(link, "sig=", "sig=x", 1), false)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "a forged link")
	e.clock.Add(2 * 3600)
	resp, _ = e.download(t, &http.Client{}, link, false)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "an expired link")

	// Erasure takes every blob of the visitor's conversations.
	_, leftover := e.upload(t, alice, "", "later.txt", []byte("never sent"))
	require.NotEmpty(t, leftover.ID)
	require.Equal(t, 3, e.blobCount(t))
	require.NoError(t, e.Chat.DeleteVisitor(context.Background(), ack.Message.Author.ID))
	assert.Equal(t, 0, e.blobCount(t), "blobs left after DeleteVisitor")
	resp, _ = e.download(t, http.DefaultClient, pdf.URL+"?role=operator", true)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}

// TestAttachmentSweep: uploads never sent expire, and blobs whose
// metadata went with a purged conversation are deleted; nothing else is.
func TestAttachmentSweep(t *testing.T) {
	e := newAttachServer(t)
	hc := e.visitorClient(t)
	_, kept := e.upload(t, hc, "", "kept.txt", []byte("sent, kept"))
	_, unsent := e.upload(t, hc, "", "unsent.txt", []byte("never sent"))
	conn := e.dialRaw(t, hc, "/chat/ws", nil)
	conn.hello()
	conn.send(protocol.ClientFrame{Type: protocol.TypeMessage, ID: "m1", Attachments: []string{kept.ID}})
	ack := conn.until(protocol.TypeAck)
	require.Len(t, ack.Message.Attachments, 1, "a message of files only")
	require.NoError(t, os.WriteFile(e.dir+"/orphan", []byte("a crash left me"), 0o600))
	old := time.Unix(e.clock.Load(), 0).Add(-time.Hour)
	require.NoError(t, os.Chtimes(e.dir+"/orphan", old, old))
	require.Equal(t, 3, e.blobCount(t))

	n, err := e.Chat.SweepAttachments(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, n, "only the old orphan goes before the TTL")
	e.clock.Add(25 * 3600)
	n, err = e.Chat.SweepAttachments(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, n, "the unsent upload expires")
	resp, _ := e.download(t, hc, unsent.URL, false)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, _ = e.download(t, hc, kept.URL, false)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "a sent file stays")

	// Retention: the conversation's metadata goes with it, then its blob.
	_, err = e.Store.CloseConversation(context.Background(), ack.Message.Conv, time.Unix(e.clock.Load(), 0))
	require.NoError(t, err)
	_, err = e.Store.PurgeClosed(context.Background(), time.Unix(e.clock.Load(), 0).Add(time.Second))
	require.NoError(t, err)
	e.clock.Add(3600)
	n, err = e.Chat.SweepAttachments(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Equal(t, 0, e.blobCount(t), "nothing orphaned")
}

// TestClientAttachments: the Go client uploads, sends with a message and
// downloads, as a visitor and as an operator.
func TestClientAttachments(t *testing.T) {
	e := newAttachServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := client.DialVisitor(ctx, e.URL, client.Options{})
	require.NoError(t, err)
	defer v.Close()
	a, err := v.Upload(ctx, "notes.txt", strings.NewReader("order 1042: two cups broken"))
	require.NoError(t, err)
	assert.Equal(t, "text/plain; charset=utf-8", a.Type)
	m, err := v.SendWith(ctx, client.Outgoing{Attachments: []string{a.ID}})
	require.NoError(t, err)
	require.Len(t, m.Attachments, 1)

	op, err := client.DialOperator(ctx, e.URL, client.Options{Header: http.Header{"X-Operator": {"alice"}}})
	require.NoError(t, err)
	defer op.Close()
	body, err := op.Download(ctx, m.Attachments[0])
	require.NoError(t, err)
	data, _ := io.ReadAll(body)
	body.Close()
	assert.Equal(t, "order 1042: two cups broken", string(data))

	_, err = v.Upload(ctx, "page.html", strings.NewReader("<html><body>hi</body></html>"))
	var ce *client.Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "invalid", ce.Code)
}

// TestAttachmentPhotoTurnedUpright: a phone's portrait photo (pixels
// stored sideways, EXIF orientation 6) is stored upright, since its EXIF
// is dropped.
func TestAttachmentPhotoTurnedUpright(t *testing.T) {
	e := newAttachServer(t)
	img := image.NewRGBA(image.Rect(0, 0, 40, 20)) // sensor: landscape, red on the left half
	for x := range 40 {
		for y := range 20 {
			c := color.RGBA{0, 0, 255, 255}
			if x < 20 {
				c = color.RGBA{255, 0, 0, 255}
			}
			img.Set(x, y, c)
		}
	}
	var plain bytes.Buffer
	require.NoError(t, jpeg.Encode(&plain, img, &jpeg.Options{Quality: 95}))
	// EXIF, big-endian TIFF, IFD0 with one entry: Orientation (0x0112) = 6.
	exif := []byte("Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00\x00\x00\x00\x00")
	seg := append([]byte{0xFF, 0xE1, 0, byte(len(exif) + 2)}, exif...)
	photo := append(append(append([]byte{}, plain.Bytes()[:2]...), seg...), plain.Bytes()[2:]...)

	hc := e.visitorClient(t)
	status, a := e.upload(t, hc, "", "portrait.jpg", photo)
	require.Equal(t, http.StatusCreated, status)
	assert.Equal(t, [2]int{20, 40}, [2]int{a.Width, a.Height}, "turned upright")
	_, stored := e.download(t, hc, a.URL, false)
	got, err := jpeg.Decode(bytes.NewReader(stored))
	require.NoError(t, err)
	// Turned 90° clockwise, the sensor's left (red) is now the top.
	r, _, b, _ := got.At(10, 5).RGBA()
	assert.Greater(t, r, b, "the top is red")
	r, _, b, _ = got.At(10, 35).RGBA()
	assert.Greater(t, b, r, "the bottom is blue")
}
