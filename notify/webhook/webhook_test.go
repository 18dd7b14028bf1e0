package webhook_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/notify/webhook"
)

// failAfter guards against hangs; it is never used to synchronise.
const failAfter = 10 * time.Second

var secret = []byte("webhook-test-secret-0123456789")

// hit is one request the receiver got.
type hit struct {
	header http.Header
	body   []byte
}

// request rebuilds the request, for Verify.
func (h hit) request() *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/hook", bytes.NewReader(h.body))
	r.Header = h.header.Clone()
	return r
}

// receiver is a webhook endpoint on loopback that records every request
// and answers with respond (default 204).
type receiver struct {
	*httptest.Server
	hits    chan hit
	mu      sync.Mutex
	n       int
	respond func(n int, w http.ResponseWriter, r *http.Request)
}

func newReceiver(t *testing.T, respond func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	t.Helper()
	rc := &receiver{hits: make(chan hit, 1000), respond: respond}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("receiver: %v", err)
		}
		rc.mu.Lock()
		rc.n++
		n := rc.n
		rc.mu.Unlock()
		rc.hits <- hit{header: r.Header.Clone(), body: body}
		if rc.respond != nil {
			rc.respond(n, w, r)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// next waits for the next request.
func (rc *receiver) next(t *testing.T) hit {
	t.Helper()
	select {
	case h := <-rc.hits:
		return h
	case <-time.After(failAfter):
		t.Fatal("timed out waiting for a delivery")
		return hit{}
	}
}

// rest returns the requests recorded and not yet taken, without waiting.
func (rc *receiver) rest() []hit {
	var hs []hit
	for {
		select {
		case h := <-rc.hits:
			hs = append(hs, h)
		default:
			return hs
		}
	}
}

type metrics struct {
	mu sync.Mutex
	m  map[string]float64
}

func (m *metrics) Add(name string, d float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = map[string]float64{}
	}
	m.m[name] += d
}

func (m *metrics) Observe(string, float64) {}

func (m *metrics) get(name string) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.m[name]
}

// newHook returns a Notifier for url with tiny backoffs, closed at the end
// of the test.
func newHook(t *testing.T, url string, edit ...func(*webhook.Config)) (*webhook.Notifier, *metrics) {
	t.Helper()
	m := &metrics{}
	cfg := webhook.Config{URL: url, Secret: secret, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, Metrics: m}
	for _, e := range edit {
		e(&cfg)
	}
	hook, err := webhook.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { closeHook(t, hook) })
	return hook, m
}

// closeHook closes hook, which then has finished every delivery.
func closeHook(t *testing.T, hook *webhook.Notifier) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), failAfter)
	defer cancel()
	require.NoError(t, hook.Close(ctx))
}

var t0 = time.Date(2025, 5, 1, 9, 30, 12, 123456789, time.FixedZone("CEST", 2*3600))

func sample(id string, kind chat.NotificationKind) chat.Notification {
	return chat.Notification{
		ID:   id,
		Kind: kind,
		Time: t0.Add(time.Minute),
		Conversation: &chat.Conversation{
			ID: "conv-1", VisitorID: "vis-1", Status: chat.Assigned, OperatorID: "alice", Department: "sales",
			Epoch: 7, LastSeq: 3, VisitorReadSeq: 2, CreatedAt: t0, QueuedAt: t0, AssignedAt: t0.Add(time.Second),
		},
		Visitor:  &chat.Visitor{ID: "vis-1", CustomerID: "cust-42", Name: "Ann", Email: "ann@example.com", CreatedAt: t0},
		Operator: &chat.Operator{ID: "alice", Name: "Alice", Email: "alice@shop.example", Capacity: 3},
		Messages: []*chat.Message{{
			ID: "msg-3", ConversationID: "conv-1", Seq: 3, ClientID: "c-3", Kind: chat.OperatorText,
			AuthorID: "alice", AuthorName: "Alice", Text: "Yes, in 3-5 days. <b>&</b>", CreatedAt: t0.Add(2 * time.Second),
		}},
		ReplyToken: "never-sent",
	}
}

