package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shopchat/chat/client"
)

// tab opens a page in b's Chromium with its own cookies (a new browser
// context): another person, without another Chromium process.
func (b *chromium) tab(t testing.TB) *chromium {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	tab := &chromium{t: t, ctx: ctx}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatalf("new tab: %v", err)
	}
	return tab
}

// startChat opens the widget on the shop's home page and sends text.
func (b *chromium) startChat(base, text string) {
	b.t.Helper()
	b.navigate(base + "/")
	b.waitFor("the widget to connect", `document.querySelector('#shopchat')?.dataset.state === 'ready'`)
	b.run("open the widget", chromedp.Evaluate[chromedp.Void](widgetQ("[data-sc=launcher]")+`.click()`))
	b.waitFor("the chat input", `!`+widgetQ("[data-sc=panel]")+`.hidden && `+widgetQ("[data-sc=offline-form]")+`.hidden && !!`+widgetQ("[data-sc=input]"))
	b.run("type", chromedp.Evaluate[chromedp.Void](setValueJS(widgetQ("[data-sc=input]"), text)))
	b.run("send", chromedp.Evaluate[chromedp.Void](widgetQ("[data-sc=send]")+`.click()`))
}

// The morning of issue 14: five offline messages were left overnight; an
// operator logs in, three visitors start live chats, and all three are
// hers at once while the five wait in "Waiting for reply". She answers one
// of those without it taking a live slot, the team is alerted when a
// visitor waits, and she takes a visitor beyond her capacity by choice.
func TestBrowserMorningLiveChatsFirst(t *testing.T) {
	demo, ts := startShop(t, shopConfig{PresenceTTL: 900 * time.Millisecond})
	ctx := browserCtx(t)

	// Overnight: five visitors leave a message while nobody is online.
	var overnight []string
	for i := range 5 {
		v, err := client.DialVisitor(ctx, ts.URL, client.Options{NoReconnect: true})
		if err != nil {
			t.Fatal(err)
		}
		m, err := v.Send(ctx, "", fmt.Sprintf("Overnight question %d", i+1))
		if err != nil {
			t.Fatal(err)
		}
		overnight = append(overnight, m.Conv)
		v.Close()
	}
	// The morning comes after their grace period: none is live any more.
	for _, id := range overnight {
		for {
			c, err := demo.store.Conversation(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if !c.Live(time.Now()) {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatalf("conversation %s stays live after its visitor left", id)
			case <-time.After(50 * time.Millisecond): // a condition poll
			}
		}
	}

	// Alice (capacity 4) logs in: the five wait for a reply, none is hers.
	alice := newChromium(t, 1366, 768)
	alice.openConsole(ts.URL, "alice")
	alice.waitFor("five waiting for reply", `document.querySelectorAll('[data-sc=reply-item]').length === 5 && document.querySelector('[data-sc=reply-count]').textContent === '5'`)
	if n := eval[int](alice, `document.querySelectorAll('[data-sc=conv-item], [data-sc=queue-item]').length`); n != 0 {
		t.Fatalf("offline messages were handed to alice or queued as live: %d", n)
	}
	if got := eval[string](alice, `Array.from(document.querySelectorAll('[data-sc=reply-item] .item-name')).map(e => e.textContent).join('|')`); strings.Count(got, "|") != 4 {
		t.Fatalf("reply list %q", got)
	}

	// Three visitors start live chats: all three are hers at once.
	visitors := make([]*chromium, 3)
	for i := range visitors {
		visitors[i] = alice.tab(t)
		visitors[i].startChat(ts.URL, fmt.Sprintf("Live question %d", i+1))
	}
	for i, v := range visitors {
		v.waitFor(fmt.Sprintf("visitor %d assigned to Alice", i+1), `(`+widgetQ("[data-sc=operator-name]")+`?.textContent || '').includes('Alice')`)
		if eval[bool](v, `!`+widgetQ("[data-sc=queue]")+`.hidden`) {
			t.Errorf("visitor %d still sees a queue position", i+1)
		}
	}
	alice.waitFor("three conversations", `document.querySelectorAll('[data-sc=conv-item]').length === 3`)
	alice.waitFor("five still waiting for reply", `document.querySelectorAll('[data-sc=reply-item]').length === 5 && document.querySelectorAll('[data-sc=queue-item]').length === 0`)
	if _, err := axeSource(); err == nil || os.Getenv("CI") != "" {
		alice.axe("console chats, waiting lists full", "")
	}
	alice.screenshots(screenshotDir(t), "console-morning")

	// She answers the oldest message waiting for a reply: it is hers, and
	// it takes no live slot (the fourth live visitor is still hers).
	alice.run("answer", chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-sc=reply-item] [data-sc=accept]').click()`))
	alice.waitFor("four waiting for reply", `document.querySelectorAll('[data-sc=reply-item]').length === 4 && document.querySelectorAll('[data-sc=conv-item]').length === 4`)
	fourth := alice.tab(t)
	fourth.startChat(ts.URL, "Live question 4")
	fourth.waitFor("visitor 4 assigned to Alice", `(`+widgetQ("[data-sc=operator-name]")+`?.textContent || '').includes('Alice')`)

	// Full (four live): the fifth waits, and she is alerted: the count, the
	// title and the live region.
	fifth := alice.tab(t)
	fifth.startChat(ts.URL, "Live question 5")
	fifth.waitFor("a queue position", `(`+widgetQ("[data-sc=queue]")+`?.textContent || '').includes('1')`)
	alice.waitFor("the waiting visitor", `document.querySelectorAll('[data-sc=queue-item]').length === 1 && document.querySelector('[data-sc=queue-count]').textContent === '1'`)
	alice.waitFor("the title", `document.title.startsWith('1 waiting')`)
	alice.waitFor("the announcement", `document.querySelector('[data-sc=announcer]').textContent.includes('waiting')`)

	// Taking one more is her choice: she confirms, and it is hers.
	eval[bool](alice, `(window.__confirms = [], window.confirm = (m) => { window.__confirms.push(m); return true }, true)`)
	alice.run("accept beyond capacity", chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-sc=queue-item] [data-sc=accept]').click()`))
	fifth.waitFor("visitor 5 assigned to Alice", `(`+widgetQ("[data-sc=operator-name]")+`?.textContent || '').includes('Alice')`)
	if got := eval[string](alice, `window.__confirms.join('|')`); !strings.Contains(got, "capacity") {
		t.Errorf("no confirmation before going beyond capacity; asked %q", got)
	}
	alice.waitFor("six conversations, nobody waiting", `document.querySelectorAll('[data-sc=conv-item]').length === 6 && document.querySelectorAll('[data-sc=queue-item]').length === 0 && !document.title.includes('waiting')`)
}
