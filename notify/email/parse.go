package email

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // decode ISO-8859-*, Windows-125x, ... (sets message.CharsetReader)

	"github.com/shopchat/chat"
)

// Parse errors. Test with errors.Is; the wrapped text says more.
var (
	// ErrAutoReply: the mail is automatic (RFC 3834 Auto-Submitted other
	// than "no", Precedence bulk/junk/list/auto_reply, X-Autoreply,
	// X-Autorespond, List-Id, a read receipt): never posted.
	ErrAutoReply = errors.New("email: automatic reply")
	// ErrBounce: a delivery status notification (multipart/report with
	// report-type=delivery-status) or mail from a null or MAILER-DAEMON
	// sender: never posted.
	ErrBounce = errors.New("email: bounce")
	// ErrNoToken: no recipient is reply+<token>@Domain.
	ErrNoToken = errors.New("email: no reply address among the recipients")
	// ErrTooLarge: the mail is larger than InboundConfig.MaxSize.
	ErrTooLarge = errors.New("email: message too large")
	// ErrTooDeep: MIME parts nest deeper than InboundConfig.MaxDepth.
	ErrTooDeep = errors.New("email: MIME nesting too deep")
	// ErrMalformed: the mail cannot be parsed or decoded (broken header,
	// transfer encoding or multipart structure, no usable From).
	ErrMalformed = errors.New("email: malformed message")
	// ErrNoText: the mail has no text of its own once quoted history and
	// signature are removed, and no attachment: the sender sent our mail
	// back unchanged. It is dropped (logged), not refused, so the sender
	// gets no bounce.
	ErrNoText = errors.New("email: no reply text")
)

// maxBodyText bounds the decoded text searched for the reply: enough for
// a reply below a long quote (bottom-posting).
const maxBodyText = 1 << 20

// envelope is what the SMTP transaction said, when known.
type envelope struct {
	rcpts      []string
	nullSender bool // MAIL FROM:<>
}

// parse reads one raw mail and extracts the reply. The token comes only
// from a recipient address, the sender only from the From header's
// address.
func (in *Inbound) parse(raw io.Reader, env envelope) (chat.InboundReply, error) {
	data, e, err := in.read(raw)
	if err != nil {
		return chat.InboundReply{}, err
	}
	return in.parseReply(data, e, env)
}

// read reads one raw mail, at most MaxSize bytes, and its header.
func (in *Inbound) read(raw io.Reader) ([]byte, *message.Entity, error) {
	data, err := io.ReadAll(io.LimitReader(raw, in.cfg.MaxSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: reading: %v", ErrMalformed, err)
	}
	if int64(len(data)) > in.cfg.MaxSize {
		return nil, nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, in.cfg.MaxSize)
	}
	e, err := message.ReadWithOptions(bytes.NewReader(data), &message.ReadOptions{MaxHeaderBytes: 256 << 10})
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		return nil, nil, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	return data, e, nil
}

// parseReply extracts the reply from a mail read by read.
func (in *Inbound) parseReply(data []byte, e *message.Entity, env envelope) (chat.InboundReply, error) {
	var r chat.InboundReply
	h := e.Header

	if err := checkAutomatic(h, env); err != nil {
		return r, err
	}
	from, err := senderAddress(h)
	if err != nil {
		return r, err
	}
	if strings.EqualFold(localPart(from), "mailer-daemon") {
		return r, fmt.Errorf("%w: from %s", ErrBounce, from)
	}
	r.From = from
	token := in.findToken(h, env.rcpts, replyPrefix)
	if token == "" {
		return r, ErrNoToken
	}
	r.Token = token
	r.MessageID = messageID(h, data)

	plain, html, files, err := in.bodies(e)
	if err != nil {
		return r, err
	}
	switch {
	case plain != "":
		r.Text = ExtractReply(plain)
	case html != "":
		r.Text = extractHTMLReply(html)
	}
	// The files go to the Server, which takes them through the same
	// safety path as an upload from the widget (or, with attachments off,
	// names them in the text).
	r.Files = files
	if r.Text == "" && len(r.Files) == 0 {
		return r, ErrNoText
	}
	return r, nil
}

// maxAttachmentNames bounds the files taken from one reply.
const maxAttachmentNames = 10

// attachmentName returns the name a part gives its file, made safe to
// show as text, or "" for none.
func attachmentName(h message.Header) string {
	_, params, _ := h.ContentDisposition()
	name := params["filename"]
	if name == "" {
		_, ctParams, _ := h.ContentType()
		name = ctParams["name"]
	}
	if dec, err := wordDecoder.DecodeHeader(name); err == nil {
		name = dec
	}
	name = strings.Join(strings.Fields(bodyText(name)), " ")
	return truncateRunes(name, 100)
}

func truncateRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i] + "…"
		}
		n--
	}
	return s
}

// checkAutomatic refuses bounces and automatic mail.
func checkAutomatic(h message.Header, env envelope) error {
	if env.nullSender {
		return fmt.Errorf("%w: null envelope sender", ErrBounce)
	}
	if rp := strings.TrimSpace(h.Get("Return-Path")); rp == "<>" {
		return fmt.Errorf("%w: null Return-Path", ErrBounce)
	}
	if t, params, err := h.ContentType(); err == nil && t == "multipart/report" {
		rt := strings.ToLower(params["report-type"])
		if rt == "delivery-status" || rt == "" {
			return fmt.Errorf("%w: delivery status notification", ErrBounce)
		}
		return fmt.Errorf("%w: report (%s)", ErrAutoReply, rt)
	}
	if v := h.Get("Auto-Submitted"); v != "" {
		kw, _, _ := strings.Cut(v, ";")
		if kw = strings.ToLower(strings.TrimSpace(kw)); kw != "no" {
			return fmt.Errorf("%w: Auto-Submitted: %s", ErrAutoReply, headerText(kw, 40))
		}
	}
	switch p := strings.ToLower(strings.TrimSpace(h.Get("Precedence"))); p {
	case "bulk", "junk", "list", "auto_reply":
		return fmt.Errorf("%w: Precedence: %s", ErrAutoReply, p)
	}
	for _, k := range []string{"X-Autoreply", "X-Autorespond", "X-Autoresponder", "List-Id"} {
		if h.Has(k) {
			return fmt.Errorf("%w: %s header", ErrAutoReply, k)
		}
	}
	return nil
}

var wordDecoder = &mime.WordDecoder{CharsetReader: message.CharsetReader}

// senderAddress returns the address of the one From header: never its
// display name, never Reply-To or Sender.
func senderAddress(h message.Header) (string, error) {
	froms := h.Values("From")
	if len(froms) != 1 {
		return "", fmt.Errorf("%w: %d From headers", ErrMalformed, len(froms))
	}
	if strings.TrimSpace(froms[0]) == "<>" {
		return "", fmt.Errorf("%w: null From", ErrBounce)
	}
	p := mail.AddressParser{WordDecoder: wordDecoder}
	list, err := p.ParseList(froms[0])
	if err != nil || len(list) != 1 {
		return "", fmt.Errorf("%w: From must name one address", ErrMalformed)
	}
	addr := list[0].Address
	if !chat.ValidEmail(addr) {
		return "", fmt.Errorf("%w: From address is not usable", ErrMalformed)
	}
	return addr, nil
}

func localPart(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[:i]
	}
	return addr
}

var tokenRE = regexp.MustCompile(`(?i)(?:^|[\s<,:;"])(reply|bounce)\+([a-z2-7]{1,58})@([a-z0-9.-]+)`)

// The local parts of our addresses: replies to our mail, and the return
// path of mail to visitors (delivery status notifications).
const (
	replyPrefix  = "reply+"
	bouncePrefix = "bounce+"
)

// findToken returns the token of the first prefix<token>@Domain recipient:
// the SMTP envelope's first, then Delivered-To, X-Original-To, To and Cc.
func (in *Inbound) findToken(h message.Header, rcpts []string, prefix string) string {
	var candidates []string
	candidates = append(candidates, rcpts...)
	p := mail.AddressParser{WordDecoder: wordDecoder}
	for _, k := range []string{"Delivered-To", "X-Original-To", "To", "Cc"} {
		for _, v := range h.Values(k) {
			if list, err := p.ParseList(v); err == nil {
				for _, a := range list {
					candidates = append(candidates, a.Address)
				}
				continue
			}
			// An unparsable list: take addresses that look like ours.
			for _, m := range tokenRE.FindAllStringSubmatch(v, -1) {
				candidates = append(candidates, m[1]+"+"+m[2]+"@"+m[3])
			}
		}
	}
	for _, c := range candidates {
		if t := in.tokenOf(c, prefix); t != "" {
			return t
		}
	}
	return ""
}

// tokenOf returns the token in addr if addr is prefix<token>@Domain.
func (in *Inbound) tokenOf(addr, prefix string) string {
	addr = strings.ToLower(strings.Trim(strings.TrimSpace(addr), "<>"))
	at := strings.LastIndexByte(addr, '@')
	if at < 0 || addr[at+1:] != in.cfg.Domain {
		return ""
	}
	token, ok := strings.CutPrefix(addr[:at], prefix)
	if !ok || !validToken(token) {
		return ""
	}
	return token
}

