package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The browser tests drive the real widget and console in headless Chromium
// against the demo shop. Without Chromium they skip, except in CI
// (CI set), where .ci/run installs it and they must run.

// chromiumPath finds Debian's Chromium.
func chromiumPath(t testing.TB) string {
	for _, name := range []string{"chromium", "chromium-chromium", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("Chromium not found: .ci/run installs it (apt-get install chromium)")
	}
	t.Skip("Chromium not installed (apt-get install chromium); CI runs these tests")
	return ""
}

const desktopUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36"

// chromium is one Chromium with its own profile: its own cookies, like a
// separate person's computer.
type chromium struct {
	t   testing.TB
	ctx context.Context
}

func newChromium(t testing.TB, width, height int64) *chromium {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(int(width), int(height)),
		// A desktop Chrome's: middleware.Track skips "HeadlessChrome" as a
		// bot, and these tests stand for people.
		chromedp.UserAgent(desktopUA),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &chromium{t: t, ctx: ctx}
	// Start the chromium now, so a Chromium that cannot start fails here.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, height)); err != nil {
		t.Fatalf("Chromium did not start: %v", err)
	}
	return b
}

// run runs actions with a deadline.
func (b *chromium) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression and returns its value.
func eval[T any](b *chromium, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("eval %s: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript predicate on every DOM change until it holds.
// consoleOnVisitors opens operator id's console at baseURL on its Visitors
// tab.
func consoleOnVisitors(t *testing.T, baseURL, id string) *chromium {
	operator := newChromium(t, 1366, 768)
	operator.openConsole(baseURL, id)
	operator.run("open Visitors", chromedp.Evaluate[chromedp.Void](`document.querySelector('#tab-visitors').click()`))
	operator.waitFor("the Visitors tab", `!document.querySelector('[data-sc=visitors-view]').hidden`)
	return operator
}

// openConversation accepts the first conversation in the console's queue, if
// it is still queued, and opens it.
func (b *chromium) openConversation() {
	b.run("accept if queued", chromedp.Evaluate[chromedp.Void](`(() => {
		const q = document.querySelector('[data-sc=queue-item] [data-sc=accept]');
		if (q) q.click();
		return true })()`))
	b.waitFor("my conversation", `document.querySelector('[data-sc=conv-item]') !== null`)
	b.run("open it", chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-sc=conv-item]').click()`))
}

func (b *chromium) waitFor(what, predicate string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	var err error
	for ctx.Err() == nil {
		// A poll does not survive a navigation (a form submit, a
		// redirect): poll again on the new page.
		_, err = chromedp.Run(ctx, chromedp.Poll[bool](predicate, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(25*time.Second)))
		if err == nil || !(strings.Contains(err.Error(), "navigated or closed") || strings.Contains(err.Error(), "Cannot find context")) {
			break
		}
	}
	if err != nil {
		b.t.Fatalf("waiting for %s (%s): %v\npage: %s", what, predicate, err, b.debugState())
	}
}

func (b *chromium) debugState() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
		const h = document.querySelector('#shopchat');
		const w = h && h.shadowRoot ? h.shadowRoot.textContent.slice(0, 600) : '';
		return location.href + ' | body ' + (document.body.dataset.state || '') + ' | widget ' + (h ? h.dataset.state : 'none') + ' | ' + w.replace(/\s+/g, ' ') + ' | ' + document.body.innerText.slice(0, 600).replace(/\s+/g, ' ');
	})()`))
	return s
}

func (b *chromium) navigate(url string) {
	b.t.Helper()
	b.run("navigate "+url, chromedp.Navigate(url))
	// Any alert() (an injected script running) is counted, not shown.
	eval[bool](b, `(window.__alerts = 0, window.alert = () => { window.__alerts++ }, true)`)
}

// openConsole logs in to the shop as a demo operator (password = id) and
// waits for the console to connect.
func (b *chromium) openConsole(base, operator string) {
	b.t.Helper()
	b.navigate(base + "/operator/login?next=/chat/console/")
	b.run("log in", chromedp.Evaluate[chromedp.Void](`(() => {
		document.querySelector('input[name=email]').value = `+js(operator+"@shop.test")+`;
		document.querySelector('input[name=password]').value = `+js(operator)+`;
		document.querySelector('input[name=password]').form.submit();
	})()`))
	b.waitFor("the console", `location.pathname === '/chat/console/' && document.body.dataset.state === 'ready'`)
	eval[bool](b, `(window.__alerts = 0, window.alert = () => { window.__alerts++ }, true)`)
}

// screenshot saves the viewport as name.png under dir.
func (b *chromium) screenshot(dir, name string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	return path
}

// screenshots saves name.png in the light scheme and name-dark.png in the
// dark one.
func (b *chromium) screenshots(dir, name string) {
	b.t.Helper()
	b.screenshot(dir, name)
	b.dark(true)
	b.screenshot(dir, name+"-dark")
	b.dark(false)
}

// screenshotDir is docs/screenshots when SHOPCHAT_UPDATE_SCREENSHOTS=1
// (to refresh the README's pictures), else a temporary directory.
func screenshotDir(t testing.TB) string {
	if os.Getenv("SHOPCHAT_UPDATE_SCREENSHOTS") == "1" {
		dir := filepath.Join("..", "..", "docs", "screenshots")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.TempDir()
}

// js quotes s as a JavaScript string literal.
func js(s string) string { return fmt.Sprintf("%q", s) }

// In the widget's shadow root.
const w = `document.querySelector('#shopchat').shadowRoot`

func widgetQ(sel string) string { return w + `.querySelector(` + js(sel) + `)` }

// setValue types text into an input the way a person would, firing input
// events (the widget sends typing frames with the draft from them).
func setValueJS(el, text string) string {
	return `(() => { const el = ` + el + `; el.focus(); el.value = ` + js(text) + `; el.dispatchEvent(new Event('input', {bubbles: true})); return true })()`
}

func messagesText(root string) string {
	return `Array.from(` + root + `.querySelectorAll('[data-sc=message]')).map(m => m.dataset.kind + ':' + (m.querySelector('[data-sc=text]') || {}).textContent).join('\n')`
}

func TestBrowserVisitorAndOperator(t *testing.T) {
	shots := screenshotDir(t)
	_, ts := startShop(t, shopConfig{})

	visitor := newChromium(t, 1280, 800)
	visitor.navigate(ts.URL + "/")
	visitor.waitFor("the widget to connect", `document.querySelector('#shopchat')?.dataset.state === 'ready'`)
	visitor.waitFor("the launcher", widgetQ("[data-sc=launcher]")+` !== null`)
	// The launcher sits in a corner and covers nothing else: the page's
	// centre is still the shop's.
	if !eval[bool](visitor, `document.elementFromPoint(innerWidth/2, innerHeight/2) !== document.querySelector('#shopchat')`) {
		t.Error("the widget covers the middle of the page")
	}
	visitor.screenshots(shots, "widget-closed")

	// Nobody is online: opening the widget shows the offline form.
	visitor.run("open the widget", chromedp.Evaluate[chromedp.Void](widgetQ("[data-sc=launcher]")+`.click()`))
	visitor.waitFor("the panel", `!`+widgetQ("[data-sc=panel]")+`.hidden`)
	visitor.waitFor("the offline form", `!`+widgetQ("[data-sc=offline-form]")+`.hidden`)
	visitor.screenshots(shots, "widget-offline")

	// An operator logs in to the shop and opens the console.
	operator := newChromium(t, 1366, 768)
	operator.openConsole(ts.URL, "alice")

	// Now someone is online: the widget offers the chat instead.
	visitor.waitFor("the chat input", ``+widgetQ("[data-sc=offline-form]")+`.hidden && !!`+widgetQ("[data-sc=input]"))

	// The visitor says hello; the conversation reaches the operator.
	visitor.run("type hello", chromedp.Evaluate[chromedp.Void](setValueJS(widgetQ("[data-sc=input]"), "Hi there")))
	visitor.run("send hello", chromedp.Evaluate[chromedp.Void](widgetQ("[data-sc=send]")+`.click()`))
	operator.waitFor("the conversation in the console", `document.querySelector('[data-sc=conv-item], [data-sc=queue-item]') !== null`)
	operator.openConversation()
	operator.waitFor("the thread", `document.querySelector('[data-sc=thread]:not([hidden])') !== null`)
	operator.waitFor("the hello", `Array.from(document.querySelectorAll('[data-sc=thread]:not([hidden]) [data-sc=message][data-kind=visitor] [data-sc=text]')).some(e => e.textContent === 'Hi there')`)
	visitor.waitFor("the operator's name in the widget", `(`+widgetQ("[data-sc=operator-name]")+`?.textContent || '').includes('Alice')`)

	// The visitor types: the operator sees the draft before it is sent.
	visitor.run("type a draft", chromedp.Evaluate[chromedp.Void](setValueJS(widgetQ("[data-sc=input]"), "Hello, do you ship to Norway?")))
	operator.waitFor("the sneak peek", `(document.querySelector('[data-sc=draft]')?.textContent || '').includes('Hello, do you ship to Norway?')`)
	visitor.run("send", chromedp.Evaluate[chromedp.Void](widgetQ("[data-sc=send]")+`.click()`))
	operator.waitFor("the visitor's message", `Array.from(document.querySelectorAll('[data-sc=thread]:not([hidden]) [data-sc=message][data-kind=visitor] [data-sc=text]')).some(e => e.textContent === 'Hello, do you ship to Norway?')`)

	// The operator replies; the visitor sees it with the operator's name.
	operator.run("reply", chromedp.Evaluate[chromedp.Void](setValueJS(`document.querySelector('[data-sc=input]')`, "Yes, in 3-5 days.")))
	operator.run("send reply", chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-sc=send]').click()`))
	visitor.waitFor("the operator's reply with the name", `Array.from(`+w+`.querySelectorAll('[data-sc=message][data-kind=operator]')).some(m => m.querySelector('[data-sc=text]').textContent === 'Yes, in 3-5 days.' && m.querySelector('[data-sc=author]')?.textContent.includes('Alice'))`)

	// An internal note: in the console, never in the widget.
	operator.run("write a note", chromedp.Evaluate[chromedp.Void](`(() => { const n = document.querySelector('[data-sc=note-toggle]'); if (!n.checked) n.click(); return true })()`))
	operator.run("note text", chromedp.Evaluate[chromedp.Void](setValueJS(`document.querySelector('[data-sc=input]')`, "VIP customer, internal only")))
	operator.run("send note", chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-sc=send]').click()`))
	operator.waitFor("the note in the console", `Array.from(document.querySelectorAll('[data-sc=message][data-kind=note] [data-sc=text]')).some(e => e.textContent === 'VIP customer, internal only')`)
	operator.run("note off", chromedp.Evaluate[chromedp.Void](`(() => { const n = document.querySelector('[data-sc=note-toggle]'); if (n.checked) n.click(); return true })()`))
	operator.run("barrier", chromedp.Evaluate[chromedp.Void](setValueJS(`document.querySelector('[data-sc=input]')`, "Anything else?")))
	operator.run("send barrier", chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-sc=send]').click()`))
	visitor.waitFor("the message after the note", `(`+messagesText(w)+`).includes('Anything else?')`)
	if eval[bool](visitor, w+`.textContent.includes('VIP customer')`) {
		t.Fatal("the internal note reached the widget's DOM")
	}

	// Script in a message is text in both UIs, and runs nowhere.
	xss := `<img src=x onerror=alert(1)>`
	visitor.run("type xss", chromedp.Evaluate[chromedp.Void](setValueJS(widgetQ("[data-sc=input]"), xss)))
	visitor.run("send xss", chromedp.Evaluate[chromedp.Void](widgetQ("[data-sc=send]")+`.click()`))
	operator.waitFor("the xss as text in the console", `Array.from(document.querySelectorAll('[data-sc=message] [data-sc=text]')).some(e => e.textContent === `+js(xss)+`)`)
	visitor.waitFor("the xss as text in the widget", `Array.from(`+w+`.querySelectorAll('[data-sc=message] [data-sc=text]')).some(e => e.textContent === `+js(xss)+`)`)
	for name, b := range map[string]*chromium{"widget": visitor, "console": operator} {
		root := "document"
		if name == "widget" {
			root = w
		}
		if n := eval[int](b, root+`.querySelectorAll('[data-sc=messages] img[src=x], [data-sc=thread] img[src=x]').length`); n != 0 {
			t.Errorf("%s rendered the message as HTML (%d img elements)", name, n)
		}
		if n := eval[int](b, `window.__alerts`); n != 0 {
			t.Errorf("%s ran the injected script (%d alerts)", name, n)
		}
	}
	visitor.screenshots(shots, "widget-open")
	operator.screenshots(shots, "console")

	// The visitor asks for a transcript by email from the widget.
	visitor.run("open details", chromedp.Evaluate[chromedp.Void](widgetQ("[data-sc=details-toggle]")+`.click()`))
	visitor.run("email", chromedp.Evaluate[chromedp.Void](setValueJS(widgetQ("[data-sc=details] input[name=email]"), "ann@example.com")))
	visitor.run("ask for the transcript", chromedp.Evaluate[chromedp.Void](widgetQ("[data-sc=transcript]")+`.click()`))
	visitor.waitFor("the transcript confirmation", `(`+widgetQ("[data-sc=details]")+`.textContent || '').includes('Transcript sent')`)

	// A reload keeps the history.
	before := eval[string](visitor, messagesText(w))
	visitor.navigate(ts.URL + "/")
	visitor.waitFor("the widget after reload", `document.querySelector('#shopchat')?.dataset.state === 'ready'`)
	visitor.run("open after reload", chromedp.Evaluate[chromedp.Void](`(() => { const p = `+widgetQ("[data-sc=panel]")+`; if (p.hidden) `+widgetQ("[data-sc=launcher]")+`.click(); return true })()`))
	visitor.waitFor("the history after reload", `(`+messagesText(w)+`).includes('Yes, in 3-5 days.')`)
	after := eval[string](visitor, messagesText(w))
	for _, line := range strings.Split(before, "\n") {
		if strings.HasPrefix(line, "visitor:") || strings.HasPrefix(line, "operator:") {
			if !strings.Contains(after, line) {
				t.Errorf("after reload the widget lost %q", line)
			}
		}
	}
	if strings.Count(after, "Yes, in 3-5 days.") != 1 {
		t.Errorf("after reload a message is shown %d times", strings.Count(after, "Yes, in 3-5 days."))
	}
}

