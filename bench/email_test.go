package bench

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	chat "github.com/shopchat/chat"
	"github.com/shopchat/chat/notify/email"
	"github.com/shopchat/chat/store/memory"
)

// Reply extraction must stay linear in its input up to the inbound size
// limit (email.InboundConfig.MaxSize, 10 MiB by default), whatever the
// input's shape. Each shape below repeats one unit up to the size: a
// realistic long quote, and units that make the extractor look around
// (attribution starts, header fields, colon lines, quotes between text,
// signature-like lines, nested and unterminated HTML). Compare ns per MB
// (MB/s) across sizes: linear extraction keeps it flat.
//
//	go test -run '^$' -bench 'ExtractReply|ParseReply' -benchtime 3x ./bench/

var replyShapes = []struct {
	name, head, unit string
	html             bool
}{
	{name: "long-quote", head: "Yes, please.\n\nOn Tue, 3 Nov 2026 at 10:00, Shop <support@shop.test> wrote:\n", unit: "> We ship to Norway in 3-5 days; the parcel is insured.\n"},
	{name: "bottom-post", head: "Hi,\n", unit: "On Tue, 3 Nov 2026 at 10:00, Shop <support@shop.test> wrote:\n> Which size?\n\nSize M, please.\n\n"},
	{name: "attribution-starts", unit: "On 3 Nov 2026 at 10:00 Shop Support and\n"},
	{name: "colon-lines", unit: "On 3 Nov 2026, ann@example.com wrote:\n"},
	{name: "header-fields", unit: "From: ann@example.com\n"},
	{name: "inline-answers", unit: "> a question\nan answer\n"},
	{name: "short-lines", unit: "Ann Smith\n"},
	{name: "dashes", unit: "---\n"},
	{name: "one-line", unit: "word "},
	{name: "blank-lines", unit: "\n"},
	{name: "html-reply", html: true, head: "<div>Yes, please.</div><div class=\"gmail_quote\">", unit: "<div>We ship to Norway in 3-5 days; the parcel is insured.</div>"},
	{name: "html-blockquotes", html: true, unit: "<p>On 3 Nov 2026, Shop &lt;s@shop.test&gt; wrote:</p><blockquote>x</blockquote>"},
	{name: "html-nested", html: true, unit: "<blockquote><div>"},
	{name: "html-unterminated", html: true, unit: "<a href=\"x <blockquote "},
}

var replySizes = []int{1 << 20, 4 << 20, 10 << 20}

func replyInput(head, unit string, size int) string {
	var b strings.Builder
	b.Grow(size + len(unit))
	b.WriteString(head)
	for b.Len() < size {
		b.WriteString(unit)
	}
	return b.String()
}

// BenchmarkExtractReply: plain text through email.ExtractReply, HTML
// through the inbound parser's HTML path.
func BenchmarkExtractReply(b *testing.B) {
	in := newBenchInbound(b, 64<<20)
	for _, s := range replyShapes {
		for _, size := range replySizes {
			input := replyInput(s.head, s.unit, size)
			b.Run(fmt.Sprintf("%s/%dMiB", s.name, size>>20), func(b *testing.B) {
				b.SetBytes(int64(len(input)))
				if !s.html {
					for b.Loop() {
						email.ExtractReply(input)
					}
					return
				}
				// The inbound parser reads at most 1 MiB of a body;
				// this measures the HTML converter on all of it.
				raw := "From: ann@example.com\r\nTo: reply+aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@reply.shop.test\r\n" +
					"Content-Type: text/html; charset=utf-8\r\n\r\n" + input
				for b.Loop() {
					in.Parse(strings.NewReader(raw))
				}
			})
		}
	}
}

// BenchmarkParseReply: a whole mail at the inbound size limit through
// (*email.Inbound).Parse (MIME, base64, charset, extraction).
func BenchmarkParseReply(b *testing.B) {
	in := newBenchInbound(b, 10<<20)
	body := replyInput(replyShapes[0].head, replyShapes[0].unit, 7<<20) // base64 of 7 MiB is under 10 MiB
	var enc strings.Builder
	enc.WriteString("From: Ann <ann@example.com>\r\nTo: reply+aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@reply.shop.test\r\n" +
		"Subject: Re: x\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	enc.WriteString(body)
	raw := enc.String()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := in.Parse(strings.NewReader(raw)); err != nil {
			b.Fatal(err)
		}
	}
}

func newBenchInbound(b *testing.B, maxSize int64) *email.Inbound {
	srv, err := chat.New(chat.Config{Store: memory.New(), Secret: []byte("bench-secret-0123456789abcdef0123"),
		Operators: func(*http.Request) (*chat.Operator, error) { return nil, chat.ErrUnauthorized }})
	if err != nil {
		b.Fatal(err)
	}
	in, err := email.NewInbound(email.InboundConfig{Server: srv, Domain: "reply.shop.test", MaxSize: maxSize,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	return in
}
