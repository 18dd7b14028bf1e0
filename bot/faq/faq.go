// Package faq is a chat.Bot that answers visitors' questions from the
// team's knowledge: its canned responses and the operators' past answers
// marked for the knowledge base (chat.Knowledge, ranked through the
// store's full-text Searcher). It answers only when the best answer's
// score reaches a threshold, offering quick replies under it; below the
// threshold it hands the conversation to the team with a note saying what
// it was asked and what it almost answered.
//
//	srv, err := chat.New(chat.Config{
//		...
//		Bot: faq.New(faq.Options{}),
//	})
package faq

import (
	"context"
	"fmt"
	"strings"

	"github.com/shopchat/chat"
)

// Options tune the bot. Every field has the default its comment names.
type Options struct {
	// Threshold is the least chat.Answer.Score (0 to 1: the share of the
	// question's keywords the answer matches) the bot answers with.
	// Default 0.6.
	Threshold float64
	// AnyPastAnswer lets the bot answer with operators' past answers that
	// nobody marked for the knowledge base. Default false: only canned
	// responses and marked answers, since an unmarked answer may be about
	// one customer's order.
	AnyPastAnswer bool
	// Helped is the quick reply that says the answer helped: the bot then
	// thanks the visitor and closes the conversation. Default "That
	// answers it, thanks".
	Helped string
	// Person is the quick reply that asks for a person; it contains one of
	// chat.BotOptions.HandOffWords, so the Server hands off at once.
	// Default "Talk to a person".
	Person string
	// HandOffText is said to the visitor when the bot hands off. Default
	// "Let me find someone from the team for you."
	HandOffText string
	// ClosingText is said when the visitor is helped. Default "Glad I
	// could help!"
	ClosingText string
}

// Bot is the FAQ bot.
type Bot struct{ o Options }

// New returns an FAQ bot with options o.
func New(o Options) *Bot {
	if o.Threshold <= 0 {
		o.Threshold = 0.6
	}
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&o.Helped, "That answers it, thanks")
	def(&o.Person, "Talk to a person")
	def(&o.HandOffText, "Let me find someone from the team for you.")
	def(&o.ClosingText, "Glad I could help!")
	return &Bot{o: o}
}

// Reply implements chat.Bot.
func (b *Bot) Reply(ctx context.Context, t *chat.BotTurn) (chat.BotReply, error) {
	q := strings.TrimSpace(t.Question().Text)
	if strings.EqualFold(q, b.o.Helped) {
		return chat.BotReply{Text: b.o.ClosingText, Close: true}, nil
	}
	answers, err := t.Knowledge.Answers(ctx, chat.AnswerQuery{Question: q, MarkedOnly: !b.o.AnyPastAnswer, Exclude: t.Conversation.ID, Limit: 3})
	if err != nil {
		return chat.BotReply{}, err
	}
	var best *chat.Answer
	for i := range answers {
		if !strings.Contains(answers[i].Text, "{") { // a canned variable the bot cannot fill
			best = &answers[i]
			break
		}
	}
	if best != nil && best.Score >= b.o.Threshold {
		return chat.BotReply{Text: best.Text, QuickReplies: []string{b.o.Helped, b.o.Person}}, nil
	}
	note := fmt.Sprintf("FAQ bot: no answer for %q.", truncate(q, 300))
	if best != nil {
		note += fmt.Sprintf(" Closest (%.0f%%, below %.0f%%): %q", best.Score*100, b.o.Threshold*100, truncate(best.Text, 300))
	}
	return chat.BotReply{Text: b.o.HandOffText, HandOff: true, Note: note}, nil
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
