package email

import (
	"bytes"
	"context"
	"encoding/base64"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/blob/file"
)

// phonePhoto is a JPEG with an EXIF segment naming a GPS position.
func phonePhoto(t testing.TB) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 32, 24))
	for x := range 32 {
		img.Set(x, x%24, color.RGBA{200, 30, 30, 255})
	}
	var plain bytes.Buffer
	if err := jpeg.Encode(&plain, img, nil); err != nil {
		t.Fatal(err)
	}
	exif := []byte("Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08GPSLatitude 47.3769N")
	seg := append([]byte{0xFF, 0xE1, 0, byte(len(exif) + 2)}, exif...)
	return append(append(append([]byte{}, plain.Bytes()[:2]...), seg...), plain.Bytes()[2:]...)
}

// TestReplyWithPhotoLandsAsAttachment: a customer answers our mail from
// their phone with a photo; over a real SMTP exchange it lands in the
// conversation as an attachment, through the upload's safety path (its
// EXIF gone), a file of a refused type is only named, and a second
// delivery of the same mail adds nothing.
func TestReplyWithPhotoLandsAsAttachment(t *testing.T) {
	dir := t.TempDir()
	blobs, err := file.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	e := newInboundEnv(t, func(c *chat.Config) { c.Attachments.Blobs = blobs }, nil)
	photo := base64.StdEncoding.EncodeToString(phonePhoto(t))
	mail := "From: Ann <" + testVisitor + ">\r\nTo: " + e.rcpt() + "\r\nSubject: Re: your order\r\nMessage-ID: <photo-1@example.com>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHere is the broken grinder.\r\n" +
		"--b\r\nContent-Type: image/jpeg\r\nContent-Disposition: attachment; filename=\"IMG_0042.JPG\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + photo + "\r\n" +
		"--b\r\nContent-Type: image/jpeg\r\nContent-Disposition: attachment; filename=\"invoice.jpg\"\r\n\r\n<html><script>alert(1)</script></html>\r\n" +
		"--b--\r\n"
	for range 2 { // the second delivery posts nothing new
		if err := sendSMTP(t, e.smtp, testVisitor, []string{e.rcpt()}, []byte(mail)); err != nil {
			t.Fatalf("SMTP: %v", err)
		}
	}
	texts := e.posted(t, 1)
	if want := "Here is the broken grinder.\n\n[Attachments sent by email, not shown in the chat: invoice.jpg]"; texts[0] != want {
		t.Errorf("posted %q, want %q", texts[0], want)
	}
	as, ok := chat.StoreAs[chat.AttachmentStore](e.store)
	if !ok {
		t.Fatal("memory store has no AttachmentStore")
	}
	got, err := as.MessageAttachments(context.Background(), e.conv, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Type != "image/jpeg" || got[0].Name != "IMG_0042.jpg" || got[0].Width != 32 {
		t.Fatalf("attachments = %+v, want the one photo", got)
	}
	r, _, err := blobs.Get(context.Background(), got[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := io.ReadAll(r)
	r.Close()
	if bytes.Contains(stored, []byte("Exif")) || bytes.Contains(stored, []byte("GPS")) {
		t.Error("the stored photo kept its EXIF")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		var names []string
		for _, en := range entries {
			names = append(names, en.Name())
		}
		t.Errorf("blobs = %s, want only the photo (the second delivery's upload discarded)", strings.Join(names, ", "))
	}
}
