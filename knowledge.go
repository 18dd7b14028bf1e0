package chat

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/shopchat/chat/protocol"
)

// Knowledge finds answers to a visitor's question in what the team wrote
// before: its canned responses and the operators' answers in past
// conversations (the knowledge base). The Server implements it; a Bot gets
// it in BotTurn.Knowledge, and the console asks it for the operator's
// suggestions.
type Knowledge interface {
	Answers(ctx context.Context, q AnswerQuery) ([]Answer, error)
}

// AnswerQuery asks Knowledge for answers to a question.
type AnswerQuery struct {
	Question string
	// MarkedOnly leaves out past answers not marked as knowledge-base
	// answers (canned responses always count). A bot answering on its own
	// wants it: an unmarked answer may be about one customer's order.
	MarkedOnly bool
	// Exclude leaves out the conversation being answered.
	Exclude string
	// Limit caps the answers; 0 means 5, at most 20.
	Limit int
}

// Answer is one candidate answer.
type Answer struct {
	Text string
	// Score is the share of the question's keywords (words of three letters
	// or more, common words left out) found in the answer's question: the
	// canned response's shortcut, title and text, or the visitor message a
	// past answer followed (or the answer itself). 0 to 1.
	Score float64
	// Shortcut names the canned response, for answers from one.
	Shortcut string
	// ConversationID and Seq locate a past operator answer, and Question
	// is the visitor's message it followed.
	ConversationID string
	Seq            int64
	Question       string
	// Marked: an operator marked the answer for the knowledge base.
	Marked bool
}

// Activity kinds of bots and the knowledge base.
const (
	// BotStarted: a new conversation went to the bot (ConversationID,
	// VisitorID).
	BotStarted ActivityKind = "bot_started"
	// BotHandedOff: the bot handed a conversation to the team (Text: its
	// note).
	BotHandedOff ActivityKind = "bot_handed_off"
	// AnswerMarked and AnswerUnmarked: an operator (OperatorID) marked or
	// unmarked message Value of ConversationID as a knowledge-base answer.
	// The latest of the two for a message wins.
	AnswerMarked   ActivityKind = "answer_marked"
	AnswerUnmarked ActivityKind = "answer_unmarked"
)

// Knowledge search bounds: keywords looked up per question, hits read per
// keyword, past questions whose answers are read.
const (
	maxKeywords      = 6
	hitsPerKeyword   = 30
	maxPastQuestions = 10
)

// Answers ranks answers to q.Question from the team's canned responses
// and, if the Store is a Searcher, past conversations: a visitor message
// sharing the question's keywords, answered by an operator within the next
// few messages, yields that answer; an operator message sharing them is an
// answer itself. Marked answers go first among equal scores.
func (s *Server) Answers(ctx context.Context, q AnswerQuery) ([]Answer, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 5
	}
	limit = min(limit, 20)
	kw := keywords(q.Question)
	if len(kw) == 0 {
		return nil, nil
	}
	var out []Answer
	canned, err := s.store.CannedResponses(ctx, "")
	if err != nil {
		return nil, err
	}
	for _, c := range canned {
		if sc := score(kw, c.Shortcut+" "+c.Title+" "+c.Text); sc > 0 {
			out = append(out, Answer{Text: c.Text, Score: sc, Shortcut: c.Shortcut, Marked: true})
		}
	}
	past, err := s.pastAnswers(ctx, q, kw)
	if err != nil {
		return nil, err
	}
	out = append(out, past...)
	slices.SortStableFunc(out, func(a, b Answer) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		if a.Marked != b.Marked {
			if a.Marked {
				return -1
			}
			return 1
		}
		return cmp.Compare(b.Seq, a.Seq)
	})
	// One answer found twice (by its own words and by its question's)
	// keeps the better score, sorted first, and the question it answered.
	at := map[string]int{}
	kept := out[:0]
	for _, a := range out {
		key := strings.ToLower(strings.TrimSpace(a.Text))
		if i, ok := at[key]; ok {
			if kept[i].Question == "" {
				kept[i].Question = a.Question
			}
			continue
		}
		if len(kept) < limit {
			at[key] = len(kept)
			kept = append(kept, a)
		}
	}
	return kept, nil
}

