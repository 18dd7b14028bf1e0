package main

import (
	"context"
	"encoding/json"
	"errors"
	"go/format"
	"html/template"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/client"
	"github.com/shopchat/chat/notify/email"
	"github.com/shopchat/chat/protocol"
)

// testSecret is a fixed secret, so cookies are reproducible across shops
// built from the same config.
var testSecret = []byte("test-secret-test-secret-test-secret!")

// startShop builds the shop from cfg and serves it on a loopback
// httptest.Server. Zero fields get test defaults: the fixed testSecret, a
// temporary SQLite file and orders file, and BaseURL set to the server's
// own URL (the listener is opened first to know it). Cleanup closes the chat
// (its hijacked sockets), then the server, then the store.
func startShop(t testing.TB, cfg shopConfig) (*shop, *httptest.Server) {
	t.Helper()
	dir := t.TempDir()
	if cfg.Secret == nil {
		cfg.Secret = testSecret
	}
	if cfg.DBPath == "" {
		cfg.DBPath = filepath.Join(dir, "chat.db")
	}
	if cfg.OrdersPath == "" {
		cfg.OrdersPath = filepath.Join(dir, "orders.json")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = "http://" + ln.Addr().String()
	}
	s, h, err := newShop(cfg)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	ts := &httptest.Server{Listener: ln, Config: &http.Server{Handler: h}}
	ts.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.closeChat(ctx); err != nil {
			t.Errorf("close chat: %v", err)
		}
		ts.Close()
		if err := s.close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return s, ts
}

// browser is a cookie-keeping HTTP client that does not follow redirects
// (tests check them) and sends the CSRF token of the last page it got.
type browser struct {
	t    *testing.T
	base string
	hc   *http.Client
	csrf string
}

func newBrowser(t *testing.T, ts *httptest.Server) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: ts.URL, hc: &http.Client{
		Jar:           jar,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) do(req *http.Request) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	if m := csrfRE.FindSubmatch(body); m != nil {
		b.csrf = string(m[1])
	}
	return resp, string(body)
}

func (b *browser) get(path string) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.base+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// post submits form like the shop's own pages do: with the CSRF token and
// an Origin of the shop, unless form or header say otherwise.
func (b *browser) post(path string, form url.Values, header ...string) (*http.Response, string) {
	b.t.Helper()
	form = maps.Clone(form)
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", b.csrf)
	}
	req, err := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.base)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return b.do(req)
}

func (b *browser) cookie(name string) *http.Cookie {
	u, _ := url.Parse(b.base + "/chat/")
	for _, c := range b.hc.Jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func wantStatus(t *testing.T, resp *http.Response, want int) {
	t.Helper()
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, want)
	}
}

func wantRedirect(t *testing.T, resp *http.Response, prefix string) string {
	t.Helper()
	wantStatus(t, resp, http.StatusSeeOther)
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, prefix) {
		t.Fatalf("%s %s: redirect to %q, want %q...", resp.Request.Method, resp.Request.URL.Path, loc, prefix)
	}
	return loc
}

