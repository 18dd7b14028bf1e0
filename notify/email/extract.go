package email

import (
	"html"
	"strings"
	"unicode"
)

// literalMark prefixes the lines htmlToText keeps as written (the
// writer's own blockquote); a rune of the Unicode private use area,
// removed from any other input.
const literalMark = "\uE001"

// ExtractReply returns what the sender wrote in a plain-text reply,
// without the quoted history: lines quoted with ">" and the attribution
// above them ("On ..., Ann <...> wrote:" and the forms mail clients write
// in other languages, date first, wrapped or glued to the address), or
// everything from Outlook's "-----Original Message-----" or its
// "From:/Sent:/To:" block down. Text below a quote is kept (bottom-posted
// and inline answers); a forwarded message is kept whole. The signature
// is removed: below a "-- " line, a mobile footer ("Sent from my
// iPhone"), or a closing block that follows the reply ("Thanks!\nAnn",
// "-Ann", a name with an address or link). When unsure, text is kept:
// losing the customer's words is worse than keeping a quote: a text that
// is all quote with no attribution naming a writer comes back whole, its
// quoting undone. The result is valid UTF-8 with LF line ends, without
// control characters other than newline and tab, and trimmed; it is empty
// only when the mail quotes history and adds nothing.
func ExtractReply(text string) string {
	text = cleanText(text, false)
	reply, history := extractReply(text, true)
	if reply == "" && !history {
		// Nothing but a quote without an attribution, or a signature:
		// the writer's own, kept with its quoting undone.
		return unquote(text)
	}
	return reply
}

// extractHTMLReply is ExtractReply for an HTML body.
func extractHTMLReply(src string) string {
	text, history := htmlToText(src, false)
	reply, quoted := extractReply(cleanText(text, true), false)
	if reply == "" && !history && !quoted {
		// Everything was in a quote nobody is named as writing: the
		// writer's own, posted whole.
		whole, _ := htmlToText(src, true)
		return unquote(cleanText(whole, false))
	}
	return reply
}

// unquote returns text without its ">" quoting, blank lines collapsed.
func unquote(text string) string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		l = strings.TrimLeftFunc(strings.TrimPrefix(l, literalMark), func(r rune) bool { return r == '>' || unicode.IsSpace(r) })
		lines[i] = strings.TrimRight(l, " \t")
	}
	return joinLines(lines)
}

// cleanText makes text valid UTF-8 with LF line ends, without control,
// zero-width or bidi characters, and (unless keepMarks) without the
// private marks htmlToText uses.
func cleanText(text string, keepMarks bool) string {
	text = bodyText(text)
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\uE001':
			if keepMarks {
				return r
			}
			return -1
		case r >= 0x80 && unicode.In(r, unicode.Cf) && r != '\u200d':
			return -1 // zero-width and bidi controls
		}
		return r
	}, text)
}

// extractor walks the lines of one mail once; every look ahead is bounded
// by a constant number of lines, so extraction is linear in the input.
type extractor struct {
	lines  []string    // as written, right-trimmed
	next   []int32     // next[i]: the first non-blank line at or after i (len(lines) if none)
	fields []fieldMemo // headerField of each line, once asked
}

// fieldMemo is what headerBlock needs of a line, computed once: a header
// block's lines are looked at from each line above them.
type fieldMemo struct {
	known, at, dated bool
	kind             fieldKind
	inline           fieldKind // further fields on the same line
}

// t returns line i trimmed.
func (x *extractor) t(i int) string { return strings.TrimSpace(x.lines[i]) }

// field returns line i as a header field.
func (x *extractor) field(i int) fieldMemo {
	if f := x.fields[i]; f.known {
		return f
	}
	kind, value := headerField(x.t(i))
	f := fieldMemo{known: true, kind: kind}
	if kind != 0 {
		f.at = strings.Contains(value, "@")
		f.dated = kind == fieldDate && hasDigit(value)
		f.inline = inlineFields(value)
	}
	x.fields[i] = f
	return f
}

func newExtractor(text string) *extractor {
	lines := strings.Split(text, "\n")
	x := &extractor{lines: lines, next: make([]int32, len(lines)+1), fields: make([]fieldMemo, len(lines))}
	x.next[len(lines)] = int32(len(lines))
	for i := len(lines) - 1; i >= 0; i-- {
		lines[i] = strings.TrimRight(lines[i], " \t")
		if strings.TrimSpace(lines[i]) == "" {
			x.next[i] = x.next[i+1]
		} else {
			x.next[i] = int32(i)
		}
	}
	return x
}

