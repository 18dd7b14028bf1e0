package webhook

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopchat/chat"
)

func TestBackoff(t *testing.T) {
	n := &Notifier{minBackoff: time.Second, maxBackoff: 10 * time.Minute}
	for attempt, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second} {
		for range 50 {
			d := n.backoff(attempt)
			assert.GreaterOrEqual(t, d, want/2, "attempt %d", attempt)
			assert.LessOrEqual(t, d, want, "attempt %d", attempt)
		}
	}
	for _, attempt := range []int{10, 63, 64, 1000} {
		d := n.backoff(attempt)
		assert.GreaterOrEqual(t, d, 5*time.Minute, "attempt %d", attempt)
		assert.LessOrEqual(t, d, 10*time.Minute, "attempt %d", attempt)
	}
	huge := &Notifier{minBackoff: time.Second, maxBackoff: 1<<63 - 1}
	assert.Positive(t, huge.backoff(100), "no overflow")
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                              -1,
		"120":                           2 * time.Minute,
		"0":                             0,
		"-5":                            -1,
		"soon":                          -1,
		"99999999999999":                24 * time.Hour,
		"Thu, 01 May 2025 12:00:30 GMT": 30 * time.Second,
		"Thu, 01 May 2025 11:00:00 GMT": 0,
	} {
		assert.Equal(t, want, parseRetryAfter(v, now), "%q", v)
	}
}

// TestRetryAfterHonoured records the waits the worker asks for instead of
// sleeping.
func TestRetryAfterHonoured(t *testing.T) {
	var mu sync.Mutex
	answers := []string{"3", "36000", "", "0"} // Retry-After of the 429s, then 204
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if len(answers) == 0 {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if answers[0] != "" {
			w.Header().Set("Retry-After", answers[0])
		}
		answers = answers[1:]
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	var waits []time.Duration // written by the worker, read after Close
	record := func(ctx context.Context, d time.Duration) bool {
		waits = append(waits, d)
		return ctx.Err() == nil
	}
	n, err := newNotifier(Config{URL: srv.URL, Secret: []byte("0123456789abcdef"), MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Minute}, record)
	require.NoError(t, err)
	require.NoError(t, n.Notify(context.Background(), chat.Notification{ID: "d", Kind: chat.MessagePosted}))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, n.Close(ctx))
	require.Len(t, waits, 4)
	assert.Equal(t, 3*time.Second, waits[0], "Retry-After seconds")
	assert.Equal(t, time.Minute, waits[1], "capped at MaxBackoff")
	assert.GreaterOrEqual(t, waits[2], 200*time.Millisecond, "no Retry-After: backoff of the third retry")
	assert.LessOrEqual(t, waits[2], 400*time.Millisecond, "no Retry-After: backoff of the third retry")
	assert.Equal(t, 100*time.Millisecond, waits[3], "at least MinBackoff")
}

// TestEventCarriesAttachments: a message's files reach the shop's systems
// as metadata with their signed link, never their bytes.
func TestEventCarriesAttachments(t *testing.T) {
	n := chat.Notification{Kind: chat.MessagePosted, Messages: []*chat.Message{{ID: "m1", Seq: 3, Kind: chat.VisitorText,
		Attachments: []chat.Attachment{{ID: "a1", Name: "photo.jpg", Type: "image/jpeg", Size: 2048, SHA256: "abc", Width: 640, Height: 480}}}},
		AttachmentLinks: map[string]string{"a1": "attachments/a1?exp=1&sig=x"}}
	ev := newEvent(n)
	require.Len(t, ev.Messages, 1)
	assert.Equal(t, []Attachment{{ID: "a1", Name: "photo.jpg", Type: "image/jpeg", Size: 2048, SHA256: "abc", Width: 640, Height: 480,
		Link: "attachments/a1?exp=1&sig=x"}}, ev.Messages[0].Attachments)
}
