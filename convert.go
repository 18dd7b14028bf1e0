package chat

import (
	"math"
	"regexp"
	"slices"
	"unicode"

	"github.com/shopchat/chat/protocol"
)

// conversationFrame renders c for a session of role.
func (s *Server) conversationFrame(c *Conversation, role string) *protocol.Conversation {
	pc := &protocol.Conversation{
		ID:           c.ID,
		Status:       string(c.Status),
		Epoch:        c.Epoch,
		LastSeq:      c.LastSeq,
		Department:   c.Department,
		VisitorRead:  c.VisitorReadSeq,
		OperatorRead: c.OperatorReadSeq,
		MailOff:      c.MailOptOut,
		Created:      c.CreatedAt,
	}
	if c.OperatorID != "" && c.Status == Assigned {
		if op, err := s.operator(s.ctx, c.OperatorID); err == nil {
			pc.Operator = &protocol.Person{ID: op.ID, Name: op.Name, Avatar: op.AvatarURL}
		} else {
			pc.Operator = &protocol.Person{ID: c.OperatorID}
		}
		pc.Operator.Bot = IsBotID(c.OperatorID)
	}
	if c.Status == Queued {
		pc.Waiting = c.QueuedAt
		s.mu.Lock()
		pos, gap, avail := s.queueSpots[c.ID], s.dequeueGap, s.lastAvail
		s.mu.Unlock()
		if pos > 0 {
			pc.Queue = &protocol.QueueSpot{Position: pos}
			if avail { // an estimate only while someone online could answer
				pc.Queue.WaitSeconds = int(math.Ceil(float64(pos) * gap.Seconds()))
			}
		}
	}
	if role == protocol.RoleOperator {
		pc.Live = c.Open() && c.Live(s.now())
		pc.Visitor = &protocol.Person{ID: c.VisitorID}
		if v, err := s.store.Visitor(s.ctx, c.VisitorID); err == nil {
			pc.Visitor.Name = v.Name
		}
	}
	return pc
}

// messageFrame renders a stored message.
func (s *Server) messageFrame(m *Message) *protocol.Message {
	pm := &protocol.Message{
		ID: m.ID, Conv: m.ConversationID, Seq: m.Seq, ClientID: m.ClientID,
		Kind: string(m.Kind), Text: m.Text, Time: m.CreatedAt,
	}
	if m.Kind == SystemEvent {
		pm.Event = systemEvent(m.Text)
	}
	for i := range m.Attachments {
		pm.Attachments = append(pm.Attachments, s.attachmentFrame(&m.Attachments[i]))
	}
	if m.AuthorID != "" {
		pm.Author = &protocol.Person{ID: m.AuthorID, Name: m.AuthorName, Bot: IsBotID(m.AuthorID)}
		if m.Kind != VisitorText {
			s.mu.Lock()
			if op := s.opProfiles[m.AuthorID]; op != nil {
				pm.Author.Avatar = op.AvatarURL
			}
			s.mu.Unlock()
		}
	}
	pm.QuickReplies = s.bot.quickReplies(m)
	return pm
}

func cloneOperator(op *Operator) *Operator {
	c := *op
	c.Departments = slices.Clone(op.Departments)
	return &c
}

// MaskCardNumbers replaces all but the last four digits of every
// card-number-like run (12 or more digits, optionally separated by spaces
// or dashes) with "•". Drafts shown to operators pass through it, so a
// visitor who starts typing a card number does not leak it live.
func MaskCardNumbers(s string) string {
	rs := []rune(s)
	for i := 0; i < len(rs); {
		if !unicode.IsDigit(rs[i]) || rs[i] > unicode.MaxASCII {
			i++
			continue
		}
		// Extend the run over digits and single separators between digits.
		j, digits, end := i, 0, i
		for j < len(rs) {
			if rs[j] >= '0' && rs[j] <= '9' {
				digits++
				j++
				end = j
				continue
			}
			if (rs[j] == ' ' || rs[j] == '-') && j+1 < len(rs) && rs[j+1] >= '0' && rs[j+1] <= '9' {
				j++
				continue
			}
			break
		}
		if digits >= 12 {
			keep := 4
			for k := end - 1; k >= i; k-- {
				if rs[k] >= '0' && rs[k] <= '9' {
					if keep > 0 {
						keep--
					} else {
						rs[k] = '•'
					}
				}
			}
		}
		i = end
		if i == j {
			i++
		}
	}
	return string(rs)
}

// systemLines are the English lines the server writes as system messages
// (actions.go, presence.go): systemEvent recognises them so widgets can
// show each in the visitor's language. A line it does not know (a shop's
// invitation text) goes as text only.
var systemLines = []struct {
	code string
	re   *regexp.Regexp
}{
	{protocol.EventJoined, regexp.MustCompile(`^(.+) joined the conversation$`)},
	{protocol.EventTransferred, regexp.MustCompile(`^(.+) transferred the conversation to (.+)$`)},
	{protocol.EventClosed, regexp.MustCompile(`^(.+) closed the conversation$`)},
	{protocol.EventOperatorOffline, regexp.MustCompile(`^(.+) is offline; the conversation waits for another operator$`)},
}

func systemEvent(text string) *protocol.Event {
	for _, l := range systemLines {
		m := l.re.FindStringSubmatch(text)
		if m == nil {
			continue
		}
		e := &protocol.Event{Code: l.code, Name: m[1]}
		if len(m) > 2 {
			e.To = m[2]
		}
		if e.Code == protocol.EventClosed && e.Name == "The visitor" {
			e.Code, e.Name = protocol.EventVisitorClosed, ""
		}
		return e
	}
	return nil
}
