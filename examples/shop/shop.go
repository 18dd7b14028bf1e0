// The shop: construction, routes and page handlers.
//
// # Constructor (stable: the browser tests use it)
//
//	s, h, err := newShop(shopConfig{Secret: secret, DBPath: path, ...})
//
// returns the shop and its whole http.Handler (shop pages, /static/, and the
// chat under /chat/). Serve h on any server, e.g. httptest. Shut down in
// this order: s.closeChat(ctx) (hijacked chat sockets, which
// http.Server.Shutdown and httptest.Server.Close do not wait for), then the
// HTTP server, then s.close() (the chat store). In this package's tests,
// startShop(t, cfg) in shop_test.go does all of that and returns the
// shop and a running *httptest.Server with BaseURL set to it.
//
// # Logging in from a test
//
//   - Operator: add s.operatorCookie("alice") (or "bob") to a request or a
//     cookie jar for the server's URL, or pass it to client.DialOperator as
//     client.Options{Header: http.Header{"Cookie": {c.Name + "=" + c.Value}}}
//     (not c.String(), which is Set-Cookie syntax). The browser flow is
//     /operator/login (alice@shop.test / alice, bob@shop.test / bob); in a
//     browser test, set the cookie with its name, value, path "/" and the
//     server's host.
//   - Customer: s.customerCookie("carol") (or "dave") is a logged-in shop
//     session; it does not bind the chat visitor (the /login form does, via
//     chat Identify): carol@example.com / carol, dave@example.com / dave.
//   - Every POST form needs the session's CSRF token (the hidden "csrf"
//     field of the page, or s.csrfToken(session)), and a same-site Origin
//     or Referer when the client sends one.
package main

import (
	"bytes"
	"context"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/blob/file"
	"github.com/shopchat/chat/bot/faq"
	chatprom "github.com/shopchat/chat/metrics/prometheus"
	"github.com/shopchat/chat/middleware"
	"github.com/shopchat/chat/notify/email"
	"github.com/shopchat/chat/store/memory"
	"github.com/shopchat/chat/store/postgres"
	"github.com/shopchat/chat/store/sqlite"
)

//go:embed templates static
var assets embed.FS

// shopName and brandColor are shared by the shop's pages and the widget.
const (
	shopName   = "Kettle & Crumb"
	brandColor = "#b45309"
)

// shopConfig configures newShop.
type shopConfig struct {
	// Secret is the shop's one secret, at least 32 bytes: the chat's
	// Config.Secret and the key of the shop's cookies are derived from it.
	// Keep it stable, or visitors lose their chat history and everyone is
	// logged out.
	Secret []byte
	// DBPath is the SQLite file of the chat store. Empty: an in-memory
	// store.
	DBPath string
	// OrdersPath is the JSON file orders are kept in. Empty: memory only.
	OrdersPath string
	// BaseURL is the shop's absolute URL ("http://127.0.0.1:8080"), for the
	// operator avatars, the widget's team photos and the order links in the
	// operator's side panel. Empty: taken from the request host of logged-in
	// operators, and the widget shows no team photos.
	BaseURL string
	// PreChat asks visitors for name, email and department before their
	// first message.
	PreChat bool
	// FAQBot has the FAQ bot (bot/faq) answer visitors first, from the
	// team's canned responses, and hand off to the team.
	FAQBot bool
	// Products replaces the default catalogue (tests).
	Products []product
	// Logger receives the shop's and the chat's logs. Default: discard.
	Logger *slog.Logger
	// Mail configures offline email, missed replies and transcripts. Its
	// zero value logs the mail it would send instead of sending it.
	Mail email.Config
	// PostgresDSN, if set, keeps the chat in PostgreSQL instead of DBPath,
	// so several shop processes can share it.
	PostgresDSN string
	// Broker connects the chat of several shop processes (with
	// PostgresDSN). Default none: one process.
	Broker chat.Broker
	// PresenceTTL is the chat's Config.PresenceTTL: how long an operator's
	// presence, and a visitor's "on the site" after their widget
	// disconnects, last. Zero: the chat's default; tests shorten it.
	PresenceTTL time.Duration
	// BrandColor replaces the shop's brand colour in the widget (tests of
	// colours that fail contrast). Empty: the shop's own.
	BrandColor string
	// wrapStore, if set, wraps the chat store the chat server uses (tests
	// inject store failures with it).
	wrapStore func(chat.Store) chat.Store
}