// On a phone the open widget takes the whole screen and stays operable.
func TestBrowserWidgetOnAPhone(t *testing.T) {
	_, ts := startShop(t, shopConfig{})
	phone := newChromium(t, 390, 844)
	phone.navigate(ts.URL + "/")
	phone.waitFor("the widget", `document.querySelector('#shopchat')?.dataset.state === 'ready'`)
	phone.run("open", chromedp.Evaluate[chromedp.Void](widgetQ("[data-sc=launcher]")+`.click()`))
	phone.waitFor("the panel", `!`+widgetQ("[data-sc=panel]")+`.hidden`)
	width := eval[float64](phone, widgetQ("[data-sc=panel]")+`.getBoundingClientRect().width`)
	if width < 380 {
		t.Fatalf("panel is %.0f px wide on a 390 px phone", width)
	}
	// Escape closes it and gives focus back to the launcher.
	phone.run("escape", chromedp.Evaluate[chromedp.Void](widgetQ("[data-sc=panel]")+`.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape', bubbles: true, composed: true}))`))
	phone.waitFor("the panel to close", widgetQ("[data-sc=panel]")+`.hidden`)
	if !eval[bool](phone, w+`.activeElement === `+widgetQ("[data-sc=launcher]")) {
		t.Error("focus did not return to the launcher")
	}
}

