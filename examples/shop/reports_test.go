package main

import (
	"regexp"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/shopchat/chat/client"
	"github.com/shopchat/chat/protocol"
)

// TestBrowserReportsSayOneThing covers issue 14's point 12 in the console:
// an empty report says "No data yet" (no 0.00, no blank charts); a first
// response under a second reads in tenths, not "0s"; the conversion states
// its definition.
func TestBrowserReportsSayOneThing(t *testing.T) {
	s, ts := startShop(t, shopConfig{})
	ctx := browserCtx(t)
	op := newChromium(t, 1366, 768)
	op.openConsole(ts.URL, "bob")
	op.run("open Reports", chromedp.Evaluate[chromedp.Void](`document.querySelector('#tab-reports').click()`))
	op.waitFor("the empty report", `!!document.querySelector('[data-sc=report-empty]')`)
	if body := eval[string](op, `document.querySelector('#report-body').textContent`); regexp.MustCompile(`\b0\.00\b`).MatchString(body) || eval[int](op, `document.querySelectorAll('#report-body svg').length`) != 0 {
		t.Errorf("empty report shows zeros or charts: %q", body)
	}

	// A chat answered within a second.
	alice := s.dialOperator(t, ctx, ts, "alice", client.Options{})
	v, err := client.DialVisitor(ctx, ts.URL, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	m, err := v.Send(ctx, "", "Is the kettle induction-safe?")
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.Wait(ctx, func(c *client.Conn) bool {
		x, ok := c.Conversation(m.Conv)
		return ok && x.Status == protocol.StatusAssigned
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Send(ctx, m.Conv, "Yes, it is."); err != nil {
		t.Fatal(err)
	}
	op.run("reload the report", chromedp.Evaluate[chromedp.Void](`document.querySelector('#report-form').requestSubmit()`))
	op.waitFor("the first response", `/^\d+(\.\d+)?s$/.test(document.querySelector('[data-sc=kpi-first-response] .kpi-value')?.textContent || '')`)
	if got := eval[string](op, `document.querySelector('[data-sc=kpi-first-response] .kpi-value').textContent`); got == "0s" {
		t.Errorf("first response shows %q", got)
	}
	if def := eval[string](op, `document.querySelector('#report-conversion .report-def')?.textContent || ''`); !regexp.MustCompile(`same orders as .Orders from chat.`).MatchString(def) {
		t.Errorf("conversion without its definition: %q", def)
	}
}
