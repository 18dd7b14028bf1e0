package storetest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopchat/chat"
)

func sameVisitor(t testing.TB, want, got *chat.Visitor) {
	t.Helper()
	require.NotNil(t, got, "visitor")
	assert.Equal(t, want.ID, got.ID, "ID")
	assert.Equal(t, want.CustomerID, got.CustomerID, "CustomerID")
	assert.Equal(t, want.Name, got.Name, "Name")
	assert.Equal(t, want.Email, got.Email, "Email")
	sameTime(t, want.CreatedAt, got.CreatedAt, "CreatedAt")
	sameTime(t, want.LastSeenAt, got.LastSeenAt, "LastSeenAt")
	assert.Equal(t, want.TokenGen, got.TokenGen, "TokenGen")
}

func visitorCases() []def {
	return []def{
		{"Visitors/Create", func(t testing.TB, s store) {
			v := mustVisitor(t, s, "v1", "cust-1")
			got, err := s.Visitor(ctx, "v1")
			require.NoError(t, err)
			sameVisitor(t, v, got)
			// Anonymous visitors (no CustomerID) never conflict with each other.
			mustVisitor(t, s, "anon1", "")
			mustVisitor(t, s, "anon2", "")
			got, err = s.Visitor(ctx, "anon2")
			require.NoError(t, err)
			assert.Empty(t, got.CustomerID)
		}},
		{"Visitors/BouncedEmail", func(t testing.TB, s store) {
			v := &chat.Visitor{ID: "v1", Email: "ann@example.com", BouncedEmail: "ann@example.com", CreatedAt: at(0)}
			require.NoError(t, s.CreateVisitor(ctx, v))
			got, err := s.Visitor(ctx, "v1")
			require.NoError(t, err)
			assert.Equal(t, "ann@example.com", got.BouncedEmail, "created with a bounced address")
			got.BouncedEmail = ""
			require.NoError(t, s.UpdateVisitor(ctx, got))
			got, err = s.Visitor(ctx, "v1")
			require.NoError(t, err)
			assert.Empty(t, got.BouncedEmail, "cleared by an update")
			got.BouncedEmail = "old@example.com"
			require.NoError(t, s.UpdateVisitor(ctx, got))
			got, err = s.Visitor(ctx, "v1")
			require.NoError(t, err)
			assert.Equal(t, "old@example.com", got.BouncedEmail, "set by an update")
		}},
		{"Visitors/TokenGenNeverLowered", func(t testing.TB, s store) {
			v := &chat.Visitor{ID: "v1", CreatedAt: at(0), TokenGen: 2}
			require.NoError(t, s.CreateVisitor(ctx, v))
			got, err := s.Visitor(ctx, "v1")
			require.NoError(t, err)
			assert.EqualValues(t, 2, got.TokenGen, "TokenGen after create")
			// A logout raises it; a stale copy written afterwards (a profile
			// update that read the visitor before) must not revive old tokens.
			stale := *got
			got.TokenGen = 3
			require.NoError(t, s.UpdateVisitor(ctx, got))
			stale.Name = "Renamed"
			require.NoError(t, s.UpdateVisitor(ctx, &stale))
			got, err = s.Visitor(ctx, "v1")
			require.NoError(t, err)
			assert.EqualValues(t, 3, got.TokenGen, "TokenGen after a stale update")
			assert.Equal(t, "Renamed", got.Name, "the stale update's other fields")
		}},
		{"Visitors/CreateInvalid", func(t testing.TB, s store) {
			isErr(t, s.CreateVisitor(ctx, &chat.Visitor{CustomerID: "c"}), chat.ErrInvalid, "CreateVisitor with empty ID")
			_, err := s.VisitorByCustomer(ctx, "c")
			isErr(t, err, chat.ErrNotFound, "VisitorByCustomer after refused create")
		}},
		{"Visitors/CreateConflict", func(t testing.TB, s store) {
			v := mustVisitor(t, s, "v1", "")
			err := s.CreateVisitor(ctx, &chat.Visitor{ID: "v1", Name: "Other", CreatedAt: at(5)})
			isErr(t, err, chat.ErrConflict, "CreateVisitor with existing ID")
			got, err := s.Visitor(ctx, "v1")
			require.NoError(t, err)
			sameVisitor(t, v, got)
		}},
		{"Visitors/CreateCustomerConflict", func(t testing.TB, s store) {
			mustVisitor(t, s, "v1", "cust-1")
			err := s.CreateVisitor(ctx, &chat.Visitor{ID: "v2", CustomerID: "cust-1"})
			isErr(t, err, chat.ErrConflict, "CreateVisitor with a CustomerID bound to another visitor")
			_, err = s.Visitor(ctx, "v2")
			isErr(t, err, chat.ErrNotFound, "Visitor after refused create")
			got, err := s.VisitorByCustomer(ctx, "cust-1")
			require.NoError(t, err)
			assert.Equal(t, "v1", got.ID)
		}},
		{"Visitors/ByCustomer", func(t testing.TB, s store) {
			mustVisitor(t, s, "anon", "")
			v := mustVisitor(t, s, "v1", "cust-1")
			mustVisitor(t, s, "v2", "cust-2")
			got, err := s.VisitorByCustomer(ctx, "cust-1")
			require.NoError(t, err)
			sameVisitor(t, v, got)
			_, err = s.VisitorByCustomer(ctx, "cust-3")
			isErr(t, err, chat.ErrNotFound, "VisitorByCustomer unknown")
			// An anonymous visitor is bound to no customer id.
			_, err = s.VisitorByCustomer(ctx, "")
			isErr(t, err, chat.ErrNotFound, `VisitorByCustomer("")`)
		}},
		{"Visitors/Unbind", func(t testing.TB, s store) {
			v := mustVisitor(t, s, "v1", "cust-1")
			mustVisitor(t, s, "anon", "")
			v.CustomerID = ""
			require.NoError(t, s.UpdateVisitor(ctx, v), "UpdateVisitor clearing CustomerID")
			got, err := s.Visitor(ctx, "v1")
			require.NoError(t, err)
			assert.Empty(t, got.CustomerID, "CustomerID after unbinding")
			_, err = s.VisitorByCustomer(ctx, "cust-1")
			isErr(t, err, chat.ErrNotFound, "VisitorByCustomer of the released customer id")
			_, err = s.VisitorByCustomer(ctx, "")
			isErr(t, err, chat.ErrNotFound, `VisitorByCustomer("") with two unbound visitors`)
			mustVisitor(t, s, "v2", "cust-1")
			got, err = s.VisitorByCustomer(ctx, "cust-1")
			require.NoError(t, err)
			assert.Equal(t, "v2", got.ID, "the released customer id is bound again")
		}},
		{"Visitors/NotFound", func(t testing.TB, s store) {
			_, err := s.Visitor(ctx, "nope")
			isErr(t, err, chat.ErrNotFound, "Visitor")
			_, err = s.VisitorByCustomer(ctx, "nope")
			isErr(t, err, chat.ErrNotFound, "VisitorByCustomer")
			err = s.UpdateVisitor(ctx, &chat.Visitor{ID: "nope", Name: "x"})
			isErr(t, err, chat.ErrNotFound, "UpdateVisitor")
			_, err = s.Visitor(ctx, "nope")
			isErr(t, err, chat.ErrNotFound, "Visitor after UpdateVisitor of unknown")
		}},
		{"Visitors/Update", func(t testing.TB, s store) {
			mustVisitor(t, s, "v1", "")
			upd := &chat.Visitor{ID: "v1", CustomerID: "cust-1", Name: "Ann", Email: "ann@example.com", CreatedAt: at(0), LastSeenAt: at(60)}
			require.NoError(t, s.UpdateVisitor(ctx, upd))
			got, err := s.Visitor(ctx, "v1")
			require.NoError(t, err)
			sameVisitor(t, upd, got)
			got, err = s.VisitorByCustomer(ctx, "cust-1")
			require.NoError(t, err)
			assert.Equal(t, "v1", got.ID)

			// Rebinding to another customer id releases the old one.
			upd.CustomerID = "cust-2"
			require.NoError(t, s.UpdateVisitor(ctx, upd))
			_, err = s.VisitorByCustomer(ctx, "cust-1")
			isErr(t, err, chat.ErrNotFound, "VisitorByCustomer of released customer id")
			got, err = s.VisitorByCustomer(ctx, "cust-2")
			require.NoError(t, err)
			assert.Equal(t, "v1", got.ID)
			mustVisitor(t, s, "v2", "cust-1")

			// Updating without changing the customer id is not a conflict with itself.
			upd.Name = "Ann B."
			require.NoError(t, s.UpdateVisitor(ctx, upd))
			got, err = s.Visitor(ctx, "v1")
			require.NoError(t, err)
			assert.Equal(t, "Ann B.", got.Name)
		}},
		{"Visitors/UpdateCustomerConflict", func(t testing.TB, s store) {
			mustVisitor(t, s, "v1", "cust-1")
			v2 := mustVisitor(t, s, "v2", "")
			err := s.UpdateVisitor(ctx, &chat.Visitor{ID: "v2", CustomerID: "cust-1", Name: "Thief"})
			isErr(t, err, chat.ErrConflict, "UpdateVisitor to a CustomerID bound to another visitor")
			got, err := s.Visitor(ctx, "v2")
			require.NoError(t, err)
			sameVisitor(t, v2, got)
			got, err = s.VisitorByCustomer(ctx, "cust-1")
			require.NoError(t, err)
			assert.Equal(t, "v1", got.ID)
		}},
		{"Visitors/Copies", func(t testing.TB, s store) {
			v := mustVisitor(t, s, "v1", "cust-1")
			v.Name = "changed after create"
			got, err := s.Visitor(ctx, "v1")
			require.NoError(t, err)
			assert.Equal(t, "Name v1", got.Name, "store kept a reference to the created visitor")
			got.Name = "changed after read"
			got.CustomerID = "cust-x"
			again, err := s.Visitor(ctx, "v1")
			require.NoError(t, err)
			assert.Equal(t, "Name v1", again.Name, "Visitor returned stored state")
			assert.Equal(t, "cust-1", again.CustomerID)
			byc, err := s.VisitorByCustomer(ctx, "cust-1")
			require.NoError(t, err)
			byc.Name = "changed after read by customer"
			again, err = s.Visitor(ctx, "v1")
			require.NoError(t, err)
			assert.Equal(t, "Name v1", again.Name, "VisitorByCustomer returned stored state")
		}},
	}
}
