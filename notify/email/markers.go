package email

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The lines that mark where quoted history starts, as mail clients write
// them in many languages. Every test here looks at one line of at most
// maxMarker bytes (or a few such lines joined), so that a long line costs
// no more than reading it.

// maxMarker bounds the length of a line that can mark quoted history.
const maxMarker = 300

var (
	// Words an attribution starts with, in the languages above; "W dniu"
	// is Polish, "Vào" Vietnamese, "Il giorno" Italian.
	attributionStartRE = regexp.MustCompile(`(?i)^(on|am|le|el|il|il giorno|op|em|в|w dniu|den|dne|på|vào|el día|kello)\s`)
	// An attribution that starts with its date: "2014-10-17 11:28 GMT+03:00
	// Ann <...>:" (Gmail in some locales), "02.04.2012 14:20 пользователь
	// ...", "2026年11月3日(月) 10:00 ...".
	dateStartRE = regexp.MustCompile(`^\d{1,4}([-./年]\s?\d{1,2}|\s?年)`)
	// An attribution that starts with a short weekday and a day: "Thu, 26
	// Jun 2014 ...", "пн, 3 нояб. 2026 г. ...", "man. 3. nov. ...".
	weekdayStartRE = regexp.MustCompile(`^\p{L}{2,4}\.?,?\s+\d{1,2}[.\s,]`)
	// Where an attribution may start inside a line the reply shares
	// ("Sounds good. On Wed, ... wrote:", "reply--- On ...").
	inlineStartRE = regexp.MustCompile(`(?i)(?:\s|-)(on|am|le|el|op|em|den|på)\s`)
)

// The verb of an attribution line ("On ..., Ann <ann@example.com>
// wrote:"), lower-case, as a whole word anywhere in the line: German,
// Dutch and Scandinavian Gmail put it before the name ("Am ... schrieb
// Ann <...>:"); Polish, Russian and Vietnamese put it last.
var attributionVerbs = []string{
	"wrote", "writes", "sent", "schrieb", "a écrit", "a ecrit", "escribió", "escribio", "ha escrito",
	"ha scritto", "scrisse", "schreef", "geschreven", "escreveu", "написал", "написала", "пишет",
	"napisał", "napisała", "skrev", "kirjoitti", "napsal", "napsala", "írta", "yazdı", "đã viết", "a scris",
}

// The same in scripts without spaces between words: found anywhere.
var attributionVerbsCJK = []string{"写道", "寫道", "のメール", "님이 작성"}

// hasAttributionVerb reports whether s holds an attribution's verb.
// (Plain searches: a regular expression with case folding over these
// alternatives costs ten times as much, on every line ending in a colon.)
func hasAttributionVerb(s string) bool {
	if containsAny(s, attributionVerbsCJK) {
		return true
	}
	lower := strings.ToLower(s)
	for _, v := range attributionVerbs {
		for from := 0; ; {
			k := strings.Index(lower[from:], v)
			if k < 0 {
				break
			}
			k += from
			before, _ := utf8.DecodeLastRuneInString(lower[:k])
			after, _ := utf8.DecodeRuneInString(lower[k+len(v):])
			if (k == 0 || !unicode.IsLetter(before)) && (k+len(v) == len(lower) || !unicode.IsLetter(after)) {
				return true
			}
			from = k + len(v)
		}
	}
	return false
}

// Outlook's "-----Original Message-----" and its translations, between
// dashes; matched against the lower-cased text between the dashes.
var originalMessage = []string{
	"original message", "reply message", "ursprüngliche nachricht", "antwort nachricht",
	"originalnachricht", "message d'origine", "message original", "mensaje original",
	"messaggio originale", "oorspronkelijk bericht", "origineel bericht", "mensagem original",
	"исходное сообщение", "оригинальное сообщение", "wiadomość oryginalna", "oryginalna wiadomość",
	"ursprungligt meddelande", "originalmeddelande", "oprindelig meddelelse", "opprinnelig melding",
	"alkuperäinen viesti", "původní zpráva", "eredeti üzenet", "orijinal mesaj", "özgün ileti",
	"元のメッセージ", "オリジナルメッセージ", "原始邮件", "原始郵件", "原邮件", "원본 메시지",
	"mesaj original", "originalna poruka",
}

// The line a forwarded message starts with. What follows is the
// customer's content, not our history: it is kept.
var forwardMarkers = []string{
	"forwarded message", "begin forwarded message", "weitergeleitete nachricht",
	"anfang der weitergeleiteten nachricht", "message transféré", "début du message réexpédié",
	"message transmis", "mensaje reenviado", "inicio del mensaje reenviado", "messaggio inoltrato",
	"inizio messaggio inoltrato", "mensagem encaminhada", "início da mensagem reencaminhada",
	"doorgestuurd bericht", "begin doorgestuurd bericht", "пересылаемое сообщение",
	"пересланное сообщение", "начало пересылаемого сообщения", "wiadomość przekazana dalej",
	"przekazana wiadomość", "vidarebefordrat meddelande", "videresendt meddelelse",
	"videresendt melding", "välitetty viesti", "přeposlaná zpráva", "továbbított üzenet",
	"iletilen mesaj", "転送メッセージ", "转发的邮件", "轉寄的郵件", "전달된 메시지",
}