// shop is the demo shop. Its handlers are safe for concurrent use.
type shop struct {
	cfg      shopConfig
	log      *slog.Logger
	sign     signer
	chat     *chat.Server
	mail     *email.Notifier
	inbound  *email.Inbound
	store    chat.Store
	blobs    chat.BlobStore // attachments; nil with the memory store
	products []product
	bySlug   map[string]*product
	orders   *orderBook
	carts    *cartStore
	pages    map[string]*template.Template
	static   fs.FS
	learned  atomic.Value // string: base URL learned from operator requests
	// loggedOut holds operator cookie values that logged out: a copy of
	// one must not let its holder back in (the chat re-checks open
	// consoles with the operator auth, see chat.Config.OperatorRecheck).
	loggedOut sync.Map
	// metrics is the chat's Prometheus registry, served at /metrics.
	metrics *prometheus.Registry

	closeOnce sync.Once
	closeErr  error
}

// newShop builds the shop, opens its stores and the chat server, and
// returns the shop with its handler.
func newShop(cfg shopConfig) (*shop, http.Handler, error) {
	if len(cfg.Secret) < 32 {
		return nil, nil, fmt.Errorf("shop: Secret is %d bytes; use at least 32", len(cfg.Secret))
	}
	if cfg.BaseURL != "" {
		u, err := url.Parse(cfg.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, nil, fmt.Errorf("shop: BaseURL %q is not an absolute http(s) URL", cfg.BaseURL)
		}
		cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Products == nil {
		cfg.Products = catalogue()
	}
	static, err := fs.Sub(assets, "static")
	if err != nil {
		return nil, nil, err
	}
	s := &shop{
		metrics: prometheus.NewRegistry(),
		cfg:     cfg,
		log:     cfg.Logger,
		sign:    signer{key: deriveKey(cfg.Secret, "cookies")},
		carts:   newCartStore(),
		static:  static,
	}
	if s.products, s.bySlug, err = indexCatalogue(cfg.Products, static); err != nil {
		return nil, nil, fmt.Errorf("shop: %w", err)
	}
	if s.pages, err = parsePages(); err != nil {
		return nil, nil, fmt.Errorf("shop: templates: %w", err)
	}
	if s.orders, err = openOrders(cfg.OrdersPath); err != nil {
		return nil, nil, fmt.Errorf("shop: %w", err)
	}

	if cfg.PostgresDSN != "" {
		st, err := postgres.Open(context.Background(), cfg.PostgresDSN)
		if err != nil {
			return nil, nil, fmt.Errorf("shop: chat store: %w", err)
		}
		s.store = closerFunc(func() error { st.Close(); return nil }).with(st)
		s.blobs = st.Blobs() // attachments in the same database: nothing new to run
	} else if cfg.DBPath != "" {
		st, err := sqlite.Open(cfg.DBPath)
		if err != nil {
			return nil, nil, fmt.Errorf("shop: chat store: %w", err)
		}
		s.store = st
		// Attachments next to the database file.
		if s.blobs, err = file.Open(cfg.DBPath + "-files"); err != nil {
			st.Close()
			return nil, nil, fmt.Errorf("shop: attachments: %w", err)
		}
	} else {
		s.store = memory.New()
	}
	mc := s.cfg.Mail
	if mc.Logger == nil {
		mc.Logger = s.log
	}
	if mc.SiteName == "" {
		mc.SiteName = shopName
	}
	if mc.ConsoleURL == "" && s.cfg.BaseURL != "" {
		mc.ConsoleURL = s.cfg.BaseURL + "/chat/console/"
	}
	if s.mail, err = email.New(mc); err != nil {
		s.close()
		return nil, nil, err
	}
	s.chat, err = chat.New(s.chatConfig())
	if err != nil {
		s.close()
		return nil, nil, err
	}
	// Replies to our mail come back through the provider's inbound webhook
	// (POST /chat/inbound/email) or the SMTP receiver (-smtp-listen).
	s.inbound, err = email.NewInbound(email.InboundConfig{
		Server: s.chat,
		Domain: s.mail.ReplyDomain(),
		Secret: hex.EncodeToString(deriveKey(s.cfg.Secret, "inbound-mail")[:16]),
		Logger: s.log,
	})
	if err != nil {
		s.close()
		return nil, nil, err
	}
	return s, s.routes(), nil
}

// chatConfig is the chat embedding: the few lines of the README plus the
// shop's look, canned answers with the shop's variables, proactive
// triggers and the side-panel hook.
func (s *shop) chatConfig() chat.Config {
	widget := chat.WidgetConfig{
		BrandColor: brandColor,
		TeamName:   shopName,
		Greeting:   "Hi! Questions about coffee, tea or your order? We usually answer within a few minutes.",
	}
	if s.cfg.BrandColor != "" {
		widget.BrandColor = s.cfg.BrandColor
	}
	if s.cfg.BaseURL != "" {
		for _, op := range demoOperators {
			widget.TeamPhotos = append(widget.TeamPhotos, s.cfg.BaseURL+"/static/avatars/"+op.ID+".svg")
		}
	}
	if s.cfg.PreChat {
		widget.PreChat = []chat.FormField{
			{Name: "name", Label: "Your name", Required: true},
			{Name: "email", Label: "Email, so we can answer if you leave", Type: "email"},
			{Name: "department", Label: "What is it about?", Type: "select", Required: true, Options: []string{"sales", "support"}},
		}
	}
	widget.Translations = widgetTranslations
	store := s.store
	if s.cfg.wrapStore != nil {
		store = s.cfg.wrapStore(store)
	}
	// Transport and Fallback are left to their defaults: WebSocket, and
	// Server-Sent Events with POST for visitors behind proxies that break
	// WebSocket (the widget switches by itself; sse_browser_test.go).
	var bot chat.Bot
	if s.cfg.FAQBot {
		bot = faq.New(faq.Options{})
	}
	return chat.Config{
		Bot:             bot,
		BotOptions:      chat.BotOptions{Name: "Kettle bot"},
		Store:           store,
		Secret:          deriveKey(s.cfg.Secret, "chat"),
		Operators:       s.operatorAuth,
		Router:          chat.Departments(chat.LeastBusy()), // pre-chat "department" picks alice (sales) or bob (support)
		Logger:          s.log,
		Metrics:         chatprom.New(s.metrics),
		Widget:          widget,
		CannedResponses: cannedResponses,
		CannedVariables: s.cannedVariables,
		Triggers:        triggers,
		VisitorInfo:     s.visitorInfo,
		ConsoleLoginURL: "/operator/login",
		SneakPeek:       true,
		Notifier:        s.mail,
		Broker:          s.cfg.Broker,
		PresenceTTL:     s.cfg.PresenceTTL,
		Attachments:     chat.AttachmentConfig{Blobs: s.blobs}, // images, PDF and text; off with the memory store
	}
}

// widgetTranslations are the shop's widget strings in the other languages
// the widget speaks; the department options stay "sales" and "support" on
// the wire (routing), shown translated.
var widgetTranslations = map[string]chat.WidgetText{
	"es": {Greeting: "¡Hola! ¿Preguntas sobre café, té o tu pedido? Solemos responder en pocos minutos.",
		Labels:  map[string]string{"name": "Tu nombre", "email": "Correo, para responderte si te vas", "department": "¿De qué se trata?"},
		Options: map[string]string{"sales": "ventas", "support": "soporte"}},
	"de": {Greeting: "Hallo! Fragen zu Kaffee, Tee oder Ihrer Bestellung? Wir antworten meist in wenigen Minuten.",
		Labels:  map[string]string{"name": "Ihr Name", "email": "E-Mail, damit wir antworten können, wenn Sie gehen", "department": "Worum geht es?"},
		Options: map[string]string{"sales": "Verkauf", "support": "Kundendienst"}},
	"ru": {Greeting: "Здравствуйте! Вопросы о кофе, чае или заказе? Обычно отвечаем за несколько минут.",
		Labels:  map[string]string{"name": "Ваше имя", "email": "Эл. почта, чтобы ответить, если вы уйдёте", "department": "О чём вопрос?"},
		Options: map[string]string{"sales": "покупка", "support": "поддержка"}},
}

// cannedResponses are the team's answers; {customer.first_name} and
// {cart.total} come from cannedVariables, {operator.name} from the chat.
var cannedResponses = []chat.CannedResponse{
	{Shortcut: "hello", Title: "Greeting",
		Text: "Hi {customer.first_name}, I'm {operator.name} from Kettle & Crumb. How can I help?"},
	{Shortcut: "cart", Title: "Free shipping from €50",
		Text: "Your cart comes to {cart.total} so far. Shipping is free from €50, in case you were thinking of adding a bag of beans."},
	{Shortcut: "shipping", Title: "Shipping times and costs",
		Text: "We roast on Tuesdays and ship within 1–2 working days. Delivery in Germany takes 1–3 days, elsewhere in the EU 2–5 days. Shipping is €4.90, free from €50."},
	{Shortcut: "returns", Title: "Returns policy and refunds",
		Text: "You can return unopened items within 30 days for a full refund; just reply with your order number and we'll send a return label."},
	{Shortcut: "order", Title: "Ask for the order number",
		Text: "Happy to check! Could you tell me your order number? It starts with KC- and is in your confirmation email."},
	{Shortcut: "grind", Title: "Grind options",
		Text: "We send whole beans by default. Tell us your brewer (espresso, filter, French press, moka pot) in the order notes and we'll grind it fresh for you."},
}

// triggers are the demo's proactive rules; operators edit them in the
// console's Triggers tab (these are stored on first start only).
var triggers = []chat.Trigger{
	{ID: "product-help", Name: "Help on product pages", URL: "/product/*", TimeOnPage: 30 * time.Second,
		Message: "Questions about this product? We're here."},
	// A big cart at checkout: operators are told, and may invite.
	{ID: "big-cart", Name: "Large cart at checkout", URL: "/checkout", MinCartValue: 5000, Action: chat.ActionSuggest},
}

// closeChat closes the chat server: live sockets get "going away". Call it
// before shutting down the HTTP server.
func (s *shop) closeChat(ctx context.Context) error {
	err := s.chat.Close(ctx)
	if s.mail != nil {
		err = errors.Join(err, s.mail.Close(ctx)) // sends what is queued
	}
	return err
}

// close closes the chat server if still open, then the chat store. Orders
// need no closing: each is written when placed.
func (s *shop) close() error {
	s.closeOnce.Do(func() {
		if s.chat != nil {
			s.chat.Close(context.Background())
		}
		if c, ok := s.store.(io.Closer); ok {
			s.closeErr = c.Close()
		}
	})
	return s.closeErr
}

func (s *shop) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/chat/", s.chat.Handler())
	mux.Handle("POST /chat/inbound/email", s.inbound)
	// For the shop's monitoring: the chat's counters, latency histograms
	// and queue gauges (no personal data: no labels), and a health probe.
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics, promhttp.HandlerOpts{}))
	mux.Handle("GET /healthz", s.chat.HealthHandler())
	mux.Handle("GET /static/", http.StripPrefix("/static/", staticHandler(s.static)))

	mux.HandleFunc("GET /{$}", s.home)
	mux.HandleFunc("GET /product/{slug}", s.productPage)
	mux.HandleFunc("GET /cart", s.cartPage)
	mux.HandleFunc("POST /cart/add", s.cartAdd)
	mux.HandleFunc("POST /cart/update", s.cartUpdate)
	mux.HandleFunc("POST /cart/remove", s.cartRemove)
	mux.HandleFunc("GET /checkout", s.checkoutPage)
	mux.HandleFunc("POST /checkout", s.checkout)
	mux.HandleFunc("GET /order/{id}", s.orderPage)
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("POST /logout", s.logout)
	mux.HandleFunc("GET /account", s.account)
	mux.HandleFunc("GET /operator/login", s.operatorLoginPage)
	mux.HandleFunc("POST /operator/login", s.operatorLogin)
	mux.HandleFunc("POST /operator/logout", s.operatorLogout)
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/static/favicon.svg", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, http.StatusNotFound, "We could not find that page.")
	})
	// Track records the customers' page views for the console's live list
	// and triggers, and gives the checkout the chat visitor. It skips the
	// chat's own path and static files by itself; the operators' pages are
	// not customers browsing.
	track := middleware.Track(s.chat, middleware.SkipPrefixes("/static/", "/operator/"))
	return securityHeaders(track(s.linkCart(mux)))
}

