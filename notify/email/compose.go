package email

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"net/mail"
	"strings"
	texttemplate "text/template"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	gomail "github.com/wneessen/go-mail"

	"github.com/shopchat/chat"
)

// The bodies come from embedded templates: text/template for the plain
// part, html/template for the HTML part, which escapes every value, so
// user text is always shown as text.
//
//go:embed templates
var templateFS embed.FS

var (
	textTemplates = texttemplate.Must(texttemplate.ParseFS(templateFS, "templates/*.txt"))
	htmlTemplates = htmltemplate.Must(htmltemplate.ParseFS(templateFS, "templates/*.html"))
)

// mailData is what the templates see.
type mailData struct {
	Subject        string
	Heading        string
	SiteName       string
	VisitorLabel   string // operator mail: "Ann <ann@example.com>"
	ConversationID string
	ConsoleURL     string
	CanReply       bool // mail with a reply address
	UnsubscribeURL string
	T              *phrases   // the words of mail to the visitor, in their language
	Question       []mailLine // what the answers reply to
	Messages       []mailLine
}

type mailLine struct {
	Author string
	Time   string
	Text   string
	System bool
	Files  []mailFile
}

// mailFile is an attachment in a mail: its name and a signed, expiring
// link to it (empty without Config.ChatURL). Mail never carries the file.
type mailFile struct {
	Name string
	URL  string
}

// messageIDSpace makes Message-IDs from notification ids: the same
// notification always gets the same Message-ID, so a notification the
// Server hands over twice is recognisable as one mail.
var messageIDSpace = uuid.MustParse("6f1c2e0a-5b7d-4d8e-9a43-2c1b0e9f7d11")

