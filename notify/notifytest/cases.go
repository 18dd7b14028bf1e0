package notifytest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopchat/chat"
)

// t0 is the suite's base time.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// notification returns the suite's i-th notification, complete and of
// one of tg's kinds, about conversation conv. Its ID is "notifytest-"+id.
func notification(tg Target, i int, conv, id string) chat.Notification {
	at := t0.Add(time.Duration(i) * time.Second)
	c := &chat.Conversation{ID: conv, VisitorID: "visitor-" + conv, OperatorID: "alice", Status: chat.Assigned,
		LastSeq: 2, CreatedAt: at, QueuedAt: at, AssignedAt: at}
	return chat.Notification{
		ID:           "notifytest-" + id,
		Kind:         tg.Kinds[i%len(tg.Kinds)],
		Time:         at,
		Conversation: c,
		Visitor:      &chat.Visitor{ID: c.VisitorID, Name: "Ann", Email: "ann@example.com", CreatedAt: at},
		Operator:     &chat.Operator{ID: "alice", Name: "Alice", Email: "alice@shop.example"},
		Messages: []*chat.Message{
			{ID: conv + "-1", ConversationID: conv, Seq: 1, Kind: chat.VisitorText, AuthorID: c.VisitorID, AuthorName: "Ann", Text: fmt.Sprintf("Do you ship to Norway? (%d)", i), CreatedAt: at},
			{ID: conv + "-2", ConversationID: conv, Seq: 2, Kind: chat.OperatorText, AuthorID: "alice", AuthorName: "Alice", Text: "We do.", CreatedAt: at},
		},
		ReplyToken: "notifytestreplytoken",
	}
}

// notify calls n.Notify on its own goroutine and returns its error, or
// an error saying it panicked or did not return within waitTimeout.
func notify(ctx context.Context, n chat.Notifier, note chat.Notification) error {
	done := make(chan error, 1)
	go func() {
		var err error
		defer func() {
			if p := recover(); p != nil {
				err = suiteError(fmt.Sprintf("Notify(%s) panicked: %v", note.ID, p))
			}
			done <- err
		}()
		err = n.Notify(ctx, note)
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(waitTimeout):
		return suiteError(fmt.Sprintf("Notify(%s) did not return within %v", note.ID, waitTimeout))
	}
}

// mustNotify is notify failing t on an error.
func mustNotify(t testing.TB, tg Target, note chat.Notification) {
	t.Helper()
	if err := notify(context.Background(), tg.Notifier, note); err != nil {
		t.Fatalf("Notify(%s about %s): %v", note.Kind, note.Conversation.ID, err)
	}
}

// collect reads deliveries until want have been accepted (not refused)
// and returns every one read, in order.
func collect(t testing.TB, tg Target, want int) []Delivery {
	t.Helper()
	var got []Delivery
	for accepted := 0; accepted < want; {
		select {
		case d := <-tg.Deliveries:
			got = append(got, d)
			if !d.Refused {
				accepted++
			}
		case <-time.After(waitTimeout):
			t.Fatalf("%d of %d notifications delivered within %v; about: %s", accepted, want, waitTimeout, conversations(got))
		}
	}
	return got
}

// until reads deliveries until one for conversation conv is accepted and
// returns every one read, in order.
func until(t testing.TB, tg Target, conv string) []Delivery {
	t.Helper()
	var got []Delivery
	for {
		select {
		case d := <-tg.Deliveries:
			got = append(got, d)
			if d.Conversation == conv && !d.Refused {
				return got
			}
		case <-time.After(waitTimeout):
			t.Fatalf("nothing about %s delivered within %v; got %+v", conv, waitTimeout, got)
		}
	}
}

// conversations lists what ds were about, marking refused attempts.
func conversations(ds []Delivery) string {
	var b strings.Builder
	for i, d := range ds {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(d.Conversation)
		if d.Refused {
			b.WriteString("(refused)")
		}
	}
	return b.String()
}

func acceptedOnly(ds []Delivery) []Delivery {
	return slices.DeleteFunc(slices.Clone(ds), func(d Delivery) bool { return d.Refused })
}