// securityHeaders sets headers every response should have. It only sets
// headers, so the chat's WebSocket upgrade (which hijacks the connection)
// passes through untouched.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, "/chat/") {
			h.Set("X-Frame-Options", "DENY")
		}
		next.ServeHTTP(w, r)
	})
}

func staticHandler(static fs.FS) http.Handler {
	files := http.FileServerFS(static)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") { // no directory listings
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		// SVGs opened directly are documents: allow them nothing active.
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		files.ServeHTTP(w, r)
	})
}

// Templates: layout.html wraps every page; each page file defines
// "content".

var pageNames = []string{"home", "product", "cart", "checkout", "order", "login", "account", "operator_login", "error"}

func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{"money": money}
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := layout.Clone()
		if err != nil {
			return nil, err
		}
		if _, err := t.ParseFS(assets, "templates/"+name+".html"); err != nil {
			return nil, err
		}
		pages[name] = t
	}
	return pages, nil
}

// view is what every page template gets.
type view struct {
	Title     string
	ShopName  string
	Customer  *customer
	Operator  *demoOperator
	CartCount int
	CSRF      string
	Path      string // the current path, for login links' next
	Chat      bool   // include the chat widget
	Data      any    // the page's own data
}

// render writes page name with data. The template runs into a buffer
// first, so a failure is a clean 500 rather than half a page.
func (s *shop) render(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) {
	ss := s.session(w, r)
	v := view{
		Title:     title,
		ShopName:  shopName,
		Customer:  ss.Customer,
		Operator:  s.currentOperator(r),
		CartCount: s.cartView(ss.cartKey()).Count,
		CSRF:      s.csrfToken(ss),
		Path:      r.URL.Path,
		// Not on the operators' login: they are not customers, and the
		// widget would list them among the visitors on the site.
		Chat: name != "operator_login",
		Data: data,
	}
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, "layout.html", v); err != nil {
		s.log.Error("render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store") // pages carry the cart and CSRF token
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// fail renders the error page.
func (s *shop) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s.render(w, r, status, "error", http.StatusText(status), struct {
		Status  int
		Message string
	}{status, msg})
}

