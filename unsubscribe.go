package chat

import (
	"errors"
	"html/template"
	"io"
	"net/http"
	"time"
)

// unsubscribeTokenLabel signs the tokens of unsubscribe links, apart from
// reply tokens: a link found in a mail cannot post, a reply address cannot
// unsubscribe.
const unsubscribeTokenLabel = "unsubscribe"

// unsubscribeTTL is how long an unsubscribe link works: a year, since
// people unsubscribe from old mail too.
const unsubscribeTTL = 365 * 24 * time.Hour

// UnsubscribeToken returns a signed token naming conversation convID for
// the unsubscribe endpoint, Config.Path + "mail/unsubscribe?t=<token>",
// valid for a year. notify/email puts it in the List-Unsubscribe header
// and the visible opt-out link of mail to the visitor.
func (s *Server) UnsubscribeToken(convID string) string {
	return s.replyToken(unsubscribeTokenLabel, convID, unsubscribeTTL)
}

var unsubscribePage = template.Must(template.New("unsubscribe").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{{.Title}}</title></head>
<body style="font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; max-width: 32rem; margin: 3rem auto; padding: 0 1rem; color: #1f2937;">
<h1 style="font-size: 1.25rem;">{{.Title}}</h1><p>{{.Text}}</p>
{{if .Ask}}<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit" style="font-size: 1rem; padding: .5rem 1rem;">Stop these emails</button></form>{{end}}
</body></html>
`))

// serveUnsubscribe is the opt-out link of mail to a visitor. GET asks
// (link checkers and prefetching mail clients follow links, so a GET
// changes nothing); POST, the page's button or a mail provider's RFC 8058
// one-click request ("List-Unsubscribe=One-Click"), stops missed-reply mail
// about the conversation, as the widget's own switch does. No cookie or
// login: the signed token is the authority.
func (s *Server) serveUnsubscribe(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
	w.Header().Set("Referrer-Policy", "no-referrer")
	page := func(code int, title, text string, ask bool) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(code)
		unsubscribePage.Execute(w, struct {
			Title, Text string
			Ask         bool
		}{title, text, ask})
	}
	convID, err := s.conversationOfToken(unsubscribeTokenLabel, r.URL.Query().Get("t"))
	if err != nil {
		page(http.StatusNotFound, "Link expired", "This unsubscribe link is not valid any more. Every email we send has a fresh one.", false)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		page(http.StatusOK, "Stop emails about this conversation?", "We email you when we answer and you are no longer on our site. You can still chat with us on the site.", true)
	case http.MethodPost:
		io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, 4<<10)) // "List-Unsubscribe=One-Click"; nothing else matters
		c, err := s.store.SetMailOptOut(r.Context(), convID, true)
		if errors.Is(err, ErrNotFound) {
			page(http.StatusOK, "Unsubscribed", "You will get no more emails about this conversation.", false)
			return
		}
		if err != nil {
			s.logErr("unsubscribe", err, "conversation", convID)
			page(http.StatusServiceUnavailable, "Please try again", "We could not record your choice just now.", false)
			return
		}
		s.publishState(c) // the console and the widget show mail as off
		s.add("email_unsubscribes_total", 1)
		page(http.StatusOK, "Unsubscribed", "You will get no more emails about this conversation.", false)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}
