package chat

import (
	"bytes"
	"unicode"
	"unicode/utf8"
)

// capText cuts s to at most n bytes on a rune boundary.
func capText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func truncateUTF8(s string, n int) string {
	b := []byte(s[:n])
	for len(b) > 0 && !validText(string(b)) {
		b = b[:len(b)-1]
	}
	return string(bytes.TrimSpace(b))
}

// validText reports whether s is UTF-8 without control characters other
// than newline and tab.
func validText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return false
		}
	}
	return true
}
