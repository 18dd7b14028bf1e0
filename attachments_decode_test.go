package chat

import (
	"context"
	"errors"
	"runtime"
	"testing"

	"github.com/shopchat/chat/internal/testphoto"
)

func newDecodeTestAttachments(t *testing.T) *attachments {
	t.Helper()
	at, err := newAttachments(AttachmentConfig{Blobs: nopBlobs{}}, newChecked(fuzzStore{}))
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// A PNG declaring 10^10 pixels in a few dozen bytes is refused with
// ImageTooLargeError from its header: the 40 GB it would decode into are
// never asked for.
func TestImageTooLargeRefusedBeforeDecoding(t *testing.T) {
	at := newDecodeTestAttachments(t)
	bomb := testphoto.PNG(100_000, 100_000)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := at.sanitize(t.Context(), &Attachment{Name: "bomb.png"}, bomb)
	runtime.ReadMemStats(&after)
	tooLarge, ok := errors.AsType[*ImageTooLargeError](err)
	if !ok {
		t.Fatalf("sanitize: %v, want an ImageTooLargeError", err)
	}
	if tooLarge.Width != 100_000 || tooLarge.Height != 100_000 || tooLarge.MaxPixels != 40_000_000 {
		t.Errorf("error says %+v", tooLarge)
	}
	if !errors.Is(err, ErrRejected) || !errors.Is(err, ErrInvalid) {
		t.Errorf("%v does not wrap ErrRejected and ErrInvalid", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 16<<20 {
		t.Errorf("refusing the bomb allocated %d bytes", got)
	}
}

// While maxConcurrentDecodes images are being decoded, another waits for a
// turn only as long as its context allows, and decodes nothing meanwhile.
func TestImageDecodesBoundedWaitRespectsContext(t *testing.T) {
	at := newDecodeTestAttachments(t)
	img := testphoto.PNG(2, 2)
	for range maxConcurrentDecodes { // decodes in progress elsewhere
		at.decodes <- struct{}{}
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	a := &Attachment{Name: "a.png"}
	if _, err := at.sanitize(ctx, a, img); !errors.Is(err, context.Canceled) {
		t.Fatalf("a decode past the bound with its request gone: %v, want context.Canceled", err)
	}
	if a.Width != 0 {
		t.Fatal("it decoded past the bound")
	}
	timedOut, cancelCause := context.WithCancelCause(t.Context())
	cancelCause(errUploadTimeout)
	if _, err := at.sanitize(timedOut, a, img); !errors.Is(err, errUploadTimeout) {
		t.Fatalf("a decode past the bound after the upload's timeout: %v, want errUploadTimeout", err)
	}
	<-at.decodes // one finished
	if _, err := at.sanitize(t.Context(), a, img); err != nil || a.Width != 2 {
		t.Fatalf("with a turn free: %v, width %d", err, a.Width)
	}
	if len(at.decodes) != maxConcurrentDecodes-1 {
		t.Fatalf("the decode kept its turn: %d taken", len(at.decodes))
	}
}