func (s *shop) home(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "home", "", s.products)
}

func (s *shop) productPage(w http.ResponseWriter, r *http.Request) {
	p := s.bySlug[r.PathValue("slug")]
	if p == nil {
		s.fail(w, r, http.StatusNotFound, "We don't sell that (yet).")
		return
	}
	s.render(w, r, http.StatusOK, "product", p.Name, p)
}

func (s *shop) cartPage(w http.ResponseWriter, r *http.Request) {
	ss := s.session(w, r)
	data := struct {
		Cart  cartView
		Added *product
	}{Cart: s.cartView(ss.cartKey()), Added: s.bySlug[r.URL.Query().Get("added")]}
	s.render(w, r, http.StatusOK, "cart", "Your cart", data)
}

// formQty reads the qty field: lo..maxQty, default def.
func formQty(r *http.Request, lo, def int) (int, bool) {
	q := r.PostForm.Get("qty")
	if q == "" {
		return def, true
	}
	n, err := strconv.Atoi(strings.TrimSpace(q))
	if err != nil || n < lo || n > maxQty {
		return 0, false
	}
	return n, true
}

func (s *shop) cartAdd(w http.ResponseWriter, r *http.Request) {
	ss, ok := s.checkPost(w, r)
	if !ok {
		return
	}
	p := s.bySlug[r.PostForm.Get("slug")]
	qty, qok := formQty(r, 1, 1)
	if p == nil || !qok {
		s.fail(w, r, http.StatusBadRequest, fmt.Sprintf("Please choose a product and a quantity from 1 to %d.", maxQty))
		return
	}
	s.carts.add(ss.cartKey(), p.Slug, qty)
	http.Redirect(w, r, "/cart?added="+url.QueryEscape(p.Slug), http.StatusSeeOther)
}