// deliverEach sends one notification of every kind, each about its own
// conversation, and two more about one shared conversation.
func deliverEach(t testing.TB, open func(testing.TB) Target) {
	tg := open(t)
	var notes []chat.Notification
	for i := range tg.Kinds {
		notes = append(notes, notification(tg, i, fmt.Sprintf("each-%d", i), fmt.Sprintf("each-%d", i)))
	}
	notes = append(notes, notification(tg, 0, "each-shared", "each-shared-a"), notification(tg, 0, "each-shared", "each-shared-b"))
	for _, n := range notes {
		mustNotify(t, tg, n)
	}
	got := acceptedOnly(collect(t, tg, len(notes)))
	keys := map[string]string{} // key -> conversation
	count := map[string]int{}
	for _, d := range got {
		count[d.Conversation]++
		if d.Key == "" {
			t.Errorf("delivery about %s has no key", d.Conversation)
		} else if other, ok := keys[d.Key]; ok {
			t.Errorf("deliveries about %s and %s share the key %q, but their notifications have different IDs", other, d.Conversation, d.Key)
		}
		keys[d.Key] = d.Conversation
	}
	for _, n := range notes {
		want := 1
		if n.Conversation.ID == "each-shared" {
			want = 2
		}
		if count[n.Conversation.ID] != want {
			t.Errorf("%d deliveries about %s (a %s notification), want %d", count[n.Conversation.ID], n.Conversation.ID, n.Kind, want)
		}
	}
}

func orderSequential(t testing.TB, open func(testing.TB) Target) {
	tg := open(t)
	const n = 20
	var want []string
	for i := range n {
		conv := fmt.Sprintf("order-%02d", i)
		want = append(want, conv)
		mustNotify(t, tg, notification(tg, i, conv, conv))
	}
	var got []string
	for _, d := range acceptedOnly(collect(t, tg, n)) {
		got = append(got, d.Conversation)
	}
	if !slices.Equal(got, want) {
		t.Errorf("notifications passed one after another were delivered out of order:\n got %q\nwant %q", got, want)
	}
}

// keySameID passes one notification twice, as a Server handing it over
// again would: a receiver must be able to tell it is one.
func keySameID(t testing.TB, open func(testing.TB) Target) {
	tg := open(t)
	n := notification(tg, 0, "same", "same")
	mustNotify(t, tg, n)
	mustNotify(t, tg, n)
	mustNotify(t, tg, notification(tg, 1, "same-barrier", "same-barrier"))
	var keys []string
	for _, d := range until(t, tg, "same-barrier") {
		if d.Conversation == "same" && !d.Refused {
			keys = append(keys, d.Key)
		}
	}
	if len(keys) == 0 {
		t.Fatal("the notification passed twice was not delivered before the one passed after it")
	}
	if distinct(keys) != 1 {
		t.Errorf("one Notification.ID delivered under different keys %q: a receiver cannot drop the duplicate", keys)
	}
}

func retrySameKey(t testing.TB, open func(testing.TB) Target) {
	tg := open(t)
	if tg.Refuse == nil {
		t.Skip("Target.Refuse is nil: the Notifier does not retry")
	}
	tg.Refuse(2)
	mustNotify(t, tg, notification(tg, 0, "retry", "retry"))
	got := until(t, tg, "retry")
	var keys []string
	refused := 0
	for _, d := range got {
		if d.Conversation == "retry" {
			keys = append(keys, d.Key)
			if d.Refused {
				refused++
			}
		}
	}
	if refused < 2 {
		t.Fatalf("the destination saw %d refused attempts before the accepted one, want 2 (Target.Refuse(2)); got %+v", refused, got)
	}
	if distinct(keys) != 1 {
		t.Errorf("the attempts of one notification carried different keys %q: a receiver cannot drop the retries", keys)
	}
}

// concurrencyParallel notifies from many goroutines at once, as several
// Servers sharing one Notifier (or a Multi) do.
func concurrencyParallel(t testing.TB, open func(testing.TB) Target) {
	tg := open(t)
	const goroutines, each = 8, 5
	errs := make(chan error, goroutines*each)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				conv := fmt.Sprintf("par-%d-%d", g, i)
				if err := notify(context.Background(), tg.Notifier, notification(tg, g*each+i, conv, conv)); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Notify: %v", err)
	}
	count := map[string]int{}
	for _, d := range acceptedOnly(collect(t, tg, goroutines*each)) {
		count[d.Conversation]++
	}
	for g := range goroutines {
		for i := range each {
			if conv := fmt.Sprintf("par-%d-%d", g, i); count[conv] != 1 {
				t.Errorf("%d deliveries about %s, want 1", count[conv], conv)
			}
		}
	}
}

