package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopchat/chat"
)

func sameOperator(t testing.TB, want, got *chat.Operator) {
	t.Helper()
	require.NotNil(t, got, "operator")
	assert.Equal(t, want.ID, got.ID, "ID")
	assert.Equal(t, want.Name, got.Name, "Name")
	assert.Equal(t, want.Email, got.Email, "Email")
	assert.Equal(t, want.AvatarURL, got.AvatarURL, "AvatarURL")
	assert.Equal(t, want.Capacity, got.Capacity, "Capacity")
	if len(want.Departments) == 0 {
		assert.Empty(t, got.Departments, "Departments")
	} else {
		assert.Equal(t, want.Departments, got.Departments, "Departments")
	}
}

func operatorCases() []def {
	return []def{
		{"Operators/PutAndGet", func(t testing.TB, s store) {
			op := mustOperator(t, s, "alice", "sales", "billing")
			got, err := s.Operator(ctx, "alice")
			require.NoError(t, err)
			sameOperator(t, op, got)
			bob := mustOperator(t, s, "bob")
			got, err = s.Operator(ctx, "bob")
			require.NoError(t, err)
			sameOperator(t, bob, got)

			// PutOperator on an existing id updates the profile.
			upd := &chat.Operator{ID: "alice", Name: "Alice A.", Email: "a@shop.example", Departments: []string{"returns"}, Capacity: 7}
			require.NoError(t, s.PutOperator(ctx, upd))
			got, err = s.Operator(ctx, "alice")
			require.NoError(t, err)
			sameOperator(t, upd, got)
			assert.Len(t, loads(t, s, at(0)), 2, "OperatorLoads after upsert")
		}},
		{"Operators/PutInvalid", func(t testing.TB, s store) {
			isErr(t, s.PutOperator(ctx, &chat.Operator{Name: "No ID"}), chat.ErrInvalid, "PutOperator with empty ID")
			assert.Empty(t, loads(t, s, at(0)), "OperatorLoads after refused put")
		}},
		{"Operators/NotFound", func(t testing.TB, s store) {
			mustOperator(t, s, "alice")
			_, err := s.Operator(ctx, "bob")
			isErr(t, err, chat.ErrNotFound, "Operator")
		}},
		{"Operators/PutKeepsPresence", func(t testing.TB, s store) {
			mustOperator(t, s, "alice")
			assert.Equal(t, chat.Offline, loads(t, s, at(0))["alice"].Presence, "presence of a new operator")
			require.NoError(t, s.SetPresence(ctx, "alice", chat.Online, at(100)))
			require.NoError(t, s.PutOperator(ctx, &chat.Operator{ID: "alice", Name: "Renamed"}))
			l := loads(t, s, at(10))["alice"]
			assert.Equal(t, chat.Online, l.Presence, "presence after PutOperator update")
			assert.Equal(t, "Renamed", l.Operator.Name)
		}},
		{"Operators/SetPresenceErrors", func(t testing.TB, s store) {
			mustOperator(t, s, "alice")
			isErr(t, s.SetPresence(ctx, "nobody", chat.Online, at(100)), chat.ErrNotFound, "SetPresence unknown operator")
			isErr(t, s.SetPresence(ctx, "alice", chat.Presence("busy"), at(100)), chat.ErrInvalid, "SetPresence undefined presence")
			isErr(t, s.SetPresence(ctx, "alice", chat.Presence(""), at(100)), chat.ErrInvalid, "SetPresence empty presence")
			assert.Equal(t, chat.Offline, loads(t, s, at(0))["alice"].Presence, "presence after refused SetPresence")
			_, err := s.Operator(ctx, "nobody")
			isErr(t, err, chat.ErrNotFound, "SetPresence must not create an operator")
		}},
		{"Operators/LoadsOrderAndPresence", func(t testing.TB, s store) {
			for _, id := range []string{"carol", "alice", "dave", "bob"} {
				mustOperator(t, s, id)
			}
			require.NoError(t, s.SetPresence(ctx, "alice", chat.Online, at(100)))
			require.NoError(t, s.SetPresence(ctx, "bob", chat.Away, at(100)))
			require.NoError(t, s.SetPresence(ctx, "carol", chat.Online, at(50)))
			ls, err := s.OperatorLoads(ctx, at(60))
			require.NoError(t, err)
			var ids []string
			var ps []chat.Presence
			for _, l := range ls {
				require.NotNil(t, l.Operator)
				ids = append(ids, l.Operator.ID)
				ps = append(ps, l.Presence)
				assert.Zero(t, l.Active, "Active of %s", l.Operator.ID)
				assert.True(t, l.LastAssignedAt.IsZero(), "LastAssignedAt of %s never assigned", l.Operator.ID)
			}
			assert.Equal(t, []string{"alice", "bob", "carol", "dave"}, ids, "OperatorLoads order")
			assert.Equal(t, []chat.Presence{chat.Online, chat.Away, chat.Offline, chat.Offline}, ps,
				"presences at t+60s (carol's expired at t+50s)")

			// Before carol's expiry she is online; after everyone's, all are offline.
			assert.Equal(t, chat.Online, loads(t, s, at(40))["carol"].Presence, "before expiry")
			for id, l := range loads(t, s, at(101)) {
				assert.Equal(t, chat.Offline, l.Presence, "%s after expiry", id)
			}
			// A heartbeat renews.
			require.NoError(t, s.SetPresence(ctx, "carol", chat.Online, at(200)))
			assert.Equal(t, chat.Online, loads(t, s, at(150))["carol"].Presence, "after renewal")
			require.NoError(t, s.SetPresence(ctx, "alice", chat.Offline, at(200)))
			assert.Equal(t, chat.Offline, loads(t, s, at(150))["alice"].Presence, "explicitly offline")
		}},
		{"Operators/PresenceNoExpiry", func(t testing.TB, s store) {
			mustOperator(t, s, "alice")
			mustOperator(t, s, "bob")
			require.NoError(t, s.SetPresence(ctx, "alice", chat.Online, time.Time{}), "SetPresence with zero expires")
			require.NoError(t, s.SetPresence(ctx, "bob", chat.Away, time.Time{}), "SetPresence with zero expires")
			for _, now := range []time.Time{at(0), at(86400 * 365), time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)} {
				l := loads(t, s, now)
				assert.Equal(t, chat.Online, l["alice"].Presence, "alice at %v: a zero expires never expires", now)
				assert.Equal(t, chat.Away, l["bob"].Presence, "bob at %v: a zero expires never expires", now)
			}
			// A later heartbeat with an expiry replaces it, and the other way round.
			require.NoError(t, s.SetPresence(ctx, "alice", chat.Online, at(10)))
			assert.Equal(t, chat.Online, loads(t, s, at(5))["alice"].Presence, "before the new expiry")
			assert.Equal(t, chat.Offline, loads(t, s, at(10))["alice"].Presence, "from the new expiry on")
			require.NoError(t, s.SetPresence(ctx, "alice", chat.Online, time.Time{}))
			assert.Equal(t, chat.Online, loads(t, s, at(20))["alice"].Presence, "zero expires again")
		}},
		{"Operators/LoadsActive", func(t testing.TB, s store) {
			mustOperator(t, s, "alice")
			mustOperator(t, s, "bob")
			mustOperator(t, s, "carol")
			for i := range 5 {
				mustConv(t, s, id("c", i), at(i))
			}
			mustAssign(t, s, "c000", "", "alice", at(10))
			mustAssign(t, s, "c001", "", "alice", at(11))
			mustAssign(t, s, "c002", "", "alice", at(12))
			mustAssign(t, s, "c003", "", "bob", at(13))
			// c004 stays queued: it counts for nobody.
			mustClose(t, s, "c000", at(20))
			l := loads(t, s, at(30))
			assert.Equal(t, 2, l["alice"].Active, "alice: 3 assigned, 1 closed")
			assert.Equal(t, 1, l["bob"].Active, "bob")
			assert.Equal(t, 0, l["carol"].Active, "carol")
		}},
		{"Operators/LastAssignedAt", func(t testing.TB, s store) {
			mustOperator(t, s, "alice")
			mustOperator(t, s, "bob")
			mustConv(t, s, "c1", at(0))
			mustConv(t, s, "c2", at(1))
			mustAssign(t, s, "c1", "", "alice", at(10))
			l := loads(t, s, at(11))
			sameTime(t, at(10), l["alice"].LastAssignedAt, "alice LastAssignedAt after first assign")
			assert.True(t, l["bob"].LastAssignedAt.IsZero(), "bob never assigned")
			mustAssign(t, s, "c2", "", "alice", at(20))
			sameTime(t, at(20), loads(t, s, at(21))["alice"].LastAssignedAt, "alice LastAssignedAt after second assign")
			// A refused Assign does not count.
			_, err := s.Assign(ctx, "c1", "", "bob", 0, at(30))
			isErr(t, err, chat.ErrConflict, "Assign of an assigned conversation from \"\"")
			assert.True(t, loads(t, s, at(31))["bob"].LastAssignedAt.IsZero(), "bob after refused Assign")
		}},
		{"Operators/Copies", func(t testing.TB, s store) {
			op := mustOperator(t, s, "alice", "sales", "billing")
			op.Departments[0] = "mutated input"
			op.Name = "mutated input"
			got, err := s.Operator(ctx, "alice")
			require.NoError(t, err)
			assert.Equal(t, []string{"sales", "billing"}, got.Departments, "store kept the caller's Departments slice")
			assert.Equal(t, "Op alice", got.Name)
			got.Departments[0] = "mutated output"
			got.Name = "mutated output"
			l := loads(t, s, at(0))["alice"]
			assert.Equal(t, []string{"sales", "billing"}, l.Operator.Departments, "Operator returned stored Departments")
			assert.Equal(t, "Op alice", l.Operator.Name)
			l.Operator.Departments[1] = "mutated load"
			again, err := s.Operator(ctx, "alice")
			require.NoError(t, err)
			assert.Equal(t, []string{"sales", "billing"}, again.Departments, "OperatorLoads returned stored Departments")
		}},
	}
}