// sign signs body as the protocol says, independently of the package.
func sign(key []byte, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(strconv.FormatInt(ts, 10) + "." + string(body)))
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func resign(h hit, key []byte, ts int64) hit {
	h.header = h.header.Clone()
	h.header.Set(webhook.HeaderTimestamp, strconv.FormatInt(ts, 10))
	h.header.Set(webhook.HeaderSignature, sign(key, ts, h.body))
	return h
}

func TestDeliverySignedAndVerified(t *testing.T) {
	rc := newReceiver(t, nil)
	hook, m := newHook(t, rc.URL)
	require.NoError(t, hook.Notify(context.Background(), sample("message:conv-1:3", chat.MessagePosted)))
	h := rc.next(t)

	// Headers.
	assert.Equal(t, "application/json", h.header.Get("Content-Type"))
	assert.Equal(t, "shopchat-webhook/1", h.header.Get("User-Agent"))
	assert.Equal(t, "message", h.header.Get("X-Shopchat-Event"))
	assert.Equal(t, "message:conv-1:3", h.header.Get("X-Shopchat-Delivery"))
	ts, err := strconv.ParseInt(h.header.Get("X-Shopchat-Timestamp"), 10, 64)
	require.NoError(t, err)
	assert.InDelta(t, time.Now().Unix(), ts, 60)
	assert.Equal(t, sign(secret, ts, h.body), h.header.Get("X-Shopchat-Signature"))

	// The wire format, as documented.
	var raw map[string]any
	require.NoError(t, json.Unmarshal(h.body, &raw))
	assert.Equal(t, map[string]any{
		"id":   "message:conv-1:3",
		"type": "message",
		"time": "2025-05-01T07:31:12.123456789Z",
		"conversation": map[string]any{
			"id": "conv-1", "status": "assigned", "visitor_id": "vis-1", "operator_id": "alice",
			"department": "sales", "last_seq": 3.0,
			"created_at": "2025-05-01T07:30:12.123456789Z", "queued_at": "2025-05-01T07:30:12.123456789Z",
			"assigned_at": "2025-05-01T07:30:13.123456789Z",
		},
		"visitor":  map[string]any{"id": "vis-1", "name": "Ann", "email": "ann@example.com", "customer_id": "cust-42"},
		"operator": map[string]any{"id": "alice", "name": "Alice"},
		"messages": []any{map[string]any{
			"id": "msg-3", "seq": 3.0, "kind": "operator", "author_id": "alice", "author_name": "Alice",
			"text": "Yes, in 3-5 days. <b>&</b>", "created_at": "2025-05-01T07:30:14.123456789Z",
		}},
	}, raw)
	assert.NotContains(t, string(h.body), "never-sent", "reply tokens stay out of webhooks")

	// Verify accepts it and decodes it.
	r := h.request()
	ev, err := webhook.Verify(r, secret, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, "message:conv-1:3", ev.ID)
	assert.Equal(t, chat.MessagePosted, ev.Type)
	assert.True(t, ev.Time.Equal(t0.Add(time.Minute)))
	assert.Equal(t, chat.Assigned, ev.Conversation.Status)
	assert.True(t, ev.Conversation.AssignedAt.Equal(t0.Add(time.Second)))
	assert.True(t, ev.Conversation.ClosedAt.IsZero())
	assert.Equal(t, &webhook.Visitor{ID: "vis-1", Name: "Ann", Email: "ann@example.com", CustomerID: "cust-42"}, ev.Visitor)
	assert.Equal(t, &webhook.Operator{ID: "alice", Name: "Alice"}, ev.Operator)
	require.Len(t, ev.Messages, 1)
	assert.Equal(t, int64(3), ev.Messages[0].Seq)
	assert.Equal(t, chat.OperatorText, ev.Messages[0].Kind)
	assert.False(t, ev.Truncated)
	again, err := io.ReadAll(r.Body)
	require.NoError(t, err)
	assert.Equal(t, h.body, again, "Verify leaves the body readable")

	refuse := func(name string, h hit, key []byte, skew time.Duration, want error) {
		t.Helper()
		ev, err := webhook.Verify(h.request(), key, skew)
		assert.Nil(t, ev, name)
		if assert.Error(t, err, name) && want != nil {
			assert.ErrorIs(t, err, want, name)
		}
	}
	tampered := h
	tampered.body = bytes.Replace(h.body, []byte("3-5 days"), []byte("1-2 days"), 1)
	refuse("tampered body", tampered, secret, time.Minute, webhook.ErrSignature)
	refuse("wrong secret", h, []byte("another-secret-0123456789"), time.Minute, webhook.ErrSignature)
	refuse("no secret", h, nil, time.Minute, webhook.ErrSignature)
	now := time.Now().Unix()
	refuse("old timestamp", resign(h, secret, now-600), secret, time.Minute, webhook.ErrTimestamp)
	refuse("future timestamp", resign(h, secret, now+600), secret, time.Minute, webhook.ErrTimestamp)
	refuse("old timestamp, default skew", resign(h, secret, now-3600), secret, 0, webhook.ErrTimestamp)
	_, err = webhook.Verify(resign(h, secret, now-600).request(), secret, time.Hour)
	assert.NoError(t, err, "a wider skew accepts it")
	swapped := h
	swapped.header = h.header.Clone()
	swapped.header.Set(webhook.HeaderTimestamp, strconv.FormatInt(ts+1, 10)) // the signature covers the timestamp
	refuse("timestamp changed", swapped, secret, time.Minute, webhook.ErrSignature)
	for _, hdr := range []string{webhook.HeaderSignature, webhook.HeaderTimestamp} {
		missing := h
		missing.header = h.header.Clone()
		missing.header.Del(hdr)
		refuse("no "+hdr, missing, secret, time.Minute, nil)
	}
	badSig := h
	badSig.header = h.header.Clone()
	badSig.header.Set(webhook.HeaderSignature, strings.Replace(h.header.Get(webhook.HeaderSignature), "sha256=", "sha1=", 1))
	refuse("other algorithm", badSig, secret, time.Minute, webhook.ErrSignature)
	otherID := h
	otherID.header = h.header.Clone()
	otherID.header.Set(webhook.HeaderDelivery, "something-else")
	refuse("delivery header mismatch", otherID, secret, time.Minute, nil)
	huge := hit{header: h.header, body: bytes.Repeat([]byte(" "), webhook.MaxBodySize+1)}
	refuse("body too large", resign(huge, secret, now), secret, time.Minute, nil)
	notJSON := hit{header: h.header, body: []byte("not json")}
	refuse("body not JSON", resign(notJSON, secret, now), secret, time.Minute, nil)

	closeHook(t, hook)
	assert.Equal(t, 1.0, m.get("webhook_delivered_total"))
}

