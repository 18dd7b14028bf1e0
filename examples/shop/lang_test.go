package main

import (
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/shopchat/chat/client"
	"github.com/shopchat/chat/protocol"
)

// TestBrowserWidgetLanguages covers issue 14's point 8: the widget speaks
// the visitor's browser language (navigator.languages) among en, es, ru and
// de, shows the shop's own strings in that language (greeting, pre-chat
// labels, department names), translates system lines itself, and cuts no
// string off on a 390 px phone.
func TestBrowserWidgetLanguages(t *testing.T) {
	s, ts := startShop(t, shopConfig{PreChat: true})
	ctx := browserCtx(t)
	alice := s.dialOperator(t, ctx, ts, "alice", client.Options{})
	for _, tc := range []struct{ accept, launcher, greeting, department, joined string }{
		{"en-US,en", "Open chat", "Hi! Questions about coffee", "sales", "Alice Martin joined the conversation"},
		{"es-ES,es", "Abrir chat", "¡Hola! ¿Preguntas sobre café", "ventas", "Alice Martin se unió a la conversación"},
		{"ru-RU,ru", "Открыть чат", "Здравствуйте! Вопросы о кофе", "покупка", "Alice Martin присоединяется к разговору"},
		{"fr-FR,fr,de;q=0.8", "Chat öffnen", "Hallo! Fragen zu Kaffee", "Verkauf", "Alice Martin ist dem Chat beigetreten"},
	} {
		b := newChromium(t, 390, 844)
		if _, err := chromedp.Call(b.ctx, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: desktopUA, AcceptLanguage: tc.accept}); err != nil {
			t.Fatalf("browser language %s: %v", tc.accept, err)
		}
		b.navigate(ts.URL + "/")
		b.waitFor("the widget", `document.querySelector('#shopchat')?.dataset.state === 'ready' && !!`+widgetQ("[data-sc=launcher]"))
		if got := eval[string](b, widgetQ("[data-sc=launcher]")+`.getAttribute('aria-label')`); got != tc.launcher {
			t.Errorf("%s: launcher %q, want %q", tc.accept, got, tc.launcher)
		}
		b.run("open", chromedp.Evaluate[chromedp.Void](widgetQ("[data-sc=launcher]")+`.click()`))
		b.waitFor("the pre-chat form", `!`+widgetQ("[data-sc=prechat-form]")+`.hidden`)
		if got := eval[string](b, widgetQ("[data-sc=greeting]")+`.textContent`); !strings.HasPrefix(got, tc.greeting) {
			t.Errorf("%s: greeting %q, want %q…", tc.accept, got, tc.greeting)
		}
		if got := eval[string](b, widgetQ("[data-sc=prechat-form] select option[value=sales]")+`.textContent`); got != tc.department {
			t.Errorf("%s: department %q, want %q", tc.accept, got, tc.department)
		}
		// Nothing is cut off (an ellipsis or a clipped box) at 390 px.
		if cut := eval[string](b, `Array.from(`+w+`.querySelectorAll('*')).filter(e => e.getClientRects().length && e.scrollWidth > e.clientWidth + 1 && ['hidden', 'clip'].includes(getComputedStyle(e).overflowX) && !e.matches('.vh')).map(e => e.className + ': ' + e.textContent.slice(0, 60)).join(' | ')`); cut != "" {
			t.Errorf("%s: cut off at 390 px: %s", tc.accept, cut)
		}
		b.run("name", chromedp.Evaluate[chromedp.Void](setValueJS(widgetQ("[data-sc=prechat-form] input[name=name]"), "Ann")))
		b.run("department", chromedp.Evaluate[chromedp.Void](`(() => { const s = `+widgetQ("[data-sc=prechat-form] select")+`; s.value = 'sales'; s.dispatchEvent(new Event('change', {bubbles: true})); return true })()`))
		b.run("start", chromedp.Evaluate[chromedp.Void](widgetQ("[data-sc=prechat-submit]")+`.click()`))
		b.waitFor("the chat input", `!`+widgetQ("[data-sc=input]")+`.closest('[hidden]')`)
		b.run("type", chromedp.Evaluate[chromedp.Void](setValueJS(widgetQ("[data-sc=input]"), "Hola / Hello")))
		b.run("send", chromedp.Evaluate[chromedp.Void](widgetQ("[data-sc=send]")+`.click()`))
		b.waitFor("the message", `(`+messagesText(w)+`).includes('Hola / Hello')`)
		b.waitFor("the joined line", `(`+messagesText(w)+`).includes(`+js("system:"+tc.joined)+`)`)
		// Free Alice for the next visitor.
		for _, c := range alice.Conversations() {
			if c.Status == protocol.StatusAssigned {
				if err := alice.CloseConversation(ctx, c.ID); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}
