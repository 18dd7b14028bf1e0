package chat

import (
	"context"
	"errors"
	"testing"

	"github.com/shopchat/chat/protocol"
)

// The frame table, not each handler, refuses a sender a row does not list:
// every row's handler is reached by the senders it lists and by no other.
func TestFrameTableRefusesSendersItDoesNotList(t *testing.T) {
	ctx := context.Background()
	visitor := &session{visitor: &Visitor{ID: "v"}}
	operator := &session{op: &Operator{ID: "o"}}
	nobody := &session{} // before hello
	for typ, row := range frameTable {
		var reached *session
		table := map[string]frameHandler{typ: {row.from, func(ss *session, _ context.Context, _ protocol.ClientFrame) error {
			reached = ss
			return nil
		}}}
		for _, c := range []struct {
			name string
			ss   *session
			bit  senders
		}{{"visitor", visitor, fromVisitors}, {"operator", operator, fromOperators}, {"session before hello", nobody, 0}} {
			reached = nil
			err := c.ss.dispatch(ctx, protocol.ClientFrame{Type: typ}, table)
			if row.from&c.bit != 0 {
				if err != nil || reached != c.ss {
					t.Errorf("%s from a %s: %v, handler reached: %v", typ, c.name, err, reached != nil)
				}
			} else if !errors.Is(err, ErrForbidden) || reached != nil {
				t.Errorf("%s from a %s: %v, handler reached: %v; want ErrForbidden from the table", typ, c.name, err, reached != nil)
			}
		}
	}
	if err := visitor.dispatch(ctx, protocol.ClientFrame{Type: protocol.TypeHello}, frameTable); !errors.Is(err, ErrInvalid) {
		t.Errorf("a type the table lacks: %v, want ErrInvalid", err)
	}
}

// The roles the protocol documents for each frame type are the table's; a
// visitor's operator frame and an operator's visitor frame are refused by
// the real table before any handler runs (these sessions have no Server: a
// handler would panic).
func TestFrameTableRoles(t *testing.T) {
	ctx := context.Background()
	visitor := &session{visitor: &Visitor{ID: "v"}}
	operator := &session{op: &Operator{ID: "o"}}
	for _, typ := range []string{protocol.TypeNote, protocol.TypeAccept, protocol.TypeTransfer, protocol.TypeReopen,
		protocol.TypePresence, protocol.TypeVisitor, protocol.TypeCanned, protocol.TypeTriggers, protocol.TypeVisitors} {
		if frameTable[typ].from != fromOperators {
			t.Errorf("%s: senders %b, want operators only", typ, frameTable[typ].from)
		}
		if err := visitor.handle(ctx, protocol.ClientFrame{Type: typ}); !errors.Is(err, ErrForbidden) {
			t.Errorf("%s from a visitor: %v, want ErrForbidden", typ, err)
		}
	}
	for _, typ := range []string{protocol.TypePage, protocol.TypeRate, protocol.TypeProfile} {
		if frameTable[typ].from != fromVisitors {
			t.Errorf("%s: senders %b, want visitors only", typ, frameTable[typ].from)
		}
		if err := operator.handle(ctx, protocol.ClientFrame{Type: typ}); !errors.Is(err, ErrForbidden) {
			t.Errorf("%s from an operator: %v, want ErrForbidden", typ, err)
		}
	}
}