func TestMinimalNotification(t *testing.T) {
	rc := newReceiver(t, nil)
	hook, _ := newHook(t, rc.URL)
	require.NoError(t, hook.Notify(context.Background(), chat.Notification{Kind: chat.ConversationClosed}))
	h := rc.next(t)
	var raw map[string]any
	require.NoError(t, json.Unmarshal(h.body, &raw))
	assert.NotEmpty(t, raw["id"], "an id is made up")
	assert.Equal(t, raw["id"], h.header.Get(webhook.HeaderDelivery))
	assert.NotContains(t, raw, "visitor")
	assert.NotContains(t, raw, "operator")
	assert.NotContains(t, raw, "conversation")
	assert.Equal(t, []any{}, raw["messages"], "messages is an array, never null")
	ev, err := webhook.Verify(h.request(), secret, 0)
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now(), ev.Time, time.Minute, "a zero time is now")
}

func TestRetryAfter500SameDelivery(t *testing.T) {
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	hook, m := newHook(t, rc.URL)
	require.NoError(t, hook.Notify(context.Background(), sample("d-1", chat.ConversationAssigned)))
	first, second := rc.next(t), rc.next(t)
	assert.Equal(t, "d-1", first.header.Get(webhook.HeaderDelivery))
	assert.Equal(t, "d-1", second.header.Get(webhook.HeaderDelivery))
	assert.Equal(t, first.body, second.body)
	for _, h := range []hit{first, second} {
		_, err := webhook.Verify(h.request(), secret, time.Minute)
		assert.NoError(t, err)
	}
	closeHook(t, hook)
	assert.Empty(t, rc.rest())
	assert.Equal(t, 1.0, m.get("webhook_delivered_total"))
	assert.Equal(t, 1.0, m.get("webhook_retries_total"))
	assert.Equal(t, 0.0, m.get("webhook_failed_total"))
}

