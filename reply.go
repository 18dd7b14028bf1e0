package chat

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Reply tokens name a conversation in a mail's Reply-To address:
// reply+<token>@domain. A token is 30 bytes in lower-case base32 (48
// characters, so the local part stays within RFC 5321's 64): the
// conversation's UUID, the expiry in hours since 2020, and 80 bits of
// HMAC-SHA256 under Config.Secret. Lower case, because some mail systems
// fold the case of local parts.
var tokenEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

var replyEpoch = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// ReplyToken returns a signed token naming conversation convID that
// PostReply accepts until Config.ReplyTokenTTL has passed.
func (s *Server) ReplyToken(convID string) string {
	return s.replyToken(visitorTokenLabel, convID, s.cfg.ReplyTokenTTL)
}

// TeamReplyToken returns a signed token naming conversation convID for
// mail to the team: PostReply posts a reply carrying it as the operator
// whose known address (Operator.Email) sent it, until
// Config.ReplyTokenTTL has passed. It is never valid as a visitor's token,
// nor a visitor's as a team token.
func (s *Server) TeamReplyToken(convID string) string {
	return s.replyToken(teamTokenLabel, convID, s.cfg.ReplyTokenTTL)
}

func (s *Server) replyToken(label, convID string, ttl time.Duration) string {
	id, err := uuid.Parse(convID)
	if err != nil {
		return "" // not a conversation this server created
	}
	hours := uint32(s.now().Add(ttl).Sub(replyEpoch) / time.Hour)
	buf := make([]byte, 0, 30)
	buf = append(buf, id[:]...)
	buf = binary.BigEndian.AppendUint32(buf, hours)
	buf = append(buf, s.replyMAC(label, buf)...)
	return strings.ToLower(tokenEncoding.EncodeToString(buf))
}

func (s *Server) replyMAC(label string, payload []byte) []byte {
	h := hmac.New(sha256.New, s.cfg.Secret)
	h.Write([]byte(label + "\x00"))
	h.Write(payload)
	return h.Sum(nil)[:10]
}

// ErrReplyToken is wrapped by PostReply's error for a missing, malformed,
// forged or expired reply token.
var ErrReplyToken = fmt.Errorf("%w: reply token missing, forged or expired", ErrUnauthorized)

// conversationOfToken verifies a reply token signed with label and
// returns its conversation.
func (s *Server) conversationOfToken(label, token string) (string, error) {
	if len(token) != 48 {
		return "", ErrReplyToken
	}
	raw, err := tokenEncoding.DecodeString(strings.ToUpper(token))
	if err != nil || len(raw) != 30 {
		return "", ErrReplyToken
	}
	if !hmac.Equal(raw[20:], s.replyMAC(label, raw[:20])) {
		return "", ErrReplyToken
	}
	expires := replyEpoch.Add(time.Duration(binary.BigEndian.Uint32(raw[16:20])) * time.Hour)
	if s.now().After(expires) {
		return "", ErrReplyToken
	}
	id, _ := uuid.FromBytes(raw[:16])
	return id.String(), nil
}

// InboundReply is a visitor's answer to one of our mails, as parsed by
// notify/email from the raw message.
type InboundReply struct {
	Token     string // from the reply+<token>@ recipient address
	From      string // the sender's address (not the display name)
	MessageID string // the mail's Message-ID: a second delivery posts nothing
	Text      string // the reply, quoted history and signature removed
}

// PostReply posts an email reply into the conversation its token names.
// With a visitor's token (ReplyToken) it is a visitor message that
// reaches a connected operator live; with a team token (TeamReplyToken)
// it is an operator message from the operator whose known address
// (Operator.Email of a stored operator) sent it, which reaches the
// visitor live, or by mail if they are away. It returns the stored message
// (the original if this Message-ID was posted before). Errors:
// ErrReplyToken (wraps ErrUnauthorized) for a bad token; ErrForbidden if
// From is not the conversation's visitor (or, with a team token, no
// operator's address); ErrInvalid for an empty text; ErrConflict if the
// conversation is closed and its visitor has opened another. Identity is
// never taken from Reply-To or the display name: only the token and the
// sender address.
func (s *Server) PostReply(ctx context.Context, r InboundReply) (*Message, error) {
	convID, err := s.conversationOfToken(visitorTokenLabel, r.Token)
	team := false
	if err != nil {
		if convID, err = s.conversationOfToken(teamTokenLabel, r.Token); err != nil {
			return nil, err
		}
		team = true
	}
	c, err := s.store.Conversation(ctx, convID)
	if err != nil {
		return nil, err
	}
	m := &Message{ConversationID: c.ID, CreatedAt: s.now()}
	if team {
		op, err := s.operatorByEmail(ctx, r.From)
		if err != nil {
			return nil, err
		}
		m.Kind, m.AuthorID, m.AuthorName = OperatorText, op.ID, op.Name
	} else {
		v, err := s.store.Visitor(ctx, c.VisitorID)
		if err != nil {
			return nil, err
		}
		if v.Email == "" || !strings.EqualFold(strings.TrimSpace(r.From), v.Email) {
			return nil, fmt.Errorf("%w: %q is not this conversation's visitor", ErrForbidden, r.From)
		}
		m.Kind, m.AuthorID, m.AuthorName = VisitorText, v.ID, v.Name
	}
	m.Text = strings.TrimSpace(r.Text)
	if m.Text == "" {
		return nil, invalidf("the reply has no text")
	}
	if !validText(m.Text) {
		return nil, invalidf("the reply's text is not valid UTF-8 or has control characters")
	}
	if len(m.Text) > s.cfg.MaxMessageLength {
		m.Text = truncateUTF8(m.Text, s.cfg.MaxMessageLength)
	}
	if r.MessageID == "" {
		return nil, invalidf("the reply has no Message-ID")
	}
	sum := sha256.Sum256([]byte(r.MessageID))
	m.ClientID = "mail:" + hex.EncodeToString(sum[:16])
	res, err := s.store.AppendMessage(ctx, m)
	if errors.Is(err, ErrConflict) { // closed: the reply reopens it
		if _, rerr := s.store.ReopenConversation(ctx, c.ID, s.now()); rerr != nil {
			return nil, rerr
		}
		res, err = s.store.AppendMessage(ctx, m)
		if err == nil {
			s.publishState(res.Conversation)
			defer s.dispatch(ctx)
		}
	}
	if err != nil {
		return nil, err
	}
	if !res.Duplicate {
		s.add("email_replies_total", 1)
		s.publishMessage(res.Conversation, res.Message)
		if team {
			s.scheduleMissedReply(res.Conversation, res.Message) // mailed on if the visitor does not see it
		}
	}
	return res.Message, nil
}

// operatorByEmail returns the stored operator whose Email is addr, or
// ErrForbidden.
func (s *Server) operatorByEmail(ctx context.Context, addr string) (*Operator, error) {
	addr = strings.TrimSpace(addr)
	loads, err := s.store.OperatorLoads(ctx, s.now())
	if err != nil {
		return nil, err
	}
	for _, l := range loads {
		if l.Operator != nil && l.Operator.Email != "" && strings.EqualFold(l.Operator.Email, addr) {
			return l.Operator, nil
		}
	}
	return nil, fmt.Errorf("%w: %q is not a known operator's address", ErrForbidden, addr)
}

// Reply tokens are signed for whom they are mailed to: a visitor's token
// lets only the visitor's address post; a team token only an operator's.
const (
	visitorTokenLabel = "reply"
	teamTokenLabel    = "team-reply"
)
