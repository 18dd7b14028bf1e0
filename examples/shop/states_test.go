package main

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserWidgetStatesAgree covers issue 14's points 6 and 7: with
// nobody online an offline message gets the email path only, never a place
// in line beside it; a proactive message for the team carries the team's
// name and photo, never a "?".
func TestBrowserWidgetStatesAgree(t *testing.T) {
	s, ts := startShop(t, shopConfig{})
	b := newChromium(t, 1366, 768)
	b.navigate(ts.URL + "/")
	b.waitFor("the widget", `document.querySelector('#shopchat')?.dataset.state === 'ready' && !!`+widgetQ("[data-sc=launcher]"))

	// A message from the team (no operator named) pops up.
	var visitor string
	for _, lv := range s.chat.LiveVisitors() {
		visitor = lv.VisitorID
	}
	if visitor == "" {
		t.Fatal("the visitor is not listed live")
	}
	if err := s.chat.Invite(testCtx(t), visitor, "Fresh beans arrived today.", ""); err != nil {
		t.Fatal(err)
	}
	b.waitFor("the proactive bubble", `!`+widgetQ("[data-sc=bubble]")+`.hidden`)
	b.run("open", chromedp.Evaluate[chromedp.Void](widgetQ("[data-sc=bubble-text]")+`.click()`))
	b.waitFor("the invitation in the panel", `!!`+widgetQ("[data-sc=message][data-kind=operator] [data-sc=author]"))
	if got := eval[string](b, widgetQ("[data-sc=message][data-kind=operator] [data-sc=author]")+`.textContent`); got != shopName {
		t.Errorf("proactive message from %q, want the team %q", got, shopName)
	}
	if src := eval[string](b, `(`+widgetQ("[data-sc=message][data-kind=operator] [data-sc=avatar]")+`?.getAttribute('src') || '')`); src == "" {
		t.Error("proactive message without the team's photo")
	}
	if eval[bool](b, w+`.textContent.includes('?') && Array.from(`+w+`.querySelectorAll('.ini, .face')).some(e => e.textContent === '?')`) {
		t.Error("a '?' avatar in the widget")
	}

	// Nobody online: the visitor leaves a message; the widget says "by
	// email" and shows no position in line.
	b.waitFor("the offline form", `!`+widgetQ("[data-sc=offline-form]")+`.hidden`)
	b.run("email", chromedp.Evaluate[chromedp.Void](setValueJS(widgetQ("[data-sc=offline-form] input[name=email]"), "ann@example.com")))
	b.run("message", chromedp.Evaluate[chromedp.Void](setValueJS(widgetQ("[data-sc=offline-form] textarea"), "Do you ship to Norway?")))
	b.run("send", chromedp.Evaluate[chromedp.Void](widgetQ("[data-sc=offline-submit]")+`.click()`))
	b.waitFor("the email confirmation", `!`+widgetQ("[data-sc=offline-done]")+`.hidden && (`+messagesText(w)+`).includes('Norway')`)
	if eval[bool](b, `!`+widgetQ("[data-sc=queue]")+`.hidden`) {
		t.Errorf("a place in line beside the email path: %q", eval[string](b, widgetQ("[data-sc=queue]")+`.textContent`))
	}
}

// TestBrowserAwayMeansWhatItSays covers issue 14's point 4: an operator
// who sets Away gets no new chats, the console says so, and with nobody
// else online visitors get the offline form (their message then waits for
// a reply).
func TestBrowserAwayMeansWhatItSays(t *testing.T) {
	_, ts := startShop(t, shopConfig{})
	op := newChromium(t, 1366, 768)
	op.openConsole(ts.URL, "alice")
	visitor := op.tab(t)
	visitor.navigate(ts.URL + "/")
	visitor.waitFor("the widget", `document.querySelector('#shopchat')?.dataset.state === 'ready' && !!`+widgetQ("[data-sc=launcher]"))
	visitor.run("open", chromedp.Evaluate[chromedp.Void](widgetQ("[data-sc=launcher]")+`.click()`))
	visitor.waitFor("the chat input while alice is online", widgetQ("[data-sc=offline-form]")+`.hidden && !`+widgetQ("[data-sc=input]")+`.closest('[hidden]')`)

	op.run("set away", chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector('[data-sc=presence]'); s.value = 'away'; s.dispatchEvent(new Event('change', {bubbles: true})); return true })()`))
	op.waitFor("the away note", `!document.querySelector('#away-note').hidden`)
	if note := eval[string](op, `document.querySelector('#away-note').textContent`); !strings.Contains(note, "no new chats come to you") || !strings.Contains(note, "Waiting for reply") || strings.Contains(note, "wait in the queue") {
		t.Errorf("away note: %q", note)
	}
	visitor.waitFor("the offline form once nobody is online", `!`+widgetQ("[data-sc=offline-form]")+`.hidden`)
}
