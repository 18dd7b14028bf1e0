package email

import (
	"fmt"
	"time"
)

// phrases are the words of mail to a visitor in one language: the
// widget's language when the conversation opened (chat.Conversation.Language),
// English if it is not one of these. Mail to the team is in English.
type phrases struct {
	Lang               string
	SubjectReply       string // %s: the shop
	SubjectTranscript  string // %s: the shop
	Replied            string // %s: the operator or the shop
	TranscriptHeading  string // %s: the shop
	YouAsked           string
	You                string
	ReplyHint          string
	Unsubscribe        string
	OperatorAt         string // %[1]s: the operator, %[2]s: the shop
	TimeLayout         string
	UnsubscribeTextTag string // before the link in the plain text
}

var visitorPhrases = map[string]*phrases{
	"en": {
		Lang:               "en",
		SubjectReply:       "New reply: your conversation with %s",
		SubjectTranscript:  "Transcript: your conversation with %s",
		Replied:            "%s replied to your message:",
		TranscriptHeading:  "Here is the transcript of your conversation with %s.",
		YouAsked:           "You asked:",
		You:                "You",
		ReplyHint:          "Reply to this email to answer; your reply goes straight into the conversation.",
		Unsubscribe:        "No more emails about this conversation",
		UnsubscribeTextTag: "No more emails about this conversation:",
		OperatorAt:         "%[1]s at %[2]s",
		TimeLayout:         "Mon, 2 Jan 2006 15:04 MST",
	},
	"es": {
		Lang:               "es",
		SubjectReply:       "Nueva respuesta: su conversación con %s",
		SubjectTranscript:  "Transcripción: su conversación con %s",
		Replied:            "%s respondió a su mensaje:",
		TranscriptHeading:  "Esta es la transcripción de su conversación con %s.",
		YouAsked:           "Usted preguntó:",
		You:                "Usted",
		ReplyHint:          "Responda a este correo para contestar; su respuesta llega directamente a la conversación.",
		Unsubscribe:        "No recibir más correos sobre esta conversación",
		UnsubscribeTextTag: "No recibir más correos sobre esta conversación:",
		OperatorAt:         "%[1]s de %[2]s",
		TimeLayout:         "02/01/2006 15:04 MST",
	},
	"ru": {
		Lang:               "ru",
		SubjectReply:       "Новый ответ: ваша переписка с %s",
		SubjectTranscript:  "Запись переписки с %s",
		Replied:            "%s ответил(а) на ваше сообщение:",
		TranscriptHeading:  "Вот запись вашей переписки с %s.",
		YouAsked:           "Вы спросили:",
		You:                "Вы",
		ReplyHint:          "Ответьте на это письмо: ответ попадёт прямо в переписку.",
		Unsubscribe:        "Больше не присылать письма об этой переписке",
		UnsubscribeTextTag: "Больше не присылать письма об этой переписке:",
		OperatorAt:         "%[1]s, %[2]s",
		TimeLayout:         "02.01.2006 15:04 MST",
	},
	"de": {
		Lang:               "de",
		SubjectReply:       "Neue Antwort: Ihr Gespräch mit %s",
		SubjectTranscript:  "Verlauf: Ihr Gespräch mit %s",
		Replied:            "%s hat auf Ihre Nachricht geantwortet:",
		TranscriptHeading:  "Hier ist der Verlauf Ihres Gesprächs mit %s.",
		YouAsked:           "Sie haben gefragt:",
		You:                "Sie",
		ReplyHint:          "Antworten Sie einfach auf diese E-Mail; Ihre Antwort landet direkt im Gespräch.",
		Unsubscribe:        "Keine E-Mails mehr zu diesem Gespräch",
		UnsubscribeTextTag: "Keine E-Mails mehr zu diesem Gespräch:",
		OperatorAt:         "%[1]s von %[2]s",
		TimeLayout:         "02.01.2006 15:04 MST",
	},
}

// phrasesFor returns the phrases of lang, English for any other.
func phrasesFor(lang string) *phrases {
	if p := visitorPhrases[lang]; p != nil {
		return p
	}
	return visitorPhrases["en"]
}

func (p *phrases) f(format string, args ...any) string { return fmt.Sprintf(format, args...) }

func (p *phrases) time(t time.Time) string { return t.Format(p.TimeLayout) }
