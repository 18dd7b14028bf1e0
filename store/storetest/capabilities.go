package storetest

import (
	"reflect"
	"testing"

	"github.com/shopchat/chat"
)

// capability is an optional Store capability the Server finds through
// chat.StoreAs, so a wrapper must not hide it.
type capability struct {
	name string
	has  func(chat.Store) bool
}

var capabilities = []capability{
	{"chat.Searcher", func(s chat.Store) bool { _, ok := chat.StoreAs[chat.Searcher](s); return ok }},
	{"chat.PageViewVisitors", func(s chat.Store) bool { _, ok := chat.StoreAs[chat.PageViewVisitors](s); return ok }},
}

func capabilityCases() []Case {
	return []Case{{"Capabilities/NotHidden", capabilitiesNotHidden}}
}

// capabilitiesNotHidden fails a store that holds another store (in an
// exported field: embedding chat.Store is the usual decorator) with a
// capability the Server cannot find on the outer one. Without this case a
// decorator that forgets Unwrap would pass by skipping the capability's
// cases, and lose it in production without a word.
func capabilitiesNotHidden(t testing.TB, s chat.Store) {
	for _, inner := range heldStores(s) {
		for _, c := range capabilities {
			if c.has(inner) && !c.has(s) {
				t.Errorf("%T wraps a %T, which implements %s, but hides it: the Server will not find it. "+
					"Give %T a method Unwrap() chat.Store that returns the wrapped store (see chat.StoreAs), or implement %s on it.",
					s, inner, c.name, s, c.name)
			}
		}
	}
}

// heldStores returns the non-nil chat.Stores s holds in exported fields
// (an embedded chat.Store is one), found by reflection.
func heldStores(s chat.Store) []chat.Store {
	v := reflect.ValueOf(s)
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil
	}
	var out []chat.Store
	for i := range v.NumField() {
		if !v.Type().Field(i).IsExported() || !v.Field(i).CanInterface() {
			continue
		}
		if inner, ok := v.Field(i).Interface().(chat.Store); ok && inner != nil {
			out = append(out, inner)
		}
	}
	return out
}