// dialOperator connects operator id to the shop's chat with the shop's
// operator cookie; the connection closes with the test.
func (s *shop) dialOperator(t testing.TB, ctx context.Context, ts *httptest.Server, id string, opts client.Options) *client.Conn {
	t.Helper()
	c := s.operatorCookie(id)
	opts.Header = http.Header{"Cookie": {c.Name + "=" + c.Value}}
	conn, err := client.DialOperator(ctx, ts.URL, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestCataloguePages(t *testing.T) {
	_, ts := startShop(t, shopConfig{})
	b := newBrowser(t, ts)

	resp, body := b.get("/")
	wantStatus(t, resp, http.StatusOK)
	if !strings.Contains(body, `<script src="/chat/widget.js" defer></script>`) {
		t.Error("home page lacks the widget script")
	}
	products := catalogue()
	if len(products) < 12 {
		t.Errorf("catalogue has %d products, want a dozen", len(products))
	}
	for _, p := range products {
		if !strings.Contains(body, template.HTMLEscapeString(p.Name)) || !strings.Contains(body, `href="/product/`+p.Slug+`"`) {
			t.Errorf("home page lacks %s", p.Slug)
		}
		resp, page := b.get("/product/" + p.Slug)
		wantStatus(t, resp, http.StatusOK)
		for _, want := range []string{template.HTMLEscapeString(p.Name), money(p.PriceCents), `src="/static/products/` + p.Slug + `.svg"`, `<script src="/chat/widget.js" defer></script>`} {
			if !strings.Contains(page, want) {
				t.Errorf("/product/%s lacks %q", p.Slug, want)
			}
		}
		if resp, _ := b.get("/static/products/" + p.Slug + ".svg"); resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/svg+xml" {
			t.Errorf("image of %s: %d %s", p.Slug, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	resp, _ = b.get("/product/no-such-thing")
	wantStatus(t, resp, http.StatusNotFound)
	resp, _ = b.get("/no/such/page")
	wantStatus(t, resp, http.StatusNotFound)
	resp, _ = b.get("/static/")
	wantStatus(t, resp, http.StatusNotFound)

	for path, ctype := range map[string]string{
		"/static/shop.css":          "text/css; charset=utf-8",
		"/static/avatars/alice.svg": "image/svg+xml",
		"/static/avatars/bob.svg":   "image/svg+xml",
		"/chat/widget.js":           "text/javascript; charset=utf-8",
	} {
		resp, _ := b.get(path)
		wantStatus(t, resp, http.StatusOK)
		if got := resp.Header.Get("Content-Type"); got != ctype {
			t.Errorf("%s: Content-Type %q, want %q", path, got, ctype)
		}
	}
}

func TestMoney(t *testing.T) {
	for cents, want := range map[int64]string{0: "€0.00", 5: "€0.05", 950: "€9.50", 123456: "€1,234.56", 100000000: "€1,000,000.00", -250: "-€2.50"} {
		if got := money(cents); got != want {
			t.Errorf("money(%d) = %q, want %q", cents, got, want)
		}
	}
}

// checkout places an order for what is in b's cart and returns its id.
func checkout(t *testing.T, b *browser, name string) string {
	t.Helper()
	resp, _ := b.get("/checkout")
	wantStatus(t, resp, http.StatusOK)
	resp, _ = b.post("/checkout", url.Values{"name": {name}, "email": {"eve@example.com"}, "address": {"1 Main St\nSpringfield"}})
	loc := wantRedirect(t, resp, "/order/KC-")
	return strings.TrimPrefix(loc, "/order/")
}

func TestCartAndCheckout(t *testing.T) {
	s, ts := startShop(t, shopConfig{})
	b := newBrowser(t, ts)

	resp, _ := b.get("/checkout") // empty cart: nothing to check out
	wantRedirect(t, resp, "/cart")
	b.get("/product/house-blend")
	resp, _ = b.post("/cart/add", url.Values{"slug": {"house-blend"}, "qty": {"2"}})
	wantRedirect(t, resp, "/cart?added=house-blend")
	resp, _ = b.post("/cart/add", url.Values{"slug": {"sencha"}})
	wantRedirect(t, resp, "/cart")
	resp, _ = b.post("/cart/add", url.Values{"slug": {"paper-filters"}, "qty": {"5"}})
	wantRedirect(t, resp, "/cart")
	for _, bad := range []url.Values{{"slug": {"nope"}}, {"slug": {"sencha"}, "qty": {"0"}}, {"slug": {"sencha"}, "qty": {"100"}}, {"slug": {"sencha"}, "qty": {"x"}}} {
		resp, _ = b.post("/cart/add", bad)
		wantStatus(t, resp, http.StatusBadRequest)
	}
	resp, _ = b.post("/cart/update", url.Values{"slug": {"sencha"}, "qty": {"3"}})
	wantRedirect(t, resp, "/cart")
	resp, _ = b.post("/cart/remove", url.Values{"slug": {"paper-filters"}})
	wantRedirect(t, resp, "/cart")

	resp, body := b.get("/cart?added=house-blend")
	wantStatus(t, resp, http.StatusOK)
	total := money(2*950 + 3*890)
	for _, want := range []string{"Added House Blend Coffee", "Sencha Green Tea", `data-testid="cart-count">5<`, total} {
		if !strings.Contains(body, want) {
			t.Errorf("cart lacks %q", want)
		}
	}
	if strings.Contains(body, "Paper Filters") {
		t.Error("removed line still in the cart")
	}

	resp, body = b.post("/checkout", url.Values{"name": {"Eve"}, "email": {"not an address"}, "address": {"x"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	if !strings.Contains(body, "valid email") || !strings.Contains(body, `value="Eve"`) {
		t.Error("invalid checkout does not explain or keep the input")
	}
	id := checkout(t, b, "Eve Example")

	resp, body = b.get("/order/" + id)
	wantStatus(t, resp, http.StatusOK)
	for _, want := range []string{"Thank you, Eve Example!", id, total, "Springfield", `data-testid="cart-count">0<`} {
		if !strings.Contains(body, want) {
			t.Errorf("order page lacks %q", want)
		}
	}

	// Someone else does not see it; an operator does.
	other := newBrowser(t, ts)
	resp, _ = other.get("/order/" + id)
	wantStatus(t, resp, http.StatusNotFound)
	opReq, _ := http.NewRequest(http.MethodGet, ts.URL+"/order/"+id, nil)
	opReq.AddCookie(s.operatorCookie("bob"))
	resp, _ = other.do(opReq)
	wantStatus(t, resp, http.StatusOK)

	// The order is in the JSON file.
	book, err := openOrders(s.cfg.OrdersPath)
	if err != nil {
		t.Fatal(err)
	}
	o, ok := book.get(id)
	if !ok || o.TotalCents != 2*950+3*890 || o.Currency != "EUR" || len(o.Items) != 2 {
		t.Fatalf("stored order = %+v, %v", o, ok)
	}
}

func TestCSRF(t *testing.T) {
	_, ts := startShop(t, shopConfig{})
	b := newBrowser(t, ts)
	add := url.Values{"slug": {"sencha"}}

	resp, _ := b.post("/cart/add", add) // no session yet
	wantStatus(t, resp, http.StatusForbidden)
	b.get("/")
	token := b.csrf
	resp, _ = b.post("/cart/add", url.Values{"slug": {"sencha"}, "csrf": {"forged"}})
	wantStatus(t, resp, http.StatusForbidden)
	resp, _ = b.post("/cart/add", add, "Origin", "http://evil.example")
	wantStatus(t, resp, http.StatusForbidden)
	resp, _ = b.post("/cart/add", add, "Origin", "", "Referer", "http://evil.example/page")
	wantStatus(t, resp, http.StatusForbidden)
	resp, _ = b.post("/cart/add", add, "Sec-Fetch-Site", "cross-site")
	wantStatus(t, resp, http.StatusForbidden)

	// Another session's token is not this session's.
	other := newBrowser(t, ts)
	other.get("/")
	resp, _ = other.post("/cart/add", url.Values{"slug": {"sencha"}, "csrf": {token}})
	wantStatus(t, resp, http.StatusForbidden)

	resp, _ = b.post("/cart/add", add)
	wantRedirect(t, resp, "/cart")
	resp, _ = b.post("/cart/add", add, "Origin", "") // no Origin: the token decides
	wantRedirect(t, resp, "/cart")
	if _, body := b.get("/cart"); !strings.Contains(body, `data-testid="cart-count">2<`) {
		t.Error("cart count is not 2 after two accepted adds")
	}
}

func TestOperatorLoginAndSocket(t *testing.T) {
	s, ts := startShop(t, shopConfig{})
	ctx := testCtx(t)
	b := newBrowser(t, ts)

	// No operator cookie: the console sends us to the shop's login, and the
	// operator socket is refused.
	resp, _ := b.get("/chat/console/")
	loc := wantRedirect(t, resp, "/operator/login?next=")
	if _, err := client.DialOperator(ctx, ts.URL, client.Options{HTTPClient: b.hc, NoReconnect: true}); !errors.Is(err, client.ErrUnauthorized) {
		t.Fatalf("DialOperator without login: %v, want ErrUnauthorized", err)
	}

	resp, body := b.get(loc)
	wantStatus(t, resp, http.StatusOK)
	if !strings.Contains(body, `name="next" value="/chat/console/"`) {
		t.Fatal("login form does not carry next")
	}
	if strings.Contains(body, "/chat/widget.js") {
		t.Error("the operator login page loads the chat widget: operators would be listed as visitors")
	}
	resp, body = b.post("/operator/login", url.Values{"email": {"alice@shop.test"}, "password": {"bob"}, "next": {"/chat/console/"}})
	wantStatus(t, resp, http.StatusUnauthorized)
	if !strings.Contains(body, "Wrong email or password") || b.cookie(operatorCookie) != nil {
		t.Fatal("wrong password: no error shown, or a cookie was set")
	}
	resp, _ = b.post("/operator/login", url.Values{"email": {"Alice@shop.test"}, "password": {"alice"}, "next": {"/chat/console/"}})
	wantRedirect(t, resp, "/chat/console/")
	c := b.cookie(operatorCookie)
	if c == nil {
		t.Fatal("no operator cookie")
	}
	for _, sc := range resp.Cookies() {
		if sc.Name == operatorCookie && (!sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Path != "/") {
			t.Errorf("operator cookie attributes: %+v", sc)
		}
	}
	if parts := strings.Split(c.Value, "."); len(parts) != 3 || parts[0] != "alice" {
		t.Errorf("operator cookie %q: want id.issued.mac", c.Value)
	}
	// A tampered cookie is refused.
	forged := &http.Cookie{Name: operatorCookie, Value: "bob" + strings.TrimPrefix(c.Value, "alice")}
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/chat/console/", nil)
	req.AddCookie(forged)
	if resp, err := http.DefaultTransport.RoundTrip(req); err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("forged operator cookie: %v %v, want a redirect to login", resp.StatusCode, err)
	}

	resp, _ = b.get("/chat/console/")
	wantStatus(t, resp, http.StatusOK)
	resp, _ = b.get("/operator/login?next=/chat/console/") // already logged in
	wantRedirect(t, resp, "/chat/console/")

	// The chat's operator socket accepts the cookie from the jar...
	alice, err := client.DialOperator(ctx, ts.URL, client.Options{HTTPClient: b.hc, NoReconnect: true})
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	if me := alice.Me(); me.ID != "alice" || me.Name != "Alice Martin" || me.Avatar != ts.URL+"/static/avatars/alice.svg" {
		t.Errorf("operator = %+v", me)
	}
	// ...and the test helper's cookie in a header.
	bob := s.dialOperator(t, ctx, ts, "bob", client.Options{NoReconnect: true})
	if bob.Me().ID != "bob" {
		t.Errorf("operator = %+v, want bob", bob.Me())
	}
	err = bob.Wait(ctx, func(c *client.Conn) bool {
		ops := c.Operators()
		i := slices.IndexFunc(ops, func(o protocol.Operator) bool { return o.ID == "alice" })
		return i >= 0 && slices.Equal(ops[i].Departments, []string{"sales"}) && ops[i].Capacity == 4
	})
	if err != nil {
		t.Errorf("bob does not see alice (sales, capacity 4): %v %+v", err, bob.Operators())
	}
	if s.operatorCookie("mallory") != nil {
		t.Error("operatorCookie for an unknown id")
	}

	resp, _ = b.post("/operator/logout", nil)
	wantRedirect(t, resp, "/operator/login")
	resp, _ = b.get("/chat/console/")
	wantRedirect(t, resp, "/operator/login")
}

func TestBadNextIsRefused(t *testing.T) {
	_, ts := startShop(t, shopConfig{})
	b := newBrowser(t, ts)
	b.get("/operator/login")
	for _, next := range []string{
		"//evil.example/", "https://evil.example/", "http:/evil.example", "/\\evil.example", "\\\\evil.example",
		"javascript:alert(1)", "evil.example", "/ok\r\nSet-Cookie: x=y", "/\t/evil.example", " /chat/",
	} {
		resp, _ := b.get("/operator/login?next=" + url.QueryEscape(next))
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET /operator/login next=%q: %d, want 400", next, resp.StatusCode)
		}
		resp, _ = b.get("/login?next=" + url.QueryEscape(next))
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET /login next=%q: %d, want 400", next, resp.StatusCode)
		}
		resp, _ = b.post("/operator/login", url.Values{"email": {"bob@shop.test"}, "password": {"bob"}, "next": {next}})
		if resp.StatusCode != http.StatusBadRequest || b.cookie(operatorCookie) != nil {
			t.Fatalf("POST /operator/login next=%q: %d (cookie %v), want 400 and no login", next, resp.StatusCode, b.cookie(operatorCookie))
		}
	}
	resp, _ := b.post("/operator/login", url.Values{"email": {"bob@shop.test"}, "password": {"bob"}, "next": {"/order/KC-X?from=chat"}})
	wantRedirect(t, resp, "/order/KC-X?from=chat")
}

func TestSafeNext(t *testing.T) {
	for next, ok := range map[string]bool{
		"": true, "/": true, "/chat/console/": true, "/a?b=c#d": true, "/a//b": true,
		"//x": false, "/\\x": false, "x": false, "https://x/": false, "/a\nb": false, "/a\x00": false, "/a\x7f": false,
	} {
		if _, err := safeNext(next); (err == nil) != ok {
			t.Errorf("safeNext(%q) err = %v, want ok=%v", next, err, ok)
		}
	}
}

func TestTemplatesEscape(t *testing.T) {
	evil := product{
		Slug:        "evil-mug",
		Name:        `<script>alert("pwned")</script> Mug`,
		PriceCents:  1234,
		Description: `<img src=x onerror=alert(1)>`,
	}
	_, ts := startShop(t, shopConfig{Products: append(catalogue(), evil)})
	b := newBrowser(t, ts)
	escaped := template.HTMLEscapeString(evil.Name)

	check := func(page, body string) {
		t.Helper()
		if strings.Contains(body, "<script>alert(") || strings.Contains(body, "<img src=x") || strings.Contains(body, "<b>Eve") {
			t.Errorf("%s renders HTML from data", page)
		}
	}
	for _, path := range []string{"/", "/product/evil-mug"} {
		resp, body := b.get(path)
		wantStatus(t, resp, http.StatusOK)
		check(path, body)
		if !strings.Contains(body, escaped) {
			t.Errorf("%s lacks the escaped name %q", path, escaped)
		}
	}
	b.post("/cart/add", url.Values{"slug": {"evil-mug"}})
	_, body := b.get("/cart")
	check("/cart", body)
	_, body = b.get("/checkout")
	check("/checkout", body)
	id := checkout(t, b, "<b>Eve</b>")
	_, body = b.get("/order/" + id)
	check("/order", body)
	if !strings.Contains(body, "&lt;b&gt;Eve&lt;/b&gt;") {
		t.Error("order page lacks the escaped customer name")
	}
}

// Without BaseURL, links use the host logged-in operators use; other
// requests cannot set it.
func TestBaseURLLearnedFromOperators(t *testing.T) {
	s, _, err := newShop(shopConfig{Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	if _, err := s.baseURL(); err == nil {
		t.Fatal("base URL known before any request")
	}
	anon := httptest.NewRequest(http.MethodGet, "http://evil.example/chat/operator/ws", nil)
	if _, err := s.operatorAuth(anon); !errors.Is(err, chat.ErrUnauthorized) {
		t.Fatalf("operatorAuth without cookie: %v", err)
	}
	if _, err := s.baseURL(); err == nil {
		t.Fatal("an unauthenticated request set the base URL")
	}
	req := httptest.NewRequest(http.MethodGet, "http://shop.test:8080/chat/operator/ws", nil)
	req.AddCookie(s.operatorCookie("alice"))
	op, err := s.operatorAuth(req)
	if err != nil {
		t.Fatal(err)
	}
	if op.AvatarURL != "http://shop.test:8080/static/avatars/alice.svg" || op.Capacity != 4 {
		t.Errorf("operator = %+v", op)
	}
	if base, err := s.baseURL(); base != "http://shop.test:8080" || err != nil {
		t.Errorf("baseURL = %q, %v", base, err)
	}
}

func TestCustomerLoginFollowsChat(t *testing.T) {
	s, ts := startShop(t, shopConfig{})
	ctx := testCtx(t)
	b := newBrowser(t, ts)

	// Anonymous cart, then login: the cart moves to the customer.
	b.get("/")
	b.post("/cart/add", url.Values{"slug": {"hand-grinder"}})
	resp, _ := b.get("/login?next=/cart")
	wantStatus(t, resp, http.StatusOK)
	resp, _ = b.post("/login", url.Values{"email": {"carol@example.com"}, "password": {"dave"}, "next": {"/cart"}})
	wantStatus(t, resp, http.StatusUnauthorized)
	oldSession := b.cookie(sessionCookie).Value
	resp, _ = b.post("/login", url.Values{"email": {"carol@example.com"}, "password": {"carol"}, "next": {"/cart"}})
	wantRedirect(t, resp, "/cart")
	if b.cookie(sessionCookie).Value == oldSession {
		t.Error("login kept the session id")
	}
	var chatCookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "shopchat_visitor" {
			chatCookie = c
		}
	}
	if chatCookie == nil || chatCookie.Path != "/" || !chatCookie.HttpOnly {
		t.Fatalf("login did not set the chat visitor cookie (Identify): %+v", chatCookie)
	}
	_, body := b.get("/cart")
	if !strings.Contains(body, "Burr Hand Grinder") || !strings.Contains(body, "Carol Weber") {
		t.Fatal("cart not merged into the customer's, or customer not shown")
	}
	id := checkout(t, b, "Carol Weber")
	b.get("/product/sencha")
	b.post("/cart/add", url.Values{"slug": {"sencha"}, "qty": {"2"}})
	_, body = b.get("/account")
	if !strings.Contains(body, `href="/order/`+id+`"`) {
		t.Error("account page lacks the order")
	}

	// The chat visitor of this browser is carol's.
	v, err := s.store.VisitorByCustomer(ctx, "carol")
	if err != nil {
		t.Fatal(err)
	}
	visitor, err := client.DialVisitor(ctx, ts.URL, client.Options{HTTPClient: b.hc, NoReconnect: true})
	if err != nil {
		t.Fatal(err)
	}
	if visitor.Me().ID != v.ID {
		t.Errorf("chat visitor %q, want carol's %q", visitor.Me().ID, v.ID)
	}
	msg, err := visitor.Send(ctx, "", "Where is my grinder?")
	if err != nil {
		t.Fatal(err)
	}
	visitor.Close()

	// On another device, logging in brings the same conversation.
	phone := newBrowser(t, ts)
	phone.get("/login")
	resp, _ = phone.post("/login", url.Values{"email": {"carol@example.com"}, "password": {"carol"}})
	wantRedirect(t, resp, "/")
	visitor2, err := client.DialVisitor(ctx, ts.URL, client.Options{HTTPClient: phone.hc, NoReconnect: true})
	if err != nil {
		t.Fatal(err)
	}
	err = visitor2.Wait(ctx, func(c *client.Conn) bool {
		ms := c.Messages(msg.Conv)
		return len(ms) > 0 && ms[0].Text == "Where is my grinder?"
	})
	visitor2.Close()
	if err != nil {
		t.Fatalf("history did not follow the customer: %v", err)
	}

	// The operator's side panel: cart, orders with links, labels.
	info, err := s.visitorInfo(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	if info.CartValue != 2*890 || info.Currency != "EUR" || !slices.Contains(info.Labels, "returning customer") {
		t.Errorf("info = %+v", info)
	}
	rows := map[string][]chat.InfoRow{}
	for _, sec := range info.Sections {
		rows[sec.Title] = sec.Rows
	}
	if len(rows["Cart"]) == 0 || rows["Cart"][0].Label != "Sencha Green Tea, 100 g tin" || !strings.HasPrefix(rows["Cart"][0].Value, "2 × €8.90") {
		t.Errorf("cart section = %+v", rows["Cart"])
	}
	if o := rows["Orders"]; len(o) != 1 || o[0].Label != id || o[0].URL != ts.URL+"/order/"+id {
		t.Errorf("orders section = %+v", o)
	}
	anon, err := s.visitorInfo(ctx, &chat.Visitor{ID: "anon"})
	if err != nil || len(anon.Sections) != 1 || anon.Sections[0].Rows[0].Label != "Empty" || !slices.Equal(anon.Labels, []string{"guest"}) {
		t.Errorf("anonymous info = %+v, %v", anon, err)
	}

	// Logout forgets the chat visitor and the customer.
	resp, _ = b.post("/logout", nil)
	wantRedirect(t, resp, "/")
	forgot := false
	for _, c := range resp.Cookies() {
		forgot = forgot || (c.Name == "shopchat_visitor" && c.MaxAge < 0 && c.Path == "/")
	}
	if !forgot || b.cookie("shopchat_visitor") != nil {
		t.Error("logout did not clear the chat visitor cookie")
	}
	_, body = b.get("/")
	if strings.Contains(body, "Carol Weber") || !strings.Contains(body, `data-testid="cart-count">0<`) {
		t.Error("still logged in after logout")
	}
}

func TestChatEndToEnd(t *testing.T) {
	s, ts := startShop(t, shopConfig{})
	ctx := testCtx(t)
	alice := s.dialOperator(t, ctx, ts, "alice", client.Options{})
	visitor, err := client.DialVisitor(ctx, ts.URL, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer visitor.Close()
	q, err := visitor.Send(ctx, "", "Is the grinder good for espresso?")
	if err != nil {
		t.Fatal(err)
	}
	err = alice.Wait(ctx, func(c *client.Conn) bool {
		conv, ok := c.Conversation(q.Conv)
		return ok && conv.Status == protocol.StatusAssigned
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Send(ctx, q.Conv, "Yes, it goes fine enough."); err != nil {
		t.Fatal(err)
	}
	err = visitor.Wait(ctx, func(c *client.Conn) bool {
		ms := c.Messages(q.Conv)
		return len(ms) > 0 && ms[len(ms)-1].Kind == protocol.KindOperator && ms[len(ms)-1].Author != nil && ms[len(ms)-1].Author.Name == "Alice Martin"
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestWidgetConfig(t *testing.T) {
	for _, prechat := range []bool{false, true} {
		t.Run("prechat="+strconv.FormatBool(prechat), func(t *testing.T) {
			_, ts := startShop(t, shopConfig{PreChat: prechat})
			req, _ := http.NewRequest(http.MethodPost, ts.URL+"/chat/session", nil)
			req.Header.Set("Origin", ts.URL)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var got struct{ Widget chat.WidgetConfig }
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				t.Fatal(err)
			}
			w := got.Widget
			if w.BrandColor != brandColor || w.TeamName != shopName || w.Greeting == "" || len(w.TeamPhotos) != 2 || w.TeamPhotos[0] != ts.URL+"/static/avatars/alice.svg" {
				t.Errorf("widget = %+v", w)
			}
			if prechat != (len(w.PreChat) == 3) {
				t.Errorf("pre-chat form = %+v", w.PreChat)
			}
		})
	}
}

func TestNewShopValidates(t *testing.T) {
	dir := t.TempDir()
	bad := []shopConfig{
		{Secret: []byte("short")},
		{Secret: testSecret, BaseURL: "ftp://x"},
		{Secret: testSecret, Products: []product{{Slug: "Bad Slug", Name: "x", PriceCents: 1}}},
		{Secret: testSecret, Products: []product{{Slug: "a", Name: "x", PriceCents: 1}, {Slug: "a", Name: "y", PriceCents: 1}}},
		{Secret: testSecret, Products: []product{{Slug: "free", Name: "x"}}},
	}
	for _, cfg := range bad {
		cfg.DBPath = filepath.Join(dir, "x.db")
		if s, _, err := newShop(cfg); err == nil {
			s.close()
			t.Errorf("newShop(%+v) succeeded", cfg)
		}
	}
}

func TestLoadSecret(t *testing.T) {
	t.Setenv("SHOPCHAT_SECRET", "")
	log := discardLogger()
	path := filepath.Join(t.TempDir(), "demo.secret")
	a, err := loadSecret(log, path)
	if err != nil || len(a) != 32 {
		t.Fatalf("generate: %d bytes, %v", len(a), err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode: %v %v", fi.Mode(), err)
	}
	b, err := loadSecret(log, path)
	if err != nil || string(a) != string(b) {
		t.Fatal("secret not stable across loads")
	}
	t.Setenv("SHOPCHAT_SECRET", "too short")
	if _, err := loadSecret(log, path); err == nil {
		t.Error("short SHOPCHAT_SECRET accepted")
	}
}

// TestGofmtVet keeps the example gofmt- and vet-clean.
func TestGofmtVet(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if out, err := format.Source(src); err != nil || string(out) != string(src) {
			t.Errorf("%s is not gofmt-clean (%v)", f, err)
		}
	}
	if testing.Short() {
		t.Skip("go vet skipped in -short mode")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	if out, err := exec.Command(goBin, "vet", ".").CombinedOutput(); err != nil {
		t.Errorf("go vet: %v\n%s", err, out)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
	ch  chan struct{}
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	select {
	case b.ch <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Without an SMTP server the shop logs the mail it would send.
func TestShopWithoutSMTPLogsMail(t *testing.T) {
	logs := &syncBuffer{ch: make(chan struct{}, 1)}
	_, ts := startShop(t, shopConfig{Logger: slog.New(slog.NewTextHandler(logs, nil)), Mail: email.Config{Operators: []string{"team@shop.test"}}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := client.DialVisitor(ctx, ts.URL, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if err := v.SetProfile(ctx, client.Profile{Email: "ann@example.com"}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Send(ctx, "", "Is anyone there? I need a grinder."); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(logs.String(), "I need a grinder") {
		select {
		case <-logs.ch:
		case <-ctx.Done():
			t.Fatalf("the offline message was not logged as mail:\n%s", logs.String())
		}
	}
	if !strings.Contains(logs.String(), "team@shop.test") && !strings.Contains(logs.String(), "would send") {
		t.Fatalf("log does not show the mail: %s", logs.String())
	}
}

// An order placed after a chat carries the chat channel, its conversation
// and operator on the shop's order and its page, and counts in the chat's
// report under that operator; an order without a chat is "web".
func TestOrderChannel(t *testing.T) {
	s, ts := startShop(t, shopConfig{})
	ctx := testCtx(t)
	alice := s.dialOperator(t, ctx, ts, "alice", client.Options{})

	// A visitor browses (Track gives them the chat cookie on the shop's
	// page), chats with alice, and buys.
	chatty := newBrowser(t, ts)
	chatty.get("/product/house-blend")
	if chatty.cookie("shopchat_visitor") == nil {
		t.Fatal("a shop page did not set the chat visitor cookie (middleware.Track)")
	}
	chatty.post("/cart/add", url.Values{"slug": {"house-blend"}, "qty": {"2"}})
	visitor, err := client.DialVisitor(ctx, ts.URL, client.Options{HTTPClient: chatty.hc, NoReconnect: true})
	if err != nil {
		t.Fatal(err)
	}
	defer visitor.Close()
	q, err := visitor.Send(ctx, "", "Is the house blend good for espresso?")
	if err != nil {
		t.Fatal(err)
	}
	// The chat hooks find the anonymous visitor's cart through Track.
	v, err := s.store.Visitor(ctx, visitor.Me().ID)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := s.visitorInfo(ctx, v); err != nil || info.CartValue != 2*950 {
		t.Errorf("visitor info = %+v, %v; want the cart's %d", info, err, 2*950)
	}
	if vars := s.cannedVariables(ctx, v); vars["cart.total"] != "€19.00" || vars["customer.first_name"] != "there" {
		t.Errorf("canned variables = %v", vars)
	}
	err = alice.Wait(ctx, func(c *client.Conn) bool {
		conv, ok := c.Conversation(q.Conv)
		return ok && conv.Status == protocol.StatusAssigned
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Send(ctx, q.Conv, "Yes, it makes a sweet espresso."); err != nil {
		t.Fatal(err)
	}
	chatID := checkout(t, chatty, "Eve Example")
	_, body := chatty.get("/order/" + chatID)
	if strings.Contains(body, "order-channel") || strings.Contains(body, q.Conv[:8]) || strings.Contains(body, "Alice Martin") {
		t.Error("the customer's receipt shows the chat channel (conversation, operator)")
	}
	staff := newBrowser(t, ts)
	u, _ := url.Parse(ts.URL)
	staff.hc.Jar.SetCookies(u, []*http.Cookie{s.operatorCookie("bob")})
	_, body = staff.get("/order/" + chatID)
	want := `channel: chat (conversation <span title="` + q.Conv + `">` + q.Conv[:8] + `</span>, operator Alice Martin)`
	if !strings.Contains(body, want) {
		t.Errorf("staff order page after a chat lacks %q", want)
	}

	// Another visitor who did not chat.
	quiet := newBrowser(t, ts)
	quiet.get("/product/sencha")
	quiet.post("/cart/add", url.Values{"slug": {"sencha"}})
	webID := checkout(t, quiet, "Walt Web")
	_, body = staff.get("/order/" + webID)
	if !strings.Contains(body, "channel: web</p>") || strings.Contains(body, "conversation") {
		t.Error(`staff order page without a chat does not say "channel: web" alone`)
	}

	// The shop's own orders keep the channel.
	if o, _ := s.orders.get(chatID); o.Channel != chat.ChannelChat || o.ConversationID != q.Conv || o.OperatorID != "alice" {
		t.Errorf("chat order = %+v", o)
	}
	if o, _ := s.orders.get(webID); o.Channel != "" || o.ConversationID != "" || o.OperatorID != "" {
		t.Errorf("web order = %+v", o)
	}
	// The chat recorded both, and reports the chat one under alice.
	orders, err := chat.Checked(s.store).(chat.OrderStore).Orders(ctx, chat.OrderQuery{})
	if err != nil || len(orders) != 2 {
		t.Fatalf("chat store has %d orders (%v), want 2", len(orders), err)
	}
	now := time.Now()
	rep, err := s.chat.Report(ctx, chat.ReportQuery{From: now.Add(-time.Hour), To: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(rep.Operators, func(o chat.OperatorReport) bool { return o.ID == "alice" })
	if i < 0 || rep.Operators[i].Orders != 1 || rep.Operators[i].Revenue != 2*950 || rep.Team.Orders != 1 || rep.Currency != "EUR" {
		t.Errorf("report: team %+v, operators %+v", rep.Team, rep.Operators)
	}
}
