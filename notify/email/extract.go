package email

import (
	"html"
	"regexp"
	"strings"
	"unicode"
)

// Quoted history starts at one of these lines. Each pattern is matched
// against a line with its surrounding space trimmed, and only against
// lines of at most maxMarker bytes, so that a long line costs no more than
// reading it.
var (
	// "On Mon, 3 Nov 2026 at 10:00, Shop <reply+...@shop.example> wrote:"
	// (Gmail), "On 3 Nov 2026, at 10:00, Shop <...> wrote:" (Apple Mail),
	// "On 03/11/2026 10:00, Shop wrote:" (Thunderbird), and their German,
	// French, Spanish, Italian, Dutch, Portuguese and Russian forms.
	// Clients wrap long ones, so up to three lines are joined. A digit (the
	// date) is required, so "On Monday I wrote:" stays.
	attributionRE      = regexp.MustCompile(`(?i)^(on|am|le|el|il|op|em|в)\s.*\d.*\s(wrote|schrieb|a écrit|escribió|ha scritto|schreef|escreveu|написал|написала)(\s.*)?\s?:$`)
	attributionStartRE = regexp.MustCompile(`(?i)^(on|am|le|el|il|op|em|в)\s`)
	// "-----Original Message-----" (Outlook) and translations.
	originalRE = regexp.MustCompile(`(?i)^-{2,}\s*(original message|ursprüngliche nachricht|message d'origine|mensaje original|messaggio originale|oorspronkelijk bericht|mensagem original|исходное сообщение)\s*-{2,}$`)
	// Mobile signatures; what follows them is quoted history.
	mobileSigRE = regexp.MustCompile(`(?i)^(sent from my \S.*|sent from (mail|outlook) for .*|get outlook for .*|von meinem .* gesendet|envoyé de mon .*|enviado desde mi .*)$`)
)

// Outlook's header block: "From: ...", then "Sent: ..." and "To: ..." or
// "Subject: ..." within a few lines; "*From:*" when converted from HTML;
// German "Von:", French and Spanish "De :", and so on.
var (
	outlookFrom = []string{"from", "von", "de", "da", "van", "от"}
	outlookSent = []string{"sent", "gesendet", "envoyé", "enviado", "inviato", "verzonden", "date", "datum", "отправлено"}
	outlookTo   = []string{"to", "an", "à", "a", "para", "aan", "subject", "betreff", "objet", "asunto", "oggetto", "onderwerp", "кому", "тема"}
)

// maxMarker bounds the length of a line that can mark quoted history.
const maxMarker = 300

// headerField reports whether line starts with one of the field names
// (any case), optionally in *bold*, followed by an optional space and a
// colon: "From:", "*Sent:*", "De :".
func headerField(line string, names []string) bool {
	line = strings.TrimPrefix(line, "*")
	for _, n := range names {
		if len(line) <= len(n) || !strings.EqualFold(line[:len(n)], n) {
			continue
		}
		rest := strings.TrimPrefix(line[len(n):], " ")
		rest = strings.TrimPrefix(rest, "\u00a0")
		if strings.HasPrefix(rest, ":") {
			return true
		}
	}
	return false
}

// isUnderscoreLine reports whether line is Outlook's separator, ten or
// more underscores.
func isUnderscoreLine(line string) bool {
	return len(line) >= 10 && strings.Trim(line, "_") == ""
}

// ExtractReply returns what the sender wrote in a plain-text reply: the
// text before the quoted history (an "On ... wrote:" line, Outlook's
// "-----Original Message-----" or "From:/Sent:/To:" block), without lines
// quoted with ">", the signature after a "-- " line, or a "Sent from my
// iPhone" line. The result is valid UTF-8 with LF line ends, without
// control characters other than newline and tab, and trimmed.
func ExtractReply(text string) string {
	text = bodyText(text)
	text = strings.Map(func(r rune) rune {
		if r >= 0x80 && unicode.In(r, unicode.Cf) && r != '\u200d' {
			return -1 // zero-width and bidi controls
		}
		return r
	}, text)
	lines := strings.Split(text, "\n")
	var out []string
	for i := 0; i < len(lines); i++ {
		raw := strings.TrimRight(lines[i], " \t")
		line := strings.TrimSpace(lines[i])
		if lines[i] == "-- " || line == "--" || line == "-- " {
			break // signature
		}
		if strings.HasPrefix(line, ">") {
			continue // quoted
		}
		if len(line) <= maxMarker && mobileSigRE.MatchString(line) {
			if hasText(out) {
				break
			}
			continue
		}
		kind, n := quoteStarts(lines, i)
		switch kind {
		case historyBlock:
			i = len(lines) // what follows is the quoted mail
			continue
		case attribution:
			if hasText(out) {
				i = len(lines) // top-posted: the rest is history
				continue
			}
			// Bottom-posted: the quote follows, then the reply.
			i += n - 1 // skip the attribution, however wrapped
			continue
		}
		out = append(out, raw)
	}
	// Collapse runs of blank lines; trim.
	var b strings.Builder
	blank := 0
	for _, l := range out {
		if strings.TrimSpace(l) == "" {
			blank++
			continue
		}
		if b.Len() > 0 {
			b.WriteString(strings.Repeat("\n", min(blank, 1)+1))
		}
		blank = 0
		b.WriteString(l)
	}
	return strings.TrimSpace(b.String())
}