func (s *shop) cartUpdate(w http.ResponseWriter, r *http.Request) {
	ss, ok := s.checkPost(w, r)
	if !ok {
		return
	}
	p := s.bySlug[r.PostForm.Get("slug")]
	qty, qok := formQty(r, 0, 1)
	if p == nil || !qok {
		s.fail(w, r, http.StatusBadRequest, fmt.Sprintf("Please choose a quantity from 0 to %d.", maxQty))
		return
	}
	s.carts.set(ss.cartKey(), p.Slug, qty)
	http.Redirect(w, r, "/cart", http.StatusSeeOther)
}

func (s *shop) cartRemove(w http.ResponseWriter, r *http.Request) {
	ss, ok := s.checkPost(w, r)
	if !ok {
		return
	}
	s.carts.set(ss.cartKey(), r.PostForm.Get("slug"), 0)
	http.Redirect(w, r, "/cart", http.StatusSeeOther)
}

// checkoutForm is the checkout form's fields and errors.
type checkoutForm struct {
	Name, Email, Address, Notes string
	Errors                      []string
	Cart                        cartView
}

func (s *shop) checkoutPage(w http.ResponseWriter, r *http.Request) {
	ss := s.session(w, r)
	f := checkoutForm{Cart: s.cartView(ss.cartKey())}
	if len(f.Cart.Lines) == 0 {
		http.Redirect(w, r, "/cart", http.StatusSeeOther)
		return
	}
	if c := ss.Customer; c != nil {
		f.Name, f.Email, f.Address = c.Name, c.Email, c.Address
	}
	s.render(w, r, http.StatusOK, "checkout", "Checkout", f)
}

