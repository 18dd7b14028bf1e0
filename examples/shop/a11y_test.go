package main

import (
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/shopchat/chat/client"
	"github.com/shopchat/chat/protocol"
)

var a11ySizes = []struct {
	name string
	w, h int64
}{{"1366x768", 1366, 768}, {"390x844", 390, 844}}

// TestBrowserAccessibilityWidget runs axe-core on every widget state
// (closed, offline form, open online, in a conversation, rating, pre-chat
// form) at a desktop and a phone size: zero violations of any impact.
func TestBrowserAccessibilityWidget(t *testing.T) {
	needAxe(t)
	s, ts := startShop(t, shopConfig{})
	pre, preTS := startShop(t, shopConfig{PreChat: true})
	ctx := browserCtx(t)
	total := 0
	for _, size := range a11ySizes {
		state := func(s string) string { return "widget " + s + " " + size.name }
		b := newChromium(t, size.w, size.h)
		b.navigate(ts.URL + "/")
		b.waitFor("the widget", `document.querySelector('#shopchat')?.dataset.state === 'ready' && !!`+widgetQ("[data-sc=launcher]"))
		total += b.axeLightDark(state("closed"), "#shopchat")
		b.run("open", chromedp.Evaluate[chromedp.Void](widgetQ("[data-sc=launcher]")+`.click()`))
		b.waitFor("the offline form", `!`+widgetQ("[data-sc=offline-form]")+`.hidden`)
		total += b.axeLightDark(state("offline form"), "#shopchat")

		alice := s.dialOperator(t, ctx, ts, "alice", client.Options{})
		b.waitFor("the chat input", widgetQ("[data-sc=offline-form]")+`.hidden && !!`+widgetQ("[data-sc=input]"))
		total += b.axeLightDark(state("open online"), "#shopchat")

		b.run("type", chromedp.Evaluate[chromedp.Void](setValueJS(widgetQ("[data-sc=input]"), "Do you ship to Norway?")))
		b.run("send", chromedp.Evaluate[chromedp.Void](widgetQ("[data-sc=send]")+`.click()`))
		var conv string
		if err := alice.Wait(ctx, func(c *client.Conn) bool {
			for _, x := range c.Conversations() {
				if x.Status == protocol.StatusAssigned && x.Operator != nil && x.Operator.ID == "alice" {
					conv = x.ID
					return true
				}
			}
			return false
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := alice.Send(ctx, conv, "Yes, in 3-5 days."); err != nil {
			t.Fatal(err)
		}
		b.waitFor("the reply", `(`+messagesText(w)+`).includes('Yes, in 3-5 days.')`)
		total += b.axeLightDark(state("in a conversation"), "#shopchat")

		if err := alice.CloseConversation(ctx, conv); err != nil {
			t.Fatal(err)
		}
		b.waitFor("the rating", `!`+widgetQ("[data-sc=rate-form]")+`.hidden`)
		total += b.axeLightDark(state("rating"), "#shopchat")
		alice.Close()

		p := newChromium(t, size.w, size.h)
		preAlice := pre.dialOperator(t, ctx, preTS, "alice", client.Options{})
		p.navigate(preTS.URL + "/")
		p.waitFor("the widget", `document.querySelector('#shopchat')?.dataset.state === 'ready' && !!`+widgetQ("[data-sc=launcher]"))
		p.run("open", chromedp.Evaluate[chromedp.Void](widgetQ("[data-sc=launcher]")+`.click()`))
		p.waitFor("the pre-chat form", `!`+widgetQ("[data-sc=prechat-form]")+`.hidden`)
		total += p.axeLightDark(state("pre-chat form"), "#shopchat")
		preAlice.Close()
	}
	t.Logf("axe: %d violations over %d widget states (light and dark)", total, 2*6*len(a11ySizes))
}

// TestBrowserAccessibilityConsole runs axe-core on every console tab (Chats
// empty and with a conversation open, Visitors, Canned, Triggers, Reports)
// at 1366x768: zero violations of any impact.
func TestBrowserAccessibilityConsole(t *testing.T) {
	needAxe(t)
	_, ts := startShop(t, shopConfig{})
	ctx := browserCtx(t)
	op := newChromium(t, 1366, 768)
	op.openConsole(ts.URL, "alice")
	total, states := 0, 0
	check := func(state string) { total += op.axeLightDark("console "+state, ""); states += 2 }
	check("chats, empty")

	v, err := client.DialVisitor(ctx, ts.URL, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if _, err := v.Send(ctx, "", "Is the grinder good for espresso?"); err != nil {
		t.Fatal(err)
	}
	op.openConversation()
	op.waitFor("the thread", `document.querySelector('[data-sc=thread]:not([hidden]) [data-sc=message]') !== null`)
	check("chats, a conversation open")

	for _, tab := range []string{"visitors", "canned", "triggers", "reports"} {
		op.run("open "+tab, chromedp.Evaluate[chromedp.Void](`document.querySelector('#tab-`+tab+`').click()`))
		op.waitFor("the "+tab+" tab", `document.querySelector('#tab-`+tab+`').getAttribute('aria-selected') === 'true'`)
		check(tab)
	}
	t.Logf("axe: %d violations over %d console states", total, states)
}

// TestBrowserWidgetFocusAndAnnouncements covers issue 14's points beyond
// axe: on a phone the open panel is a modal dialog that keeps focus (the
// page behind is inert); the closed launcher says how many replies are
// unread; the console's typing line and draft are live regions; and an
// operator's send while connected never shows "Waiting for connection".
func TestBrowserWidgetFocusAndAnnouncements(t *testing.T) {
	_, ts := startShop(t, shopConfig{})
	phone := newChromium(t, 390, 844)
	phone.navigate(ts.URL + "/")
	phone.waitFor("the widget", `document.querySelector('#shopchat')?.dataset.state === 'ready' && !!`+widgetQ("[data-sc=launcher]"))
	phone.run("open", chromedp.Evaluate[chromedp.Void](widgetQ("[data-sc=launcher]")+`.click()`))
	phone.waitFor("the modal panel", `!`+widgetQ("[data-sc=panel]")+`.hidden && `+widgetQ("[data-sc=panel]")+`.getAttribute('aria-modal') === 'true'`)
	if !eval[bool](phone, `Array.from(document.body.children).filter(e => e.id !== 'shopchat' && e.tagName !== 'SCRIPT').every(e => e.inert)`) {
		t.Error("the shop page behind the open panel is not inert")
	}
	for i := range 30 {
		phone.run("tab", chromedp.KeyEvent("\t"))
		if !eval[bool](phone, `document.activeElement === document.querySelector('#shopchat')`) {
			t.Fatalf("Tab #%d left the chat panel for %s", i+1, eval[string](phone, `document.activeElement.outerHTML.slice(0, 120)`))
		}
	}
	phone.run("escape", chromedp.Evaluate[chromedp.Void](widgetQ("[data-sc=panel]")+`.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape', bubbles: true, composed: true}))`))
	phone.waitFor("the panel to close", widgetQ("[data-sc=panel]")+`.hidden`)
	if eval[bool](phone, `Array.from(document.body.children).some(e => e.inert)`) {
		t.Error("the page stays inert after the panel closed")
	}

	// An operator replies while the panel is closed: the launcher says so.
	op := newChromium(t, 1366, 768)
	op.openConsole(ts.URL, "alice")
	desk := op.tab(t)
	desk.startChat(ts.URL, "Hello, anyone there?")
	op.openConversation()
	op.waitFor("the live typing region", `document.querySelector('[data-sc=typing]').getAttribute('role') === 'status' && document.querySelector('[data-sc=draft]').getAttribute('aria-live') === 'polite'`)
	desk.run("close the panel", chromedp.Evaluate[chromedp.Void](widgetQ("[data-sc=launcher]")+`.click()`))
	desk.waitFor("closed", widgetQ("[data-sc=panel]")+`.hidden`)

	// Watch the console for the offline line while sending connected.
	eval[bool](op, `(window.__seen = [], new MutationObserver(() => { const t = document.body.innerText; if (/Waiting for connection|Sending…/.test(t)) window.__seen.push(t.match(/Waiting for connection|Sending…/)[0]) }).observe(document.body, {subtree: true, childList: true, characterData: true}), true)`)
	op.run("reply", chromedp.Evaluate[chromedp.Void](setValueJS(`document.querySelector('[data-sc=input]')`, "Yes, I'm here.")))
	op.run("send reply", chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-sc=send]').click()`))
	op.waitFor("the reply acked", `document.querySelectorAll('[data-sc=pending]').length === 0 && Array.from(document.querySelectorAll('[data-sc=message][data-kind=operator] [data-sc=text]')).some(e => e.textContent === "Yes, I'm here.")`)
	if seen := eval[string](op, `window.__seen.join('|')`); seen != "" {
		t.Errorf("a send while connected showed %q", seen)
	}
	desk.waitFor("the unread badge", `!`+widgetQ(".badge")+`.hidden`)
	if label := eval[string](desk, widgetQ("[data-sc=launcher]")+`.getAttribute('aria-label')`); label != "Open chat, 1 unread" {
		t.Errorf("launcher label with one unread reply: %q", label)
	}
}

// TestBrowserBrandColourContrast: whatever brand colour a shop picks, the
// widget's text on it is readable (axe finds no contrast violation on the
// header, the launcher and the visitor's own messages).
func TestBrowserBrandColourContrast(t *testing.T) {
	needAxe(t)
	b := newChromium(t, 1366, 768)
	for _, colour := range []string{"#f59e0b", "#777777", "#ffff00", "#1e3a8a", "#0ea5e9"} {
		_, ts := startShop(t, shopConfig{BrandColor: colour})
		b.navigate(ts.URL + "/")
		b.waitFor("the widget", `document.querySelector('#shopchat')?.dataset.state === 'ready' && !!`+widgetQ("[data-sc=launcher]"))
		b.run("open", chromedp.Evaluate[chromedp.Void](widgetQ("[data-sc=launcher]")+`.click()`))
		b.waitFor("the offline form", `!`+widgetQ("[data-sc=offline-form]")+`.hidden`)
		b.run("email", chromedp.Evaluate[chromedp.Void](setValueJS(widgetQ("[data-sc=offline-form] input[name=email]"), "ann@example.com")))
		b.run("leave a message", chromedp.Evaluate[chromedp.Void](setValueJS(widgetQ("[data-sc=offline-form] textarea"), "Do you ship to Norway?")))
		b.run("send", chromedp.Evaluate[chromedp.Void](widgetQ("[data-sc=offline-submit]")+`.click()`))
		b.waitFor("the message", `(`+messagesText(w)+`).includes('Norway')`)
		b.axe("widget brand "+colour, "#shopchat")
	}
}