func TestRetryableStatuses(t *testing.T) {
	for _, status := range []int{http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
				if n <= 2 {
					w.Header().Set("Retry-After", "0")
					w.WriteHeader(status)
					return
				}
				w.WriteHeader(http.StatusAccepted)
			})
			hook, m := newHook(t, rc.URL)
			require.NoError(t, hook.Notify(context.Background(), sample("d-1", chat.MessagePosted)))
			for range 3 {
				assert.Equal(t, "d-1", rc.next(t).header.Get(webhook.HeaderDelivery))
			}
			closeHook(t, hook)
			assert.Empty(t, rc.rest())
			assert.Equal(t, 1.0, m.get("webhook_delivered_total"))
			assert.Equal(t, 2.0, m.get("webhook_retries_total"))
		})
	}
}

func TestNetworkErrorRetriedThenFailed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	url := "http://" + ln.Addr().String() + "/hook?token=s3cret"
	ln.Close() // connections are refused
	var logs syncBuffer
	hook, m := newHook(t, url, func(c *webhook.Config) {
		c.MaxRetries = 2
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	require.NoError(t, hook.Notify(context.Background(), sample("d-1", chat.MessagePosted)))
	closeHook(t, hook)
	assert.Equal(t, 2.0, m.get("webhook_retries_total"))
	assert.Equal(t, 1.0, m.get("webhook_failed_total"))
	assert.Equal(t, 0.0, m.get("webhook_delivered_total"))
	assert.Contains(t, logs.String(), "out of retries")
	assert.NotContains(t, logs.String(), "s3cret", "the URL's token stays out of logs")
}

func TestRefusalNotRetried(t *testing.T) {
	for _, status := range []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound, http.StatusFound} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
				if n == 1 {
					w.Header().Set("Location", "/elsewhere")
					w.Header().Set("Retry-After", "0")
					w.WriteHeader(status)
					return
				}
				w.WriteHeader(http.StatusNoContent)
			})
			var logs syncBuffer
			hook, m := newHook(t, rc.URL, func(c *webhook.Config) {
				c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			})
			require.NoError(t, hook.Notify(context.Background(), sample("refused", chat.MessagePosted)))
			require.NoError(t, hook.Notify(context.Background(), sample("next", chat.MessagePosted)))
			assert.Equal(t, "refused", rc.next(t).header.Get(webhook.HeaderDelivery))
			assert.Equal(t, "next", rc.next(t).header.Get(webhook.HeaderDelivery), "no retry, and the queue moves on")
			closeHook(t, hook)
			assert.Empty(t, rc.rest())
			assert.Equal(t, 1.0, m.get("webhook_failed_total"))
			assert.Equal(t, 0.0, m.get("webhook_retries_total"))
			assert.Equal(t, 1.0, m.get("webhook_delivered_total"))
			assert.Equal(t, 1, strings.Count(logs.String(), "level=WARN"), logs.String())
			assert.Contains(t, logs.String(), "status="+strconv.Itoa(status))
		})
	}
}

