package storetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopchat/chat"
)

// allEvents reads the whole log, page by page.
func allEvents(t testing.TB, l chat.EventLog, page int) []chat.Event {
	t.Helper()
	var out []chat.Event
	var after int64
	for {
		evs, err := l.Events(ctx, after, page)
		require.NoError(t, err, "Events after %d", after)
		if len(evs) == 0 {
			return out
		}
		require.LessOrEqual(t, len(evs), page, "Events returns at most limit")
		out = append(out, evs...)
		after = evs[len(evs)-1].Pos
	}
}

func eventCases() []def {
	return []def{
		{"EventLog/AppendAndRead", func(t testing.TB, s store) {
			l := s
			evs, err := l.Events(ctx, 0, 0)
			require.NoError(t, err)
			assert.Empty(t, evs, "a fresh store's log is empty")
			m := &chat.Message{ID: "m1", ConversationID: "c1", Seq: 1, Kind: chat.VisitorText, Text: "hi", CreatedAt: at(1)}
			batch := []chat.Event{
				{ID: "e1", Kind: chat.EventConversationStarted, Time: at(1), ConversationID: "c1", VisitorID: "v1", Message: m},
				{ID: "e2", Kind: chat.EventAssigned, Time: at(2), ConversationID: "c1", OperatorID: "alice"},
				{ID: "e3", Kind: chat.EventVisitorLabels, Time: at(3), VisitorID: "v1", Labels: []string{"a", "vip"}},
			}
			require.NoError(t, l.AppendEvents(ctx, batch))
			for i := 1; i < len(batch); i++ {
				assert.Greater(t, batch[i].Pos, batch[i-1].Pos, "positions increase in order")
			}
			assert.Positive(t, batch[0].Pos)
			got := allEvents(t, l, 2)
			require.Len(t, got, 3)
			for i, ev := range got {
				assert.Equal(t, batch[i].ID, ev.ID)
				assert.Equal(t, batch[i].Pos, ev.Pos, "the Pos AppendEvents set is the stored one")
				assert.Equal(t, batch[i].Kind, ev.Kind)
				sameTime(t, batch[i].Time, ev.Time, "Time")
			}
			require.NotNil(t, got[0].Message)
			assert.Equal(t, "hi", got[0].Message.Text)
			assert.Equal(t, int64(1), got[0].Message.Seq)
			assert.Equal(t, "alice", got[1].OperatorID)
			assert.Equal(t, []string{"a", "vip"}, got[2].Labels)
			rest, err := l.Events(ctx, got[0].Pos, 10)
			require.NoError(t, err)
			assert.Equal(t, []string{"e2", "e3"}, eventIDs(rest), "reading after a position")
		}},
		{"EventLog/RetrySkipsStored", func(t testing.TB, s store) {
			l := s
			first := []chat.Event{{ID: "x", Kind: chat.EventClosed, Time: at(1)}}
			require.NoError(t, l.AppendEvents(ctx, first))
			again := []chat.Event{{ID: "x", Kind: chat.EventClosed, Time: at(1)}, {ID: "y", Kind: chat.EventReopened, Time: at(2)}}
			require.NoError(t, l.AppendEvents(ctx, again))
			assert.Zero(t, again[0].Pos, "an event stored before is skipped")
			assert.Greater(t, again[1].Pos, first[0].Pos)
			assert.Equal(t, []string{"x", "y"}, eventIDs(allEvents(t, l, 100)), "each event once")
		}},
		{"EventLog/Invalid", func(t testing.TB, s store) {
			l := s
			err := l.AppendEvents(ctx, []chat.Event{{ID: "ok", Kind: chat.EventClosed, Time: at(1)}, {Kind: chat.EventClosed, Time: at(1)}})
			isErr(t, err, chat.ErrInvalid, "AppendEvents without an ID")
			err = l.AppendEvents(ctx, []chat.Event{{ID: "k", Time: at(1)}})
			isErr(t, err, chat.ErrInvalid, "AppendEvents without a Kind")
			assert.Empty(t, allEvents(t, l, 100), "nothing stored")
		}},
		{"EventLog/ConcurrentAppendsInOrder", func(t testing.TB, s store) {
			l := s
			const workers, each = 8, 10
			var unexpected firstErr
			parallel(workers, func(w int) {
				for i := range each {
					if err := l.AppendEvents(ctx, []chat.Event{{ID: fmt.Sprintf("w%d-%d", w, i), Kind: chat.EventMessage, Time: at(i)}}); err != nil {
						unexpected.set(err)
					}
				}
			})
			require.NoError(t, unexpected.err)
			got := allEvents(t, l, 7)
			require.Len(t, got, workers*each, "every event stored once")
			ids := eventIDs(got)
			slices.Sort(ids)
			assert.Len(t, slices.Compact(ids), workers*each, "no duplicates")
		}},
		{"Labels/SetAndRead", func(t testing.TB, s store) {
			l := s
			mustVisitor(t, s, "v1", "")
			got, err := l.VisitorLabels(ctx, "v1")
			require.NoError(t, err)
			assert.Empty(t, got, "a new visitor has none")
			require.NoError(t, l.SetVisitorLabels(ctx, "v1", []string{"vip", "wholesale"}))
			got, err = l.VisitorLabels(ctx, "v1")
			require.NoError(t, err)
			assert.Equal(t, []string{"vip", "wholesale"}, got)
			require.NoError(t, l.SetVisitorLabels(ctx, "v1", nil))
			got, err = l.VisitorLabels(ctx, "v1")
			require.NoError(t, err)
			assert.Empty(t, got, "cleared")
			isErr(t, l.SetVisitorLabels(ctx, "nobody", []string{"x"}), chat.ErrNotFound, "SetVisitorLabels of an unknown visitor")
			_, err = l.VisitorLabels(ctx, "nobody")
			isErr(t, err, chat.ErrNotFound, "VisitorLabels of an unknown visitor")
		}},
		{"Labels/ErasedWithVisitor", func(t testing.TB, s store) {
			l := s
			mustVisitor(t, s, "v1", "")
			require.NoError(t, l.SetVisitorLabels(ctx, "v1", []string{"vip"}))
			require.NoError(t, s.DeleteVisitor(ctx, "v1"))
			_, err := l.VisitorLabels(ctx, "v1")
			isErr(t, err, chat.ErrNotFound, "VisitorLabels after erasure")
			mustVisitor(t, s, "v1", "")
			got, err := l.VisitorLabels(ctx, "v1")
			require.NoError(t, err)
			assert.Empty(t, got, "a visitor created again with the same id starts without the old labels")
		}},
	}
}

func eventIDs(evs []chat.Event) []string {
	ids := make([]string, len(evs))
	for i, ev := range evs {
		ids[i] = ev.ID
	}
	return ids
}
