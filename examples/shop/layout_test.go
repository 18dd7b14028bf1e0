package main

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/shopchat/chat/client"
	"github.com/shopchat/chat/protocol"
)

// overflowJS lists the visible elements inside root whose box sticks out of
// root's right edge.
func overflowJS(root string) string {
	return `(() => { const r = ` + root + `; const R = r.getBoundingClientRect().right + 1;
		return Array.from(r.querySelectorAll('*')).filter(e => e.getClientRects().length && e.getBoundingClientRect().right > R)
			.map(e => (e.className || e.tagName) + ':' + (e.textContent || '').trim().slice(0, 20)).join(' | ') })()`
}

// TestBrowserSplitViewFits covers issue 14's point 11: at 1366x768 the
// split view shows two conversations with nothing spilling out of a pane
// (the note composer's "Add note" included), and Details keeps the visitor
// when the split opens; the widget stays usable at 200% zoom.
func TestBrowserSplitViewFits(t *testing.T) {
	s, ts := startShop(t, shopConfig{})
	ctx := browserCtx(t)
	op := newChromium(t, 1366, 768)
	op.openConsole(ts.URL, "alice")
	alice := s.dialOperator(t, ctx, ts, "alice", client.Options{})
	for i := range 2 {
		v, err := client.DialVisitor(ctx, ts.URL, client.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		if _, err := v.Send(ctx, "", fmt.Sprintf("Question number %d about grinders", i+1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := alice.Wait(ctx, func(c *client.Conn) bool {
		n := 0
		for _, x := range c.Conversations() {
			if x.Status == protocol.StatusAssigned {
				n++
			}
		}
		return n == 2
	}); err != nil {
		t.Fatal(err)
	}
	op.waitFor("two conversations", `document.querySelectorAll('[data-sc=conv-item]').length === 2`)
	op.run("open the first", chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('[data-sc=conv-item]')[0].click()`))
	op.waitFor("its details", `!document.querySelector('#visitor-panel').hidden`)
	op.run("split", chromedp.Evaluate[chromedp.Void](`document.querySelector('.split-btn').click()`))
	op.waitFor("two panes", `document.querySelectorAll('.pane').length === 2`)
	if eval[bool](op, `document.querySelector('#visitor-panel').hidden`) {
		t.Error("Details went empty when the split view opened")
	}
	op.run("open the second", chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('[data-sc=conv-item]')[1].click()`))
	op.waitFor("both shown", `Array.from(document.querySelectorAll('.pane')).every(p => p.querySelector('[data-sc=thread]:not([hidden])'))`)
	op.run("note mode", chromedp.Evaluate[chromedp.Void](`(() => { for (const n of document.querySelectorAll('[data-sc=note-toggle]')) if (!n.checked) n.click(); return true })()`))
	op.waitFor("Add note", `Array.from(document.querySelectorAll('[data-sc=send]')).every(b => b.textContent === 'Add note')`)
	for i := range 2 {
		if out := eval[string](op, overflowJS(fmt.Sprintf(`document.querySelectorAll('.pane')[%d]`, i))); out != "" {
			t.Errorf("pane %d at 1366x768: spills out: %s", i+1, out)
		}
	}

	// The widget at 200% zoom on a 1366x768 screen: a 683x384 viewport.
	zoom := newChromium(t, 683, 384)
	zoom.navigate(ts.URL + "/")
	zoom.waitFor("the widget", `document.querySelector('#shopchat')?.dataset.state === 'ready' && !!`+widgetQ("[data-sc=launcher]"))
	zoom.run("open", chromedp.Evaluate[chromedp.Void](widgetQ("[data-sc=launcher]")+`.click()`))
	zoom.waitFor("the chat input", `!!`+widgetQ("[data-sc=input]")+` && !`+widgetQ("[data-sc=input]")+`.closest('[hidden]')`)
	for _, sc := range []string{"input", "send", "launcher"} {
		if !eval[bool](zoom, `(() => { const r = `+widgetQ("[data-sc="+sc+"]")+`.getBoundingClientRect(); return r.width > 0 && r.top >= 0 && r.bottom <= innerHeight && r.left >= 0 && r.right <= innerWidth })()`) {
			t.Errorf("at 200%% zoom the widget's %s is outside the viewport", sc)
		}
	}
	if eval[float64](zoom, widgetQ("[data-sc=panel]")+`.getBoundingClientRect().height`) < 200 {
		t.Error("at 200% zoom the panel is too short to use")
	}
}
