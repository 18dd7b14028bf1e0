package email

import (
	"errors"
	"strings"
	"testing"
)

// replyCase is one reply as a mail client writes it and the text the
// conversation must get.
type replyCase struct{ name, in, want string }

func runReplyCases(t *testing.T, cases []replyCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ExtractReply(c.in); got != c.want {
				t.Errorf("ExtractReply:\n got %q\nwant %q\n  in %q", got, c.want, c.in)
			}
		})
	}
}

// Attribution lines as Gmail, Apple Mail, Outlook.com and phones write
// them, in the languages shops sell in; each above a ">" quote.
func TestQuoteHeadersInManyLanguages(t *testing.T) {
	const quote = "\n> Your order has shipped.\n> Shop\n"
	var cases []replyCase
	for lang, header := range map[string]string{
		"en gmail":              "On Tue, 3 Nov 2026 at 10:00, Shop <support@shop.test> wrote:",
		"en apple":              "On 3 Nov 2026, at 10:00, Shop <support@shop.test> wrote:",
		"en thunderbird":        "On 03/11/2026 10:00, Shop wrote:",
		"es gmail":              "El mar, 3 nov 2026 a las 10:00, Shop (<support@shop.test>) escribió:",
		"ru gmail, no verb":     "вт, 3 нояб. 2026 г. в 10:00, Shop <support@shop.test>:",
		"ru apple":              "3 нояб. 2026 г., в 10:00, Shop <support@shop.test> написал(а):",
		"de gmail":              "Am Di., 3. Nov. 2026 um 10:00 Uhr schrieb Shop <support@shop.test>:",
		"fr gmail":              "Le mar. 3 nov. 2026 à 10:00, Shop <support@shop.test> a écrit :",
		"it gmail":              "Il giorno mar 3 nov 2026 alle ore 10:00 Shop <support@shop.test> ha scritto:",
		"pt gmail":              "Em ter., 3 de nov. de 2026 às 10:00, Shop <support@shop.test> escreveu:",
		"nl gmail":              "Op di 3 nov. 2026 om 10:00 schreef Shop <support@shop.test>:",
		"nl apple":              "Op 3 nov. 2026, om 10:00 heeft Shop <support@shop.test> het volgende geschreven:",
		"pl gmail":              "wt., 3 lis 2026 o 10:00 Shop <support@shop.test> napisał(a):",
		"pl w dniu":             "W dniu 3.11.2026 o 10:00, Shop pisze <support@shop.test> napisał:",
		"sv gmail":              "Den tis 3 nov. 2026 kl 10:00 skrev Shop <support@shop.test>:",
		"da gmail":              "Den tir. 3. nov. 2026 kl. 10.00 skrev Shop <support@shop.test>:",
		"no gmail":              "tir. 3. nov. 2026 kl. 10:00 skrev Shop <support@shop.test>:",
		"ja gmail":              "2026年11月3日(火) 10:00 Shop <support@shop.test>:",
		"ja apple":              "2026/11/03 10:00、Shop <support@shop.test>のメール:",
		"zh gmail":              "Shop <support@shop.test> 于2026年11月3日周二 10:00写道：",
		"zh apple":              "在 2026年11月3日，10:00，Shop <support@shop.test> 写道：",
		"fi gmail":              "ti 3. marrask. 2026 klo 10.00 Shop <support@shop.test> kirjoitti:",
		"date first, iso":       "2026-11-03 10:00 GMT+01:00 Shop <support@shop.test>:",
		"date first, no colon":  "2026/11/3 Shop <support@shop.test>",
		"glued verb":            "On Tue, Nov 3, 2026 at 10:00 AM, Shop <support@shop.test>wrote:",
		"sent instead of wrote": "On 3-Nov-2026, at 10:00, Shop <support@shop.test> sent:",
		"phone, no date":        "Sent from Samsung Galaxy, Shop <support@shop.test> wrote:",
		"dashed, android":       "---- Shop wrote ----",
	} {
		cases = append(cases, replyCase{lang, "Yes, thank you.\n\n" + header + quote, "Yes, thank you."})
	}
	runReplyCases(t, cases)
}