// pastAnswers finds operators' answers in past conversations.
func (s *Server) pastAnswers(ctx context.Context, q AnswerQuery, kw []string) ([]Answer, error) {
	searcher, ok := StoreAs[Searcher](s.store)
	if !ok {
		return nil, nil
	}
	marks, err := s.markedAnswers(ctx)
	if err != nil {
		return nil, err
	}
	type ref struct {
		conv string
		seq  int64
	}
	questions := map[ref]*Message{}
	var out []Answer
	seen := map[ref]bool{}
	for _, w := range kw[:min(len(kw), maxKeywords)] {
		hits, err := searcher.Search(ctx, SearchQuery{Text: w, Limit: hitsPerKeyword})
		if err != nil {
			return nil, err
		}
		for _, h := range hits {
			m, r := h.Message, ref{h.Message.ConversationID, h.Message.Seq}
			if m.ConversationID == q.Exclude || seen[r] {
				continue
			}
			seen[r] = true
			switch m.Kind {
			case VisitorText:
				questions[r] = m
			case OperatorText:
				marked := marks[markKey(m.ConversationID, m.Seq)]
				if sc := score(kw, m.Text); sc > 0 && (marked || !q.MarkedOnly) {
					out = append(out, Answer{Text: m.Text, Score: sc, ConversationID: m.ConversationID, Seq: m.Seq, Marked: marked})
				}
			}
		}
	}
	ranked := make([]*Message, 0, len(questions))
	for _, m := range questions {
		ranked = append(ranked, m)
	}
	slices.SortFunc(ranked, func(a, b *Message) int { return cmp.Compare(score(kw, b.Text), score(kw, a.Text)) })
	for _, m := range ranked[:min(len(ranked), maxPastQuestions)] {
		next, err := s.store.Messages(ctx, MessageQuery{ConversationID: m.ConversationID, AfterSeq: m.Seq, Limit: 6})
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				continue // erased meanwhile
			}
			return nil, err
		}
		for _, a := range next {
			if a.Kind != OperatorText {
				continue
			}
			marked := marks[markKey(a.ConversationID, a.Seq)]
			if marked || !q.MarkedOnly {
				out = append(out, Answer{Text: a.Text, Score: score(kw, m.Text), ConversationID: a.ConversationID, Seq: a.Seq, Question: m.Text, Marked: marked})
			}
			break
		}
	}
	return out, nil
}

func markKey(conv string, seq int64) string { return conv + "\x00" + strconv.FormatInt(seq, 10) }

// markedAnswers returns the messages marked as knowledge-base answers.
func (s *Server) markedAnswers(ctx context.Context) (map[string]bool, error) {
	marks := map[string]bool{}
	err := s.forActivities(ctx, ActivityQuery{Kinds: []ActivityKind{AnswerMarked, AnswerUnmarked}}, func(a Activity) {
		marks[markKey(a.ConversationID, a.Value)] = a.Kind == AnswerMarked
	})
	return marks, err
}

// MarkAnswer marks (or, with marked false, unmarks) an operator's message
// as a knowledge-base answer, on behalf of operator operatorID: a bot
// answering with AnswerQuery.MarkedOnly uses marked answers only, and the
// console's suggestions put them first. ErrNotFound for an unknown
// conversation, message or (non-empty) operator; ErrInvalid for a seq
// below 1 or a message that is not an operator's.
func (s *Server) MarkAnswer(ctx context.Context, convID string, seq int64, operatorID string, marked bool) error {
	if seq < 1 {
		return userErr(ErrInvalid, "seq must be at least 1")
	}
	if _, err := s.conversation(ctx, convID); err != nil {
		return err
	}
	if operatorID != "" {
		if _, err := s.store.Operator(ctx, operatorID); err != nil {
			if errors.Is(err, ErrNotFound) {
				return userErr(ErrNotFound, "operator not found")
			}
			return err
		}
	}
	ms, err := s.store.Messages(ctx, MessageQuery{ConversationID: convID, AfterSeq: seq - 1, Limit: 1})
	if err != nil {
		return err
	}
	if len(ms) == 0 || ms[0].Seq != seq {
		return userErr(ErrNotFound, "message not found")
	}
	if ms[0].Kind != OperatorText {
		return userErr(ErrInvalid, "only an operator's message can be a knowledge-base answer")
	}
	kind := AnswerUnmarked
	if marked {
		kind = AnswerMarked
	}
	return s.store.AddActivities(ctx, []Activity{{Kind: kind, ConversationID: convID, OperatorID: operatorID, Value: seq, At: s.now()}})
}