// The sales path of issue 7: a visitor browses two products while the
// operator watches them live in the Visitors tab, the operator invites
// them, they chat, the visitor checks out, the order page shows the chat
// channel, and the Reports tab counts the order and its revenue under
// the operator.
func TestBrowserTrackingAndOrderChannel(t *testing.T) {
	shots := screenshotDir(t)
	_, ts := startShop(t, shopConfig{})

	operator := consoleOnVisitors(t, ts.URL, "alice")

	// The visitor browses two products, putting the first in the cart;
	// the console follows each page, and the cart (the shop's VisitorInfo).
	const row = `document.querySelector('[data-sc=visitor-row]')`
	livePage := func(path string, pages int, cart string) string {
		return `(() => { const r = ` + row + `; return !!r && r.querySelector('[data-sc=visitor-page]').textContent.includes(` + js(path) + `) && Number(r.querySelector('[data-sc=visitor-pages]').textContent) >= ` + fmt.Sprint(pages) + ` && r.querySelector('[data-sc=visitor-cart]').textContent.includes(` + js(cart) + `) })()`
	}
	visitor := newChromium(t, 1280, 800)
	visitor.navigate(ts.URL + "/product/house-blend")
	visitor.waitFor("the widget", `document.querySelector('#shopchat')?.dataset.state === 'ready'`)
	operator.waitFor("the first product live", livePage("/product/house-blend", 1, ""))
	visitor.run("add to cart", chromedp.Evaluate[chromedp.Void](`document.querySelector('form.add').submit()`))
	visitor.waitFor("the cart", `location.pathname === '/cart' && document.querySelector('[data-testid=cart-count]')?.textContent === '1'`)
	visitor.navigate(ts.URL + "/product/sencha")
	visitor.waitFor("the widget on the second product", `document.querySelector('#shopchat')?.dataset.state === 'ready'`)
	operator.waitFor("the second product live, with the cart", livePage("/product/sencha", 3, "9.50"))
	if n := eval[int](operator, `document.querySelectorAll('[data-sc=visitor-row]').length`); n != 1 {
		t.Errorf("the live list shows %d visitors, want the one (operators' own pages are not tracked)", n)
	}

	// The operator invites them.
	const invitation = "Hi, I'm Alice. Sencha is lovely cold-brewed too. Can I help?"
	operator.run("open the invitation", chromedp.Evaluate[chromedp.Void](row+`.querySelector('[data-sc=invite-btn]').click()`))
	operator.waitFor("the invitation form", `!!document.querySelector('[data-sc=visitor-row] [data-sc=invite-form]')`)
	// On the site now, with device, referrer and time on site; the
	// invitation box starts empty, its suggestion a placeholder.
	if about := eval[string](operator, row+`.querySelector('[data-sc=visitor-about]').textContent`); !strings.Contains(about, "Chrome on Linux") || !strings.Contains(about, "on site") || eval[string](operator, row+`.dataset.onSite`) != "true" {
		t.Errorf("live visitor row: %q", about)
	}
	if v, ph := eval[string](operator, `document.querySelector('[data-sc=invite-text]').value`), eval[string](operator, `document.querySelector('[data-sc=invite-text]').placeholder`); v != "" || ph == "" {
		t.Errorf("invitation box starts with %q (placeholder %q), want empty with a placeholder", v, ph)
	}
	operator.run("write the invitation", chromedp.Evaluate[chromedp.Void](setValueJS(`document.querySelector('[data-sc=invite-text]')`, invitation)))
	operator.screenshots(shots, "console-visitors")
	operator.run("send the invitation", chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-sc=invite-send]').click()`))
	operator.waitFor("the invitation's confirmation", `document.querySelector('#toasts').textContent.includes('Invitation sent')`)

	// The visitor sees it, opens the widget from it and answers.
	visitor.waitFor("the invitation", `!`+widgetQ("[data-sc=bubble]")+`.hidden && `+widgetQ("[data-sc=bubble-text]")+`.textContent.includes(`+js(invitation)+`)`)
	visitor.run("open it", chromedp.Evaluate[chromedp.Void](widgetQ("[data-sc=bubble-text]")+`.click()`))
	visitor.waitFor("the invitation in the panel", `(`+messagesText(w)+`).includes(`+js("operator:"+invitation)+`)`)
	visitor.waitFor("the chat input", `!!`+widgetQ("[data-sc=input]"))
	visitor.run("type the answer", chromedp.Evaluate[chromedp.Void](setValueJS(widgetQ("[data-sc=input]"), "Which grind for a moka pot?")))
	visitor.run("send the answer", chromedp.Evaluate[chromedp.Void](widgetQ("[data-sc=send]")+`.click()`))

	// The conversation reaches the operator, who answers.
	operator.run("open Chats", chromedp.Evaluate[chromedp.Void](`document.querySelector('#tab-chats').click()`))
	operator.waitFor("the conversation", `document.querySelector('[data-sc=conv-item], [data-sc=queue-item]') !== null`)
	operator.openConversation()
	operator.waitFor("the answer", `Array.from(document.querySelectorAll('[data-sc=thread]:not([hidden]) [data-sc=message][data-kind=visitor] [data-sc=text]')).some(e => e.textContent === 'Which grind for a moka pot?')`)
	operator.run("reply", chromedp.Evaluate[chromedp.Void](setValueJS(`document.querySelector('[data-sc=input]')`, "Fine, like table salt. Say so in the order notes and we grind it for you.")))
	operator.run("send the reply", chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-sc=send]').click()`))
	visitor.waitFor("the reply", `(`+messagesText(w)+`).includes('operator:Fine, like table salt.')`)

	// The visitor buys the tea too.
	visitor.run("add to cart", chromedp.Evaluate[chromedp.Void](`document.querySelector('form.add').submit()`))
	visitor.waitFor("the cart", `location.pathname === '/cart' && document.querySelector('[data-testid=cart-count]')?.textContent === '2'`)
	visitor.navigate(ts.URL + "/checkout")
	visitor.run("check out", chromedp.Evaluate[chromedp.Void](`(() => {
		const f = document.querySelector('form input[name=name]').form;
		f.elements.name.value = 'Ann Example';
		f.elements.email.value = 'ann@example.com';
		f.elements.address.value = '1 Main St, Springfield';
		f.elements.notes.value = 'Moka pot grind, please';
		f.submit();
	})()`))
	visitor.waitFor("the receipt", `location.pathname.startsWith('/order/') && !!document.querySelector('[data-testid=order-total]')`)
	if eval[bool](visitor, `!!document.querySelector('[data-testid=order-channel]') || document.body.innerText.includes('Alice Martin')`) {
		t.Error("the customer's receipt shows the chat channel")
	}
	// The staff order page (same address, an operator's session) shows it.
	orderURL := eval[string](visitor, `location.href`)
	operator.navigate(orderURL)
	operator.waitFor("the staff order page with the chat channel", `(document.querySelector('[data-testid=order-channel]')?.textContent || '').includes('channel: chat (conversation ')`)
	if ch := eval[string](operator, `document.querySelector('[data-testid=order-channel]').textContent`); !strings.Contains(ch, "operator Alice Martin") {
		t.Errorf("staff order page: %q, want the chat channel with operator Alice Martin", ch)
	}
	operator.navigate(ts.URL + "/chat/console/")
	operator.waitFor("the console again", `document.body.dataset.state === 'ready'`)

	// The report counts the order and its revenue under alice.
	total := eval[string](visitor, `document.querySelector('[data-testid=order-total]').textContent`) // "€18.40"
	operator.run("open Reports", chromedp.Evaluate[chromedp.Void](`document.querySelector('#tab-reports').click()`))
	aliceRow := `document.querySelector('[data-sc=report-operator-row][data-operator=alice]')`
	operator.waitFor("alice's order in the report", `(() => { const r = `+aliceRow+`; if (!r) return false; const c = Array.from(r.cells, x => x.textContent.trim()); return c[6] === '1' && c[7].includes(`+js(strings.TrimPrefix(total, "€"))+`) })()`)
	if orders := eval[string](operator, `document.querySelector('[data-sc=kpi-orders] .kpi-value').textContent`); orders != "1" {
		t.Errorf("team orders from chat = %q, want 1", orders)
	}
	operator.run("clear the toasts", chromedp.Evaluate[chromedp.Void](`document.querySelector('#toasts').textContent = ''`))
	operator.screenshots(shots, "console-reports")
}

