package email

import (
	"strings"
	"testing"
	"time"
)

func TestZZPerf(t *testing.T) {
	n := 2 << 20
	cases := map[string]string{
		"lt":        strings.Repeat("<", n),
		"lta":       strings.Repeat("<a", n/2),
		"script":    strings.Repeat("<script>x", n/9),
		"bq":        strings.Repeat("<blockquote>", n/12),
		"div quote": strings.Repeat(`<div class="gmail_quote">`, n/25),
		"on lines":  strings.Repeat("On 1 x\n", n/7),
		"from":      strings.Repeat("From: x\n", n/8),
		"longline":  "On 1 " + strings.Repeat("a ", n/2),
		"under":     strings.Repeat("__________\n", n/11),
		"amp":       strings.Repeat("&amp;", n/5),
		"pre":       strings.Repeat("<pre>", n/5),
		"p":         strings.Repeat("<p>", n/3),
		"comment":   strings.Repeat("<!--", n/4),
		"quote":     "<a " + strings.Repeat("\"", n),
	}
	for name, in := range cases {
		start := time.Now()
		ExtractReply(htmlToText(in))
		ExtractReply(in)
		t.Logf("%s: %v", name, time.Since(start))
	}
}
