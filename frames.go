package chat

import (
	"context"

	"github.com/shopchat/chat/protocol"
)

// senders says who may send a frame type.
type senders uint8

const (
	fromVisitors senders = 1 << iota
	fromOperators
	fromAnyone = fromVisitors | fromOperators
)

// frameHandler is one row of the frame table: who may send the frame type
// and the session method that handles it.
type frameHandler struct {
	from   senders
	handle func(ss *session, ctx context.Context, f protocol.ClientFrame) error
}

// frameTable is every client frame type a session takes after hello (the
// reader handles hello itself). A new frame type is one row here and its
// handler; the table, not the handler, refuses a sender it does not list,
// so a handler for visitors may use ss.visitor and one for operators ss.op.
// A handler still checks what depends on the frame's content (a visitor
// may only dismiss an invitation; an operator acts only on conversations
// assigned to them).
var frameTable = map[string]frameHandler{
	protocol.TypeMessage:    {fromAnyone, (*session).onMessage},
	protocol.TypeTyping:     {fromAnyone, (*session).onTyping},
	protocol.TypeRead:       {fromAnyone, (*session).onRead},
	protocol.TypeHistory:    {fromAnyone, (*session).onHistory},
	protocol.TypeClose:      {fromAnyone, (*session).onClose},
	protocol.TypeSearch:     {fromAnyone, (*session).onSearch},
	protocol.TypeTranscript: {fromAnyone, (*session).onTranscript},
	protocol.TypeMail:       {fromAnyone, (*session).onMail},
	protocol.TypeInvite:     {fromAnyone, (*session).onInvite}, // visitors dismiss with it
	protocol.TypeProfile:    {fromVisitors, (*session).onProfile},
	protocol.TypePage:       {fromVisitors, (*session).onPage},
	protocol.TypeRate:       {fromVisitors, (*session).onRate},
	protocol.TypeNote:       {fromOperators, (*session).onNote},
	protocol.TypeAccept:     {fromOperators, (*session).onAccept},
	protocol.TypeTransfer:   {fromOperators, (*session).onTransfer},
	protocol.TypeReopen:     {fromOperators, (*session).onReopen},
	protocol.TypePresence:   {fromOperators, (*session).onPresence},
	protocol.TypeVisitor:    {fromOperators, (*session).onVisitorDetails},
	protocol.TypeCanned:     {fromOperators, (*session).onCanned},
	protocol.TypeTriggers:   {fromOperators, (*session).onTriggers},
	protocol.TypeVisitors:   {fromOperators, (*session).onVisitors},
	protocol.TypeAnswers:    {fromOperators, (*session).onAnswers},
}

// sender is who the session speaks for: none before hello has set either.
func (ss *session) sender() senders {
	switch {
	case ss.op != nil:
		return fromOperators
	case ss.visitor != nil:
		return fromVisitors
	}
	return 0
}

// handle dispatches one frame after hello by the frame table.
func (ss *session) handle(ctx context.Context, f protocol.ClientFrame) error {
	return ss.dispatch(ctx, f, frameTable)
}

func (ss *session) dispatch(ctx context.Context, f protocol.ClientFrame, table map[string]frameHandler) error {
	row, ok := table[f.Type]
	if !ok {
		return userErr(ErrInvalid, "%s is not allowed here", f.Type)
	}
	if row.from&ss.sender() == 0 {
		switch row.from {
		case fromOperators:
			return userErr(ErrForbidden, "%s is for operators", f.Type)
		case fromVisitors:
			return userErr(ErrForbidden, "%s is for visitors", f.Type)
		}
		return userErr(ErrForbidden, "%s is not allowed here", f.Type)
	}
	return row.handle(ss, ctx, f)
}
