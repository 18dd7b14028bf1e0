package routertest_test

import (
	"testing"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/router/routertest"
)

// TestBuiltins runs the suite against every Router the chat package
// offers, alone and composed.
func TestBuiltins(t *testing.T) {
	for name, r := range map[string]chat.Router{
		"LeastBusy":               chat.LeastBusy(),
		"RoundRobin":              chat.RoundRobin(),
		"Departments(nil)":        chat.Departments(nil),
		"Departments(RoundRobin)": chat.Departments(chat.RoundRobin()),
	} {
		t.Run(name, func(t *testing.T) {
			routertest.Run(t, func(testing.TB) chat.Router { return r })
		})
	}
}