// compose builds the mail for note, or returns nil (logged) when there is
// nobody to send it to.
func (n *Notifier) compose(note chat.Notification) (*job, error) {
	conv := ""
	if note.Conversation != nil {
		conv = note.Conversation.ID
	}
	j := &job{kind: note.Kind, conv: conv}
	m := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	lang := ""
	if note.Conversation != nil {
		lang = note.Conversation.Language
	}
	p := phrasesFor(lang)
	if note.Kind == chat.OfflineMessage || note.Kind == chat.NewConversation {
		p = phrasesFor("en") // the team's mail
	}
	data := mailData{SiteName: n.cfg.SiteName, ConversationID: conv, T: p}
	from := n.cfg.From
	visitorName, visitorEmail := "", ""
	if note.Visitor != nil {
		visitorName = headerText(note.Visitor.Name, 100)
		if chat.ValidEmail(note.Visitor.Email) {
			visitorEmail = note.Visitor.Email
		}
	}

	switch note.Kind {
	case chat.OfflineMessage, chat.NewConversation:
		if len(n.cfg.Operators) == 0 {
			n.skip(note, "no Config.Operators to mail")
			return nil, nil
		}
		j.to = n.cfg.Operators
		for _, op := range n.cfg.Operators {
			if err := m.AddTo(op); err != nil {
				return nil, fmt.Errorf("email: operator address %q: %w", op, err)
			}
		}
		label := visitorLabel(visitorName, visitorEmail)
		data.VisitorLabel = label
		if n.cfg.ConsoleURL != "" {
			data.ConsoleURL = n.cfg.ConsoleURL + "#conv=" + conv // the console opens it
		}
		if note.Kind == chat.OfflineMessage {
			j.subject = fmt.Sprintf("[%s] New message from %s", n.cfg.SiteName, label)
			data.Heading = label + " wrote while no one was available:"
		} else {
			j.subject = fmt.Sprintf("[%s] %s is waiting for an answer", n.cfg.SiteName, label)
			data.Heading = label + " is waiting while every operator is away:"
		}
		for _, msg := range note.Messages {
			data.Messages = append(data.Messages, n.line(msg, visitorName, false, p, note.AttachmentLinks))
		}
		// Reply-To carries the team's token, never the visitor's address
		// (theirs to type, unverified): an operator's mailed answer is
		// posted into the conversation as that operator.
		if validToken(note.TeamReplyToken) {
			data.CanReply = true
			m.ReplyToMailAddress(&mail.Address{Name: n.cfg.SiteName + " chat", Address: "reply+" + note.TeamReplyToken + "@" + n.cfg.ReplyDomain})
		}
	case chat.MissedReply, chat.Transcript:
		if visitorEmail == "" {
			n.skip(note, "the visitor left no valid email address")
			return nil, nil
		}
		if note.Visitor.MailBounces() {
			n.skip(note, "mail to the visitor's address bounces")
			return nil, nil
		}
		j.to = []string{visitorEmail}
		m.ToMailAddress(&mail.Address{Name: visitorName, Address: visitorEmail})
		opName := operatorName(note)
		if opName != "" {
			from.Name = headerText(p.f(p.OperatorAt, opName, n.cfg.SiteName), 100)
		}
		if note.Kind == chat.MissedReply {
			who := opName
			if who == "" {
				who = n.cfg.SiteName
			}
			// One subject for every reply, so Gmail threads them (it
			// threads by subject); the transcript's differs.
			j.subject = p.f(p.SubjectReply, n.cfg.SiteName)
			data.Heading = p.f(p.Replied, who)
			for _, msg := range note.Question {
				if msg != nil && msg.Kind == chat.VisitorText {
					data.Question = append(data.Question, n.line(msg, visitorName, true, p, note.AttachmentLinks))
				}
			}
		} else {
			j.subject = p.f(p.SubjectTranscript, n.cfg.SiteName)
			data.Heading = p.f(p.TranscriptHeading, n.cfg.SiteName)
		}
		for _, msg := range note.Messages {
			if msg == nil || !msg.Kind.VisibleToVisitor() {
				continue // internal notes never leave the team
			}
			data.Messages = append(data.Messages, n.line(msg, visitorName, true, p, note.AttachmentLinks))
		}
		if validToken(note.ReplyToken) {
			data.CanReply = true
			m.ReplyToMailAddress(&mail.Address{Name: n.cfg.SiteName, Address: "reply+" + note.ReplyToken + "@" + n.cfg.ReplyDomain})
		} else {
			n.log.Warn("email: notification has no reply token: replies go to From", "kind", note.Kind, "conversation", conv)
		}
		if validToken(note.BounceToken) {
			// VERP: a delivery failure comes back to an address that
			// names the conversation (Inbound records it).
			if err := m.EnvelopeFrom("bounce+" + note.BounceToken + "@" + n.cfg.ReplyDomain); err != nil {
				return nil, fmt.Errorf("email: return path: %w", err)
			}
		}
		if n.cfg.ChatURL != "" && validToken(note.UnsubscribeToken) {
			// RFC 2369 and RFC 8058: mail clients offer "unsubscribe",
			// and providers POST List-Unsubscribe=One-Click to it.
			data.UnsubscribeURL = n.cfg.ChatURL + "mail/unsubscribe?t=" + note.UnsubscribeToken
			m.SetGenHeaderPreformatted("List-Unsubscribe", "<"+data.UnsubscribeURL+">")
			m.SetGenHeaderPreformatted("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
		}
	default:
		return nil, nil
	}

	j.subject = headerText(j.subject, 200)
	data.Subject = j.subject
	m.FromMailAddress(&from)
	m.Subject(j.subject)
	m.SetDateWithValue(n.cfg.Now())
	id := uuid.New()
	if note.ID != "" {
		id = uuid.NewSHA1(messageIDSpace, []byte(note.ID))
	}
	m.SetMessageIDWithValue(id.String() + "@" + n.cfg.ReplyDomain)
	if conv != "" {
		root := "<" + threadID(conv, n.cfg.ReplyDomain) + ">"
		m.SetGenHeaderPreformatted(gomail.HeaderInReplyTo, root)
		m.SetGenHeaderPreformatted(gomail.HeaderReferences, root)
	}
	// RFC 3834: this mail is automatic; auto-responders must not answer it.
	m.SetGenHeaderPreformatted("Auto-Submitted", "auto-generated")
	m.SetGenHeaderPreformatted(gomail.HeaderXAutoResponseSuppress, "All")

	var text, html bytes.Buffer
	name := "visitor"
	if note.Kind == chat.OfflineMessage || note.Kind == chat.NewConversation {
		name = "operator"
	}
	if err := textTemplates.ExecuteTemplate(&text, name+".txt", data); err != nil {
		return nil, fmt.Errorf("email: text template: %w", err)
	}
	if err := htmlTemplates.ExecuteTemplate(&html, name+".html", data); err != nil {
		return nil, fmt.Errorf("email: html template: %w", err)
	}
	j.text = text.String()
	m.SetBodyString(gomail.TypeTextPlain, j.text)
	m.AddAlternativeString(gomail.TypeTextHTML, html.String())
	j.msg = m
	return j, nil
}

func (n *Notifier) skip(note chat.Notification, why string) {
	n.add("email_skipped_total")
	conv := ""
	if note.Conversation != nil {
		conv = note.Conversation.ID
	}
	n.log.Info("email: not sent: "+why, "kind", note.Kind, "conversation", conv)
}

// line renders one chat message for a mail body.
func (n *Notifier) line(m *chat.Message, visitorName string, toVisitor bool, p *phrases, links map[string]string) mailLine {
	if m == nil {
		return mailLine{}
	}
	l := mailLine{Text: bodyText(m.Text)}
	for _, a := range m.Attachments {
		f := mailFile{Name: headerText(a.Name, 120)}
		if link := links[a.ID]; link != "" && n.cfg.ChatURL != "" {
			f.URL = n.cfg.ChatURL + link
		}
		l.Files = append(l.Files, f)
	}
	if !m.CreatedAt.IsZero() {
		l.Time = p.time(m.CreatedAt.In(n.cfg.Location))
	}
	switch m.Kind {
	case chat.VisitorText:
		switch {
		case toVisitor:
			l.Author = p.You
		case visitorName != "":
			l.Author = visitorName
		default:
			l.Author = "Visitor"
		}
	case chat.OperatorText:
		l.Author = headerText(m.AuthorName, 100)
		if l.Author == "" {
			l.Author = n.cfg.SiteName
		}
	case chat.Note:
		l.Author = headerText(m.AuthorName, 100) + " (internal note)"
	default:
		l.System = true
	}
	return l
}

// operatorName is the name to sign mail to the visitor with: the
// assignee, else the author of the last operator message.
func operatorName(note chat.Notification) string {
	if note.Operator != nil && headerText(note.Operator.Name, 100) != "" {
		return headerText(note.Operator.Name, 100)
	}
	for i := len(note.Messages) - 1; i >= 0; i-- {
		if m := note.Messages[i]; m != nil && m.Kind == chat.OperatorText && m.AuthorName != "" {
			return headerText(m.AuthorName, 100)
		}
	}
	return ""
}

func visitorLabel(name, email string) string {
	switch {
	case name != "" && email != "":
		return name + " <" + email + ">"
	case email != "":
		return email
	case name != "":
		return name
	}
	return "a visitor"
}

// threadID is the Message-ID (without brackets) of a conversation's
// imaginary first mail, which every mail about it references, so mail
// clients thread them.
func threadID(convID, domain string) string { return "conv-" + convID + "@" + domain }

// headerText makes user input safe for a header (subject, display name):
// valid UTF-8 without control, format or line-separator characters (so no
// CR/LF can start a new header line), whitespace collapsed, at most max
// runes. go-mail then encodes what is not ASCII.
func headerText(s string, maxRunes int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > maxRunes {
		s = strings.TrimSpace(string([]rune(s)[:maxRunes-1])) + "…"
	}
	return s
}

// bodyText makes user text safe for a plain-text body: valid UTF-8, LF
// line ends, no control characters other than newline and tab.
func bodyText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.Map(func(r rune) rune {
		switch {
		case r >= ' ' && r < 0x7f, r == '\n' || r == '\t':
			return r
		case r == '\r':
			return '\n'
		case unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp):
			return -1
		}
		return r
	}, s)
}

// validAddress reports whether s is a bare addr-spec (no display name).
func validAddress(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == s && !strings.ContainsAny(s, " \t\r\n<>")
}

// validDomain reports whether s is a plain DNS name (lower case letters,
// digits, hyphens and dots).
func validDomain(s string) bool {
	if s == "" || len(s) > 253 || strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") || strings.Contains(s, "..") {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// validToken reports whether t can be a reply token: lower-case base32
// (RFC 4648 alphabet), short enough for a local part. Whether it is
// genuine is for (*chat.Server).PostReply to say.
func validToken(t string) bool {
	if t == "" || len(t) > 58 { // "reply+" + token <= 64
		return false
	}
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= '2' && r <= '7') {
			return false
		}
	}
	return true
}