func (s *shop) checkout(w http.ResponseWriter, r *http.Request) {
	ss, ok := s.checkPost(w, r)
	if !ok {
		return
	}
	f := checkoutForm{
		Name:    strings.TrimSpace(r.PostForm.Get("name")),
		Email:   strings.TrimSpace(r.PostForm.Get("email")),
		Address: strings.TrimSpace(r.PostForm.Get("address")),
		Notes:   strings.TrimSpace(r.PostForm.Get("notes")),
		Cart:    s.cartView(ss.cartKey()),
	}
	if len(f.Cart.Lines) == 0 {
		http.Redirect(w, r, "/cart", http.StatusSeeOther)
		return
	}
	if f.Name == "" || len(f.Name) > 100 {
		f.Errors = append(f.Errors, "Please enter your name (up to 100 characters).")
	}
	if !chat.ValidEmail(f.Email) {
		f.Errors = append(f.Errors, "Please enter a valid email address.")
	}
	if f.Address == "" || len(f.Address) > 500 {
		f.Errors = append(f.Errors, "Please enter a delivery address (up to 500 characters).")
	}
	if len(f.Notes) > 500 {
		f.Errors = append(f.Errors, "Notes can be up to 500 characters.")
	}
	if len(f.Errors) > 0 {
		s.render(w, r, http.StatusUnprocessableEntity, "checkout", "Checkout", f)
		return
	}
	o := &order{
		Owner: s.sign.mac("order-owner", ss.ID),
		Name:  f.Name, Email: f.Email, Address: f.Address, Notes: f.Notes,
		TotalCents: f.Cart.TotalCents, Currency: currency,
	}
	if ss.Customer != nil {
		o.CustomerID = ss.Customer.ID
	}
	// The chat that led here, if any, is kept on the shop's own order.
	// Chat trouble never stops a sale: on an error the order is "web".
	v := chat.VisitorFrom(r.Context())
	if v != nil {
		a, err := s.chat.Attribution(r.Context(), v.ID)
		if err != nil {
			s.log.Warn("chat attribution", "visitor", v.ID, "err", err)
		} else if a.Chat() {
			o.Channel, o.ConversationID, o.OperatorID, o.TriggerID = a.Channel, a.ConversationID, a.OperatorID, a.TriggerID
		}
	}
	for _, l := range f.Cart.Lines {
		o.Items = append(o.Items, orderItem{Slug: l.Product.Slug, Name: l.Product.Name, Qty: l.Qty, PriceCents: l.Product.PriceCents})
	}
	if err := s.orders.add(o); err != nil {
		s.log.Error("checkout", "err", err)
		s.fail(w, r, http.StatusInternalServerError, "Sorry, we could not place your order. Your cart is unchanged; please try again.")
		return
	}
	s.carts.clear(ss.cartKey())
	if v != nil {
		// For the chat's reports; recording an order twice counts it once,
		// so a retry after an error here is safe.
		co := chat.Order{ID: o.ID, VisitorID: v.ID, Total: o.TotalCents, Currency: o.Currency}
		if _, err := s.chat.RecordOrder(r.Context(), co); err != nil {
			s.log.Error("chat record order", "order", o.ID, "err", err)
		}
	}
	s.log.Info("order placed", "order", o.ID, "total", money(o.TotalCents), "customer", o.CustomerID, "channel", o.ChannelLabel())
	http.Redirect(w, r, "/order/"+o.ID, http.StatusSeeOther)
}

