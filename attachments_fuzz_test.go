package chat

import (
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"mime"
	"testing"
)

// FuzzAttachmentSanitize feeds arbitrary bytes to the upload's content
// check: it never panics, accepts only allowed types, and an accepted
// image is one that decodes to the size it reports.
func FuzzAttachmentSanitize(f *testing.F) {
	img := image.NewRGBA(image.Rect(0, 0, 3, 2))
	img.Set(1, 1, color.RGBA{200, 10, 10, 255})
	for _, enc := range []func(*bytes.Buffer){
		func(b *bytes.Buffer) { jpeg.Encode(b, img, nil) },
		func(b *bytes.Buffer) { png.Encode(b, img) },
		func(b *bytes.Buffer) { gif.Encode(b, img, nil) },
	} {
		var b bytes.Buffer
		enc(&b)
		f.Add(b.Bytes())
	}
	f.Add([]byte("%PDF-1.4\n%%EOF"))
	f.Add([]byte("plain text"))
	f.Add([]byte("<html><script>x</script></html>"))
	f.Add([]byte("\xff\xd8\xff\xe1\x00\x20Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06"))
	at, err := newAttachments(AttachmentConfig{Blobs: nopBlobs{}, MaxPixels: 1 << 20}, newChecked(fuzzStore{}))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		jpegOrientation(data)
		a := &Attachment{Name: "f"}
		out, err := at.sanitize(t.Context(), a, data)
		if err != nil {
			return
		}
		base, _, _ := mime.ParseMediaType(a.Type)
		if !at.allowed[base] {
			t.Fatalf("accepted type %q", a.Type)
		}
		if a.IsImage() {
			cfg, _, err := image.DecodeConfig(bytes.NewReader(out))
			if err != nil || cfg.Width != a.Width || cfg.Height != a.Height {
				t.Fatalf("stored image: %v, %dx%d, metadata says %dx%d", err, cfg.Width, cfg.Height, a.Width, a.Height)
			}
		}
	})
}

// nopBlobs and fuzzStore satisfy newAttachments; sanitize touches neither.
type nopBlobs struct{ BlobStore }

type fuzzStore struct {
	Store
	AttachmentStore
}