// onAnswers serves an operator's answers frame: suggestions for the
// conversation's open question (the visitor's messages since the last
// operator message), or, with ActionMark or ActionUnmark, marking message
// Seq as a knowledge-base answer.
func (ss *session) onAnswers(ctx context.Context, f protocol.ClientFrame) error {
	s := ss.s
	c, err := ss.conversationFor(ctx, f.Conv)
	if err != nil {
		return err
	}
	switch f.Action {
	case protocol.ActionMark, protocol.ActionUnmark:
		if err := s.MarkAnswer(ctx, c.ID, f.Seq, ss.op.ID, f.Action == protocol.ActionMark); err != nil {
			return err
		}
		return ss.ackIfAsked(f)
	case "", protocol.ActionList:
	default:
		return userErr(ErrInvalid, "action %q: want list, mark or unmark", f.Action)
	}
	question := f.Text
	if question == "" {
		if question, err = s.openQuestion(ctx, c); err != nil {
			return err
		}
	}
	reply := &protocol.ServerFrame{Type: protocol.TypeAnswers, ID: f.ID, Conv: c.ID, Answers: []protocol.Answer{}}
	if len(question) <= 1000 {
		answers, err := s.Answers(ctx, AnswerQuery{Question: question, Exclude: c.ID})
		if err != nil {
			return err
		}
		for _, a := range answers {
			reply.Answers = append(reply.Answers, protocol.Answer{Text: a.Text, Score: a.Score, Shortcut: a.Shortcut, Conv: a.ConversationID, Seq: a.Seq, Question: a.Question, Marked: a.Marked})
		}
	}
	ss.push(event{kind: evFrame, frame: reply})
	return nil
}

// openQuestion joins the visitor's messages since the last operator (or
// bot) message in c: what is waiting for an answer.
func (s *Server) openQuestion(ctx context.Context, c *Conversation) (string, error) {
	ms, err := s.store.Messages(ctx, MessageQuery{ConversationID: c.ID, BeforeSeq: c.LastSeq + 1, Limit: 20})
	if err != nil {
		return "", err
	}
	var parts []string
	for i := len(ms) - 1; i >= 0 && len(parts) < 3; i-- {
		switch ms[i].Kind {
		case VisitorText:
			parts = append([]string{ms[i].Text}, parts...)
		case OperatorText:
			i = -1
		}
	}
	return capText(strings.Join(parts, " "), 1000), nil
}

// stopWords are common words that say nothing about a question.
var stopWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`the and are was were you your yours our ours can could would should will
		how what when where why which who whom does did have has had this that these those there their them they
		with for from about into onto any some please hello thanks thank just get got want need know tell hey
		not but all its it's i'm i've don't can't is do to of in on at by be me my we us an a or if so as no yes ok okay`) {
		stopWords[w] = true
	}
}

// keywords returns the distinct stems of text's words that carry meaning.
func keywords(text string) []string {
	var out []string
	for _, w := range textWords(text) {
		if len(w) < 3 || stopWords[w] {
			continue
		}
		if st := stem(w); !slices.Contains(out, st) {
			out = append(out, st)
		}
	}
	return out
}

// score is the share of keywords kw that some word of text matches: one
// word starts with the other, the shorter at least three letters long.
func score(kw []string, text string) float64 {
	if len(kw) == 0 {
		return 0
	}
	ws := textWords(text)
	found := 0
	for _, k := range kw {
		for _, w := range ws {
			w = stem(w)
			if strings.HasPrefix(w, k) || (len(w) >= 3 && strings.HasPrefix(k, w)) {
				found++
				break
			}
		}
	}
	return float64(found) / float64(len(kw))
}

// stem strips a plural s, so "returns" finds "return".
func stem(w string) string {
	if len(w) > 3 && strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") {
		return w[:len(w)-1]
	}
	return w
}

// textWords splits text into lower-case runs of letters and digits.
func textWords(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\'' })
}
