package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/internal/testphoto"
)

// TestBrowserAttachments is issue 17's end-to-end check: a visitor sends
// a phone photo from the widget (file chooser, then paste), the operator
// sees the thumbnails live and downloads one, the stored image has no
// EXIF; the operator sends a PDF back; an HTML file renamed .jpg is
// refused; another visitor cannot fetch either file; after DeleteVisitor no
// blob remains.
func TestBrowserAttachments(t *testing.T) {
	s, ts := startShop(t, shopConfig{})
	dir := t.TempDir()
	photo := testphoto.JPEG(64, 48)
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	operator := newChromium(t, 1366, 768)
	operator.openConsole(ts.URL, "alice")
	visitor := newChromium(t, 1280, 800)
	visitor.navigate(ts.URL + "/")
	visitor.waitFor("the widget to connect", `document.querySelector('#shopchat')?.dataset.state === 'ready'`)
	visitor.run("open the widget", chromedp.Evaluate[chromedp.Void](widgetQ("[data-sc=launcher]")+`.click()`))
	visitor.waitFor("the attach button", widgetQ("[data-sc=attach]")+` !== null && !!`+widgetQ("[data-sc=input]"))
	visitor.run("type", chromedp.Evaluate[chromedp.Void](setValueJS(widgetQ("[data-sc=input]"), "My grinder arrived broken")))
	visitor.run("send", chromedp.Evaluate[chromedp.Void](widgetQ("[data-sc=send]")+`.click()`))
	operator.waitFor("the conversation", `document.querySelector('[data-sc=conv-item], [data-sc=queue-item]') !== null`)
	operator.openConversation()
	operator.waitFor("the first message", `(document.querySelector('[data-sc=thread]:not([hidden])')?.textContent || '').includes('My grinder arrived broken')`)

	// The file chooser: the photo uploads, shows in the tray, and is sent.
	visitor.run("choose the photo", chromedp.SetUploadFiles(chromedp.JSPath(widgetQ("[data-sc=file]")), []string{write("IMG_0042.jpg", photo)}))
	visitor.waitFor("the upload", widgetQ("[data-sc=upload][data-state=done]")+` !== null`)
	visitor.run("send the photo", chromedp.Evaluate[chromedp.Void](widgetQ("[data-sc=send]")+`.click()`))
	visitor.waitFor("the photo in the widget", `(() => { const i = `+widgetQ("[data-sc=message][data-kind=visitor] [data-sc=attachment] img")+`; return !!i && i.complete && i.naturalWidth === 64 })()`)

	// Paste: the same photo from the clipboard.
	visitor.run("paste the photo", chromedp.Evaluate[chromedp.Void](`(() => {
		const b = Uint8Array.from(atob(`+js(base64.StdEncoding.EncodeToString(photo))+`), c => c.charCodeAt(0));
		const dt = new DataTransfer();
		dt.items.add(new File([b], 'pasted.jpg', { type: 'image/jpeg' }));
		`+widgetQ("[data-sc=input]")+`.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
	})()`))
	visitor.waitFor("the pasted upload", widgetQ("[data-sc=upload][data-state=done]")+` !== null`)
	visitor.run("send the pasted photo", chromedp.Evaluate[chromedp.Void](widgetQ("[data-sc=send]")+`.click()`))

	// The operator sees both thumbnails live, and downloads one.
	thumbs := `[...document.querySelectorAll('[data-sc=thread]:not([hidden]) [data-sc=message][data-kind=visitor] [data-sc=attachment] img')]`
	operator.waitFor("two thumbnails", thumbs+`.filter(i => i.complete && i.naturalWidth === 64).length === 2`)
	got := eval[string](operator, `(() => {
		const x = new XMLHttpRequest();
		x.open('GET', `+thumbs+`[0].closest('a').href, false);
		x.overrideMimeType('text/plain; charset=x-user-defined');
		x.send();
		return [x.status, x.getResponseHeader('Content-Type'), x.getResponseHeader('X-Content-Type-Options'), x.responseText.includes('Exif') || x.responseText.includes('GPS') ? 'exif' : 'clean'].join(' ');
	})()`)
	if got != "200 image/jpeg nosniff clean" {
		t.Errorf("operator's download: %q, want 200 image/jpeg nosniff clean", got)
	}

	// An HTML page renamed .jpg is refused, and says so.
	visitor.run("choose the fake photo", chromedp.SetUploadFiles(chromedp.JSPath(widgetQ("[data-sc=file]")), []string{write("cute-cat.jpg", []byte("<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"))}))
	visitor.waitFor("the refusal", `(`+widgetQ("[data-sc=upload][data-state=failed]")+`?.textContent || '').includes('not accepted')`)
	visitor.run("remove it", chromedp.Evaluate[chromedp.Void](widgetQ("[data-sc=upload][data-state=failed] [data-sc=upload-cancel]")+`.click()`))

	// The operator sends a PDF back; the visitor gets a download link.
	operator.run("choose the PDF", chromedp.SetUploadFiles(chromedp.JSPath(`document.querySelector('.pane-body:not([hidden]) [data-sc=file]')`), []string{write("invoice.pdf", []byte("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"))}))
	visitor.waitFor("the PDF in the widget", `(`+widgetQ("[data-sc=message][data-kind=operator] a[data-sc=attachment]")+`?.textContent || '').includes('invoice.pdf')`)
	pdfURL := eval[string](visitor, widgetQ("[data-sc=message][data-kind=operator] a[data-sc=attachment]")+`.href`)
	photoURL := eval[string](visitor, widgetQ("[data-sc=message][data-kind=visitor] a[data-sc=attachment]")+`.href`)
	if n := eval[int](visitor, `window.__alerts`); n != 0 {
		t.Errorf("a script ran in the widget's page (%d alerts)", n)
	}

	// Another visitor's token fetches neither.
	jar, _ := cookiejar.New(nil)
	stranger := &http.Client{Jar: jar}
	resp, err := stranger.Post(ts.URL+"/chat/session", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, u := range []string{photoURL, pdfURL} {
		resp, err := stranger.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("another visitor fetched %s: %s", u, resp.Status)
		}
	}

	// The stored images carry no EXIF; erasure leaves no blob.
	blobDir := s.cfg.DBPath + "-files"
	entries, err := os.ReadDir(blobDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 {
		t.Errorf("%d blobs stored, want 3 (two photos, one PDF)", len(entries))
	}
	for _, e := range entries {
		data, _ := os.ReadFile(filepath.Join(blobDir, e.Name()))
		if bytes.Contains(data, []byte("Exif")) || bytes.Contains(data, []byte("GPSLatitude")) {
			t.Errorf("blob %s kept the photo's EXIF", e.Name())
		}
	}
	convs, err := s.store.Conversations(context.Background(), chat.ConversationFilter{Limit: 10})
	if err != nil || len(convs) != 1 {
		t.Fatalf("conversations: %v, %d", err, len(convs))
	}
	if err := s.chat.DeleteVisitor(context.Background(), convs[0].VisitorID); err != nil {
		t.Fatal(err)
	}
	entries, _ = os.ReadDir(blobDir)
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if len(left) != 0 {
		t.Errorf("blobs left after DeleteVisitor: %s", strings.Join(left, ", "))
	}
}