// quoteFollows reports whether the first non-blank line after line i is
// quoted.
func (x *extractor) quoteFollows(i int) bool {
	j := int(x.next[min(i+1, len(x.lines))])
	return j < len(x.lines) && isQuoted(x.t(j))
}

// extractReply returns the reply in text (cleaned by cleanText) and
// whether quoted history was found (an attribution or a header block).
// guessSignature: strip signatures recognised by their shape, for plain
// text; HTML marks its signatures, and htmlToText drops them.
func extractReply(text string, guessSignature bool) (reply string, history bool) {
	x := newExtractor(text)
	n := len(x.lines)
	var out []string
	hasText := false // out has a non-blank line
	byMobileFooter := false
	add := func(l string) {
		out = append(out, l)
		hasText = hasText || strings.TrimSpace(l) != ""
	}
lines:
	for i := 0; i < n; i++ {
		raw, t := x.lines[i], x.t(i)
		if l, ok := strings.CutPrefix(raw, literalMark); ok {
			if !isQuoted(strings.TrimSpace(l)) {
				add(l)
			}
			continue
		}
		switch {
		case t == "":
			out = append(out, "")
			continue
		case isQuoted(t):
			continue
		case t == "--":
			if hasText {
				break lines // signature
			}
			add(raw)
			continue
		case len(t) > maxMarker:
			add(raw)
			continue
		case isForward(t):
			// The customer's content: kept as it is (quotes excepted).
			for ; i < n; i++ {
				if u := x.t(i); !isQuoted(u) {
					add(strings.TrimPrefix(x.lines[i], literalMark))
				}
			}
			break lines
		case isMobileFooter(t):
			if hasText {
				byMobileFooter = true
				break lines // what follows is the quoted mail
			}
			continue
		case isRule(t) && x.listFooter(i):
			break lines
		}
		kind, used, keep := x.quoteStarts(i)
		if kind != noQuote {
			history = true
			if keep != "" {
				add(keep)
			}
		}
		switch kind {
		case historyBlock:
			break lines
		case attribution:
			i += used - 1 // the quote below is skipped line by line
			continue
		}
		if x.wrappedInQuote(i) {
			continue
		}
		add(raw)
	}
	if guessSignature {
		out = stripSignature(out, byMobileFooter)
	}
	return joinLines(out), history
}

// wrappedInQuote reports whether line i, between two quoted lines, is the
// rest of a link the quoting client wrapped (" (http://...) >",
// "_nonce=3dd518)"). An inline answer is a sentence, and usually set off
// by blank lines.
func (x *extractor) wrappedInQuote(i int) bool {
	if i == 0 || i+1 >= len(x.lines) || !isQuoted(x.t(i-1)) || !isQuoted(x.t(i+1)) {
		return false
	}
	t := x.t(i)
	return strings.Contains(t, "://") || !strings.Contains(t, " ") && strings.ContainsAny(t, "=_/")
}

