package chat

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode"
)

// bounceTokenLabel signs the tokens of return paths (bounce+<token>@...),
// apart from reply and unsubscribe tokens.
const bounceTokenLabel = "bounce"

// BounceToken returns a signed token naming conversation convID for the
// return path (SMTP MAIL FROM) of mail to its visitor, VERP-style:
// notify/email sends as bounce+<token>@<reply domain>, so a delivery
// failure comes back naming the conversation. Valid for
// Config.ReplyTokenTTL.
func (s *Server) BounceToken(convID string) string {
	return s.replyToken(bounceTokenLabel, convID, s.cfg.ReplyTokenTTL)
}

// Bounce is a permanent delivery failure of mail to a visitor, from a
// delivery status notification (RFC 3464) sent to the return path.
type Bounce struct {
	Token      string // from the bounce+<token>@ recipient
	Recipient  string // the DSN's Final-Recipient address; empty if it names none
	Status     string // the DSN's Status, e.g. "5.1.1"
	Diagnostic string // the DSN's Diagnostic-Code, as the remote server said it
	MessageID  string // the DSN's Message-ID: a second delivery records nothing new
}

// maxDiagnostic bounds the remote server's words kept in the note.
const maxDiagnostic = 200

// PostBounce records that mail to a conversation's visitor bounced for
// good: the visitor's address is marked (Visitor.BouncedEmail: no mail goes
// to it, about any conversation, until the visitor gives another), the
// conversation's mail is switched off (as the widget's switch does) and an
// internal note tells the team why, in the console. Errors: ErrReplyToken for a bad
// token; ErrForbidden if the failed recipient is not the visitor's
// address; ErrInvalid if the status is not a permanent failure (5.x.x).
func (s *Server) PostBounce(ctx context.Context, b Bounce) error {
	convID, err := s.conversationOfToken(bounceTokenLabel, b.Token)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(b.Status, "5.") {
		return invalidf("status %q is not a permanent failure", clean(b.Status, 20))
	}
	c, err := s.store.Conversation(ctx, convID)
	if err != nil {
		return err
	}
	v, err := s.store.Visitor(ctx, c.VisitorID)
	if err != nil {
		return err
	}
	if b.Recipient != "" && !strings.EqualFold(strings.TrimSpace(b.Recipient), v.Email) {
		return fmt.Errorf("%w: the failed recipient %q is not this conversation's visitor", ErrForbidden, clean(b.Recipient, 100))
	}
	addr := v.Email
	if addr == "" {
		addr = "the visitor"
	}
	why := clean(b.Status, 20)
	if d := clean(b.Diagnostic, maxDiagnostic); d != "" {
		why += ": " + d
	}
	sum := sha256.Sum256([]byte("bounce\x00" + b.MessageID + "\x00" + b.Token))
	note := &Message{ConversationID: c.ID, ClientID: "bounce:" + hex.EncodeToString(sum[:16]), Kind: Note, AuthorName: "Mail delivery", CreatedAt: s.now(),
		Text: fmt.Sprintf("Mail to %s bounced (%s). No more mail is sent about this conversation; ask the visitor for another address.", addr, why)}
	// Mail stops first: a redelivered DSN finds the note stored and stops
	// there. The address is marked for every conversation of the visitor.
	if v.Email != "" && !v.MailBounces() {
		v.BouncedEmail = v.Email
		if err := s.store.UpdateVisitor(ctx, v); err != nil {
			return err
		}
	}
	if !c.MailOptOut {
		if c, err = s.store.SetMailOptOut(ctx, c.ID, true); err != nil {
			return err
		}
		s.publishState(c)
	}
	res, err := s.store.AppendMessage(ctx, note)
	if err != nil {
		return err
	}
	if !res.Duplicate {
		s.publishMessage(res.Conversation, res.Message)
		s.add("email_bounces_total", 1)
	}
	return nil
}

// clean makes remote text fit for a note: printable, one line, at most
// n runes.
func clean(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		s = string(r[:n-1]) + "…"
	}
	return s
}