// Attributions that wrap, or share a line with the reply.
func TestQuoteHeadersWrappedAndShared(t *testing.T) {
	runReplyCases(t, []replyCase{
		{"wrapped before the address", "Yes.\n\nOn Tue, Nov 3, 2026 at 10:00 AM, Shop Support\n<support@shop.test> wrote:\n\n> old\n", "Yes."},
		{"wrapped inside the address", "Yes.\n\n2026-11-03 10:00 GMT+01:00 Shop <\nsupport@shop.test>:\n\n> old\n", "Yes."},
		{"polish, verb on its own line", "Tak.\n\nW dniu 3 listopada 2026 10:00 użytkownik Shop <support@shop.test>\nnapisał:\n\nstary tekst\n", "Tak."},
		{"polymail, blank lines and a marker inside", "Yes.\n\nOn Tue, Nov 3, 2026 at 10:00 AM Shop\n\n<\nmailto:support@shop.test\n> wrote:\nold\n", "Yes."},
		{"shares the reply's line", "Sounds good. On Tue, Nov 3, 2026 at 10:00 AM, support@shop.test wrote:\n> old\n", "Sounds good."},
		{"shares the line after dashes", "Sounds good--- On Tue, Nov 3, 2026 at 10:00 AM, support@shop.test wrote:\n> old\n", "Sounds good"},
		{"dashed, with a date, unquoted below", "Yes.\n\n------On 03/11/2026 10:00, Shop wrote------\n\nold text\n", "Yes."},
		{"swedish, unquoted below", "Ja.\nDen 3 november 2026 10:00, Shop (support@shop.test) skrev:\n\ngammal text\n", "Ja."},
		{"vietnamese", "Vâng.\n\nVào 10:00 3 tháng 11, 2026, Shop <support@shop.test> đã viết:\n\n> cũ\n", "Vâng."},
	})
}

