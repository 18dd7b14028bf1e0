package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// The accessibility tests run axe-core (the npm package, installed by
// .ci/run) inside Chromium against every widget state and console tab, and
// require zero violations of any impact under WCAG 2.0-2.2 A/AA and axe's
// best practices.

// axeSource finds axe.min.js: SHOPCHAT_AXE, else the cache .ci/run
// installs it into. Without it the tests skip, except in CI, where they
// fail.
var axeSource = sync.OnceValues(func() (string, error) {
	path := os.Getenv("SHOPCHAT_AXE")
	if path == "" {
		home, _ := os.UserHomeDir()
		path = filepath.Join(home, ".cache", "shopchat-axe", "node_modules", "axe-core", "axe.min.js")
	}
	b, err := os.ReadFile(path)
	return string(b), err
})

func needAxe(t testing.TB) string {
	t.Helper()
	src, err := axeSource()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("axe-core not found (%v): .ci/run installs it with npm", err)
		}
		t.Skipf("axe-core not installed (%v); .ci/run installs it", err)
	}
	return src
}

// axeTags are the rule sets checked.
var axeTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa", "best-practice"}

type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target  []any  `json:"target"`
		Summary string `json:"failureSummary"`
	} `json:"nodes"`
}

// axe runs axe-core on the page (or within selector) and reports each
// violation as a test error; it logs the count for state, and returns it.
func (b *chromium) axe(state, selector string) int {
	b.t.Helper()
	src := needAxe(b.t)
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof axe !== 'undefined'`)); err != nil {
		b.t.Fatal(err)
	}
	if has, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof axe !== 'undefined'`)); !has {
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](src+"\n;true")); err != nil {
			b.t.Fatalf("inject axe-core: %v", err)
		}
	}
	// Colours are judged as shown, not halfway through a fade.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(async () => {
		const roots = [document, ...Array.from(document.querySelectorAll('*')).filter(e => e.shadowRoot).map(e => e.shadowRoot)];
		await Promise.all(roots.flatMap(r => r.getAnimations()).map(a => a.finished.catch(() => {})));
		await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
		return true })()`, chromedp.EvalAwaitPromise)); err != nil {
		b.t.Fatalf("axe %s: waiting for animations: %v", state, err)
	}
	tags, _ := json.Marshal(axeTags)
	context := "document"
	if selector != "" {
		context = "{include: [" + js(selector) + "]}"
	}
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](`axe.run(`+context+`, {runOnly: {type: 'tag', values: `+string(tags)+`}, resultTypes: ['violations']}).then(r => JSON.stringify(r.violations))`, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("axe %s: %v", state, err)
	}
	var vs []axeViolation
	if err := json.Unmarshal([]byte(raw), &vs); err != nil {
		b.t.Fatal(err)
	}
	nodes := 0
	for _, v := range vs {
		nodes += len(v.Nodes)
		var where []string
		for i, n := range v.Nodes {
			if i == 4 {
				where = append(where, fmt.Sprintf("… %d more", len(v.Nodes)-4))
				break
			}
			where = append(where, fmt.Sprintf("%v: %s", n.Target, strings.ReplaceAll(n.Summary, "\n", " ")))
		}
		b.t.Errorf("axe %s: %s (%s) on %d elements: %s\n    %s", state, v.ID, v.Impact, len(v.Nodes), v.Help, strings.Join(where, "\n    "))
	}
	b.t.Logf("axe %-40s %d violations (%d elements)", state, len(vs), nodes)
	return len(vs)
}

// dark switches the page to prefers-color-scheme: dark (or back to light).
func (b *chromium) dark(on bool) {
	b.t.Helper()
	v := "light"
	if on {
		v = "dark"
	}
	if _, err := chromedp.Call(b.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: v}}}); err != nil {
		b.t.Fatalf("color scheme %s: %v", v, err)
	}
}

// axeLightDark runs axe on the state in the light and the dark scheme.
func (b *chromium) axeLightDark(state, selector string) int {
	b.t.Helper()
	n := b.axe(state+" light", selector)
	b.dark(true)
	n += b.axe(state+" dark", selector)
	b.dark(false)
	return n
}

// browserCtx bounds a browser test's chat calls: longer than testCtx, for
// browser tests run under -race on a busy machine take tens of seconds.
func browserCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