// joinLines joins lines with at most one blank line in a row, trimmed.
func joinLines(lines []string) string {
	var b strings.Builder
	blank := 0
	for _, l := range lines {
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
	attribution            // "On ... wrote:" above a ">" quote: the reply may go on below it
	historyBlock           // the quoted mail, unmarked, to the end
)

// quoteStarts reports whether quoted history starts at line i, how, over
// how many lines its marker runs, and the reply's text that shares the
// marker's line ("Sounds good. On ... wrote:").
func (x *extractor) quoteStarts(i int) (kind quoteKind, used int, keep string) {
	t := x.t(i)
	if inner, ok := dashed(t); ok {
		if isOriginalMessage(inner) {
			return historyBlock, 1, ""
		}
		// "---- Ann wrote ----", "------On ..., Ann wrote-----"
		if q := x.quoteFollows(i); isAttribution(strings.TrimRight(inner, ":")+":", q) {
			return classify(q), 1, ""
		}
	}
	if isRule(t) {
		if j := int(x.next[i+1]); j < len(x.lines) && j <= i+3 && x.headerBlock(j) {
			return historyBlock, 1, ""
		}
		return noQuote, 1, ""
	}
	if x.headerBlock(i) {
		return historyBlock, 1, ""
	}
	if q := x.quoteFollows(i); isAttribution(t, q) {
		return classify(q), 1, sharedLine(t, q)
	}
	// An attribution wrapped over a few lines; clients break it anywhere,
	// and Polymail puts blank lines and a ">" inside.
	if !startsAttribution(t) {
		return noQuote, 1, ""
	}
	joined := t
	for k := 1; k <= 5 && i+k < len(x.lines); k++ {
		u := x.t(i + k)
		if u == "" {
			continue
		}
		if len(u) > maxMarker || startsAttribution(u) || x.headerBlock(i+k) {
			break
		}
		joined += " " + strings.TrimSpace(strings.TrimLeft(u, ">"))
		if endsWithColon(joined) || strings.HasSuffix(joined, ">") {
			q := x.quoteFollows(i + k)
			if isAttribution(joined, q) {
				return classify(q), k + 1, ""
			}
			if endsWithColon(joined) {
				break
			}
		}
	}
	return noQuote, 1, ""
}

func classify(quoteFollows bool) quoteKind {
	if quoteFollows {
		return attribution
	}
	return historyBlock
}

// sharedLine returns the reply's text before an attribution that starts
// inside line t ("reply--- On Wed, ... wrote:"), or "".
func sharedLine(t string, quoteFollows bool) string {
	if attributionStartRE.MatchString(t) || dateStartRE.MatchString(t) {
		return ""
	}
	for _, m := range inlineStartRE.FindAllStringSubmatchIndex(t, 8) {
		p := m[2]
		if isAttribution(t[p:], quoteFollows) {
			return strings.TrimRight(t[:p], " -")
		}
	}
	return ""
}

// headerBlock reports whether a header block of the quoted mail starts at
// line i: a From or Date field, then at least one other field within a few
// lines, and an address or a Subject among them (or three fields, one a
// date) ("From: Ann <...>\nSent:
// ...\nTo: ...\nSubject: ..." and its translations, in any order Outlook,
// Hotmail or webmail write it).
func (x *extractor) headerBlock(i int) bool {
	f := x.field(i)
	if f.kind != fieldFrom && f.kind != fieldDate {
		return false
	}
	kinds := f.kind | f.inline
	evidence, dated := f.at, f.dated
	for k, other := i+1, 0; k < len(x.lines) && k <= i+8 && other < 2; k++ {
		if x.next[k] != int32(k) {
			continue // blank
		}
		g := x.field(k)
		if g.kind == 0 {
			other++ // a wrapped value, or the end of the block
			continue
		}
		kinds |= g.kind
		evidence = evidence || g.at
		dated = dated || g.dated
	}
	distinct := 0
	for k := kinds; k != 0; k &= k - 1 {
		distinct++
	}
	// Windows Mail links the addresses: From, a dated Sent and To suffice.
	return distinct >= 2 && (evidence || kinds&fieldSubject != 0) || distinct >= 3 && dated
}

// listFooter reports whether the rule at line i starts a mailing list's
// footer.
func (x *extractor) listFooter(i int) bool {
	for k := i + 1; k < len(x.lines) && k <= i+4; k++ {
		if u := x.t(k); len(u) <= maxMarker && listFooterRE.MatchString(u) {
			return true
		}
	}
	return false
}

// htmlToText turns an HTML body into plain text: tags removed (with the
// content of script, style, head and the like), entities decoded, block
// elements and <br> turned into line breaks. Quoted history is dropped:
// Gmail's gmail_quote, Thunderbird's and Apple Mail's cite blockquotes,
// and any blockquote below an attribution ("On ... wrote:"), which leaves
// a ">" line so the extractor sees the attribution's quote. A blockquote
// of the writer's own (Gmail's indent) is kept, its lines marked with
// literalMark; a forwarded message is kept. The result is text, never
// markup, whatever the input.
func htmlToText(src string, keepQuotes bool) (text string, history bool) {
	var b strings.Builder
	lastQuote := -1 // offset of the blockquote taken for the quote, if no client marked one
	if !keepQuotes {
		lastQuote = unmarkedQuote(src)
	}
	skipUntil := ""   // raw-text element whose end tag ends skipping
	skipName := ""    // element whose subtree is skipped
	skipDepth := 0    // nesting of skipName while skipping
	preDepth := 0     // inside <pre>: keep white space
	textStart := true // at the start of a line
	literalDepth := 0 // open blockquotes of the writer's own
	write := func(t string) {
		for _, r := range t {
			if r == '\uE001' {
				continue
			}
			if literalDepth > 0 && r != '\n' && (b.Len() == 0 || strings.HasSuffix(b.String(), "\n")) {
				b.WriteString(literalMark)
			}
			b.WriteRune(r)
		}
	}
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
		write(t)
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
	quoteDropped := func() { // a ">" line where a quote was
		block()
		write(">")
		lineBreak()
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
		tagAt := i
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
			switch {
			case keepQuotes:
			case closing:
				literalDepth = max(literalDepth-1, 0)
			case strings.Contains(strings.ToLower(attrs), "cite") || isAttribution(lastLine(b.String()), true):
				skipName, skipDepth, history = name, 1, true
				quoteDropped()
				continue
			case tagAt == lastQuote:
				skipName, skipDepth = name, 1
				quoteDropped()
				continue
			default: // the writer's own
				literalDepth++
			}
		case "div", "span", "section":
			switch {
			case keepQuotes || closing:
			case signatureContainer(attrs):
				skipName, skipDepth = name, 1
				continue
			case quoteContainer(attrs) && !forwardAhead(src[i:]):
				skipName, skipDepth, history = name, 1, true
				quoteDropped()
				continue
			}
		case "pre":
			if !keepQuotes && !closing && signatureContainer(attrs) {
				skipName, skipDepth = name, 1
				continue
			}
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
		case "div", "tr", "pre", "hr", "section", "article", "header", "footer", "dt", "dd", "center", "address", "blockquote":
			block()
		case "li":
			block()
			if !closing {
				write("- ")
				textStart = false
			}
		case "td", "th":
			if !closing && !textStart {
				write(" ")
			}
		}
	}
	// Tidy: trim lines, at most one blank line in a row.
	lines := strings.Split(b.String(), "\n")
	var out []string
	blank := false
	for _, l := range lines {
		l = strings.TrimRight(l, " \t")
		if l == "" || l == literalMark {
			l = ""
			if !blank && len(out) > 0 {
				out = append(out, "")
			}
			blank = true
			continue
		}
		blank = false
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n")), history
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
	return strings.Contains(a, "gmail_quote") || strings.Contains(a, "moz-cite-prefix") ||
		strings.Contains(a, `type="cite"`) || strings.Contains(a, "yahoo_quoted") ||
		strings.Contains(a, "protonmail_quote")
}

// signatureContainer reports whether an element's attributes mark it as
// the writer's signature (Gmail, Thunderbird, Outlook, Windows Mail).
func signatureContainer(attrs string) bool {
	a := strings.ToLower(attrs)
	return strings.Contains(a, "gmail_signature") || strings.Contains(a, "moz-signature") ||
		strings.Contains(a, `id="signature"`) || strings.Contains(a, `data-signatureblock`) ||
		strings.Contains(a, "x_signature") || strings.Contains(a, `id="appendonsend"`)
}

// unmarkedQuote returns the offset of the last outermost blockquote of an
// HTML body whose client marks no quote (no Gmail, cite, Thunderbird or
// Yahoo markup), or -1: in such a mail the quote, if any, is the last
// blockquote (Gmail's quote blockquotes excepted); earlier ones are the
// writer's own.
func unmarkedQuote(src string) int {
	lower := strings.ToLower(src)
	for _, m := range []string{"gmail_quote", "cite", "yahoo_quoted", "protonmail_quote"} {
		if strings.Contains(lower, m) {
			return -1
		}
	}
	last, depth := -1, 0
	for i := 0; i < len(lower); {
		lt := strings.IndexByte(lower[i:], '<')
		if lt < 0 {
			break
		}
		i += lt
		name, _, closing, n := parseTag(lower[i:])
		switch {
		case name != "blockquote":
		case closing:
			depth = max(depth-1, 0)
		default:
			if depth == 0 {
				last = i
			}
			depth++
		}
		i += max(n, 1)
	}
	return last
}

// forwardAhead reports whether the text of the HTML at the start of src
// begins a forwarded message (Gmail wraps one in its gmail_quote).
func forwardAhead(src string) bool {
	if len(src) > 600 {
		src = src[:600]
	}
	var text strings.Builder
	for len(src) > 0 && text.Len() < 200 {
		lt := strings.IndexByte(src, '<')
		if lt < 0 {
			text.WriteString(src)
			break
		}
		text.WriteString(src[:lt])
		text.WriteByte(' ')
		gt := strings.IndexByte(src[lt:], '>')
		if gt < 0 {
			break
		}
		src = src[lt+gt+1:]
	}
	return containsAny(strings.ToLower(html.UnescapeString(text.String())), forwardMarkers)
}

// lastLine returns the last non-blank line of text (of at most maxMarker
// bytes), without marks.
func lastLine(text string) string {
	text = strings.TrimRight(text, " \t\n")
	if len(text) > maxMarker {
		text = text[len(text)-maxMarker:]
	}
	if nl := strings.LastIndexByte(text, '\n'); nl >= 0 {
		text = text[nl+1:]
	}
	return strings.TrimSpace(strings.TrimPrefix(text, literalMark))
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
