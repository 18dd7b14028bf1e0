package chat_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	ws "github.com/coder/websocket"

	"github.com/shopchat/chat/protocol"
)

func TestBadFramesGetErrorsAndConnectionStaysUsable(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dialRaw(t, ts.visitorClient(t), "/chat/ws", nil)
	c.hello()

	cases := []struct {
		name, frame, code, ref string
	}{
		{"malformed JSON", `{"type":"message",`, protocol.CodeBadFrame, ""},
		{"not an object", `[1,2,3]`, protocol.CodeBadFrame, ""},
		{"unknown type", `{"type":"subscribe","id":"x"}`, protocol.CodeUnknownType, "subscribe"},
		{"object in a string field", `{"type":"message","id":"m1","text":{"html":"<b>hi</b>"}}`, protocol.CodeBadFrame, "message"},
		{"number in a string field", `{"type":"message","id":7,"text":"hi"}`, protocol.CodeBadFrame, "message"},
		{"missing client id", `{"type":"message","text":"hi"}`, protocol.CodeInvalid, "message"},
		{"empty text", `{"type":"message","id":"m2","text":"  "}`, protocol.CodeInvalid, "message"},
		{"operator frame from visitor", `{"type":"accept","id":"a1","conv":"c"}`, protocol.CodeForbidden, "accept"},
		{"second hello", `{"v":1,"type":"hello"}`, protocol.CodeConflict, "hello"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c.sendRaw(tc.frame)
			f := c.until(protocol.TypeError)
			if f.Code != tc.code || f.Ref != tc.ref {
				t.Fatalf("got code %q ref %q (%s), want code %q ref %q", f.Code, f.Ref, f.Error, tc.code, tc.ref)
			}
		})
	}
	// Still usable: a good message is stored and acked.
	c.send(protocol.ClientFrame{Type: protocol.TypeMessage, ID: "ok-1", Text: "still here"})
	ack := c.until(protocol.TypeAck)
	if ack.ID != "ok-1" || ack.Seq != 1 || ack.Message == nil || ack.Message.Text != "still here" {
		t.Fatalf("ack after bad frames: %+v", ack)
	}
}

func TestHelloFirstAndVersion(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dialRaw(t, ts.visitorClient(t), "/chat/ws", nil)
	c.send(protocol.ClientFrame{Type: protocol.TypeMessage, ID: "m", Text: "hi"})
	if f := c.until(protocol.TypeError); f.Code != protocol.CodeInvalid {
		t.Fatalf("message before hello: %+v", f)
	}
	c.send(protocol.ClientFrame{V: 99, Type: protocol.TypeHello})
	if f := c.until(protocol.TypeError); f.Code != protocol.CodeVersion {
		t.Fatalf("hello v99: %+v", f)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _, err := c.ws.Read(ctx)
	if ws.CloseStatus(err) != ws.StatusPolicyViolation {
		t.Fatalf("after unsupported version: %v, want close 1008", err)
	}
}

func TestOversizedFrameClosesWith1009(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dialRaw(t, ts.visitorClient(t), "/chat/ws", nil)
	c.hello()
	big := `{"type":"message","id":"big","text":"` + strings.Repeat("a", 32769) + `"}`
	big = big[:32769]
	c.sendRaw(big)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		_, _, err := c.ws.Read(ctx)
		if err == nil {
			continue
		}
		if got := ws.CloseStatus(err); got != ws.StatusMessageTooBig {
			t.Fatalf("close status %v (%v), want 1009", got, err)
		}
		break
	}
	// Nothing was stored.
	convs, err := ts.Store.Queue(ctx)
	if err != nil || len(convs) != 0 {
		t.Fatalf("oversized frame created conversations: %v %v", convs, err)
	}
}