// Field names of the header block Outlook and webmail put above the
// original ("From: ... Sent: ... To: ... Subject: ..."), by meaning.
type fieldKind uint8

const (
	fieldFrom fieldKind = 1 << iota
	fieldDate
	fieldTo
	fieldSubject
	fieldCc
)

var headerFields = map[string]fieldKind{}

func init() {
	for kind, names := range map[fieldKind][]string{
		fieldFrom: {"from", "von", "de", "da", "van", "от", "od", "från", "fra", "frá", "lähettäjä", "kimden",
			"差出人", "发件人", "寄件者", "보낸 사람", "feladó", "odesílatel", "expéditeur", "remitente",
			"mittente", "afzender", "nadawca", "avsändare", "afsender", "avsender", "người gửi"},
		fieldDate: {"date", "sent", "gesendet", "datum", "envoyé", "enviado", "inviato", "verzonden",
			"отправлено", "дата", "wysłano", "wysłane", "data", "skickat", "sendt", "lähetetty",
			"gönderildi", "tarih", "送信日時", "日付", "发送时间", "日期", "寄件日期", "보낸 날짜", "dátum",
			"odesláno", "fecha", "date d'envoi", "gesendet am", "envoyé le", "ngày gửi"},
		fieldTo: {"to", "an", "à", "a", "para", "aan", "кому", "do", "till", "til", "vastaanottaja", "kime",
			"宛先", "收件人", "收件者", "받는 사람", "címzett", "komu", "destinatario", "empfänger",
			"destinataire", "người nhận"},
		fieldSubject: {"subject", "betreff", "objet", "asunto", "oggetto", "onderwerp", "assunto", "тема",
			"temat", "ämne", "emne", "aihe", "konu", "件名", "主题", "主旨", "제목", "tárgy", "předmět",
			"sujet", "chủ đề"},
		fieldCc: {"cc", "kopie", "копия", "抄送", "副本", "kopia", "kopio", "bilgi"},
	} {
		for _, n := range names {
			headerFields[n] = kind
		}
	}
}

// headerField parses a header line ("From: ...", "*Sent:* ...",
// "De : ...", "件名：..."): its kind (0 if it is none) and its value.
func headerField(line string) (fieldKind, string) {
	line = strings.TrimLeft(line, "*")
	end := len(line)
	if end > 40 {
		end = 40
	}
	colon := strings.IndexAny(line[:end], ":：")
	if colon <= 0 {
		return 0, ""
	}
	name := strings.ToLower(strings.Trim(line[:colon], " *\u00a0\t"))
	name = strings.Join(strings.Fields(name), " ")
	kind := headerFields[name]
	if kind == 0 {
		return 0, ""
	}
	_, w := utf8.DecodeRuneInString(line[colon:])
	return kind, strings.Trim(line[colon+w:], " *\u00a0\t")
}

// inlineFields returns the kinds of the further fields that share a
// header line ("From: bob@example.com Date: Thu, 24 Mar 2016 ...", as
// HTML with inline elements turns into).
func inlineFields(value string) fieldKind {
	var kinds fieldKind
	for _, w := range strings.Fields(value) {
		if strings.HasSuffix(w, ":") {
			kinds |= headerFields[strings.ToLower(strings.Trim(w, "*:"))]
		}
	}
	return kinds
}

// isQuoted reports whether a trimmed line is quoted with ">". A line
// framed by arrows (">>> http://... <<<") is not a quote.
func isQuoted(t string) bool {
	return strings.HasPrefix(t, ">") && !strings.HasSuffix(t, "<")
}

// dashed returns the text between the dashes of a line like
// "-----Original Message-----" or "---- Ann wrote ----".
func dashed(t string) (string, bool) {
	if len(t) < 8 || !strings.HasPrefix(t, "---") || !strings.HasSuffix(t, "---") {
		return "", false
	}
	inner := strings.Trim(t, "- \t")
	return inner, inner != ""
}

// isRule reports whether a trimmed line is a separator of ten or more
// underscores, dashes or equals signs (Outlook's "_____", Gmail's
// "------------------------------" in text).
func isRule(t string) bool {
	return len(t) >= 10 && strings.Trim(t, "_-=") == ""
}

