package chat_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/middleware"
	"github.com/shopchat/chat/protocol"
	"github.com/shopchat/chat/store/memory"
)

// newShop serves the shop's pages through middleware.Track, and the chat
// under /chat/; a page answers with its visitor's id.
func newShop(t testing.TB, ts *testServer) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/chat/", ts.Chat.Handler())
	mux.Handle("/", middleware.Track(ts.Chat)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := chat.VisitorFrom(r.Context()); v != nil {
			io.WriteString(w, v.ID)
		}
	})))
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	return hs
}

// newBrowser is an HTTP client with a cookie jar, as a browser.
func newBrowser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar}
}

// browse GETs a shop page and returns its body: the visitor's id.
func browse(t testing.TB, hc *http.Client, shop *httptest.Server, path, referrer string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, shop.URL+path, nil)
	if referrer != "" {
		req.Header.Set("Referer", referrer)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
	return string(body)
}

// call sends f (which needs an ID) and reads until the frame answering it
// (a reply, ack or error), returning that and the frames of type typ read
// on the way.
func (c *rawConn) call(f protocol.ClientFrame, typ string) (protocol.ServerFrame, []protocol.ServerFrame) {
	c.t.Helper()
	c.send(f)
	var seen []protocol.ServerFrame
	for {
		got := c.next()
		if got.ID == f.ID && (got.Type == f.Type || got.Type == protocol.TypeAck || got.Type == protocol.TypeError) {
			return got, seen
		}
		if got.Type == typ {
			seen = append(seen, got)
		}
	}
}

func operatorRaw(t testing.TB, ts *testServer, id string) *rawConn {
	t.Helper()
	op := ts.dialRaw(t, nil, "/chat/operator/ws", http.Header{"X-Operator": {id}})
	op.hello()
	return op
}

func visitorRaw(t testing.TB, ts *testServer, hc *http.Client) *rawConn {
	t.Helper()
	v := ts.dialRaw(t, hc, "/chat/ws", nil)
	v.hello()
	return v
}

func findLive(list []protocol.LiveVisitor, id string) *protocol.LiveVisitor {
	for i := range list {
		if list[i].ID == id {
			return &list[i]
		}
	}
	return nil
}