// contextDone calls Notify with a context already done and, if the
// destination can refuse, with one that ends while it refuses: Notify
// must not hold its caller (the Server's notification queue waits behind
// it, and its shutdown gives it 5 seconds).
func contextDone(t testing.TB, open func(testing.TB) Target) {
	tg := open(t)
	done, cancelDone := context.WithCancel(context.Background())
	cancelDone()
	if err := notify(done, tg.Notifier, notification(tg, 0, "done", "done")); err != nil && !isPrompt(err) {
		t.Fatalf("with a context already done: %v", err)
	}
	if tg.Refuse == nil {
		return
	}
	tg.Refuse(1 << 30)
	defer tg.Refuse(0)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := notify(ctx, tg.Notifier, notification(tg, 0, "refused", "refused")); err != nil && !isPrompt(err) {
		t.Fatalf("with a context that ends while the destination refuses: %v", err)
	}
}

// suiteError is the error notify reports when Notify panicked or did not
// return.
type suiteError string

func (e suiteError) Error() string { return string(e) }

func distinct(keys []string) int { return len(slices.Compact(slices.Sorted(slices.Values(keys)))) }

// isPrompt reports whether err is the Notifier's own (it returned), not
// the suite's timeout or a panic.
func isPrompt(err error) bool { _, ok := err.(suiteError); return !ok }

// snapshot deep-copies a Notification, to see whether Notify changed it.
type snapshot struct {
	n        chat.Notification
	conv     chat.Conversation
	visitor  chat.Visitor
	operator chat.Operator
	messages []*chat.Message
	msgs     []chat.Message
}

func snap(n chat.Notification) snapshot {
	s := snapshot{n: n, conv: *n.Conversation, visitor: *n.Visitor, operator: *n.Operator, messages: slices.Clone(n.Messages)}
	for _, m := range n.Messages {
		s.msgs = append(s.msgs, *m)
	}
	return s
}

func (s snapshot) diff(n chat.Notification) string {
	switch {
	case !reflect.DeepEqual(s.n, n):
		return "the Notification's fields"
	case !reflect.DeepEqual(s.conv, *n.Conversation):
		return fmt.Sprintf("the conversation: %+v, was %+v", *n.Conversation, s.conv)
	case !reflect.DeepEqual(s.visitor, *n.Visitor):
		return fmt.Sprintf("the visitor: %+v, was %+v", *n.Visitor, s.visitor)
	case !reflect.DeepEqual(s.operator, *n.Operator):
		return fmt.Sprintf("the operator: %+v, was %+v", *n.Operator, s.operator)
	case !slices.Equal(s.messages, n.Messages):
		return "the Messages slice"
	}
	for i, m := range n.Messages {
		if !reflect.DeepEqual(s.msgs[i], *m) {
			return fmt.Sprintf("message %d: %+v, was %+v", i, *m, s.msgs[i])
		}
	}
	return ""
}

func inputUnmodified(t testing.TB, open func(testing.TB) Target) {
	tg := open(t)
	n := notification(tg, 0, "input", "input")
	before := snap(n)
	mustNotify(t, tg, n)
	if d := before.diff(n); d != "" {
		t.Errorf("Notify modified %s", d)
	}
	collect(t, tg, 1)
	if d := before.diff(n); d != "" {
		t.Errorf("delivering modified %s", d)
	}
}

func closeDrains(t testing.TB, open func(testing.TB) Target) {
	tg := open(t)
	c, ok := tg.Notifier.(interface{ Close(context.Context) error })
	if !ok {
		t.Skipf("%T has no Close(context.Context) error method", tg.Notifier)
	}
	const n = 5
	for i := range n {
		conv := fmt.Sprintf("close-%d", i)
		mustNotify(t, tg, notification(tg, i, conv, conv))
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := c.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	accepted := 0
	for drained := false; !drained; {
		select {
		case d := <-tg.Deliveries:
			if !d.Refused {
				accepted++
			}
		default:
			drained = true
		}
	}
	if accepted != n {
		t.Errorf("%d of %d notifications accepted before Close were delivered when Close returned", accepted, n)
	}
	if err := notify(context.Background(), tg.Notifier, notification(tg, n, "after-close", "after-close")); err == nil {
		t.Error("Notify after Close returned nil, want an error")
	} else if !isPrompt(err) {
		t.Errorf("Notify after Close: %v", err)
	}
	select {
	case d := <-tg.Deliveries:
		t.Errorf("delivered after Close: %+v", d)
	case <-time.After(graceTimeout):
	}
}