func containsAny(s string, list []string) bool {
	for _, w := range list {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// isForward reports whether a trimmed line starts a forwarded message
// ("---------- Forwarded message ---------", "Begin forwarded message:").
func isForward(t string) bool {
	inner := strings.Trim(t, "-=_ \t:*")
	return len(inner) <= 60 && inner != "" && containsAny(strings.ToLower(inner), forwardMarkers)
}

// isOriginalMessage reports whether the text between a dashed line's
// dashes is "Original Message" or a translation.
func isOriginalMessage(inner string) bool {
	return len(inner) <= 60 && containsAny(strings.ToLower(inner), originalMessage)
}

func hasDigit(s string) bool {
	return strings.IndexFunc(s, unicode.IsDigit) >= 0
}

func endsWithColon(s string) bool {
	return strings.HasSuffix(s, ":") || strings.HasSuffix(s, "：")
}

// isAttribution reports whether s (a line, or a few joined) introduces a
// quote: it ends with a colon and names a writer. When a ">" quote
// follows, a verb ("wrote") or an address with a date is enough (verb-less
// Gmail and Yandex forms: "26.06.2014, 14:41, "Ann" <ann@example.com>:").
// When unmarked text follows, the rest of the mail is taken for history,
// so more is asked: a verb, a date, and an address or one of the words
// attributions start with.
func isAttribution(s string, quoteFollows bool) bool {
	s = strings.TrimSpace(s)
	if len(s) > 2*maxMarker {
		return false
	}
	if !endsWithColon(s) {
		// "2011/4/7 Ann <ann@example.com>" above a quote.
		return quoteFollows && strings.HasSuffix(s, ">") && strings.Contains(s, "@") && dateStartRE.MatchString(s)
	}
	if k, _ := headerField(s); k != 0 {
		return false // "Subject: Re: x:" is a header, not an attribution
	}
	if quoteFollows {
		return strings.Contains(s, "@") && hasDigit(s) || hasAttributionVerb(s)
	}
	return hasDigit(s) && (strings.Contains(s, "@") || attributionStartRE.MatchString(s)) && hasAttributionVerb(s)
}

// startsAttribution reports whether a line may be the first of an
// attribution that wraps: it starts like one and does not end a sentence.
func startsAttribution(t string) bool {
	if strings.HasSuffix(t, ".") || strings.HasSuffix(t, "!") || strings.HasSuffix(t, "?") {
		return false
	}
	return hasDigit(t) && (attributionStartRE.MatchString(t) || dateStartRE.MatchString(t) || weekdayStartRE.MatchString(t))
}

var (
	// Mobile and mail-app footers: "Sent from my iPhone", "Sent with
	// Sparrow", "Von meinem iPhone gesendet", "Get Outlook for Android".
	// The device must come within a few words, so "Sent from my desk,
	// which is easier than my mobile phone." is the writer's sentence.
	mobileFooterRE = regexp.MustCompile(`(?i)^((sent|envoyé|enviado|enviada|gesendet|inviato|verzonden|verstuurd|отправлено|wysłane|skickat|sendt|lähetetty|odesláno)( wirelessly)? (from|with|via|using|von|mit|de|desde|con|da|do|van|vanaf|met|с|z|ze|från|fra|par|depuis|dal|dall')\s+(\S+\s+){0,3}?(iphone|ipad|ipod|android|blackberry|mobile|mobil|móvil|movil|phone|smartphone|telefon|telefono|teléfono|telefoon|téléphone|celular|cellulare|handy|samsung|galaxy|huawei|xiaomi|htc|nokia|pixel|oneplus|motorola|tablet|device|outlook|mail|mailbox|gmail|yahoo|aol|protonmail|proton|spark|airmail|sparrow|bluemail|windows|watch|ios|terminal|appareil|dispositivo|superhuman|fastmail|yandex)\b.*|get outlook for .*|von meinem .* gesendet|envoyé de mon .*|enviado desde mi .*|enviado do meu .*|(sent )?(via|from) (my )?(mobile|phone|iphone|android|smartphone)[.!]?|.{1,30}から送信|发自我的.*|從我的.{1,30}傳送)$`)
	// A list's footer below a rule: "riak-users mailing list".
	listFooterRE = regexp.MustCompile(`(?i)mailing list|mailman/listinfo|to unsubscribe|list-unsubscribe`)
)

// mobileFooterStarts: the first words of mobile footers, and the
// markers of those in scripts without spaces. Most lines are none, and
// are told so without the regular expression.
var (
	mobileFooterStarts = map[string]bool{"sent": true, "envoyé": true, "enviado": true, "enviada": true,
		"gesendet": true, "inviato": true, "verzonden": true, "verstuurd": true, "отправлено": true,
		"wysłane": true, "skickat": true, "sendt": true, "lähetetty": true, "odesláno": true, "get": true,
		"von": true, "via": true, "from": true}
	mobileFooterCJK = []string{"から送信", "发自我的", "從我的"}
)

func isMobileFooter(t string) bool {
	if len(t) > 120 {
		return false
	}
	first, _, _ := strings.Cut(t, " ")
	if !mobileFooterStarts[strings.ToLower(first)] && !containsAny(t, mobileFooterCJK) {
		return false
	}
	return mobileFooterRE.MatchString(t)
}