// Outlook and webmail copy the original below a header block, unquoted.
func TestOutlookHeaderBlocks(t *testing.T) {
	const original = "\n\nYour order has shipped.\nShop\n"
	var cases []replyCase
	for name, block := range map[string]string{
		"en":                   "From: Shop <support@shop.test>\nSent: Tuesday, November 3, 2026 10:00 AM\nTo: Ann <ann@example.com>\nSubject: Your order",
		"en bold, from html":   "*From:* Shop [mailto:support@shop.test]\n*Sent:* Tuesday, November 3, 2026 10:00 AM\n*To:* ann@example.com\n*Subject:* Your order",
		"en behind a rule":     "________________________________\nFrom: Shop <support@shop.test>\nSent: Tuesday\nTo: Ann\nSubject: Your order",
		"en behind dashes":     " ------------------------------\n\n*From:* Shop [mailto:support@shop.test]\n*Sent:* Tuesday\n*To:* ann@example.com\n*Subject:* Your order",
		"hotmail, date first":  "Date: Tue, 3 Nov 2026 10:00:00 +0100\nSubject: Your order\nFrom: support@shop.test\nTo: ann@example.com",
		"from and date only":   "From: support@shop.test\nDate: Tue, 3 Nov 2026 10:00:00 +0100",
		"fields on one line":   "From: support@shop.test Date: Tue, 3 Nov 2026 10:00:00 +0100",
		"windows mail, no @":   "От: Shop\nОтправлено: вторник, 3 ноября 2026 г. 10:00\nКому: Ann",
		"es":                   "De: Shop <support@shop.test>\nEnviado: martes, 3 de noviembre de 2026 10:00\nPara: Ann\nAsunto: Su pedido",
		"de":                   "Von: Shop <support@shop.test>\nGesendet: Dienstag, 3. November 2026 10:00\nAn: Ann\nBetreff: Ihre Bestellung",
		"fr":                   "De : Shop <support@shop.test>\nEnvoyé : mardi 3 novembre 2026 10:00\nÀ : Ann\nObjet : Votre commande",
		"it":                   "Da: Shop <support@shop.test>\nInviato: martedì 3 novembre 2026 10:00\nA: Ann\nOggetto: Il tuo ordine",
		"pt":                   "De: Shop <support@shop.test>\nEnviado: terça-feira, 3 de novembro de 2026 10:00\nPara: Ann\nAssunto: Seu pedido",
		"nl":                   "Van: Shop <support@shop.test>\nVerzonden: dinsdag 3 november 2026 10:00\nAan: Ann\nOnderwerp: Uw bestelling",
		"pl":                   "Od: Shop <support@shop.test>\nWysłano: wtorek, 3 listopada 2026 10:00\nDo: Ann\nTemat: Twoje zamówienie",
		"sv":                   "Från: Shop [mailto:support@shop.test]\nSkickat: den 3 november 2026 10:00\nTill: Ann\nÄmne: Din beställning",
		"da":                   "Fra: support@shop.test\nSendt: 3. november 2026 10:00\nTil: Ann\nEmne: Din ordre",
		"no":                   "Fra: Shop <support@shop.test>\nSendt: tirsdag 3. november 2026 10:00\nTil: Ann\nEmne: Din ordre",
		"ja":                   "差出人: Shop <support@shop.test>\n送信日時: 2026年11月3日 10:00\n宛先: Ann\n件名: ご注文",
		"zh":                   "发件人: Shop <support@shop.test>\n发送时间: 2026年11月3日 10:00\n收件人: Ann\n主题: 您的订单",
		"zh full-width colons": "发件人：Shop <support@shop.test>\n发送时间：2026年11月3日 10:00\n收件人：Ann\n主题：您的订单",
		"ru":                   "От: Shop <support@shop.test>\nОтправлено: 3 ноября 2026 г. 10:00\nКому: Ann\nТема: Ваш заказ",
		"original message":     "-----Original Message-----\nFrom: Shop\nSent: Tuesday\nTo: Ann",
		"original message de":  "-----Ursprüngliche Nachricht-----\nVon: Shop",
		"original message es":  "-----Mensaje original-----",
		"original message ru":  "-----Исходное сообщение-----",
		"original message da":  "-----Oprindelig meddelelse-----",
		"original message sv":  "-----Ursprungligt meddelande-----",
		"original message pl":  "-----Wiadomość oryginalna-----",
		"original message ja":  "-----元のメッセージ-----",
		"original message zh":  "-----原始邮件-----",
		"reply message":        "-----Reply Message-----",
		"thunderbird":          "-------- Original Message --------",
	} {
		cases = append(cases, replyCase{name, "Thanks, that helps.\n\n" + block + original, "Thanks, that helps."})
	}
	runReplyCases(t, cases)
}

// Text below a quote is the customer's: bottom-posted and inline
// answers, and a greeting above a bottom-posted answer.
func TestTextBelowAQuoteIsKept(t *testing.T) {
	runReplyCases(t, []replyCase{
		{"greeting above, answer below",
			"Hi,\nOn Tue, 3 Nov 2026 at 10:00, Shop <support@shop.test> wrote:\n> Which size?\n\nSize M, please.\n",
			"Hi,\n\nSize M, please."},
		{"answer below, closing kept when on one line",
			"On Tue, 3 Nov 2026 at 10:00, Shop <support@shop.test> wrote:\n\n> Which size?\n\nSize M.\n\nRegards, Ann\n",
			"Size M.\n\nRegards, Ann"},
		{"inline answers",
			"On Tue, 3 Nov 2026 at 10:00, Shop <support@shop.test> wrote:\n> Which size?\n\nM\n\n> Which colour?\n\nBlue\n\n> Gift wrap?\n",
			"M\n\nBlue"},
		{"nested quote, then the answer",
			"Thanks.\nOn 03/11/2026 10:00, Shop wrote:\n\n>Sure.\n>On 02/11/2026 09:00, Ann wrote:\n>> Do you ship?\n\nSee you, Ann\n",
			"Thanks.\n\nSee you, Ann"},
		{"a wrapped link inside the quote is the quote's",
			"Yes.\n\nOn Tue, 3 Nov 2026 at 10:00, Shop <support@shop.test> wrote:\n> Track it at (http://shop.test/track?id=1\n_token=abc)\n> Shop\n",
			"Yes."},
		{"a mailing list's footer below the quote",
			"Yes.\n\nOn Tue, 3 Nov 2026 at 10:00, Shop <support@shop.test> wrote:\n> old\n\n_______________________________________________\nshop-users mailing list\nhttp://lists.shop.test/mailman/listinfo/shop-users\n",
			"Yes."},
	})
}

