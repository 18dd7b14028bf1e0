package main

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/shopchat/chat"
)

// The widget tells the server its language in hello (the page's lang
// here, "en"), and the conversation it opens keeps it for its mail.
func TestBrowserWidgetLanguageReachesTheConversation(t *testing.T) {
	s, ts := startShop(t, shopConfig{})
	visitor := newChromium(t, 1280, 800)
	visitor.navigate(ts.URL + "/")
	visitor.waitFor("the widget to connect", `document.querySelector('#shopchat')?.dataset.state === 'ready'`)
	visitor.run("open the widget", chromedp.Evaluate[chromedp.Void](widgetQ("[data-sc=launcher]")+`.click()`))
	visitor.waitFor("the offline form", `!`+widgetQ("[data-sc=offline-form]")+`.hidden`)
	visitor.run("fill the form", chromedp.Evaluate[chromedp.Void](`(() => {
		const f = `+widgetQ("[data-sc=offline-form]")+`;
		f.querySelector('[name=email]').value = 'ann@example.com';
		f.querySelector('[name=message]').value = 'Do you ship to Norway?';
		f.querySelector('[data-sc=offline-submit]').click();
	})()`))
	visitor.waitFor("the thank-you", `!`+widgetQ("[data-sc=offline-done]")+`.hidden`)
	visitor.waitFor("the message stored (acked, with its seq)", widgetQ("[data-sc=message][data-kind=visitor][data-seq]")+` !== null`)
	ctx := context.Background()
	var conv *chat.Conversation
	for _, c := range mustQueue(t, s) {
		conv = c
	}
	if conv == nil {
		t.Fatal("no conversation was opened")
	}
	got, err := s.store.Conversation(ctx, conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Language != "en" {
		t.Errorf("conversation language %q, want the widget's %q", got.Language, "en")
	}
}

func mustQueue(t *testing.T, s *shop) []*chat.Conversation {
	t.Helper()
	q, err := s.store.Queue(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return q
}