// orderPage shows an order to the session that placed it, the customer it
// belongs to, and operators (the side panel links here); to anyone else
// it does not exist.
func (s *shop) orderPage(w http.ResponseWriter, r *http.Request) {
	o, found := s.orders.get(r.PathValue("id"))
	ss, hasSession := s.readSession(r)
	allowed := found && (s.currentOperator(r) != nil ||
		(hasSession && o.Owner == s.sign.mac("order-owner", ss.ID)) ||
		(hasSession && ss.Customer != nil && o.CustomerID == ss.Customer.ID))
	if !allowed {
		s.fail(w, r, http.StatusNotFound, "We could not find that order. If you placed it while logged in, please log in to see it.")
		return
	}
	s.render(w, r, http.StatusOK, "order", "Order "+o.ID, orderView{order: o, Staff: s.currentOperator(r) != nil})
}

// orderView is the order page: the customer's receipt, with the sales
// channel (which chat, which operator) for the shop's staff only.
type orderView struct {
	order
	Staff bool
}

// loginForm is the data of both login pages.
type loginForm struct {
	Email, Next, Error string
	Demo               any // the demo accounts to show
}

func (s *shop) loginPage(w http.ResponseWriter, r *http.Request) {
	next, err := safeNext(r.URL.Query().Get("next"))
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, "That login link is not valid.")
		return
	}
	if ss, _ := s.readSession(r); ss.Customer != nil {
		http.Redirect(w, r, orDefault(next, "/account"), http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "login", "Log in", loginForm{Next: next, Demo: demoCustomers})
}

// login checks a customer's credentials, starts a fresh session for them
// (moving the anonymous cart into theirs) and binds the chat visitor to
// the customer with Identify, so their chat history follows them.
func (s *shop) login(w http.ResponseWriter, r *http.Request) {
	old, ok := s.checkPost(w, r)
	if !ok {
		return
	}
	next, err := safeNext(r.PostForm.Get("next"))
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, "That login link is not valid.")
		return
	}
	email := strings.TrimSpace(r.PostForm.Get("email"))
	var c *customer
	for i := range demoCustomers {
		if strings.EqualFold(demoCustomers[i].Email, email) {
			c = &demoCustomers[i]
		}
	}
	if c == nil || !checkPassword(c.Password, r.PostForm.Get("password")) {
		s.render(w, r, http.StatusUnauthorized, "login", "Log in", loginForm{Email: email, Next: next, Error: "Wrong email or password.", Demo: demoCustomers})
		return
	}
	ss := session{ID: randomID(), Customer: c} // a new id: no session fixation
	s.carts.merge(old.cartKey(), ss.cartKey())
	s.setSession(w, r, ss)
	// The chat cookie's Path is /chat/, so this request does not carry
	// the anonymous visitor: Identify switches to (or creates) the
	// customer's visitor rather than adopting the anonymous one.
	if _, err := s.chat.Identify(w, r, chat.Customer{ID: c.ID, Name: c.Name, Email: c.Email}); err != nil {
		s.log.Error("chat identify", "customer", c.ID, "err", err)
	}
	http.Redirect(w, r, orDefault(next, "/"), http.StatusSeeOther)
}

