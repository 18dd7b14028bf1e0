package main

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/shopchat/chat"
)

// failingAppends is a chat store whose appends fail while failing is set,
// as during a database failover: the server answers "unavailable".
type failingAppends struct {
	chat.Store
	failing *atomic.Bool
}

func (s failingAppends) AppendMessage(ctx context.Context, m *chat.Message) (chat.Appended, error) {
	if s.failing.Load() {
		return chat.Appended{}, errors.New("the database is failing over")
	}
	return s.Store.AppendMessage(ctx, m)
}

// Unwrap keeps the wrapped store's optional roles.
func (s failingAppends) Unwrap() chat.Store { return s.Store }

// During a store failover the widget and the console say they are
// reconnecting and send the message once the store is back, rather than
// failing it.
func TestBrowserStoreFailoverSaysReconnecting(t *testing.T) {
	var failing atomic.Bool
	_, ts := startShop(t, shopConfig{wrapStore: func(st chat.Store) chat.Store { return failingAppends{st, &failing} }})
	operator := newChromium(t, 1366, 768)
	operator.openConsole(ts.URL, "alice")
	visitor := newChromium(t, 1280, 800)
	visitor.navigate(ts.URL + "/")
	visitor.waitFor("the widget to connect", `document.querySelector('#shopchat')?.dataset.state === 'ready'`)
	visitor.run("open the widget", chromedp.Evaluate[chromedp.Void](widgetQ("[data-sc=launcher]")+`.click()`))
	visitor.waitFor("the chat input", `!!`+widgetQ("[data-sc=input]"))
	say := func(text string) {
		visitor.run("type", chromedp.Evaluate[chromedp.Void](setValueJS(widgetQ("[data-sc=input]"), text)))
		visitor.run("send", chromedp.Evaluate[chromedp.Void](widgetQ("[data-sc=send]")+`.click()`))
	}
	say("Hi there")
	operator.waitFor("the conversation in the console", `document.querySelector('[data-sc=conv-item], [data-sc=queue-item]') !== null`)
	operator.openConversation()
	inConsole := func(text string) string {
		return `Array.from(document.querySelectorAll('[data-sc=thread]:not([hidden]) [data-sc=message] [data-sc=text]')).some(e => e.textContent === ` + js(text) + `)`
	}
	operator.waitFor("the hello", inConsole("Hi there"))

	failing.Store(true)
	say("Sent during the failover")
	widgetMessage := `Array.from(` + w + `.querySelectorAll('[data-sc=message]')).find(m => m.querySelector('[data-sc=text]')?.textContent === 'Sent during the failover')`
	visitor.waitFor("the widget saying it reconnects", `(`+widgetMessage+`?.querySelector('.err')?.textContent || '').includes('Reconnecting')`)
	if eval[string](visitor, widgetMessage+`.dataset.status`) == "failed" {
		t.Fatal("the widget failed the message instead of retrying it")
	}
	operator.run("reply", chromedp.Evaluate[chromedp.Void](setValueJS(`document.querySelector('[data-sc=input]')`, "Answered during the failover")))
	operator.run("send reply", chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-sc=send]').click()`))
	operator.waitFor("the console saying it reconnects", `(document.querySelector('[data-sc=pending] .pending-status')?.textContent || '').includes('Reconnecting')`)

	failing.Store(false)
	visitor.waitFor("the message sent once the store is back", widgetMessage+`?.dataset.status === 'sent' && !`+widgetMessage+`.querySelector('.err')`)
	operator.waitFor("the visitor's message in the console", inConsole("Sent during the failover"))
	operator.waitFor("the reply sent", `document.querySelector('[data-sc=pending]') === null && `+inConsole("Answered during the failover"))
	visitor.waitFor("the reply in the widget", `Array.from(`+w+`.querySelectorAll('[data-sc=message][data-kind=operator] [data-sc=text]')).some(e => e.textContent === 'Answered during the failover')`)
}