// Issue 7's single-page apps and dismissed invitations: a shop page that
// navigates with history.pushState and a new title shows the new page in
// the Visitors tab; an invitation the visitor closes is not used, so the
// chat they start afterwards opens with their own message.
func TestBrowserSPANavigationAndDismissedInvitation(t *testing.T) {
	_, ts := startShop(t, shopConfig{})

	operator := consoleOnVisitors(t, ts.URL, "alice")

	const row = `document.querySelector('[data-sc=visitor-row]')`
	onPage := func(url, title string) string {
		return `(() => { const p = ` + row + `?.querySelector('[data-sc=visitor-page]'); return !!p && p.querySelector('.lv-url').textContent.includes(` + js(url) + `) && p.querySelector('.lv-title').textContent === ` + js(title) + ` })()`
	}
	visitor := newChromium(t, 1280, 800)
	visitor.navigate(ts.URL + "/product/house-blend")
	visitor.waitFor("the widget", `document.querySelector('#shopchat')?.dataset.state === 'ready'`)
	loaded := eval[string](visitor, `document.title`)
	operator.waitFor("the loaded page", onPage("/product/house-blend", loaded))

	// The app changes the URL, then the title, without loading a page.
	visitor.run("navigate in the app", chromedp.Evaluate[chromedp.Void](`(() => { history.pushState({}, '', '/product/sencha?spa=1'); document.title = 'SPA Sencha'; return true })()`))
	operator.waitFor("the app's page and title", onPage("/product/sencha?spa=1", "SPA Sencha"))

	// The operator invites the visitor; the visitor closes the invitation.
	const invitation = "Hi, I'm Alice. Looking for a green tea?"
	operator.run("open the invitation", chromedp.Evaluate[chromedp.Void](row+`.querySelector('[data-sc=invite-btn]').click()`))
	operator.waitFor("the invitation form", `!!document.querySelector('[data-sc=visitor-row] [data-sc=invite-form]')`)
	operator.run("write the invitation", chromedp.Evaluate[chromedp.Void](setValueJS(`document.querySelector('[data-sc=invite-text]')`, invitation)))
	operator.run("send the invitation", chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-sc=invite-send]').click()`))
	visitor.waitFor("the invitation", `!`+widgetQ("[data-sc=bubble]")+`.hidden && `+widgetQ("[data-sc=bubble-text]")+`.textContent.includes(`+js(invitation)+`)`)
	visitor.run("close the invitation", chromedp.Evaluate[chromedp.Void](widgetQ("[data-sc=bubble-close]")+`.click()`))
	visitor.waitFor("the bubble to close", widgetQ("[data-sc=bubble]")+`.hidden`)

	// Later the visitor opens the widget and starts a chat of their own.
	visitor.run("open the widget", chromedp.Evaluate[chromedp.Void](widgetQ("[data-sc=launcher]")+`.click()`))
	visitor.waitFor("the chat input", `!`+widgetQ("[data-sc=panel]")+`.hidden && !!`+widgetQ("[data-sc=input]"))
	if got := eval[string](visitor, messagesText(w)); strings.Contains(got, invitation) {
		t.Errorf("the widget shows the dismissed invitation: %q", got)
	}
	const question = "Do you have matcha?"
	visitor.run("type a question", chromedp.Evaluate[chromedp.Void](setValueJS(widgetQ("[data-sc=input]"), question)))
	visitor.run("send it", chromedp.Evaluate[chromedp.Void](widgetQ("[data-sc=send]")+`.click()`))

	operator.run("open Chats", chromedp.Evaluate[chromedp.Void](`document.querySelector('#tab-chats').click()`))
	operator.waitFor("the conversation", `document.querySelector('[data-sc=conv-item], [data-sc=queue-item]') !== null`)
	operator.openConversation()
	thread := `document.querySelector('[data-sc=thread]:not([hidden])')`
	operator.waitFor("the question", `(`+messagesText(thread)+`).includes(`+js("visitor:"+question)+`)`)
	got := eval[string](operator, messagesText(thread))
	if first, _, _ := strings.Cut(got, "\n"); first != "visitor:"+question {
		t.Errorf("the operator's thread starts with %q, want the visitor's question (all: %q)", first, got)
	}
	if strings.Contains(got, invitation) {
		t.Errorf("the conversation opened with the dismissed invitation: %q", got)
	}
}