type quoteKind int

const (
	noQuote      quoteKind = iota
	attribution            // "On ... wrote:", followed by ">" lines
	historyBlock           // Outlook's unquoted copy of the original mail
)

// quoteStarts reports whether quoted history starts at lines[i], how,
// and over how many lines its first marker runs.
func quoteStarts(lines []string, i int) (quoteKind, int) {
	line := strings.TrimSpace(lines[i])
	if line == "" || len(line) > maxMarker {
		return noQuote, 1
	}
	if line[0] == '-' && originalRE.MatchString(line) {
		return historyBlock, 1
	}
	if attributionStartRE.MatchString(line) {
		joined := line
		for k := 0; k < 3 && i+k < len(lines); k++ {
			if k > 0 {
				next := strings.TrimSpace(lines[i+k])
				if next == "" || len(joined)+len(next) > 2*maxMarker {
					break
				}
				joined += " " + next
			}
			if strings.HasSuffix(joined, ":") && attributionRE.MatchString(joined) {
				return attribution, k + 1
			}
		}
	}
	if isUnderscoreLine(line) {
		for k := i + 1; k < len(lines) && k <= i+2; k++ {
			if next := strings.TrimSpace(lines[k]); next != "" {
				if outlookBlock(lines, k) {
					return historyBlock, 1
				}
				return noQuote, 1
			}
		}
		return noQuote, 1
	}
	if outlookBlock(lines, i) {
		return historyBlock, 1
	}
	return noQuote, 1
}

// outlookBlock reports whether an Outlook header block ("From:", "Sent:",
// "To:"/"Subject:") starts at lines[i].
func outlookBlock(lines []string, i int) bool {
	if !headerField(strings.TrimSpace(lines[i]), outlookFrom) {
		return false
	}
	sent, to := false, false
	for k := i + 1; k < len(lines) && k <= i+6; k++ {
		l := strings.TrimSpace(lines[k])
		sent = sent || headerField(l, outlookSent)
		to = to || headerField(l, outlookTo)
	}
	return sent && to
}

func hasText(lines []string) bool {
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			return true
		}
	}
	return false
}

