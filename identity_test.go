package chat_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	ws "github.com/coder/websocket"
	"github.com/shopchat/chat"
	"github.com/shopchat/chat/client"
	"github.com/shopchat/chat/protocol"
	"github.com/shopchat/chat/store/memory"
)

func TestIdentifyFollowsCustomerAcrossDevices(t *testing.T) {
	ts := newTestServer(t)
	// The shop's login handler: after its own password check, bind the chat.
	login := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := ts.Chat.Identify(w, r, chat.Customer{ID: r.URL.Query().Get("customer"), Name: "Carol"}); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	}))
	defer login.Close()
	ctx := testCtx(t)
	device := func() *http.Client {
		jar, _ := cookiejar.New(nil)
		return &http.Client{Jar: jar}
	}
	// Device 1 chats anonymously, then logs in: the chat is adopted.
	laptop := device()
	v1, err := client.DialVisitor(ctx, ts.URL, client.Options{HTTPClient: laptop})
	if err != nil {
		t.Fatal(err)
	}
	first, err := v1.Send(ctx, "", "asked before logging in")
	if err != nil {
		t.Fatal(err)
	}
	v1.Close()
	// The login page is another origin in this test, so carry the cookie over
	// as the same-site shop page would send it.
	req, _ := http.NewRequest("GET", login.URL+"/?customer=cust-42", nil)
	for _, c := range laptop.Jar.Cookies(mustURL(ts.URL)) {
		req.AddCookie(c)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("login: %v %v", resp, err)
	}
	adopted := resp.Cookies()
	resp.Body.Close()
	if len(adopted) == 0 {
		t.Fatal("Identify set no cookie")
	}
	v, err := ts.Store.VisitorByCustomer(ctx, "cust-42")
	if err != nil || v.Name != "Carol" {
		t.Fatalf("customer's visitor: %+v %v", v, err)
	}
	conv, _ := ts.Store.Conversation(ctx, first.Conv)
	if conv.VisitorID != v.ID {
		t.Fatal("the anonymous chat was not adopted by the customer")
	}

	// Device 2: a fresh browser. Anonymous, it sees nothing of Carol's.
	phone := device()
	anon, err := client.DialVisitor(ctx, ts.URL, client.Options{HTTPClient: phone})
	if err != nil {
		t.Fatal(err)
	}
	if len(anon.Conversations()) != 0 {
		t.Fatalf("an anonymous session sees %d conversations", len(anon.Conversations()))
	}
	anon.Close()
	// After logging in there, the history is there.
	req, _ = http.NewRequest("GET", login.URL+"/?customer=cust-42", nil)
	for _, c := range phone.Jar.Cookies(mustURL(ts.URL)) {
		req.AddCookie(c)
	}
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	phone.Jar.SetCookies(mustURL(ts.URL), resp.Cookies())
	v2, err := client.DialVisitor(ctx, ts.URL, client.Options{HTTPClient: phone})
	if err != nil {
		t.Fatal(err)
	}
	defer v2.Close()
	if c, ok := v2.Conversation(first.Conv); !ok || c.Status != protocol.StatusQueued {
		t.Fatalf("second device does not see the conversation: %+v", c)
	}
	if !hasText(v2, first.Conv, "asked before logging in") {
		t.Fatal("second device does not see the history")
	}
	// Identify needs a customer id.
	rec := httptest.NewRecorder()
	if _, err := ts.Chat.Identify(rec, httptest.NewRequest("GET", "/", nil), chat.Customer{}); err == nil {
		t.Fatal("Identify accepted an empty customer id")
	}
}

