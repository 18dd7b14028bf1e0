package main

import (
	"context"
	"testing"
	"time"

	"github.com/shopchat/chat/client"
)

// The team's notification mail links a conversation as
// /chat/console/#conv=<id>: the console opens it, even one that is still
// waiting in the queue and not the operator's.
func TestBrowserConsoleOpensLinkedConversation(t *testing.T) {
	_, ts := startShop(t, shopConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	visitor, err := client.DialVisitor(ctx, ts.URL, client.Options{NoReconnect: true})
	if err != nil {
		t.Fatal(err)
	}
	defer visitor.Close()
	if _, err := visitor.Send(ctx, "", "First question"); err != nil {
		t.Fatal(err)
	}
	other, err := client.DialVisitor(ctx, ts.URL, client.Options{NoReconnect: true})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	linked, err := other.Send(ctx, "", "Is the grinder back in stock?")
	if err != nil {
		t.Fatal(err)
	}

	operator := newChromium(t, 1366, 768)
	operator.openConsole(ts.URL, "alice")
	operator.navigate(ts.URL + "/chat/console/#conv=" + linked.Conv)
	operator.waitFor("the console", `document.body.dataset.state === 'ready'`)
	operator.waitFor("the linked conversation's message", `Array.from(document.querySelectorAll('[data-sc=thread]:not([hidden]) [data-sc=message][data-kind=visitor] [data-sc=text]')).some(e => e.textContent === 'Is the grinder back in stock?')`)
	if eval[bool](operator, `Array.from(document.querySelectorAll('[data-sc=thread]:not([hidden]) [data-sc=text]')).some(e => e.textContent === 'First question')`) {
		t.Error("the console shows the other conversation instead")
	}
}