// A forwarded message is the customer's content.
func TestForwardedMessagesAreKept(t *testing.T) {
	runReplyCases(t, []replyCase{
		{"gmail",
			"See below.\n\n---------- Forwarded message ---------\nFrom: Courier <track@courier.test>\nDate: Mon, 2 Nov 2026\nSubject: Parcel\nTo: ann@example.com\n\nYour parcel is delayed.\n",
			"See below.\n\n---------- Forwarded message ---------\nFrom: Courier <track@courier.test>\nDate: Mon, 2 Nov 2026\nSubject: Parcel\nTo: ann@example.com\n\nYour parcel is delayed."},
		{"apple",
			"FYI\n\nBegin forwarded message:\n\nFrom: Courier <track@courier.test>\nSubject: Parcel\n\nDelayed.\n",
			"FYI\n\nBegin forwarded message:\n\nFrom: Courier <track@courier.test>\nSubject: Parcel\n\nDelayed."},
		{"german thunderbird",
			"Siehe unten.\n\n-------- Weitergeleitete Nachricht --------\nBetreff: Paket\nVon: track@courier.test\n\nVerspätet.\n",
			"Siehe unten.\n\n-------- Weitergeleitete Nachricht --------\nBetreff: Paket\nVon: track@courier.test\n\nVerspätet."},
		{"russian, nothing above",
			"-------- Пересылаемое сообщение --------\nОт: track@courier.test\n\nЗадержка.\n",
			"-------- Пересылаемое сообщение --------\nОт: track@courier.test\n\nЗадержка."},
	})
}

// Signatures with no "-- " line, stripped when they follow the reply.
// Where talon keeps "Sent from my iPhone" (its quotation tests) we strip
// it: a chat message has no use for the sender's device.
func TestSignaturesWithoutDelimiter(t *testing.T) {
	runReplyCases(t, []replyCase{
		{"thanks and a name", "Can I pay by invoice?\n\nThanks!\nAnn", "Can I pay by invoice?"},
		{"closing, blank, name", "Can I pay by invoice?\n\nBest regards,\n\nAnn Smith", "Can I pay by invoice?"},
		{"german closing", "Kann ich per Rechnung zahlen?\n\nMit freundlichen Grüßen\nAnna Müller", "Kann ich per Rechnung zahlen?"},
		{"spanish closing", "¿Puedo pagar con factura?\n\nSaludos,\nAna", "¿Puedo pagar con factura?"},
		{"russian closing", "Можно оплатить по счёту?\n\nС уважением,\nАнна", "Можно оплатить по счёту?"},
		{"dash and name", "Can I pay by invoice?\n-Ann", "Can I pay by invoice?"},
		{"dash, space, name", "Can I pay by invoice?\n\n- Ann Smith", "Can I pay by invoice?"},
		{"name, address, phone, site", "Can I pay by invoice?\n\nAnn Smith\nann@example.com\n+1 555 0100\nwww.example.com", "Can I pay by invoice?"},
		{"block below a rule", "Can I pay by invoice?\n\n---\nAnn", "Can I pay by invoice?"},
		{"long block below a rule", "Can I pay by invoice?\n\n----------------\n\nLOGO\n\nAnn Smith\n\nt. 555-0100\n\nhttps://example.com/", "Can I pay by invoice?"},
		{"iphone", "Yes.\n\nSent from my iPhone", "Yes."},
		{"iphone, german", "Ja.\n\nVon meinem iPhone gesendet", "Ja."},
		{"iphone, russian", "Да.\n\nОтправлено с iPhone", "Да."},
		{"iphone, japanese", "はい。\n\niPhoneから送信", "はい。"},
		{"mailbox app", "Yes.\nSent from Mailbox for iPhone", "Yes."},
		{"blackberry, two languages", "Yes.\nSent wirelessly from my BlackBerry device on the Bell network.\nEnvoyé sans fil par mon terminal mobile BlackBerry sur le réseau de Bell.", "Yes."},
		{"outlook mobile", "Yes.\n\nGet Outlook for Android", "Yes."},
		{"name above a mobile footer", "Yes, the blue one.\n\nAnn Smith\nvia mobile", "Yes, the blue one."},
		{"dash name above a mobile footer", "Yes.\n\n-Ann.\n\nSent from my HTC smartphone!", "Yes."},
		{"list footer", "Is it in stock?\n\n-Ann\n\n\n_______________________________________________\nshoppers mailing list\nshoppers@lists.example.com", "Is it in stock?"},
		{"delimiter", "Yes.\n-- \nAnn\nExample Ltd", "Yes."},
	})
}