func TestAnotherVisitorsConversationIsNotFound(t *testing.T) {
	ts := newTestServer(t)
	alice := ts.dialRaw(t, ts.visitorClient(t), "/chat/ws", nil)
	alice.hello()
	alice.send(protocol.ClientFrame{Type: protocol.TypeMessage, ID: "a1", Text: "my secret order number is 12345"})
	conv := alice.until(protocol.TypeAck).Conv

	mallory := ts.dialRaw(t, ts.visitorClient(t), "/chat/ws", nil)
	mallory.hello()
	probes := []protocol.ClientFrame{
		{Type: protocol.TypeHistory, ID: "h", Conv: conv},
		{Type: protocol.TypeMessage, ID: "m", Conv: conv, Text: "hijack"},
		{Type: protocol.TypeTyping, ID: "t", Conv: conv, Typing: true},
		{Type: protocol.TypeRead, ID: "r", Conv: conv, Seq: 1},
		{Type: protocol.TypeClose, ID: "c", Conv: conv},
		{Type: protocol.TypeHello, V: 1, Resume: []protocol.ResumePoint{{Conv: conv}}},
	}
	unknown := map[string]string{}
	for _, p := range probes[:5] {
		mallory.send(p)
		f := mallory.until(protocol.TypeError)
		if f.Code != protocol.CodeNotFound {
			t.Errorf("%s on another's conversation: code %q, want not_found", p.Type, f.Code)
		}
		// The answer for a conversation that does not exist is the same.
		q := p
		q.Conv = "no-such-conversation"
		mallory.send(q)
		g := mallory.until(protocol.TypeError)
		if g.Code != f.Code || g.Error != f.Error {
			t.Errorf("%s: answers differ for another's (%q) and a missing conversation (%q): existence leaks", p.Type, f.Error, g.Error)
		}
		unknown[p.Type] = g.Error
	}
	// A fresh connection trying to resume alice's conversation gets nothing of it.
	m2 := ts.dialRaw(t, ts.visitorClient(t), "/chat/ws", nil)
	m2.send(probes[5])
	w := m2.until(protocol.TypeWelcome)
	if w.Recovered || len(w.Conversations) != 0 {
		t.Fatalf("resume of another's conversation: %+v", w)
	}
	if f := m2.until(protocol.TypeSynced); f.Recovered {
		t.Fatalf("synced claims recovery of another's conversation")
	}
	// Alice's conversation is untouched: one message, still open.
	c, err := ts.Store.Conversation(context.Background(), conv)
	if err != nil || c.LastSeq != 1 || !c.Open() {
		t.Fatalf("alice's conversation after probes: %+v %v", c, err)
	}
}

func TestVisitorTokenChecks(t *testing.T) {
	ts := newTestServer(t)
	dial := func(cookie string) int {
		h := http.Header{}
		if cookie != "" {
			h.Set("Cookie", "shopchat_visitor="+cookie)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, resp, err := ws.Dial(ctx, ts.wsURL("/chat/ws"), &ws.DialOptions{HTTPHeader: h})
		if err == nil {
			c.CloseNow()
			return 101
		}
		if resp == nil {
			t.Fatalf("dial: %v", err)
		}
		return resp.StatusCode
	}
	hc := ts.visitorClient(t)
	u, _ := http.NewRequest("GET", ts.URL+"/chat/", nil)
	var good string
	for _, c := range hc.Jar.Cookies(u.URL) {
		if c.Name == "shopchat_visitor" {
			good = c.Value
		}
	}
	if good == "" {
		t.Fatal("session set no visitor cookie")
	}
	parts := strings.Split(good, ".")
	forgedID := "AAAAAAAAAAAAAAAAAAAAAA." + parts[1] + "." + parts[2]
	expired := strings.Join([]string{parts[0], "1000000000", parts[2]}, ".")
	tests := map[string]struct {
		cookie string
		want   int
	}{
		"valid":               {good, 101},
		"missing":             {"", http.StatusUnauthorized},
		"client-chosen":       {"my-own-token", http.StatusUnauthorized},
		"forged id":           {forgedID, http.StatusUnauthorized},
		"altered timestamp":   {expired, http.StatusUnauthorized},
		"truncated signature": {good[:len(good)-2], http.StatusUnauthorized},
	}
	for name, tc := range tests {
		if got := dial(tc.cookie); got != tc.want {
			t.Errorf("%s token: HTTP %d, want %d", name, got, tc.want)
		}
	}
}

func TestCrossSiteOriginIsRefused(t *testing.T) {
	ts := newTestServer(t)
	hc := ts.visitorClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := http.Header{"Origin": {"https://evil.example"}}
	_, resp, err := ws.Dial(ctx, ts.wsURL("/chat/ws"), &ws.DialOptions{HTTPClient: hc, HTTPHeader: h})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site origin: err=%v resp=%v, want 403", err, resp)
	}
	h.Set("X-Operator", "alice")
	_, resp, err = ws.Dial(ctx, ts.wsURL("/chat/operator/ws"), &ws.DialOptions{HTTPHeader: h})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site origin on operator socket: err=%v resp=%v, want 403", err, resp)
	}
}

func TestOperatorAuthRequired(t *testing.T) {
	ts := newTestServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, resp, err := ws.Dial(ctx, ts.wsURL("/chat/operator/ws"), &ws.DialOptions{HTTPHeader: http.Header{"X-Operator": {"mallory"}}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unknown operator: err=%v resp=%v, want 401", err, resp)
	}
	// A visitor token is no operator credential.
	_, resp, err = ws.Dial(ctx, ts.wsURL("/chat/operator/ws"), &ws.DialOptions{HTTPClient: ts.visitorClient(t)})
	if err == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("visitor on operator socket: %v", err)
	}
	_ = errors.New
}
