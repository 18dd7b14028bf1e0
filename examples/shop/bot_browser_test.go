package main

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The FAQ bot in the demo shop: a question the canned responses answer is
// answered by the bot with quick replies (a click sends the reply as the
// visitor's message); a question they do not answer is handed to the
// operator with the bot's note; "human" is handed off at once. The report
// counts the bot's conversations.
func TestBrowserFAQBotHandOff(t *testing.T) {
	shots := screenshotDir(t)
	_, ts := startShop(t, shopConfig{FAQBot: true})
	operator := newChromium(t, 1366, 768)
	operator.openConsole(ts.URL, "alice")

	visitor := newChromium(t, 1280, 800)
	visitor.navigate(ts.URL + "/")
	visitor.waitFor("the widget to connect", `document.querySelector('#shopchat')?.dataset.state === 'ready'`)
	visitor.run("open the widget", chromedp.Evaluate[chromedp.Void](widgetQ("[data-sc=launcher]")+`.click()`))
	visitor.waitFor("the chat input", `!!`+widgetQ("[data-sc=input]")+` && `+widgetQ("[data-sc=offline-form]")+`.hidden`)
	say := func(text string) {
		t.Helper()
		visitor.run("type "+text, chromedp.Evaluate[chromedp.Void](setValueJS(widgetQ("[data-sc=input]"), text)))
		visitor.run("send "+text, chromedp.Evaluate[chromedp.Void](widgetQ("[data-sc=send]")+`.click()`))
	}
	botSaid := func(text string) string {
		return `Array.from(` + w + `.querySelectorAll('[data-sc=message][data-kind=bot]')).some(m => m.querySelector('[data-sc=text]').textContent.includes(` + js(text) + `) && m.querySelector('[data-sc=bot]') && m.querySelector('[data-sc=author]').textContent.includes('Kettle bot'))`
	}

	// 1. Known: answered by the bot, with quick replies; one click says it helped.
	say("What is your returns policy?")
	visitor.waitFor("the bot's answer, shown as a bot", botSaid("within 30 days"))
	visitor.waitFor("the quick replies", widgetQ("[data-sc=quick-replies]")+`?.getAttribute('role') === 'group' && `+widgetQ("[data-sc=quick-replies]")+`.textContent.includes('Talk to a person')`)
	visitor.screenshots(shots, "widget-bot")
	visitor.axeLightDark("widget bot answer with quick replies", "#shopchat") // violations fail the test
	if n := eval[int](operator, `document.querySelectorAll('[data-sc=conv-item], [data-sc=queue-item]').length`); n != 0 {
		t.Fatalf("the operator got %d conversations the bot is answering", n)
	}
	visitor.run("click the first quick reply", chromedp.Evaluate[chromedp.Void](widgetQ("[data-sc=quick-replies] button")+`.click()`))
	visitor.waitFor("the click sent as the visitor's message", `(`+messagesText(w)+`).includes('visitor:That answers it, thanks')`)
	visitor.waitFor("the bot's goodbye", botSaid("Glad I could help"))
	visitor.waitFor("the quick replies gone", widgetQ("[data-sc=quick-replies]")+` === null`)

	// 2. Unknown: the bot hands off; the operator sees its note.
	say("Do you take payment by PayPal?")
	visitor.waitFor("the bot handing off", botSaid("someone from the team"))
	operator.waitFor("the conversation in the console", `document.querySelector('[data-sc=conv-item], [data-sc=queue-item]') !== null`)
	operator.openConversation()
	operator.waitFor("the bot's note", `Array.from(document.querySelectorAll('[data-sc=thread]:not([hidden]) [data-sc=message][data-kind=note] [data-sc=text]')).some(e => e.textContent.includes('no answer for "Do you take payment by PayPal?"'))`)
	visitor.waitFor("alice in the widget", `(`+widgetQ("[data-sc=operator-name]")+`?.textContent || '').includes('Alice')`)
	if eval[bool](visitor, w+`.textContent.includes('FAQ bot: no answer')`) {
		t.Fatal("the bot's note reached the widget")
	}
	// Answers from past chats: the visitor's next question gets suggestions
	// in the console; one click puts one in the composer to edit and send,
	// and the sent answer can join the knowledge base.
	say("And how long does shipping take?")
	operator.waitFor("a suggested answer", `Array.from(document.querySelectorAll('[data-sc=answers]:not([hidden]) [data-sc=answer]')).some(b => b.textContent.includes('We roast on Tuesdays'))`)
	operator.screenshots(shots, "console-answers")
	operator.axe("console suggested answers", "[data-sc=answers]")
	operator.run("insert it", chromedp.Evaluate[chromedp.Void](`Array.from(document.querySelectorAll('[data-sc=answer]')).find(b => b.textContent.includes('We roast on Tuesdays')).click()`))
	operator.waitFor("the answer in the composer", `document.querySelector('[data-sc=thread]:not([hidden])').closest('.pane').querySelector('[data-sc=input]').value.startsWith('We roast on Tuesdays')`)
	operator.run("send it", chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-sc=thread]:not([hidden])').closest('.pane').querySelector('[data-sc=send]').click()`))
	visitor.waitFor("alice's answer", `(`+messagesText(w)+`).includes('operator:We roast on Tuesdays')`)
	operator.run("add it to the knowledge base", chromedp.Evaluate[chromedp.Void](`Array.from(document.querySelectorAll('[data-sc=message][data-kind=operator]')).pop().querySelector('[data-sc=mark-answer]').click()`))
	operator.waitFor("marked", `Array.from(document.querySelectorAll('[data-sc=message][data-kind=operator]')).pop().querySelector('[data-sc=mark-answer]').getAttribute('aria-pressed') === 'true'`)

	operator.run("close", chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-sc=thread]:not([hidden]) [data-sc=close-conv], [data-sc=close-conv]:not([hidden])').click()`))
	visitor.waitFor("the close in the widget", `(`+messagesText(w)+`).includes('Alice Martin closed the conversation')`)

	// 3. "human": handed off at once, no bot answer.
	bots := eval[int](visitor, w+`.querySelectorAll('[data-sc=message][data-kind=bot]').length`)
	say("human")
	visitor.waitFor("alice taking the new conversation", `(`+messagesText(w)+`).split('human').length > 1 && (`+widgetQ("[data-sc=operator-name]")+`?.textContent || '').includes('Alice')`)
	operator.waitFor("the hand-off note", `Array.from(document.querySelectorAll('[data-sc=message][data-kind=note] [data-sc=text]')).some(e => e.textContent.includes('asked for a person'))`)
	if n := eval[int](visitor, w+`.querySelectorAll('[data-sc=message][data-kind=bot]').length`); n != bots {
		t.Fatalf("the bot answered %q: %d bot messages, %d before", "human", n, bots)
	}

	// The report counts the bot's conversations, in the console too.
	operator.run("open Reports", chromedp.Evaluate[chromedp.Void](`document.querySelector('#tab-reports').click()`))
	operator.waitFor("the bot's counts", `(document.querySelector('[data-sc=report-bot]')?.textContent || '').includes('Handed off2')`)
	operator.axe("console reports with the bot", "[data-sc=report-bot]")
	ctx, cancel := context.WithTimeout(operator.ctx, 30*time.Second)
	defer cancel()
	rep, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]any](`fetch('/chat/reports?format=json').then(r => r.json()).then(r => r.bot)`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if rep["conversations"] != float64(3) || rep["resolved"] != float64(1) || rep["handed_off"] != float64(2) {
		t.Fatalf("report's bot counts: %v", rep)
	}
}
