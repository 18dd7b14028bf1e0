package chat

import (
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

func TestSharedTextKeepsOneCopy(t *testing.T) {
	var st sharedText
	first := st.get(strings.Clone("/mugs/blue"))
	again := st.get(strings.Clone("/mugs/blue"))
	if again != first || unsafe.StringData(again) != unsafe.StringData(first) {
		t.Fatal("the same text decoded twice is not shared")
	}
	long := strings.Repeat("x", maxSharedLen+1)
	if got := st.get(long); unsafe.StringData(got) != unsafe.StringData(long) || len(st.texts) != 1 {
		t.Fatalf("a text over %d bytes was kept (%d texts)", maxSharedLen, len(st.texts))
	}
}

func TestSharedTextIsBounded(t *testing.T) {
	var st sharedText
	for i := range 100_000 {
		s := "/page/" + strconv.Itoa(i) + strings.Repeat("p", 200)
		if got := st.get(s); got != s {
			t.Fatalf("get(%q) = %q", s, got)
		}
		if st.bytes > maxSharedBytes+maxSharedLen+sharedEntry {
			t.Fatalf("table holds %d bytes after %d texts, over its bound", st.bytes, i+1)
		}
	}
}

func TestSharedTextHoldsNoSource(t *testing.T) {
	var st sharedText
	source := "https://example.com/" + strings.Repeat("q", 1000)
	host := source[8:19]
	if got := st.get(host); got != host || unsafe.StringData(got) == unsafe.StringData(host) {
		t.Fatal("the table keeps a substring, and with it its whole source")
	}
}
