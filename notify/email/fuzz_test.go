package email

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/shopchat/chat"
)

// checkReplyText asserts the extractor's promises about its output.
func checkReplyText(t *testing.T, in, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Fatalf("invalid UTF-8 %q from %q", out, in)
	}
	for _, l := range strings.Split(out, "\n") {
		if isQuoted(strings.TrimSpace(l)) { // not a line framed by arrows (">>> x <<<")
			t.Fatalf("quoted line %q left in %q (from %q)", l, out, in)
		}
	}
	for _, r := range out {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			t.Fatalf("control character %U in %q", r, out)
		}
	}
	if out != strings.TrimSpace(out) {
		t.Fatalf("untrimmed %q", out)
	}
	if strings.ContainsRune(out, '\uE001') {
		t.Fatalf("internal mark left in %q", out)
	}
}

func fixtureSeeds(t testing.TB) [][]byte {
	files, err := filepath.Glob(filepath.Join("testdata", "*.eml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	var seeds [][]byte
	for _, f := range files {
		seeds = append(seeds, fixture(t, filepath.Base(f), fixtureToken, testVisitor))
	}
	return seeds
}

// FuzzExtractReply: the reply extractor (and the HTML converter in front
// of it) never panics; its output is valid UTF-8, trimmed, without
// control characters or ">"-quoted lines.
//
//	go test -run=^$ -fuzz=FuzzExtractReply -fuzztime=5s ./notify/email/
func FuzzExtractReply(f *testing.F) {
	for _, s := range fixtureSeeds(f) {
		f.Add(string(s))
		if _, body, ok := bytes.Cut(s, []byte("\r\n\r\n")); ok {
			f.Add(string(body))
		}
	}
	for _, s := range []string{
		"Thanks!\n\nOn Mon, 3 Nov 2026 at 10:00, Shop <\nreply+x@shop.test> wrote:\n> old\n",
		"> a\n>> b\n \t> c\nanswer\n-- \nsig",
		"-----Original Message-----\nFrom: a\nSent: b\nTo: c\n",
		"<p>Hi</p><blockquote><blockquote>x</blockquote></blockquote><script>",
		"\x00>\x01> \u00a0>\u2028> \r>",
		"><", // framed by arrows: not a quote, kept
		"caf\xe9\r\n\r\n> q",
		"Hi\nOn Tue, Nov 3, 2026 at 10:00 AM Shop\n\n<\nmailto:s@shop.test\n> wrote:\nold\n",
		"reply--- On Wed, 4 Apr 2026 at 3:59 PM, a@b.test wrote:\n> q\n",
		"Yes\n\nDate: Tue, 3 Nov 2026\nFrom: a@b.test\n",
		"x\n\nThanks!\nAnn\n\n---\nAnn\n-Ann\nSent from my iPhone\n",
		"---------- Forwarded message ---------\n> x\n\uE001> y",
		"<blockquote>a<blockquote>b</blockquote></blockquote><div class=gmail_quote>--- Forwarded message ---</div>",
		"<p>1.1.2026, a@b.test:</p><blockquote>\uE001x</blockquote><div class=gmail_signature>s</div>",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		checkReplyText(t, in, ExtractReply(in))
		checkReplyText(t, in, extractHTMLReply(in))
		if got, _ := htmlToText(in, false); utf8.ValidString(in) && !utf8.ValidString(got) {
			t.Fatalf("htmlToText made valid UTF-8 invalid: %q", got)
		}
	})
}

// FuzzParse: arbitrary bytes never make the parser panic; what it
// accepts is a well-formed reply.
//
//	go test -run=^$ -fuzz=FuzzParse -fuzztime=5s ./notify/email/
func FuzzParse(f *testing.F) {
	for _, s := range fixtureSeeds(f) {
		f.Add(s)
	}
	f.Add(nested(fixtureToken, 12))
	f.Add(plainReply(fixtureToken, testVisitor, "x", [2]string{"Content-Transfer-Encoding", "base64"}))
	f.Add(plainReply(fixtureToken, testVisitor, "<b>hi</b>", [2]string{"Content-Type", "text/html; charset=x-unknown"}))
	f.Add([]byte("From: a@b.test\r\nTo: reply+abc@" + testDomain + "\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n"))
	// Parse needs no Server; a chat.Server would only slow the workers'
	// start.
	in := &Inbound{cfg: InboundConfig{Domain: testDomain, MaxSize: 1 << 20, MaxDepth: 10}, log: slog.New(slog.DiscardHandler)}
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := in.Parse(bytes.NewReader(raw))
		if err != nil {
			return
		}
		checkReplyText(t, string(raw), r.Text)
		if r.Text == "" || !validToken(r.Token) || !chat.ValidEmail(r.From) || r.MessageID == "" {
			t.Fatalf("accepted an incomplete reply %+v", r)
		}
	})
}

// FuzzDeliveryStatus: the DSN reader (mail to the return path) never
// panics and reports at most maxReportRecipients permanent failures.
//
//	go test -run=^$ -fuzz=FuzzDeliveryStatus -fuzztime=5s ./notify/email/
func FuzzDeliveryStatus(f *testing.F) {
	f.Add("Reporting-MTA: dns; mx\r\n\r\nFinal-Recipient: rfc822; a@b.test\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550\r\n  user unknown\r\n")
	f.Add("Action: delayed\nStatus: 4.4.7\n\nAction: failed\nStatus: 5.0.0\n\n\n")
	f.Add("\n\n: \n\t\x00folded\nAction:failed\nStatus:5.")
	f.Fuzz(func(t *testing.T, body string) {
		got := parseDeliveryStatus(strings.NewReader(body))
		if len(got) > maxReportRecipients {
			t.Fatalf("%d failures", len(got))
		}
		for _, g := range got {
			if !strings.HasPrefix(g.status, "5.") {
				t.Fatalf("status %q reported as a permanent failure", g.status)
			}
		}
	})
}