// When unsure, keep the text: these look like markers but are the
// customer's words.
func TestUnsureKeepsText(t *testing.T) {
	for _, c := range []replyCase{
		{"on without a date", "On Monday I wrote:\nthe letter", ""},
		{"a from line that is no header", "From: Berlin, with love.\nAnn", ""},
		{"from and to without mail evidence", "From: Berlin\nTo: Paris", ""},
		{"sent from in a sentence", "Here is another mail\n\nSent from my desk, which is easier than my mobile phone.", ""},
		{"a sentence after thanks", "Ok.\n\nThanks!\nI'll wait for the parcel", ""},
		{"a one-word answer at the end", "Where to?\nBerlin", ""},
		{"a phone number is an answer", "Please call me back.\n\nAnn Smith\n+1 555 0100", ""},
		{"an address after a colon", "Please ship to:\n\nAnn Smith\n12 Main St\nann@example.com", ""},
		{"a list after a colon", "Please send:\n\n- blue shirt", ""},
		{"a list item", "Please send\n- the blue shirt\n- Red Socks", ""},
		{"order details below dashes", "Here is my order\n---\nBlue shirt\nsize M", ""},
		{"arrows are not a quote", "Visit us\n>>> http://shop.test <<<\nfor more", ""},
		{"dashes around a title", "----- Order 1234 -----\nBlue shirt", ""},
		{"thanks alone", "Thanks!\nAnn", ""},
		{"a colon line without a quote below", "My order from 3.11.2026 for ann@example.com:\nthe blue shirt", ""},
		{"a signature only", "--\nAnn", ""},
	} {
		c.want = c.in
		runReplyCases(t, []replyCase{c})
	}
	// Quoted lines with nothing else: the writer's own, quoting undone.
	runReplyCases(t, []replyCase{{"only a quote, no attribution", "> Please ship it\n> to Berlin", "Please ship it\nto Berlin"}})
}

// HTML-only replies: the quote is found by its markup.
func TestHTMLReplies(t *testing.T) {
	for _, c := range []replyCase{
		{"gmail", `<div dir="ltr">Yes please.</div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Tue, 3 Nov 2026 at 10:00, Shop &lt;support@shop.test&gt; wrote:<br></div><blockquote class="gmail_quote">Which size?</blockquote></div>`,
			"Yes please."},
		{"gmail signature dropped", `<div>Yes please.</div><div><br></div>-- <br><div class="gmail_signature">Ann Smith<br>Example Ltd</div><div class="gmail_quote">old</div>`,
			"Yes please."},
		{"a blockquote below an attribution", `<p>Yes.</p><p>26.06.2026, 10:00, "Shop" &lt;support@shop.test&gt;:</p><blockquote>Which size?</blockquote>`,
			"Yes."},
		{"writer's own blockquote above the quote", `<div>See the policy:</div><blockquote>Returns within 30 days.</blockquote><div>Is that right?</div><div>On 3 Nov 2026, Shop &lt;support@shop.test&gt; wrote:</div><blockquote><div>old</div></blockquote>`,
			"See the policy:\nReturns within 30 days.\nIs that right?"},
		{"gmail indent kept", `<div>Message</div><blockquote class="gmail_quote" style="margin:0 0 0 40px">My own words.</blockquote>`,
			"Message\nMy own words."},
		{"an unmarked last blockquote is the quote", `<div>Reply</div><div><br></div><blockquote>Quote</blockquote><div>disclaimer</div>`,
			"Reply\n\ndisclaimer"},
		{"all in one unmarked blockquote: posted whole", `<blockquote>Reply<div>On 3 Nov 2026, at 10:00, Shop &lt;support@shop.test&gt; wrote:</div><div>Test</div></blockquote>`,
			"Reply\nOn 3 Nov 2026, at 10:00, Shop <support@shop.test> wrote:\nTest"},
		{"gmail forward kept", `<div dir="ltr"><br><div class="gmail_quote">---------- Forwarded message ---------<br>From: <b>Courier</b> &lt;track@courier.test&gt;<br>Subject: Parcel<br><br><div>Delayed.</div></div></div>`,
			"---------- Forwarded message ---------\nFrom: Courier <track@courier.test>\nSubject: Parcel\n\nDelayed."},
		{"hotmail rule and date block", `<div>Fine.</div><div><hr id="stopSpelling">Date: Tue, 3 Nov 2026 10:00:00 +0100<br>Subject: Your order<br>From: support@shop.test<br>To: ann@example.com<br><br>old text</div>`,
			"Fine."},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := extractHTMLReply(c.in); got != c.want {
				t.Errorf("got %q\nwant %q", got, c.want)
			}
		})
	}
}