func TestTrackPageViewsInPanelAndLiveList(t *testing.T) {
	ts := newTestServer(t)
	shop := newShop(t, ts)
	hc := newBrowser()
	vid := browse(t, hc, shop, "/product/7?utm_campaign=spring&utm_source=news", "https://www.google.com/search?q=mug")
	if vid == "" {
		t.Fatal("no visitor in the page's context")
	}
	if again := browse(t, hc, shop, "/product/9", shop.URL+"/product/7"); again != vid {
		t.Fatalf("second page: visitor %q, want %q", again, vid)
	}
	// Assets, the chat itself and bots are not page views.
	if got := browse(t, hc, shop, "/static/site.css", ""); got != "" {
		t.Fatalf("asset request got visitor %q", got)
	}

	op := operatorRaw(t, ts, "alice")
	chat.FlushPageViews(ts.Chat)
	reply, _ := op.call(protocol.ClientFrame{Type: protocol.TypeVisitor, ID: "d1", Visitor: vid}, "")
	d := reply.Details
	if reply.Type != protocol.TypeVisitor || d == nil {
		t.Fatalf("details reply: %+v", reply)
	}
	var urls []string
	for _, p := range d.Pages {
		urls = append(urls, p.URL)
	}
	if strings.Join(urls, " ") != "/product/9 /product/7?utm_campaign=spring&utm_source=news" {
		t.Fatalf("panel pages (newest first) = %q", urls)
	}
	if d.Page == nil || d.Page.URL != "/product/9" {
		t.Fatalf("panel current page = %+v", d.Page)
	}
	views, err := ts.Store.PageViews(testCtx(t), vid, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(views) != 2 || views[1].UTM.Campaign != "spring" || views[1].UTM.Source != "news" || views[1].Referrer != "https://www.google.com/search?q=mug" {
		t.Fatalf("stored views: %+v", views)
	}

	reply, _ = op.call(protocol.ClientFrame{Type: protocol.TypeVisitors, ID: "l1"}, "")
	lv := findLive(reply.Live, vid)
	if lv == nil || lv.URL != "/product/9" || lv.Pages != 2 || lv.Returning || lv.Chatting {
		t.Fatalf("live list: %+v", reply.Live)
	}
	// A change reaches operators as a visitors frame on the team topic.
	browse(t, hc, shop, "/cart", "")
	chat.RunTriggers(ts.Chat)
	for {
		f := op.until(protocol.TypeVisitors)
		if lv := findLive(f.Live, vid); f.ID == "" && lv != nil && lv.URL == "/cart" && lv.Pages == 3 {
			break
		}
	}
	if list := ts.Chat.LiveVisitors(); len(list) != 1 || list[0].VisitorID != vid || list[0].CurrentURL != "/cart" {
		t.Fatalf("LiveVisitors() = %+v", list)
	}
	// Erasure ends the live visit too.
	if err := ts.Chat.DeleteVisitor(testCtx(t), vid); err != nil {
		t.Fatal(err)
	}
	if list := ts.Chat.LiveVisitors(); len(list) != 0 {
		t.Fatalf("LiveVisitors() after erasure = %+v", list)
	}
}

func TestTrackPageFrameBadInputAndTextOnly(t *testing.T) {
	ts := newTestServer(t)
	shop := newShop(t, ts)
	hc := newBrowser()
	vid := browse(t, hc, shop, "/"+strings.Repeat("a", 3000), "")
	v := visitorRaw(t, ts, hc)

	for _, tc := range []struct{ name, url, title string }{
		{"long url", "/" + strings.Repeat("u", 2048), ""},
		{"long title", "/x", strings.Repeat("t", 301)},
		{"no path", "https://evil.example/", ""},
		{"control chars", "/x", "a\x00b"},
	} {
		reply, _ := v.call(protocol.ClientFrame{Type: protocol.TypePage, ID: tc.name, URL: tc.url, Title: tc.title}, "")
		if reply.Type != protocol.TypeError || reply.Code != protocol.CodeInvalid {
			t.Errorf("%s: got %+v, want an invalid error", tc.name, reply)
		}
	}
	script := `<script>alert("x")</script> Mugs`
	if reply, _ := v.call(protocol.ClientFrame{Type: protocol.TypePage, ID: "ok", URL: "/mugs", Title: script}, ""); reply.Type != protocol.TypeAck {
		t.Fatalf("page frame: %+v", reply)
	}
	chat.FlushPageViews(ts.Chat)
	views, err := ts.Store.PageViews(testCtx(t), vid, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(views) != 2 || views[0].Title != script || views[0].URL != "/mugs" {
		t.Fatalf("views: %+v", views)
	}
	if len(views[1].URL) != 2048 { // Track caps what it cannot refuse
		t.Fatalf("long URL stored with %d bytes, want 2048", len(views[1].URL))
	}
	// Operators cannot send page frames.
	op := operatorRaw(t, ts, "alice")
	if reply, _ := op.call(protocol.ClientFrame{Type: protocol.TypePage, ID: "p", URL: "/"}, ""); reply.Code != protocol.CodeForbidden {
		t.Fatalf("operator page frame: %+v", reply)
	}
	// The script reaches the console as a string, to be rendered as text.
	reply, _ := op.call(protocol.ClientFrame{Type: protocol.TypeVisitors, ID: "l"}, "")
	if lv := findLive(reply.Live, vid); lv == nil || lv.Title != script {
		t.Fatalf("live list: %+v", reply.Live)
	}
}

func TestTrackCookieOnInteraction(t *testing.T) {
	ts := newTestServer(t, func(c *chat.Config) { c.CookieOnInteraction = true })
	shop := newShop(t, ts)
	hc := newBrowser()
	if vid := browse(t, hc, shop, "/product/1?x=1", ""); vid != "" {
		t.Fatalf("visitor %q before any interaction", vid)
	}
	if cookies := hc.Jar.Cookies(mustURL(shop.URL)); len(cookies) != 0 {
		t.Fatalf("cookies set before interaction: %v", cookies)
	}
	chat.FlushPageViews(ts.Chat)
	acts, err := ts.Store.Activities(testCtx(t), chat.ActivityQuery{Kinds: []chat.ActivityKind{chat.AnonymousPageView}})
	if err != nil {
		t.Fatal(err)
	}
	if len(acts) != 1 || acts[0].Text != "/product/1" || acts[0].VisitorID != "" {
		t.Fatalf("anonymous views: %+v", acts)
	}
	// Once the widget has a session, pages know the visitor.
	resp, err := hc.Post(shop.URL+"/chat/session", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if vid := browse(t, hc, shop, "/product/2", ""); vid == "" {
		t.Fatal("no visitor after the widget's session")
	}
}

func TestLiveVisitorsAcrossNodes(t *testing.T) {
	bus := &testBus{}
	store := memory.New()
	// A trigger on the visit's referrer and campaign, which node A sees and
	// node B, holding the widget, evaluates.
	fromAd := chat.Trigger{ID: "spring-ad", Referrer: "*.google.*", UTMCampaign: "spring", Message: "Spring sale questions?"}
	nodes := make([]*testServer, 2)
	for i := range nodes {
		nodes[i] = newTestServer(t, func(c *chat.Config) {
			c.Store, c.Broker = store, bus
			c.Triggers = []chat.Trigger{fromAd}
		})
	}
	shop := newShop(t, nodes[0])
	hc := newBrowser()
	vid := browse(t, hc, shop, "/product/3?utm_campaign=spring", "https://www.google.com/search?q=mug")
	deadline := time.Now().Add(20 * time.Second)
	for {
		chat.RunTriggers(nodes[0].Chat) // announces the change
		list := nodes[1].Chat.LiveVisitors()
		if len(list) == 1 && list[0].VisitorID == vid && list[0].CurrentURL == "/product/3?utm_campaign=spring" && list[0].Pages == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node B's live list: %+v", list)
		}
		chat.RunTriggers(nodes[1].Chat) // a round trip through B's loop while the event travels
	}
	// The widget's connection asks node B's loop to evaluate the visit at
	// once: the invitation may come before the session is synced.
	v := nodes[1].dialRaw(t, hc, "/chat/ws", nil)
	v.send(protocol.ClientFrame{V: protocol.Version, Type: protocol.TypeHello})
	var invites []protocol.ServerFrame
	for f := v.next(); f.Type != protocol.TypeSynced; f = v.next() {
		if f.Type == protocol.TypeInvite {
			invites = append(invites, f)
		}
	}
	chat.RunTriggers(nodes[1].Chat)
	// The ack of a later frame comes after anything queued before it.
	_, later := v.call(protocol.ClientFrame{Type: protocol.TypeTyping, ID: "t", Typing: false}, protocol.TypeInvite)
	invites = append(invites, later...)
	if len(invites) != 1 || invites[0].Invite == nil || invites[0].Invite.Trigger != fromAd.ID {
		t.Fatalf("invites on node B: %+v", invites)
	}
}

func TestTrackPageViewGetsWidgetTitle(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
	ts := newTestServer(t, func(c *chat.Config) { c.Now = clock.Now })
	shop := newShop(t, ts)
	hc := newBrowser()
	vid := browse(t, hc, shop, "/product/7", "")
	stored := func() []chat.PageView {
		t.Helper()
		chat.WritePageViews(ts.Chat)
		views, err := ts.Store.PageViews(testCtx(t), vid, 0)
		if err != nil {
			t.Fatal(err)
		}
		return views
	}
	if views := stored(); len(views) != 0 {
		t.Fatalf("written before the widget's title: %+v", views)
	}
	// The widget's page frame gives Track's view its title; it is written
	// at the next batch, before the grace period ends.
	v := visitorRaw(t, ts, hc)
	if reply, _ := v.call(protocol.ClientFrame{Type: protocol.TypePage, ID: "p1", URL: "/product/7", Title: "Blue mug"}, ""); reply.Type != protocol.TypeAck {
		t.Fatalf("page frame: %+v", reply)
	}
	if views := stored(); len(views) != 1 || views[0].URL != "/product/7" || views[0].Title != "Blue mug" {
		t.Fatalf("views after the page frame: %+v", views)
	}
	// A page whose title never comes is written untitled after 3 s.
	browse(t, hc, shop, "/cart", "")
	clock.Advance(2 * time.Second)
	if views := stored(); len(views) != 1 {
		t.Fatalf("written within the grace period: %+v", views)
	}
	clock.Advance(time.Second)
	views := stored()
	if len(views) != 2 || views[0].URL != "/cart" || views[0].Title != "" || views[1].Title != "Blue mug" {
		t.Fatalf("views after the grace period: %+v", views)
	}
	// A title after that is for the live list only: no second view.
	if reply, _ := v.call(protocol.ClientFrame{Type: protocol.TypePage, ID: "p2", URL: "/cart", Title: "Cart"}, ""); reply.Type != protocol.TypeAck {
		t.Fatalf("late page frame: %+v", reply)
	}
	if views := stored(); len(views) != 2 || views[0].Title != "" {
		t.Fatalf("views after a late title: %+v", views)
	}
	if live := ts.Chat.LiveVisitors(); len(live) != 1 || live[0].Title != "Cart" {
		t.Fatalf("live list: %+v", live)
	}
}

func TestTrackCloseWritesHeldPageViews(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
	ts := newTestServer(t, func(c *chat.Config) { c.Now = clock.Now })
	hc := newBrowser()
	vid := browse(t, hc, newShop(t, ts), "/product/1", "")
	visitorRaw(t, ts, hc) // the widget connects: the visitor and its view are kept
	if err := ts.Chat.Close(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	views, err := ts.Store.PageViews(testCtx(t), vid, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(views) != 1 || views[0].URL != "/product/1" {
		t.Fatalf("views after Close: %+v", views)
	}
}

func TestInviteErrors(t *testing.T) {
	ts := newTestServer(t)
	ctx := testCtx(t)
	vid := browse(t, newBrowser(), newShop(t, ts), "/", "")
	for _, tc := range []struct {
		name                string
		visitor, text, opID string
		want                error
	}{
		{"unknown visitor", "nobody", "Hi", "", chat.ErrNotFound},
		{"unknown operator", vid, "Hi", "zed", chat.ErrNotFound},
		{"empty text", vid, " ", "", chat.ErrInvalid},
		{"long text", vid, strings.Repeat("x", 4001), "", chat.ErrInvalid},
		{"no visitor", "", "Hi", "", chat.ErrInvalid},
	} {
		if err := ts.Chat.Invite(ctx, tc.visitor, tc.text, tc.opID); !errors.Is(err, tc.want) {
			t.Errorf("%s: Invite = %v, want %v", tc.name, err, tc.want)
		}
	}
	// The cap on proactive messages per visit (default 2).
	for i := 0; i < 2; i++ {
		if err := ts.Chat.Invite(ctx, vid, "Hi", ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := ts.Chat.Invite(ctx, vid, "Hi", ""); !errors.Is(err, chat.ErrConflict) {
		t.Fatalf("third invitation: %v, want ErrConflict", err)
	}
	op := operatorRaw(t, ts, "alice")
	if reply, _ := op.call(protocol.ClientFrame{Type: protocol.TypeInvite, ID: "i", Visitor: "nobody", Text: "Hi"}, ""); reply.Code != protocol.CodeNotFound {
		t.Fatalf("invite of an unknown visitor: %+v", reply)
	}
}

// testBus is an in-process Broker that the nodes of a test share.
type testBus struct {
	mu   sync.Mutex
	subs map[*busSub]struct{}
}

type busSub struct {
	topic   string
	deliver func([]byte)
}

func (b *testBus) Publish(ctx context.Context, topic string, payload []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		if s.topic == topic {
			s.deliver(bytes.Clone(payload))
		}
	}
	return nil
}

func (b *testBus) Subscribe(ctx context.Context, topic string, deliver func([]byte)) (func(), error) {
	s := &busSub{topic: topic, deliver: deliver}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.subs == nil {
		b.subs = make(map[*busSub]struct{})
	}
	b.subs[s] = struct{}{}
	return func() {
		b.mu.Lock()
		delete(b.subs, s)
		b.mu.Unlock()
	}, nil
}

func TestTrackHeldPageViewsBounded(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
	ts := newTestServer(t, func(c *chat.Config) { c.Now = clock.Now })
	h := middleware.Track(ts.Chat)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	get := func(path, cookie string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.Header.Set("User-Agent", "Mozilla/5.0")
		r.Header.Set("Cookie", cookie)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	c := get("/p/0", "").Result().Cookies()[0]
	cookie := c.Name + "=" + c.Value
	// A bare page view stores no visitor; the widget's connection does.
	ts.dialRaw(t, http.DefaultClient, "/chat/ws", http.Header{"Cookie": {cookie}})
	const held = 4096 // the writer's bound: Track's views waiting for a title
	for i := 1; i <= held; i++ {
		get("/p/"+strconv.Itoa(i), cookie)
		if i%1000 == 0 {
			chat.WritePageViews(ts.Chat) // keeps the queue from overflowing
		}
	}
	chat.WritePageViews(ts.Chat)
	vid := strings.SplitN(c.Value, ".", 2)[0]
	views, err := ts.Store.PageViews(testCtx(t), vid, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(views) != 1 || views[0].URL != "/p/0" {
		t.Fatalf("views written past the bound: %d, first %+v", len(views), views)
	}
	chat.FlushPageViews(ts.Chat)
	if views, err = ts.Store.PageViews(testCtx(t), vid, held+1); err != nil || len(views) != held+1 {
		t.Fatalf("views after a flush: %d, %v", len(views), err)
	}
}

// Every request without a cookie starts a visit, so the live list is
// capped: beyond it, a visit is tracked (a visitor in the context) but not
// listed until visits expire, and its bare page views are not kept (no
// widget ever stored the visitor).
func TestLiveVisitsCapped(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
	ts := newTestServer(t, func(c *chat.Config) { c.Now = clock.Now })
	chat.SetMaxLive(ts.Chat, 2)
	shop := newShop(t, ts)
	browse(t, newBrowser(), shop, "/a", "")
	browse(t, newBrowser(), shop, "/b", "")
	late := newBrowser()
	vid := browse(t, late, shop, "/c", "")
	if vid == "" {
		t.Fatal("no visitor in the context beyond the cap")
	}
	if list := ts.Chat.LiveVisitors(); len(list) != 2 {
		t.Fatalf("live list of %d visits beyond a cap of 2: %+v", len(list), list)
	}
	chat.FlushPageViews(ts.Chat)
	if views, err := ts.Store.PageViews(testCtx(t), vid, 0); err != nil || len(views) != 0 {
		t.Fatalf("unlisted bare visitor's page views: %+v, %v", views, err)
	}
	// Once the others' visits end, the visitor is listed again.
	clock.Advance(31 * time.Minute)
	chat.RunTriggers(ts.Chat)
	browse(t, late, shop, "/d", "")
	if list := ts.Chat.LiveVisitors(); len(list) != 1 || list[0].VisitorID != vid || list[0].CurrentURL != "/d" {
		t.Fatalf("live list after the others' visits ended: %+v", list)
	}
}

// TestLiveVisitorsOnSiteNow: a visitor is on the site while their page
// views are recent; two minutes later they have recently left, with their
// device and referrer still shown, and cannot be invited.
func TestLiveVisitorsOnSiteNow(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
	ts := newTestServer(t, func(c *chat.Config) { c.Now = clock.Now })
	shop := newShop(t, ts)
	hc := newBrowser()
	vid := browse(t, hc, shop, "/product/1", "https://search.example/?q=kettle")
	find := func() chat.LiveVisitor {
		t.Helper()
		chat.RunTriggers(ts.Chat)
		for _, lv := range ts.Chat.LiveVisitors() {
			if lv.VisitorID == vid {
				return lv
			}
		}
		t.Fatalf("visitor %s not listed", vid)
		return chat.LiveVisitor{}
	}
	lv := find()
	if !lv.OnSite || lv.Referrer != "search.example" {
		t.Fatalf("just arrived: %+v", lv)
	}
	clock.Advance(90 * time.Second)
	if lv := find(); !lv.OnSite {
		t.Fatalf("90 s after a page view: %+v", lv)
	}
	clock.Advance(time.Minute)
	lv = find()
	if lv.OnSite {
		t.Fatalf("2.5 minutes after the last page view still on the site: %+v", lv)
	}
	if err := ts.Chat.Invite(testCtx(t), vid, "Can we help?", ""); !errors.Is(err, chat.ErrConflict) {
		t.Fatalf("inviting a visitor who left: %v, want ErrConflict", err)
	}
	browse(t, hc, shop, "/product/2", "")
	if lv := find(); !lv.OnSite {
		t.Fatalf("back on the site: %+v", lv)
	}
}

func TestDeviceFromUserAgent(t *testing.T) {
	for ua, want := range map[string]string{
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36":                                   "Chrome on Linux",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1": "Safari on iPhone",
		"Mozilla/5.0 (Android 14; Mobile; rv:128.0) Gecko/128.0 Firefox/128.0":                                                                    "Firefox on Android",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36 Edg/140.0.0.0":           "Edge on Windows",
		"curl/8.5.0": "",
	} {
		if got := chat.DeviceOf(ua); got != want {
			t.Errorf("%q: %q, want %q", ua, got, want)
		}
	}
}
