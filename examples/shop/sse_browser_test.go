package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"
)

// Where WebSocket cannot connect (the visitor reaches the shop through a
// proxy that refuses the socket's URL, as some corporate proxies do), the
// widget falls back to Server-Sent
// Events and POST by itself, without a word to the visitor, and the chat
// works both ways: every message arrives once, in order, though the stream
// is cut twice mid-conversation.
func TestBrowserChatsOverSSEWhenWebSocketIsBlocked(t *testing.T) {
	_, ts := startShop(t, shopConfig{})
	operator := newChromium(t, 1366, 768)
	operator.openConsole(ts.URL, "alice")

	shop, err := url.Parse(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	pass := httputil.NewSingleHostReverseProxy(shop) // flushes event streams as they come
	var sockets, streams atomic.Int32
	var mu sync.Mutex
	var cuts []context.CancelFunc // the event streams passing through, to cut
	cut := func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range cuts {
			c()
		}
		cuts = nil
	}
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/chat/ws" {
			sockets.Add(1)
			http.Error(w, "WebSocket is not allowed through this proxy", http.StatusForbidden)
			return
		}
		if r.URL.Path == "/chat/sse" && r.Method == http.MethodGet {
			streams.Add(1)
			ctx, cancel := context.WithCancel(r.Context())
			mu.Lock()
			cuts = append(cuts, cancel)
			mu.Unlock()
			r = r.WithContext(ctx)
		}
		pass.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)

	visitor := newChromium(t, 1280, 800)
	visitor.navigate(proxy.URL + "/")
	visitor.waitFor("the widget to connect", `document.querySelector('#shopchat')?.dataset.state === 'ready'`)
	if n := eval[int](visitor, `performance.getEntriesByType('resource').filter(e => new URL(e.name).pathname === '/chat/sse').length`); n == 0 {
		t.Fatal("the widget is ready but never opened the event stream")
	}
	if sockets.Load() == 0 {
		t.Fatal("the widget never tried WebSocket")
	}
	visitor.run("open the widget", chromedp.Evaluate[chromedp.Void](widgetQ("[data-sc=launcher]")+`.click()`))
	visitor.waitFor("the chat input", `!!`+widgetQ("[data-sc=input]"))
	if s := eval[string](visitor, w+`.textContent`); strings.Contains(strings.ToLower(s), "event") || strings.Contains(strings.ToLower(s), "websocket") {
		t.Fatalf("the widget tells the visitor about the transport: %q", s)
	}

	const n = 5
	var want []string
	for i := range n {
		if i == 2 {
			cut() // mid-conversation: the widget resumes on a new stream
		}
		text := fmt.Sprintf("visitor %d", i)
		want = append(want, text)
		visitor.run("type", chromedp.Evaluate[chromedp.Void](setValueJS(widgetQ("[data-sc=input]"), text)))
		visitor.run("send", chromedp.Evaluate[chromedp.Void](widgetQ("[data-sc=send]")+`.click()`))
	}
	operator.waitFor("the conversation in the console", `document.querySelector('[data-sc=conv-item], [data-sc=queue-item]') !== null`)
	operator.openConversation()
	consoleTexts := `Array.from(document.querySelectorAll('[data-sc=thread]:not([hidden]) [data-sc=message] [data-sc=text]')).map(e => e.textContent)`
	operator.waitFor("the visitor's messages", consoleTexts+`.includes(`+js(want[n-1])+`)`)
	for i := range n {
		if i == 3 {
			cut()
		}
		text := fmt.Sprintf("operator %d", i)
		want = append(want, text)
		operator.run("reply", chromedp.Evaluate[chromedp.Void](setValueJS(`document.querySelector('[data-sc=input]')`, text)))
		operator.run("send reply", chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-sc=send]').click()`))
	}
	widgetTexts := `Array.from(` + w + `.querySelectorAll('[data-sc=message] [data-sc=text]')).map(e => e.textContent)`
	visitor.waitFor("the replies in the widget", widgetTexts+`.includes(`+js(want[2*n-1])+`)`)
	operator.waitFor("the replies sent", `document.querySelector('[data-sc=pending]') === null && `+consoleTexts+`.includes(`+js(want[2*n-1])+`)`)

	// Once each, in the order sent, on both sides.
	for name, b := range map[string]struct {
		c     *chromium
		texts string
	}{"widget": {visitor, widgetTexts}, "console": {operator, consoleTexts}} {
		var got []string
		for _, s := range eval[[]string](b.c, b.texts) {
			if strings.HasPrefix(s, "visitor ") || strings.HasPrefix(s, "operator ") {
				got = append(got, s)
			}
		}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("%s shows %q, want %q", name, got, want)
		}
	}
	if streams.Load() < 2 {
		t.Errorf("%d event streams: the cuts did not make the widget reconnect", streams.Load())
	}
	if n := sockets.Load(); n != 2 {
		t.Errorf("the widget tried WebSocket %d times, want 2: it keeps to SSE for the page once it fell back", n)
	}
}