// messageID returns the mail's Message-ID, or for a mail without one a
// digest of its bytes, so a second delivery still posts nothing.
func messageID(h message.Header, data []byte) string {
	id := headerText(h.Get("Message-Id"), 500)
	if id != "" {
		return id
	}
	sum := sha256.Sum256(data)
	return "<sha256-" + hex.EncodeToString(sum[:16]) + "@shopchat.invalid>"
}

// bodies walks the MIME tree (at most MaxDepth levels) and returns the
// first inline text/plain and text/html parts, decoded to UTF-8, and the
// names of the attached files (at most maxAttachmentNames).
func (in *Inbound) bodies(root *message.Entity) (plain, html string, attached []chat.InboundFile, err error) {
	var walk func(e *message.Entity, depth int) error
	walk = func(e *message.Entity, depth int) error {
		if depth > in.cfg.MaxDepth {
			return fmt.Errorf("%w: more than %d levels", ErrTooDeep, in.cfg.MaxDepth)
		}
		if mr := e.MultipartReader(); mr != nil {
			for {
				part, err := mr.NextPart()
				if errors.Is(err, io.EOF) {
					return nil
				}
				if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
					return fmt.Errorf("%w: multipart: %v", ErrMalformed, err)
				}
				if err := walk(part, depth+1); err != nil {
					return err
				}
			}
		}
		t, params, cterr := e.Header.ContentType()
		if cterr != nil {
			t = "text/plain" // RFC 2045: a broken Content-Type is text/plain
		}
		disp, _, _ := e.Header.ContentDisposition()
		isText := (t == "text/plain" || t == "text/html") && disp != "attachment"
		if !isText {
			// A file: an attachment, or an inline image or document.
			// Parts of a multipart/related HTML body (Outlook's logos)
			// have no disposition and are not the sender's files.
			if name := attachmentName(e.Header); name != "" && (disp == "attachment" || disp == "inline") {
				if len(attached) < maxAttachmentNames {
					// The whole mail is within MaxSize, so is the file.
					data, err := io.ReadAll(e.Body)
					if err != nil {
						return fmt.Errorf("%w: attachment %q cannot be decoded: %v", ErrMalformed, name, err)
					}
					attached = append(attached, chat.InboundFile{Name: name, Data: data})
				}
			}
			return nil
		}
		if (t == "text/plain" && plain != "") || (t == "text/html" && html != "") {
			return nil
		}
		body, err := io.ReadAll(e.Body)
		if err != nil {
			return fmt.Errorf("%w: %s body cannot be decoded: %v", ErrMalformed, t, err)
		}
		// A reply is at most a few KiB (the Server truncates it to
		// Config.MaxMessageLength); reading further only costs time.
		if len(body) > maxBodyText {
			body = body[:maxBodyText]
			// Not through a character: drop the bytes of one cut in two.
			for i := 0; i < utf8.UTFMax-1 && len(body) > 0; i++ {
				if r, size := utf8.DecodeLastRune(body); r != utf8.RuneError || size != 1 {
					break
				}
				body = body[:len(body)-1]
			}
		}
		// After charset decoding the text is UTF-8, or the mail is refused:
		// text stored with U+FFFD in place of what the customer wrote would
		// be lost words nobody is told about.
		if !utf8.Valid(body) {
			return fmt.Errorf("%w: %s text is not valid in its charset (%q)", ErrMalformed, t, params["charset"])
		}
		s := string(body)
		if t == "text/plain" {
			if strings.EqualFold(params["format"], "flowed") {
				s = unflow(s, strings.EqualFold(params["delsp"], "yes"))
			}
			plain = s
		} else {
			html = s
		}
		return nil
	}
	err = walk(root, 1)
	return plain, html, attached, err
}

// unflow joins the soft line breaks of format=flowed text (RFC 3676).
func unflow(s string, delsp bool) string {
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	var out []string
	var cur strings.Builder
	curDepth, open := 0, false
	for _, line := range lines {
		depth := 0
		for depth < len(line) && line[depth] == '>' {
			depth++
		}
		content := line[depth:]
		content = strings.TrimPrefix(content, " ") // space-stuffing
		if open && depth != curDepth {
			out = append(out, cur.String())
			cur.Reset()
			open = false
		}
		if !open {
			cur.WriteString(strings.Repeat(">", depth))
			if depth > 0 {
				cur.WriteByte(' ')
			}
			curDepth = depth
		}
		soft := strings.HasSuffix(content, " ") && content != "-- "
		if soft && delsp {
			content = content[:len(content)-1]
		}
		cur.WriteString(content)
		if soft {
			open = true
			continue
		}
		out = append(out, cur.String())
		cur.Reset()
		open = false
	}
	if open {
		out = append(out, cur.String())
	}
	return strings.Join(out, "\n")
}