func TestQueueFullDoesNotBlock(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		<-release
		w.WriteHeader(http.StatusNoContent)
	})
	t.Cleanup(func() { once.Do(func() { close(release) }) }) // before the server closes
	hook, m := newHook(t, rc.URL, func(c *webhook.Config) { c.QueueSize = 1 })
	ctx := context.Background()
	require.NoError(t, hook.Notify(ctx, sample("in-flight", chat.MessagePosted)))
	rc.next(t) // the worker holds it now
	require.NoError(t, hook.Notify(ctx, sample("queued", chat.MessagePosted)))

	errc := make(chan error, 1)
	go func() { errc <- hook.Notify(ctx, sample("dropped", chat.MessagePosted)) }()
	select {
	case err := <-errc:
		assert.ErrorIs(t, err, webhook.ErrQueueFull)
	case <-time.After(failAfter):
		t.Fatal("Notify blocked on a full queue")
	}
	assert.Equal(t, 1.0, m.get("webhook_dropped_total"))

	once.Do(func() { close(release) })
	assert.Equal(t, "queued", rc.next(t).header.Get(webhook.HeaderDelivery))
	closeHook(t, hook)
	assert.Empty(t, rc.rest())
	assert.Equal(t, 2.0, m.get("webhook_delivered_total"))
}

func TestCloseDrainsAndLeavesNoGoroutines(t *testing.T) {
	base := runtime.NumGoroutine()
	func() {
		rc := newReceiver(t, nil)
		defer rc.Close()
		hook, m := newHook(t, rc.URL)
		for i := range 20 {
			require.NoError(t, hook.Notify(context.Background(), sample("d-"+strconv.Itoa(i), chat.MessagePosted)))
		}
		closeHook(t, hook) // delivers all 20 first
		assert.Equal(t, 20.0, m.get("webhook_delivered_total"))
		assert.Len(t, rc.rest(), 20)
		assert.ErrorIs(t, hook.Notify(context.Background(), sample("late", chat.MessagePosted)), webhook.ErrClosed)
		assert.NoError(t, hook.Close(context.Background()), "a second Close")
	}()
	settle(t, base)
}

func TestCloseGivesUpAtDeadline(t *testing.T) {
	base := runtime.NumGoroutine()
	func() {
		rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done() // hangs until the sender gives up
		})
		defer rc.Close()
		hook, m := newHook(t, rc.URL, func(c *webhook.Config) { c.Client = &http.Client{} }) // no timeout
		for i := range 3 {
			require.NoError(t, hook.Notify(context.Background(), sample("d-"+strconv.Itoa(i), chat.MessagePosted)))
		}
		rc.next(t)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		err := hook.Close(ctx)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.ErrorContains(t, err, "3 events not delivered")
		assert.Equal(t, 3.0, m.get("webhook_dropped_total"))
		assert.Equal(t, 0.0, m.get("webhook_failed_total"))
	}()
	http.DefaultClient.CloseIdleConnections()
	settle(t, base)
}