// An Outlook HTML-only reply: the original below Outlook's header block
// (in divRplyFwdMsg, or a bordered div) is never posted.
func TestOutlookHTMLReplyPostsNoOriginal(t *testing.T) {
	env := newChat(t)
	in := env.newInbound(t)
	r, err := in.Parse(strings.NewReader(string(fixture(t, "outlook_html.eml", fixtureToken, testVisitor))))
	if err != nil {
		t.Fatal(err)
	}
	if want := "Yes, please send it on Friday."; r.Text != want {
		t.Errorf("text = %q, want %q", r.Text, want)
	}
}

// A reply with nothing of its own is dropped, never refused: the SMTP
// receiver accepts it (no 550 to the customer), the webhook answers 200,
// the log says why. With an attachment it is posted, naming the files.
func TestEmptyReplyIsDroppedNotRefused(t *testing.T) {
	e := newInboundEnv(t, nil, nil)
	empty := plainReply(e.token, testVisitor, "On Tue, 3 Nov 2026 at 10:00, Shop <support@shop.test> wrote:\n> Which size?\n")
	if _, err := e.handle(empty); !errors.Is(err, ErrNoText) {
		t.Errorf("Handle = %v, want ErrNoText", err)
	}
	if err := sendSMTP(t, e.smtp, testVisitor, []string{e.rcpt()}, plainReply(e.token, testVisitor, "On Tue, 3 Nov 2026 at 10:00, Shop <support@shop.test> wrote:\n> Which size?\n")); err != nil {
		t.Errorf("SMTP: %v, want accepted and dropped", err)
	}
	if code := e.post(t, plainReply(e.token, testVisitor, "-----Original Message-----\nFrom: Shop\n")); code != 200 {
		t.Errorf("webhook: %d, want 200", code)
	}
	e.posted(t, 0)
	if !strings.Contains(e.logs.String(), "empty reply") {
		t.Errorf("no logged reason:\n%s", e.logs.String())
	}

	withFile := "From: Ann <" + testVisitor + ">\r\nTo: " + e.rcpt() + "\r\nSubject: Re: x\r\nMessage-ID: <att-1@example.com>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nOn Tue, 3 Nov 2026 at 10:00, Shop <support@shop.test> wrote:\r\n> Can you send a photo?\r\n" +
		"--b\r\nContent-Type: image/jpeg\r\nContent-Disposition: attachment; filename=\"=?utf-8?q?br=C3=BCcke.jpg?=\"\r\nContent-Transfer-Encoding: base64\r\n\r\n/9j/4AAQ\r\n" +
		"--b--\r\n"
	if err := sendSMTP(t, e.smtp, testVisitor, []string{e.rcpt()}, []byte(withFile)); err != nil {
		t.Fatalf("SMTP with an attachment: %v", err)
	}
	got := e.posted(t, 1)
	if want := "[Attachments sent by email, not shown in the chat: brücke.jpg]"; got[0] != want {
		t.Errorf("posted %q, want %q", got[0], want)
	}
}
