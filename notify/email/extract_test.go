package email

import (
	"bytes"
	"strings"
	"testing"
)

// fixtures maps each client's reply in testdata/ to the text it must
// yield.
var fixtures = []struct {
	file, want string
}{
	{"gmail.eml", "Great, thanks! Can I pay by invoice? The order is for our office in Tromsø."},
	{"outlook.eml", "Thank you Alice. Please send the invoice to accounts@example.com."},
	{"outlook_de.eml", "Vielen Dank für die schnelle Antwort! Ich bestelle gleich."},
	{"iphone.eml", "Yes please, two of the blue ones."},
	{"apple_mail_html.eml", "Could you gift-wrap it?\nIt is a present for my sister & her kids."},
	{"thunderbird.eml", "Hi Alice, that works for me — I will pick it up on Friday.\n\nKind regards, Ann"},
}

const fixtureToken = "abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnop"

func TestParseFixtures(t *testing.T) {
	env := newChat(t)
	in := env.newInbound(t)
	for _, f := range fixtures {
		t.Run(f.file, func(t *testing.T) {
			r, err := in.Parse(bytes.NewReader(fixture(t, f.file, fixtureToken, testVisitor)))
			if err != nil {
				t.Fatal(err)
			}
			if r.Text != f.want {
				t.Errorf("text =\n%q\nwant\n%q", r.Text, f.want)
			}
			if r.Token != fixtureToken {
				t.Errorf("token = %q", r.Token)
			}
			if r.From != testVisitor {
				t.Errorf("from = %q", r.From)
			}
			if !strings.HasPrefix(r.MessageID, "<") || !strings.HasSuffix(r.MessageID, ">") {
				t.Errorf("message id = %q", r.MessageID)
			}
		})
	}
}

func TestExtractReply(t *testing.T) {
	for name, c := range map[string]struct{ in, want string }{
		"gmail one line": {
			"Thanks!\n\nOn Mon, 3 Nov 2026 at 10:00, Shop <reply+x@shop.test> wrote:\n> old\n",
			"Thanks!"},
		"gmail wrapped": {
			"Thanks!\n\nOn Mon, 3 Nov 2026 at 10:00, Shop <\nreply+x@shop.test> wrote:\n\n> old\n",
			"Thanks!"},
		"gmail wrapped, quote not marked": {
			"Thanks!\nOn Mon, Nov 3, 2026 at 10:00 AM Alice at Shop\n<support@shop.test> wrote:\nAlice replied\n",
			"Thanks!"},
		"german gmail": {
			"Danke!\n\nAm Mo., 3. Nov. 2026 um 10:00 Uhr schrieb Shop <support@shop.test>:\n> alt\n",
			"Danke!"},
		"french": {
			"Merci !\n\nLe lun. 3 nov. 2026 à 10:00, Shop <support@shop.test> a écrit :\n> ancien\n",
			"Merci !"},
		"apple": {
			"Sure.\n\n> On 3 Nov 2026, at 10:00, Shop <support@shop.test> wrote:\n> \n> old\n",
			"Sure."},
		"thunderbird": {
			"OK.\n\nOn 03/11/2026 10:00, Shop wrote:\n> old\n",
			"OK."},
		"outlook original message": {
			"Fine.\n\n-----Original Message-----\nFrom: Shop\nSent: Monday\nTo: Ann\nSubject: x\n\nold\n",
			"Fine."},
		"outlook block": {
			"Fine.\n\nFrom: Shop <support@shop.test>\nSent: Monday, November 3, 2026 10:00 AM\nTo: Ann <ann@example.com>\nSubject: Your conversation\n\nold text\n",
			"Fine."},
		"outlook block from html": {
			"Fine.\n\n*From:* Shop <support@shop.test>\n*Sent:* Monday\n*To:* Ann\n*Subject:* x\nold\n",
			"Fine."},
		"outlook french": {
			"Parfait.\n\nDe : Shop <support@shop.test>\nEnvoyé : lundi 3 novembre 2026 10:00\nÀ : Ann\nObjet : x\nold\n",
			"Parfait."},
		"german outlook": {
			"Gut.\n\nVon: Shop <support@shop.test>\nGesendet: Montag, 3. November 2026 10:00\nAn: Ann\nBetreff: x\nalt\n",
			"Gut."},
		"signature": {
			"See you.\n-- \nAnn\nExample Ltd\n", "See you."},
		"iphone": {
			"Yes.\n\nSent from my iPhone\n", "Yes."},
		"quoted lines dropped, inline answers kept": {
			"> Do you ship?\nYes please.\n> Which colour?\nBlue.\n", "Yes please.\nBlue."},
		"bottom posted": {
			"On 03/11/2026 10:00, Shop wrote:\n> old\n\nMy answer.\n", "My answer."},
		"a from line that is not a header block": {
			"From: Berlin, with love.\nAnn\n", "From: Berlin, with love.\nAnn"},
		"on without a date stays": {
			"On Monday I wrote:\nthe letter\n", "On Monday I wrote:\nthe letter"},
		"crlf and control characters": {
			"Hi\r\nthere\x00\x07\r\n\r\n\r\n\r\nbye\u202e\r\n", "Hi\nthere\n\nbye"},
		"invalid utf-8": {
			"caf\xe9\n", "caf\uFFFD"},
	} {
		if got := ExtractReply(c.in); got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", name, got, c.want)
		}
	}
}

func TestHTMLToText(t *testing.T) {
	for name, c := range map[string]struct{ in, want string }{
		"tags and entities": {
			"<p>Hello &amp; welcome,<br>Ann&nbsp;&lt;3</p><p>Second</p>", "Hello & welcome,\nAnn <3\n\nSecond"},
		"script and style removed": {
			"<style>p{color:red}</style><p>Hi</p><script>alert('<p>x</p>')</script><SCRIPT type=x>evil()</SCRIPT >ok", "Hi\n\nok"},
		"blockquote dropped": {
			"<div>Reply</div><blockquote type=\"cite\"><div>old</div><blockquote>older</blockquote>still old</blockquote>", "Reply\n>"},
		"gmail quote dropped": {
			`<div dir="ltr">Yes</div><div class="gmail_quote"><div class="gmail_attr">On ... wrote:</div><div>nested</div></div>`, "Yes\n>"},
		"whitespace collapsed": {
			"<p>  a\n   b  </p>\n\n<p>c</p>", "a b\n\nc"},
		"pre kept": {
			"<pre>a\n  b</pre>", "a\n  b"},
		"comments and doctype": {
			"<!DOCTYPE html><!-- <p>hidden</p> --><p>shown</p>", "shown"},
		"literal less-than": {
			"1 < 2 and 3 > 2", "1 < 2 and 3 > 2"},
		"unterminated tag": {
			"text<a href=\"x", "text"},
		"list": {
			"<ul><li>one</li><li>two</li></ul>", "- one\n- two"},
	} {
		if got, _ := htmlToText(c.in, false); got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", name, got, c.want)
		}
	}
}

func TestUnflow(t *testing.T) {
	in := "Hi Alice, \nthat works.\n\n> quoted \n> more\n-- \nsig"
	want := "Hi Alice, that works.\n\n> quoted more\n-- \nsig"
	if got := unflow(in, false); got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if got := unflow("a \nb", true); got != "ab" {
		t.Errorf("delsp: got %q", got)
	}
}
