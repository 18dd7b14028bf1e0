package brokertest

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/shopchat/chat"
)

// orderOnePublisher: payloads one node publishes one after another arrive
// in that order, at a subscriber on the same node and on another, also
// when the publisher alternates between two topics.
func orderOnePublisher(t testing.TB, open opener) {
	tp := topics()
	a, b := open(t), open(t)
	t1a, t1b, t2b := newSink("topic 1 subscriber on A"), newSink("topic 1 subscriber on B"), newSink("topic 2 subscriber on B")
	subscribe(t, a, tp("1"), t1a.deliver)
	subscribe(t, b, tp("1"), t1b.deliver)
	subscribe(t, b, tp("2"), t2b.deliver)
	const n, window = 300, 50
	for start := 0; start < n; start += window {
		for i := start; i < start+window; i++ {
			topic := tp("1")
			if i%2 == 1 {
				topic = tp("2")
			}
			publishString(t, a, topic, fmt.Sprintf("%05d", i))
		}
		// Let the subscribers catch up, so that no buffer fills.
		for i := start; i < start+window; i++ {
			want := fmt.Sprintf("%05d", i)
			if i%2 == 0 {
				t1a.expectString(t, want)
				t1b.expectString(t, want)
			} else {
				t2b.expectString(t, want)
			}
		}
	}
}

// orderBatch: if the broker is a chat.BatchPublisher, a batch arrives
// whole and in order, between what the node published before and after
// it, on the same node and another, identical payloads included.
func orderBatch(t testing.TB, open opener) {
	tp := topics()
	a, b := open(t), open(t)
	bp, ok := a.(chat.BatchPublisher)
	if !ok {
		t.Skipf("%T is not a chat.BatchPublisher", a)
	}
	sa, sb := newSink("subscriber on A"), newSink("subscriber on B")
	subscribe(t, a, tp("t"), sa.deliver)
	subscribe(t, b, tp("t"), sb.deliver)
	var batch [][]byte
	for i := range 40 {
		batch = append(batch, []byte(fmt.Sprintf("%05d", i)))
		if i%10 == 9 {
			batch = append(batch, []byte("same"), []byte("same"))
		}
	}
	want := [][]byte{[]byte("before")}
	for _, p := range batch {
		want = append(want, bytes.Clone(p))
	}
	want = append(want, []byte("after"))
	publishString(t, a, tp("t"), "before")
	ctx, stop := context.WithTimeout(context.Background(), waitTimeout)
	defer stop()
	if err := bp.PublishBatch(ctx, tp("t"), batch); err != nil {
		t.Fatalf("PublishBatch: %v", err)
	}
	for _, p := range batch {
		copy(p, "XXXXX") // the broker keeps no slice of the caller's
	}
	publishString(t, a, tp("t"), "after")
	for _, s := range []*sink{sa, sb} {
		for _, w := range want {
			s.expect(t, w)
		}
	}
}

// payloadBinary: payloads are bytes, not text: every byte value, invalid
// UTF-8, NULs and the empty payload round-trip exactly.
func payloadBinary(t testing.TB, open opener) {
	tp := topics()
	a, b := open(t), open(t)
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	reversed := bytes.Clone(all)
	for i, j := 0, len(reversed)-1; i < j; i, j = i+1, j-1 {
		reversed[i], reversed[j] = reversed[j], reversed[i]
	}
	payloads := [][]byte{
		all,
		reversed,
		{0},
		make([]byte, 256),
		{0xff, 0xfe, 0xfd},
		[]byte("\xc3\x28 invalid UTF-8 \xa0\xa1 \xed\xa0\x80"),
		[]byte("text with a NUL\x00in the middle"),
		[]byte("  leading and trailing spaces  "),
		[]byte(`{"kind":"message","conv":"c-1","seq":42}`),
		{},
		bytes.Repeat(all, 16), // 4096 bytes
	}
	sa, sb := newSink("subscriber on A"), newSink("subscriber on B")
	subscribe(t, a, tp("t"), sa.deliver)
	subscribe(t, b, tp("t"), sb.deliver)
	for i, p := range payloads {
		publish(t, a, tp("t"), p)
		for _, s := range []*sink{sa, sb} {
			got, ok := s.next()
			if !ok {
				t.Fatalf("%s: payload #%d %s not delivered within %v", s.name, i, show(p), waitTimeout)
			}
			if !bytes.Equal(got, p) {
				t.Errorf("%s: payload #%d: got %s, want %s%s", s.name, i, show(got), show(p), firstDiff(got, p))
			}
		}
	}
}

// firstDiff describes where two payloads first differ.
func firstDiff(got, want []byte) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf(" (first difference at byte %d: got %#02x, want %#02x)", i, got[i], want[i])
		}
	}
	return fmt.Sprintf(" (length %d, want %d)", len(got), len(want))
}

// payloadLarge: payloads up to the sizes the chat server sends (well
// under 8000 bytes) are carried whole: 7000 bytes of text and 5000 of
// random binary.
func payloadLarge(t testing.TB, open opener) {
	tp := topics()
	a, b := open(t), open(t)
	var text strings.Builder
	for i := 0; text.Len() < 7000; i++ {
		fmt.Fprintf(&text, `{"conv":"conversation-%d","seq":%d,"id":"msg-'quoted'-\\-%d"},`, i, i*7, i)
	}
	large := []byte(text.String()[:7000])
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 5000)
	for i := range random {
		random[i] = byte(rng.UintN(256))
	}
	sa, sb := newSink("subscriber on A"), newSink("subscriber on B")
	subscribe(t, a, tp("t"), sa.deliver)
	subscribe(t, b, tp("t"), sb.deliver)
	for _, p := range [][]byte{large, random} {
		publish(t, a, tp("t"), p)
		for _, s := range []*sink{sa, sb} {
			got, ok := s.next()
			if !ok {
				t.Fatalf("%s: %d-byte payload not delivered within %v", s.name, len(p), waitTimeout)
			}
			if !bytes.Equal(got, p) {
				t.Errorf("%s: %d-byte payload came back different%s", s.name, len(p), firstDiff(got, p))
			}
		}
	}
}

// payloadCopies: the caller may reuse its buffer once Publish returns, and
// each subscription gets its own copy, which it may modify.
func payloadCopies(t testing.TB, open opener) {
	tp := topics()
	a, b := open(t), open(t)
	s1, s2, s3 := newSink("first subscriber on B"), newSink("second subscriber on B"), newSink("subscriber on A")
	subscribe(t, b, tp("t"), s1.deliver)
	subscribe(t, b, tp("t"), s2.deliver)
	subscribe(t, a, tp("t"), s3.deliver)
	const original = "original payload 0123456789"
	buf := []byte(original)
	publish(t, a, tp("t"), buf)
	for i := range buf {
		buf[i] = 'P' // the publisher reuses its buffer
	}
	p1 := s1.expect(t, []byte(original))
	p2 := s2.expect(t, []byte(original))
	p3 := s3.expect(t, []byte(original))
	for i := range p1 {
		p1[i] = 'S' // a subscriber scribbles on its payload
	}
	if string(p2) != original {
		t.Errorf("second subscriber on B: payload changed to %s when the first subscriber modified its own", show(p2))
	}
	if string(p3) != original {
		t.Errorf("subscriber on A: payload changed to %s when a subscriber on B modified its own", show(p3))
	}
}