// With CookieOnInteraction the widget's passive session call on page load
// creates no visitor and sets no cookie; the call it makes when opened does.
func TestPassiveSessionSetsNoCookie(t *testing.T) {
	ts := newTestServer(t, func(c *chat.Config) { c.CookieOnInteraction = true })
	resp, err := http.Post(ts.URL+"/chat/session?passive=1", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Visitor *struct{ ID string } `json:"visitor"`
		Widget  map[string]any       `json:"widget"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if len(resp.Cookies()) != 0 || body.Visitor != nil || body.Widget["cookie_on_interaction"] != true {
		t.Fatalf("passive session: cookies %v, body %+v", resp.Cookies(), body)
	}
	resp, err = http.Post(ts.URL+"/chat/session", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if len(resp.Cookies()) == 0 || body.Visitor == nil || body.Visitor.ID == "" {
		t.Fatalf("session on interaction: cookies %v, body %+v", resp.Cookies(), body)
	}
}

// identityShop serves the chat and a shop whose /login binds the visitor to
// customer "cust-1" and whose /logout calls Forget, as a shop's handlers do.
func identityShop(t *testing.T, ts *testServer) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/chat/", ts.Chat.Handler())
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if _, err := ts.Chat.Identify(w, r, chat.Customer{ID: "cust-1", Name: "Carol"}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := ts.Chat.Forget(w, r); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	return hs
}

// rawSession POSTs to the session endpoint with cookie (if any) and returns
// the response's visitor cookie value.
func rawPost(t testing.TB, url, cookie string, header http.Header) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	if cookie != "" {
		req.Header.Set("Cookie", "shopchat_visitor="+cookie)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func visitorCookie(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == "shopchat_visitor" {
			return c
		}
	}
	return nil
}

func newToken(t testing.TB, ts *testServer) string {
	t.Helper()
	c := visitorCookie(rawPost(t, ts.URL+"/chat/session", "", nil))
	if c == nil {
		t.Fatal("the session endpoint set no visitor cookie")
	}
	return c.Value
}

// dialStatus dials path with a token and returns the HTTP status of a
// refused dial, or 101 with the connection.
func (ts *testServer) dialToken(t *testing.T, base, path, token string) (*rawConn, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u := "ws" + strings.TrimPrefix(base, "http") + path
	c, resp, err := ws.Dial(ctx, u, &ws.DialOptions{HTTPHeader: http.Header{"Cookie": {"shopchat_visitor=" + token}}})
	if err != nil {
		if resp == nil {
			t.Fatalf("dial: %v", err)
		}
		return nil, resp.StatusCode
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { c.CloseNow() })
	return &rawConn{t: t, ws: c}, http.StatusSwitchingProtocols
}

// 2a. A token obtained before login opens nothing after it; the anonymous
// chat is adopted by the customer under the new token.
func TestIdentifyIssuesNewToken(t *testing.T) {
	ts := newTestServer(t)
	shop := identityShop(t, ts)
	before := newToken(t, ts)
	old, _ := ts.dialToken(t, shop.URL, "/chat/ws", before)
	old.hello()
	old.send(protocol.ClientFrame{Type: protocol.TypeMessage, ID: "m1", Text: "my order 1234 is late"})
	ack := old.until(protocol.TypeAck)

	login := rawPost(t, shop.URL+"/login", before, nil)
	after := visitorCookie(login)
	if login.StatusCode != http.StatusOK || after == nil || after.Value == before {
		t.Fatalf("login: %s, cookie %v: want a new visitor token", login.Status, after)
	}
	if got := old.closeStatus(); got != ws.StatusPolicyViolation {
		t.Fatalf("the pre-login socket ended with %d, want 1008", got)
	}
	if _, status := ts.dialToken(t, shop.URL, "/chat/ws", before); status != http.StatusUnauthorized {
		t.Fatalf("pre-login token after login: HTTP %d, want 401", status)
	}
	c, status := ts.dialToken(t, shop.URL, "/chat/ws", after.Value)
	if status != http.StatusSwitchingProtocols {
		t.Fatalf("post-login token: HTTP %d", status)
	}
	w := c.hello()
	if len(w.Conversations) != 1 || w.Conversations[0].ID != ack.Conv {
		t.Fatalf("the customer's conversations after login: %+v, want the anonymous chat %s", w.Conversations, ack.Conv)
	}
}

// 2b. Logout on one node ends the visitor's tokens and closes their
// sockets on every node.
func TestForgetClosesSocketsOnEveryNode(t *testing.T) {
	bus, store := &testBus{}, memory.New()
	a := newTestServer(t, func(c *chat.Config) { c.Store, c.Broker = store, bus })
	b := newTestServer(t, func(c *chat.Config) { c.Store, c.Broker = store, bus })
	shopA := identityShop(t, a)
	token := visitorCookie(rawPost(t, shopA.URL+"/login", "", nil)).Value
	onB, _ := b.dialToken(t, b.URL, "/chat/ws", token)
	onB.hello()

	if resp := rawPost(t, shopA.URL+"/logout", token, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("logout: %s", resp.Status)
	}
	if got := onB.closeStatus(); got != ws.StatusPolicyViolation {
		t.Fatalf("the socket on the other node ended with %d, want 1008", got)
	}
	for _, node := range []*testServer{a, b} {
		if _, status := node.dialToken(t, node.URL, "/chat/ws", token); status != http.StatusUnauthorized {
			t.Fatalf("token after logout: HTTP %d, want 401", status)
		}
	}
}

// 2c. DisconnectOperator closes the operator's consoles on every node, and
// an open console whose login the shop's auth no longer accepts is closed
// by the periodic re-check.
func TestOperatorAccessEnds(t *testing.T) {
	var revoked atomic.Bool
	auth := func(r *http.Request) (*chat.Operator, error) {
		if r.Header.Get("X-Operator") == "bob" && revoked.Load() {
			return nil, chat.ErrUnauthorized
		}
		return testOperators(r)
	}
	bus, store := &testBus{}, memory.New()
	a := newTestServer(t, func(c *chat.Config) { c.Store, c.Broker = store, bus })
	b := newTestServer(t, func(c *chat.Config) {
		c.Store, c.Broker, c.Operators, c.OperatorRecheck = store, bus, auth, 50*time.Millisecond
	})
	alice := operatorRaw(t, b, "alice")
	if err := a.Chat.DisconnectOperator(testCtx(t), "alice"); err != nil {
		t.Fatal(err)
	}
	if got := alice.closeStatus(); got != ws.StatusPolicyViolation {
		t.Fatalf("alice's console on the other node ended with %d, want 1008", got)
	}
	bob := operatorRaw(t, b, "bob")
	revoked.Store(true)
	if got := bob.closeStatus(); got != ws.StatusPolicyViolation {
		t.Fatalf("bob's console after his login ended: %d, want 1008", got)
	}
}

// 7. Behind a trusted TLS proxy the cookie is Secure; a cross-site page
// cannot replace the visitor's cookie.
func TestCookieSecureBehindProxyAndCrossSiteRefused(t *testing.T) {
	ts := newTestServer(t, func(c *chat.Config) { c.TrustedProxies = []string{"127.0.0.1"} })
	c := visitorCookie(rawPost(t, ts.URL+"/chat/session", "", http.Header{"X-Forwarded-Proto": {"https"}}))
	if c == nil || !c.Secure {
		t.Fatalf("cookie behind a trusted TLS proxy: %+v, want Secure", c)
	}
	plain := newTestServer(t)
	if c := visitorCookie(rawPost(t, plain.URL+"/chat/session", "", http.Header{"X-Forwarded-Proto": {"https"}})); c == nil || c.Secure {
		t.Fatalf("X-Forwarded-Proto from an untrusted peer: %+v, want no Secure", c)
	}

	for name, h := range map[string]http.Header{
		"fetch metadata": {"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example"}},
		"origin only":    {"Origin": {"https://evil.example"}},
		"null origin":    {"Origin": {"null"}},
	} {
		resp := rawPost(t, plain.URL+"/chat/session", "", h)
		if resp.StatusCode != http.StatusForbidden || visitorCookie(resp) != nil {
			t.Fatalf("%s: cross-site POST got %s and cookie %v, want 403 and none", name, resp.Status, visitorCookie(resp))
		}
	}
	same := rawPost(t, plain.URL+"/chat/session", "", http.Header{"Sec-Fetch-Site": {"same-origin"}, "Origin": {plain.URL}})
	if same.StatusCode != http.StatusOK || visitorCookie(same) == nil {
		t.Fatalf("same-origin POST: %s", same.Status)
	}
}

// Cookies, forwarding headers and Origin are attacker bytes: the session
// endpoint never panics, answers 200, 403 or 429, and keeps a visitor id
// only for a token the server signed.
func FuzzSessionRequest(f *testing.F) {
	ts := newTestServer(f, func(c *chat.Config) { c.TrustedProxies = []string{"127.0.0.1/32", "::1/128"} })
	good := newToken(f, ts)
	goodID, _, _ := strings.Cut(good, ".")
	goodID = strings.Repeat("A", len(goodID)) // a forged id of the right shape
	f.Add(good, "203.0.113.7, 10.0.0.1", `for="[2001:db8::1]:4711";proto=https`, "")
	f.Add(good[:len(good)-2]+"xx", "", "", "https://evil.example")
	f.Add(goodID+".9.1700000000.forged", "garbage, , ::ffff:1.2.3.4", "for=unknown", "null")
	f.Add("", strings.Repeat("1.1.1.1,", 200), "for=", "http://[::1")
	h := ts.Chat.Handler()
	f.Fuzz(func(t *testing.T, cookie, xff, forwarded, origin string) {
		r := httptest.NewRequest(http.MethodPost, "/chat/session", nil)
		r.RemoteAddr = "127.0.0.1:40000"
		r.Header.Set("Cookie", "shopchat_visitor="+cookie)
		r.Header.Set("X-Forwarded-For", xff)
		r.Header.Set("Forwarded", forwarded)
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch w.Code {
		case http.StatusOK, http.StatusForbidden, http.StatusTooManyRequests:
		default:
			t.Fatalf("status %d for cookie %q", w.Code, cookie)
		}
		if w.Code != http.StatusOK {
			return
		}
		set := visitorCookie(w.Result())
		if set == nil {
			t.Fatal("200 without a visitor cookie")
		}
		id, _, _ := strings.Cut(set.Value, ".")
		if cid, _, _ := strings.Cut(cookie, "."); id == cid {
			// Kept: the socket endpoint must take the same token.
			sr := httptest.NewRequest(http.MethodGet, "/chat/ws", nil)
			sr.Header.Set("Cookie", "shopchat_visitor="+cookie)
			sw := httptest.NewRecorder()
			h.ServeHTTP(sw, sr)
			if sw.Code == http.StatusUnauthorized {
				t.Fatalf("token %q that the socket refuses kept its visitor id", cookie)
			}
		}
	})
}
