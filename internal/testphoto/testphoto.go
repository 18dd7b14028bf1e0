// Package testphoto makes the images the attachment tests send: a phone
// photo, a JPEG whose EXIF segment names where it was taken, which the
// upload's re-encoding must strip; and a PNG whose header declares any
// size (a decompression bomb).
package testphoto

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
)

// GPS is the text the EXIF segment carries; a stored image must not.
const GPS = "GPSLatitude 47.3769N GPSLongitude 8.5417E"

// JPEG returns a w×h JPEG with an APP1 (EXIF) segment holding GPS.
func JPEG(w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		for y := range h {
			img.Set(x, y, color.RGBA{uint8(x * 4), 120, uint8(y * 5), 255})
		}
	}
	var plain bytes.Buffer
	if err := jpeg.Encode(&plain, img, nil); err != nil {
		panic(err) // encoding an in-memory RGBA image cannot fail
	}
	exif := []byte("Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08" + GPS)
	seg := append([]byte{0xFF, 0xE1, 0, byte(len(exif) + 2)}, exif...)
	return append(append(append([]byte{}, plain.Bytes()[:2]...), seg...), plain.Bytes()[2:]...)
}

// PNG returns a valid PNG of a few dozen bytes whose header declares
// width×height pixels.
func PNG(width, height uint32) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 2, 2))); err != nil {
		panic(err) // encoding an in-memory image cannot fail
	}
	data := b.Bytes()
	// signature (8), IHDR length (4), "IHDR" (4), width, height, ...; the
	// CRC after the 13 data bytes covers the type and data.
	binary.BigEndian.PutUint32(data[16:], width)
	binary.BigEndian.PutUint32(data[20:], height)
	binary.BigEndian.PutUint32(data[29:], crc32.ChecksumIEEE(data[12:29]))
	return data
}
