package notifytest_test

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/notify/notifytest"
)

// allKinds are every notification kind; the in-memory destination takes
// them all.
var allKinds = []chat.NotificationKind{
	chat.OfflineMessage, chat.MissedReply, chat.Transcript, chat.NewConversation,
	chat.ConversationStarted, chat.MessagePosted, chat.ConversationAssigned, chat.ConversationClosed,
}

// dest is an in-memory destination: it records every attempt and
// refuses as many as it is told to.
type dest struct {
	mu     sync.Mutex
	refuse int
	ch     chan notifytest.Delivery
}

func newDest() *dest { return &dest{ch: make(chan notifytest.Delivery, 1000)} }

func (d *dest) Refuse(n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.refuse = n
}

// attempt records one attempt and reports whether it was accepted.
func (d *dest) attempt(conv, key string) bool {
	d.mu.Lock()
	refused := d.refuse > 0
	if refused {
		d.refuse--
	}
	d.mu.Unlock()
	d.ch <- notifytest.Delivery{Conversation: conv, Key: key, Refused: refused}
	return !refused
}

func (d *dest) target(n chat.Notifier) notifytest.Target {
	return notifytest.Target{Notifier: n, Kinds: allKinds, Deliveries: d.ch, Refuse: d.Refuse}
}

var errRefused = errors.New("destination refused")

// direct delivers in Notify itself, retrying every millisecond until the
// destination accepts or ctx ends. key names the delivery (by default the
// notification's ID).
type direct struct {
	d   *dest
	key func(n chat.Notification, attempt int) string
}

func newDirect(d *dest) *direct {
	return &direct{d: d, key: func(n chat.Notification, _ int) string { return n.ID }}
}

func (x *direct) Notify(ctx context.Context, n chat.Notification) error {
	for attempt := 0; ; attempt++ {
		if x.d.attempt(n.Conversation.ID, x.key(n, attempt)) {
			return nil
		}
		select {
		case <-time.After(time.Millisecond): // a retrying Notifier's backoff
		case <-ctx.Done():
			return errors.Join(errRefused, ctx.Err())
		}
	}
}

// queued is how notify/email and notify/webhook work: Notify queues, one
// goroutine delivers with retries, Close drains.
type queued struct {
	*direct
	mu     sync.RWMutex
	closed bool
	queue  chan chat.Notification
	done   chan struct{}
}

func newQueued(d *dest) *queued {
	q := &queued{direct: newDirect(d), queue: make(chan chat.Notification, 100), done: make(chan struct{})}
	go func() {
		defer close(q.done)
		for n := range q.queue {
			q.direct.Notify(context.Background(), n)
		}
	}()
	return q
}

func (q *queued) Notify(_ context.Context, n chat.Notification) error {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return errors.New("closed")
	}
	select {
	case q.queue <- n:
		return nil
	default:
		return errors.New("queue full")
	}
}

func (q *queued) Close(ctx context.Context) error {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.queue)
	}
	q.mu.Unlock()
	select {
	case <-q.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// discard accepts and drops everything.
type discard struct{}

func (discard) Notify(context.Context, chat.Notification) error { return nil }
