package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopchat/chat"
)

// t0 is the suite's base time; at(n) is n seconds later.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func at(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }

// liveLong is the LiveUntil of the suite's ordinary conversations: their
// visitors stay on the site through every case, so they take capacity.
var liveLong = t0.Add(24 * time.Hour)

var ctx = context.Background()

// sameTime asserts that two instants are equal, ignoring location and
// monotonic readings.
func sameTime(t testing.TB, want, got time.Time, field string) {
	t.Helper()
	assert.Truef(t, want.Equal(got), "%s: want %v, got %v", field, want, got)
}

func mustVisitor(t testing.TB, s store, id, customerID string) *chat.Visitor {
	t.Helper()
	v := &chat.Visitor{ID: id, CustomerID: customerID, Name: "Name " + id, Email: id + "@example.com", CreatedAt: at(0), LastSeenAt: at(1)}
	require.NoError(t, s.CreateVisitor(ctx, v), "CreateVisitor %q", id)
	return v
}

func mustOperator(t testing.TB, s store, id string, departments ...string) *chat.Operator {
	t.Helper()
	op := &chat.Operator{ID: id, Name: "Op " + id, Email: id + "@shop.example", AvatarURL: "https://shop.example/" + id + ".png", Departments: departments, Capacity: 3}
	require.NoError(t, s.PutOperator(ctx, op), "PutOperator %q", id)
	return op
}

// mustConv creates a visitor id+"-v" and a queued conversation id for it,
// created and queued at created.
func mustConv(t testing.TB, s store, id string, created time.Time) *chat.Conversation {
	t.Helper()
	mustVisitor(t, s, id+"-v", "")
	return mustConvFor(t, s, id, id+"-v", created)
}

func mustConvFor(t testing.TB, s store, id, visitorID string, created time.Time) *chat.Conversation {
	t.Helper()
	c := &chat.Conversation{ID: id, VisitorID: visitorID, CreatedAt: created, QueuedAt: created, LiveUntil: liveLong}
	require.NoError(t, s.CreateConversation(ctx, c), "CreateConversation %q", id)
	got, err := s.Conversation(ctx, id)
	require.NoError(t, err, "Conversation %q", id)
	return got
}

func mustAssign(t testing.TB, s store, id, from, to string, when time.Time) *chat.Conversation {
	t.Helper()
	c, err := s.Assign(ctx, id, from, to, 0, when)
	require.NoError(t, err, "Assign %q from %q to %q", id, from, to)
	return c
}

func mustClose(t testing.TB, s store, id string, when time.Time) {
	t.Helper()
	_, err := s.CloseConversation(ctx, id, when)
	require.NoError(t, err, "CloseConversation %q", id)
}

func mustGetConv(t testing.TB, s store, id string) *chat.Conversation {
	t.Helper()
	c, err := s.Conversation(ctx, id)
	require.NoError(t, err, "Conversation %q", id)
	return c
}

func mustAppend(t testing.TB, s store, m *chat.Message) chat.Appended {
	t.Helper()
	a, err := s.AppendMessage(ctx, m)
	require.NoError(t, err, "AppendMessage")
	require.NotNil(t, a.Message, "Appended.Message")
	require.NotNil(t, a.Conversation, "Appended.Conversation")
	return a
}

func text(convID, clientID, body string, when time.Time) *chat.Message {
	return &chat.Message{ConversationID: convID, ClientID: clientID, Kind: chat.VisitorText, AuthorID: convID + "-v", AuthorName: "Visitor", Text: body, CreatedAt: when}
}

func convIDs(cs []*chat.Conversation) []string {
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	return ids
}

func seqs(ms []*chat.Message) []int64 {
	out := make([]int64, len(ms))
	for i, m := range ms {
		out[i] = m.Seq
	}
	return out
}

// loads returns OperatorLoads keyed by operator id.
func loads(t testing.TB, s store, now time.Time) map[string]chat.OperatorLoad {
	t.Helper()
	ls, err := s.OperatorLoads(ctx, now)
	require.NoError(t, err, "OperatorLoads")
	m := make(map[string]chat.OperatorLoad, len(ls))
	for _, l := range ls {
		require.NotNil(t, l.Operator, "OperatorLoad.Operator")
		m[l.Operator.ID] = l
	}
	return m
}

// isErr asserts that err wraps target.
func isErr(t testing.TB, err, target error, call string) bool {
	t.Helper()
	return assert.ErrorIsf(t, err, target, "%s", call)
}

func id(prefix string, i int) string { return fmt.Sprintf("%s%03d", prefix, i) }
