package chat_test

import (
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"testing"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/client"
	"github.com/shopchat/chat/protocol"
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
