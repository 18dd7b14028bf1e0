package storetest

import (
	"reflect"
	"strings"
	"testing"

	"github.com/shopchat/chat"
)

// roleTypes are the optional roles' interfaces, by chat.Capability.Role.
var roleTypes = map[string]reflect.Type{
	"tracking":           reflect.TypeFor[chat.TrackingStore](),
	"orders":             reflect.TypeFor[chat.OrderStore](),
	"canned":             reflect.TypeFor[chat.CannedStore](),
	"triggers":           reflect.TypeFor[chat.TriggerStore](),
	"claims":             reflect.TypeFor[chat.ClaimStore](),
	"search":             reflect.TypeFor[chat.Searcher](),
	"page-view-visitors": reflect.TypeFor[chat.PageViewVisitors](),
	"assigned-append":    reflect.TypeFor[chat.AssignedAppender](),
	"batch-append":       reflect.TypeFor[chat.BatchAppender](),
	"events":             reflect.TypeFor[chat.EventLog](),
	"labels":             reflect.TypeFor[chat.Labeler](),
	"attachments":        reflect.TypeFor[chat.AttachmentStore](),
}

// capabilityCases get the store as it is, not behind chat.Checked.
func capabilityCases() []Case {
	return []Case{
		{Name: "Capabilities/Complete", Fn: capabilitiesComplete},
		{Name: "Capabilities/NotHidden", Fn: capabilitiesNotHidden},
	}
}

// capabilitiesComplete fails a store (or a store it unwraps to) with some
// but not all methods of an optional role: the Server would not see the
// role, and the store would pass by skipping its cases.
func capabilitiesComplete(t testing.TB, s chat.Store) {
	for _, c := range chat.StoreCapabilities(s) {
		if !c.Required && roleTypes[c.Role] == nil {
			t.Errorf("storetest does not know the %s role (%s)", c.Role, c.Interface)
		}
	}
	for range 100 { // as chat.StoreAs bounds Unwrap chains
		typ := reflect.TypeOf(s)
		for role, it := range roleTypes {
			var have, lack []string
			for i := range it.NumMethod() {
				name := it.Method(i).Name
				if _, ok := typ.MethodByName(name); ok {
					have = append(have, name)
				} else {
					lack = append(lack, name)
				}
			}
			if len(have) > 0 && len(lack) > 0 {
				t.Errorf("%v has %s of the optional %s role (%v) but not %s: the Server will not see the role. Implement all of them, or none.",
					typ, strings.Join(have, ", "), role, it, strings.Join(lack, ", "))
			}
		}
		u, ok := s.(interface{ Unwrap() chat.Store })
		if !ok {
			return
		}
		if s = u.Unwrap(); s == nil {
			return
		}
	}
}

// capabilitiesNotHidden fails a store that holds another store (in an
// exported field: embedding chat.Store is the usual decorator) with a
// role the Server cannot find on the outer one. Without this case a
// decorator that forgets Unwrap would pass by skipping the role's cases,
// and lose the role in production (to a stand-in, or altogether) without a
// word.
func capabilitiesNotHidden(t testing.TB, s chat.Store) {
	outer := chat.StoreCapabilities(s)
	for _, inner := range heldStores(s) {
		for i, c := range chat.StoreCapabilities(inner) {
			if c.Direct || c.Status != chat.RoleProvided || outer[i].Status == chat.RoleProvided {
				continue
			}
			t.Errorf("%T wraps a %T, which provides the %s role (%s), but hides it: the Server will not find it. "+
				"Give %T a method Unwrap() chat.Store that returns the wrapped store (see chat.StoreAs), or implement %s on it.",
				s, inner, c.Role, c.Interface, s, c.Interface)
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
