package email

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Signatures without a "-- " line, recognised only at the end of the
// reply and only below some text of the reply's own: a closing with a
// name ("Thanks!\nAnn"), a dashed name ("-Ann"), a name with an address
// or a link, or anything short below a rule of dashes. A lone name or a
// phone number is kept: it may be the answer.

// maxSignatureLines bounds how far up from the end a signature is looked
// for, in non-blank lines.
const maxSignatureLines = 15

var (
	closingRE = regexp.MustCompile(`(?i)^(thanks|thank you|thank you very much|many thanks|thanks again|thanks in advance|thx|cheers|regards|best regards|kind regards|warm regards|warmest regards|best wishes|best|all the best|sincerely|sincerely yours|yours|yours truly|yours sincerely|take care|br|rgds|mit freundlichen grüßen|mit freundlichen grüssen|freundliche grüße|viele grüße|beste grüße|liebe grüße|grüße|gruß|lg|vg|mfg|danke|vielen dank|saludos|un saludo|saludos cordiales|atentamente|gracias|muchas gracias|cordialement|bien cordialement|merci|merci beaucoup|bien à vous|salutations|cordiali saluti|saluti|distinti saluti|grazie|grazie mille|atenciosamente|abraços|obrigado|obrigada|met vriendelijke groet|met vriendelijke groeten|groeten|groetjes|bedankt|с уважением|спасибо|всего доброго|всего хорошего|благодарю|pozdrawiam|z poważaniem|dziękuję|dzięki|med vänlig hälsning|vänliga hälsningar|hälsningar|mvh|tack|venlig hilsen|de bedste hilsner|hilsen|med venlig hilsen|med vennlig hilsen|vennlig hilsen|takk|ystävällisin terveisin|terveisin|kiitos|s pozdravem|děkuji|saygılarımla|teşekkürler|よろしくお願いします|よろしくお願いいたします|ありがとうございます|谢谢|謝謝|此致敬礼|祝好)[\s,.!]*$`)
	// "-Ann", "- Ann Smith", "-Lev."
	dashNameRE = regexp.MustCompile(`^-\s?\p{L}[\p{L}.'’]*(\s\p{L}[\p{L}.'’]*){0,2}$`)
	contactRE  = regexp.MustCompile(`(?i)[^\s@]+@[^\s@]+\.\p{L}|https?://|www\.`)
	listItemRE = regexp.MustCompile(`^([-*•+]|\d{1,3}[.)])\s`)
	// Words of a name that need not be capitalised.
	nameParticles = map[string]bool{"van": true, "von": true, "de": true, "der": true, "den": true, "la": true,
		"le": true, "du": true, "da": true, "di": true, "del": true, "y": true, "e": true, "of": true, "and": true, "&": true}
)

// stripSignature removes a signature from the end of the reply's lines.
// byMobileFooter says the reply ended at a mobile footer, so a name just
// above it belongs to the signature.
func stripSignature(out []string, byMobileFooter bool) []string {
	var nb []int // indexes of the non-blank lines
	for i, l := range out {
		if strings.TrimSpace(l) != "" {
			nb = append(nb, i)
		}
	}
	if len(nb) < 2 {
		return out // a signature follows some reply
	}
	last := nb[len(nb)-1]
	lastText := strings.TrimSpace(out[last])
	before := strings.TrimSpace(out[nb[len(nb)-2]])
	introduces := strings.HasSuffix(before, ":") || listItemRE.MatchString(before)
	// "Ann\nSent from my iPhone"
	if byMobileFooter && last == len(out)-1 && isName(lastText) && !introduces {
		return out[:last]
	}
	// "-Ann"
	if dashNameRE.MatchString(lastText) && utf8.RuneCountInString(lastText) <= 30 && !introduces {
		return out[:last]
	}
	// From the bottom up: a closing, or a rule, with a short block below.
	for k := len(nb) - 1; k >= 1 && k >= len(nb)-maxSignatureLines; k-- {
		t := strings.TrimSpace(out[nb[k]])
		below := nb[k+1:]
		switch {
		case closingRE.MatchString(t) && len(below) >= 1 && len(below) <= 3 && allLines(out, below, isNameOrContact):
			return out[:nb[k]]
		case len(t) >= 3 && strings.Trim(t, "-_") == "" && len(below) >= 1 && signatureBlock(out, below):
			return out[:nb[k]]
		}
	}
	// The last paragraph: a name with an address or link below it.
	p := len(nb) - 1
	for p > 0 && nb[p-1] == nb[p]-1 {
		p--
	}
	if p > 0 && len(nb)-p >= 2 && len(nb)-p <= 8 && !strings.HasSuffix(strings.TrimSpace(out[nb[p-1]]), ":") &&
		allLines(out, nb[p:], short) && anyLine(out, nb[p:], contactRE.MatchString) &&
		len(strings.Fields(out[nb[p]])) <= 6 {
		return out[:nb[p]]
	}
	return out
}

// signatureBlock reports whether the lines below a rule look like a
// signature: one or two names, or up to maxSignatureLines short lines with
// an address or a link.
func signatureBlock(out []string, idx []int) bool {
	if len(idx) <= 2 && allLines(out, idx, isName) {
		return true
	}
	return len(idx) <= maxSignatureLines && allLines(out, idx, short) && anyLine(out, idx, contactRE.MatchString)
}

func allLines(out []string, idx []int, f func(string) bool) bool {
	for _, i := range idx {
		if !f(strings.TrimSpace(out[i])) {
			return false
		}
	}
	return true
}

func anyLine(out []string, idx []int, f func(string) bool) bool {
	for _, i := range idx {
		if f(strings.TrimSpace(out[i])) {
			return true
		}
	}
	return false
}

func short(t string) bool { return utf8.RuneCountInString(t) <= 60 }

func isNameOrContact(t string) bool {
	return isName(t) || short(t) && contactRE.MatchString(t)
}

// isName reports whether a line looks like a person's or company's name:
// one to four capitalised words without digits or sentence punctuation.
func isName(t string) bool {
	words := strings.Fields(t)
	if len(words) == 0 || len(words) > 4 || utf8.RuneCountInString(t) > 40 || strings.ContainsAny(t, "?!:;@/") {
		return false
	}
	for _, w := range words {
		r, _ := utf8.DecodeRuneInString(w)
		if nameParticles[strings.ToLower(w)] {
			continue
		}
		if !unicode.IsUpper(r) || strings.IndexFunc(w, unicode.IsDigit) >= 0 {
			return false
		}
	}
	return true
}
