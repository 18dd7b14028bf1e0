package email

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/blob/file"
	"github.com/shopchat/chat/client"
	"github.com/shopchat/chat/internal/testphoto"
)

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
	photo := base64.StdEncoding.EncodeToString(testphoto.JPEG(32, 24))
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

// TestMissedReplyLinksAttachment: an operator's file in a missed reply is
// a signed link in the mail, never the file, and the link downloads it
// without any login until it expires.
func TestMissedReplyLinksAttachment(t *testing.T) {
	blobs, err := file.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rec, env, _ := newMailLoop(t, func(c *chat.Config, mail *Config) {
		if c != nil {
			c.Attachments.Blobs = blobs
		}
		if mail != nil {
			mail.ChatURL = "https://shop.test/chat/"
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	visitor, q, _ := askWhileOffline(t, ctx, env, rec)
	visitor.Close()
	op := aliceTakes(t, ctx, env, q.Conv)
	pdf := "%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
	a, err := op.Upload(ctx, "invoice.pdf", strings.NewReader(pdf))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := op.SendWith(ctx, client.Outgoing{Conv: q.Conv, Text: "Here is your invoice.", Attachments: []string{a.ID}}); err != nil {
		t.Fatal(err)
	}
	missed := rec.nextTo(testVisitor)
	link := regexp.MustCompile(`https://shop\.test/chat/(attachments/` + a.ID + `\?exp=\d+&sig=[A-Za-z0-9_-]+)`).FindStringSubmatch(missed.Text)
	if link == nil || !strings.Contains(missed.Text, "[invoice.pdf]") {
		t.Fatalf("the mail has no signed link to invoice.pdf:\n%s", missed.Text)
	}
	if strings.Contains(string(missed.Raw), "%PDF") {
		t.Error("the mail carries the file itself")
	}
	resp, err := http.Get(env.http.URL + "/chat/" + link[1])
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != pdf || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("link: %s %q %q", resp.Status, resp.Header.Get("Content-Disposition"), body)
	}
}
