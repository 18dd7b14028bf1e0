package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// A cross-site page that auto-posts a form to the chat's session endpoint
// must not replace the visitor's cookie (they would lose their chat). The
// attacker's page is on "localhost", the shop on "127.0.0.1": two sites to
// the browser.
func TestBrowserCrossSiteFormKeepsVisitor(t *testing.T) {
	_, ts := startShop(t, shopConfig{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	attacker := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><title>Win a prize</title>
<form id=f method=POST action=%q><input name=x value=1></form>
<script>document.getElementById('f').submit()</script>`, ts.URL+"/chat/session")
	})}
	go attacker.Serve(ln)
	t.Cleanup(func() { attacker.Close() })
	attackerURL := "http://localhost:" + strings.Split(ln.Addr().String(), ":")[1] + "/"

	const whoAmI = `fetch('/chat/session', {method: 'POST'}).then(r => r.json()).then(d => d.visitor.id)`
	victim := newChromium(t, 1366, 768)
	victim.navigate(ts.URL + "/")
	who := func() string {
		t.Helper()
		ctx, cancel := context.WithTimeout(victim.ctx, 30*time.Second)
		defer cancel()
		id, err := chromedp.Run(ctx, chromedp.Evaluate[string](whoAmI, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("who am I: %v", err)
		}
		return id
	}
	before := who()
	if before == "" {
		t.Fatal("no visitor before the attack")
	}
	victim.run("visit the attacker's page", chromedp.Navigate(attackerURL))
	victim.waitFor("the form to post", `location.pathname === '/chat/session'`)
	if body := eval[string](victim, `document.body.innerText`); !strings.Contains(body, "cross-site") {
		t.Fatalf("the cross-site POST was answered with %q, want a refusal", body)
	}
	victim.navigate(ts.URL + "/")
	if after := who(); after != before {
		t.Fatalf("the visitor changed from %s to %s after a cross-site form post", before, after)
	}
}

// A POST body trickled one byte at a time does not hold a connection past
// the server's ReadTimeout; the chat's socket on the same server outlives it.
func TestSlowBodyEndsAtReadTimeout(t *testing.T) {
	_, ts := startShop(t, shopConfig{})
	hs := newHTTPServer(ts.Config.Handler)
	if hs.ReadTimeout <= 0 || hs.ReadHeaderTimeout <= 0 {
		t.Fatalf("the demo's server sets no read timeouts: %+v", hs)
	}
	hs.ReadTimeout = 300 * time.Millisecond // scaled down for the test
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /login HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n", ln.Addr())
	// Trickle until the server gives up: a write fails or the server
	// answers (and closes). Bounded, so a server without the timeout fails.
	closed := make(chan struct{})
	go func() {
		buf := make([]byte, 512)
		for {
			if _, err := c.Read(buf); err != nil {
				close(closed)
				return
			}
		}
	}()
	for i := 0; ; i++ {
		select {
		case <-closed:
			return
		case <-time.After(100 * time.Millisecond):
		}
		if i > 200 { // 20 s, well past the 300 ms ReadTimeout
			t.Fatal("the server still reads a body trickled a byte at a time")
		}
		if _, err := c.Write([]byte("a")); err != nil {
			return
		}
	}
}