func (s *shop) logout(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.checkPost(w, r); !ok {
		return
	}
	s.setSession(w, r, session{ID: randomID()})
	// A shared computer must not keep the customer's chat: Forget revokes
	// the chat token on the server and closes its sockets on every node.
	if err := s.chat.Forget(w, r); err != nil {
		s.log.Error("chat forget", "err", err)
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *shop) account(w http.ResponseWriter, r *http.Request) {
	ss, _ := s.readSession(r)
	if ss.Customer == nil {
		http.Redirect(w, r, "/login?next=/account", http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "account", "Your orders", s.orders.byCustomer(ss.Customer.ID))
}

const consolePath = "/chat/console/"

func (s *shop) operatorLoginPage(w http.ResponseWriter, r *http.Request) {
	next, err := safeNext(r.URL.Query().Get("next"))
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, "That login link is not valid: it must point to a page of this shop.")
		return
	}
	if s.currentOperator(r) != nil {
		http.Redirect(w, r, orDefault(next, consolePath), http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "operator_login", "Operator login", loginForm{Next: next, Demo: demoOperators})
}

// operatorLogin checks an operator's credentials and sets the signed
// operator cookie that operatorAuth (the chat Operators hook) accepts.
func (s *shop) operatorLogin(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.checkPost(w, r); !ok {
		return
	}
	next, err := safeNext(r.PostForm.Get("next"))
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, "That login link is not valid: it must point to a page of this shop.")
		return
	}
	email := strings.TrimSpace(r.PostForm.Get("email"))
	var op *demoOperator
	for i := range demoOperators {
		if strings.EqualFold(demoOperators[i].Email, email) {
			op = &demoOperators[i]
		}
	}
	if op == nil || !checkPassword(op.Password, r.PostForm.Get("password")) {
		s.render(w, r, http.StatusUnauthorized, "operator_login", "Operator login", loginForm{Email: email, Next: next, Error: "Wrong email or password.", Demo: demoOperators})
		return
	}
	c := s.operatorCookie(op.ID)
	c.Secure = s.secure(r)
	http.SetCookie(w, c)
	s.log.Info("operator logged in", "operator", op.ID)
	http.Redirect(w, r, orDefault(next, consolePath), http.StatusSeeOther)
}

func (s *shop) operatorLogout(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.checkPost(w, r); !ok {
		return
	}
	if c, err := r.Cookie(operatorCookie); err == nil {
		if op := s.currentOperator(r); op != nil {
			s.loggedOut.Store(c.Value, true)
			// Close the operator's open consoles on every node now.
			if err := s.chat.DisconnectOperator(r.Context(), op.ID); err != nil {
				s.log.Error("chat disconnect operator", "operator", op.ID, "err", err)
			}
		}
	}
	http.SetCookie(w, &http.Cookie{Name: operatorCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/operator/login", http.StatusSeeOther)
}

// orDefault returns s, or def when s is empty.
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

var errNoBase = errors.New("no base URL known")

// baseURL is the shop's absolute URL for links sent to operators.
func (s *shop) baseURL() (string, error) {
	if s.cfg.BaseURL != "" {
		return s.cfg.BaseURL, nil
	}
	if b, _ := s.learned.Load().(string); b != "" {
		return b, nil
	}
	return "", errNoBase
}

// closerFunc gives a store whose Close returns nothing (store/postgres) the
// io.Closer the shop closes stores with.
type closerFunc func() error

func (f closerFunc) with(st chat.Store) chat.Store { return closingStore{st, f} }

type closingStore struct {
	chat.Store
	close closerFunc
}

func (c closingStore) Close() error { return c.close() }

// Unwrap keeps the wrapped store's optional capabilities (full-text
// search, page-view visitors for reports) visible to the chat.
func (c closingStore) Unwrap() chat.Store { return c.Store }