// settle waits, boundedly, for the goroutine count to return to base and
// fails, listing them, if it does not.
func settle(t *testing.T, base int) {
	t.Helper()
	// The delivery goroutine closes done on its way out, so Close can return
	// while it is still on the stack for a moment: wait for that too.
	deadline := time.Now().Add(failAfter)
	for {
		var buf bytes.Buffer
		pprof.Lookup("goroutine").WriteTo(&buf, 1)
		n := runtime.NumGoroutine()
		if n <= base && !strings.Contains(buf.String(), "notify/webhook.(*Notifier)") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines, %d before:\n%s", n, base, buf.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestKindsFilter(t *testing.T) {
	rc := newReceiver(t, nil)
	hook, m := newHook(t, rc.URL, func(c *webhook.Config) {
		c.Kinds = []chat.NotificationKind{chat.ConversationClosed, chat.ConversationStarted}
	})
	ctx := context.Background()
	for _, k := range []chat.NotificationKind{chat.MessagePosted, chat.ConversationStarted, chat.OfflineMessage, chat.ConversationClosed, chat.Transcript} {
		require.NoError(t, hook.Notify(ctx, sample(string(k), k)))
	}
	closeHook(t, hook)
	var got []string
	for _, h := range rc.rest() {
		got = append(got, h.header.Get(webhook.HeaderEvent))
	}
	assert.Equal(t, []string{"conversation_started", "conversation_closed"}, got)
	assert.Equal(t, 2.0, m.get("webhook_delivered_total"))
}

// mailer stands in for notify/email.
type mailer struct{ got chan chat.Notification }

func (m mailer) Notify(_ context.Context, n chat.Notification) error {
	m.got <- n
	return nil
}

func TestMulti(t *testing.T) {
	rc := newReceiver(t, nil)
	hook, _ := newHook(t, rc.URL)
	mail := mailer{got: make(chan chat.Notification, 1)}
	n := sample("offline:1", chat.OfflineMessage)
	require.NoError(t, chat.Multi(mail, hook).Notify(context.Background(), n))
	select {
	case got := <-mail.got:
		assert.Equal(t, "offline:1", got.ID)
	case <-time.After(failAfter):
		t.Fatal("the mailer got nothing")
	}
	h := rc.next(t)
	ev, err := webhook.Verify(h.request(), secret, 0)
	require.NoError(t, err)
	assert.Equal(t, "offline:1", ev.ID)
	assert.Equal(t, chat.OfflineMessage, ev.Type)
}

func TestOversizedEventTruncated(t *testing.T) {
	rc := newReceiver(t, nil)
	hook, _ := newHook(t, rc.URL)
	n := sample("transcript:1", chat.Transcript)
	n.Messages = nil
	for i := 1; i <= 400; i++ {
		n.Messages = append(n.Messages, &chat.Message{ID: "m" + strconv.Itoa(i), Seq: int64(i), Kind: chat.VisitorText, Text: "é<" + strings.Repeat("x", 3300)})
	}
	require.NoError(t, hook.Notify(context.Background(), n))
	h := rc.next(t)
	assert.LessOrEqual(t, len(h.body), webhook.MaxBodySize)
	ev, err := webhook.Verify(h.request(), secret, 0)
	require.NoError(t, err)
	assert.True(t, ev.Truncated)
	require.NotEmpty(t, ev.Messages)
	assert.Less(t, len(ev.Messages), 400)
	for i, m := range ev.Messages { // the newest, in order
		assert.Equal(t, int64(400-len(ev.Messages)+1+i), m.Seq)
	}
}

func TestNewValidates(t *testing.T) {
	for name, cfg := range map[string]webhook.Config{
		"no URL":          {Secret: secret},
		"not http":        {URL: "ftp://example.com/hook", Secret: secret},
		"no host":         {URL: "https:///hook", Secret: secret},
		"relative":        {URL: "/hook", Secret: secret},
		"no secret":       {URL: "https://example.com/hook"},
		"short secret":    {URL: "https://example.com/hook", Secret: []byte("0123456789abcde")},
		"backoffs":        {URL: "https://example.com/hook", Secret: secret, MinBackoff: time.Minute, MaxBackoff: time.Second},
		"negative queue":  {URL: "https://example.com/hook", Secret: secret, QueueSize: -1},
		"negative backof": {URL: "https://example.com/hook", Secret: secret, MinBackoff: -1},
	} {
		_, err := webhook.New(cfg)
		assert.Error(t, err, name)
	}
	hook, err := webhook.New(webhook.Config{URL: "https://example.com/hook", Secret: secret})
	require.NoError(t, err)
	closeHook(t, hook)
}

// syncBuffer is a bytes.Buffer safe for a logger and a test at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