// htmlToText turns an HTML body into plain text: tags removed (with the
// content of script, style, head and the like), quoted history dropped
// (blockquote, Gmail's gmail_quote, Outlook's divRplyFwdMsg), entities
// decoded, block elements and <br> turned into line breaks. The result
// is text, never markup, whatever the input.
func htmlToText(src string) string {
	var b strings.Builder
	skipUntil := ""   // raw-text element whose end tag ends skipping
	skipName := ""    // element whose subtree is skipped
	skipDepth := 0    // nesting of skipName while skipping
	preDepth := 0     // inside <pre>: keep white space
	textStart := true // at the start of a line
	emitText := func(t string) {
		t = html.UnescapeString(t)
		t = strings.ReplaceAll(t, "\u00a0", " ")
		if preDepth == 0 {
			var w strings.Builder
			space := false
			for _, r := range t {
				if r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f' {
					space = true
					continue
				}
				if space && !textStart {
					w.WriteByte(' ')
				}
				space = false
				w.WriteRune(r)
				textStart = false
			}
			if space && !textStart {
				w.WriteByte(' ')
			}
			t = w.String()
		} else if t != "" {
			textStart = strings.HasSuffix(t, "\n")
		}
		b.WriteString(t)
	}
	lineBreak := func() { // <br>
		b.WriteByte('\n')
		textStart = true
	}
	block := func() { // a block element starts or ends: a new line
		if !textStart {
			lineBreak()
		}
	}
	paragraph := func() { // a paragraph starts or ends: a blank line
		block()
		if b.Len() > 0 && !strings.HasSuffix(b.String(), "\n\n") {
			lineBreak()
		}
	}
	for i := 0; i < len(src); {
		if skipUntil != "" {
			end := indexFold(src[i:], "</"+skipUntil)
			if end < 0 {
				break
			}
			i += end
			skipUntil = ""
			// the end tag itself is consumed below
		}
		lt := strings.IndexByte(src[i:], '<')
		if lt < 0 {
			if skipDepth == 0 {
				emitText(src[i:])
			}
			break
		}
		if lt > 0 && skipDepth == 0 {
			emitText(src[i : i+lt])
		}
		i += lt
		rest := src[i:]
		switch {
		case strings.HasPrefix(rest, "<!--"):
			end := strings.Index(rest[4:], "-->")
			if end < 0 {
				i = len(src)
			} else {
				i += 4 + end + 3
			}
			continue
		case strings.HasPrefix(rest, "<!") || strings.HasPrefix(rest, "<?"):
			end := strings.IndexByte(rest, '>')
			if end < 0 {
				i = len(src)
			} else {
				i += end + 1
			}
			continue
		}
		name, attrs, closing, n := parseTag(rest)
		if n == 0 { // not a tag: a literal "<"
			if skipDepth == 0 {
				emitText("<")
			}
			i++
			continue
		}
		i += n
		if skipDepth > 0 {
			if name == skipName {
				if closing {
					skipDepth--
				} else if !strings.HasSuffix(attrs, "/") {
					skipDepth++
				}
			}
			continue
		}
		switch name {
		case "script", "style", "head", "title", "template", "noscript", "textarea", "xml":
			if !closing {
				skipUntil = name
			}
			continue
		case "blockquote":
			if !closing {
				skipName, skipDepth = name, 1
			}
			continue
		case "div", "span", "section":
			if !closing && quoteContainer(attrs) {
				skipName, skipDepth = name, 1
				continue
			}
		case "pre":
			if closing {
				preDepth = max(preDepth-1, 0)
			} else {
				preDepth++
			}
		}
		switch name {
		case "br":
			lineBreak()
		case "p", "table", "ul", "ol", "dl", "h1", "h2", "h3", "h4", "h5", "h6":
			paragraph()
		case "div", "tr", "pre", "hr", "section", "article", "header", "footer", "dt", "dd", "center", "address":
			block()
		case "li":
			block()
			if !closing {
				b.WriteString("- ")
				textStart = false
			}
		case "td", "th":
			if !closing && !textStart {
				b.WriteByte(' ')
			}
		}
	}
	// Tidy: trim lines, at most one blank line in a row.
	lines := strings.Split(b.String(), "\n")
	var out []string
	blank := false
	for _, l := range lines {
		l = strings.TrimRight(l, " \t")
		if l == "" {
			if !blank && len(out) > 0 {
				out = append(out, "")
			}
			blank = true
			continue
		}
		blank = false
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}

// parseTag parses the tag at the start of s ("<name attrs>" or
// "</name>"): its lower-case name, its raw attributes, whether it closes,
// and its length; n is 0 if s does not start with a tag.
func parseTag(s string) (name, attrs string, closing bool, n int) {
	j := 1
	if j < len(s) && s[j] == '/' {
		closing = true
		j++
	}
	start := j
	for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9' || s[j] == ':' || s[j] == '-') {
		j++
	}
	if j == start || (start == 1 && !(s[1] >= 'a' && s[1] <= 'z' || s[1] >= 'A' && s[1] <= 'Z')) {
		return "", "", false, 0
	}
	name = strings.ToLower(s[start:j])
	attrStart := j
	var quote byte
	for ; j < len(s); j++ {
		c := s[j]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '>':
			return name, s[attrStart:j], closing, j + 1
		}
	}
	return name, s[attrStart:], closing, len(s) // unterminated: to the end
}

// quoteContainer reports whether an element's attributes mark it as a
// client's wrapper of quoted history.
func quoteContainer(attrs string) bool {
	a := strings.ToLower(attrs)
	return strings.Contains(a, "gmail_quote") || strings.Contains(a, "divrplyfwdmsg") ||
		strings.Contains(a, "moz-cite-prefix") || strings.Contains(a, `type="cite"`) ||
		strings.Contains(a, "yahoo_quoted") || strings.Contains(a, "protonmail_quote")
}

// indexFold is strings.Index, ignoring ASCII case.
func indexFold(s, substr string) int {
	n := len(substr)
	for i := 0; i+n <= len(s); i++ {
		if strings.EqualFold(s[i:i+n], substr) {
			return i
		}
	}
	return -1
}
