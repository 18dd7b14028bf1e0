package chat

import (
	"context"

	"github.com/shopchat/chat/protocol"
)

// STUB: the tracking work replaces everything in this file.

var errTODO = userErr(ErrInvalid, "not implemented yet")

func (ss *session) onPage(ctx context.Context, f protocol.ClientFrame) error     { return errTODO }
func (ss *session) onInvite(ctx context.Context, f protocol.ClientFrame) error   { return errTODO }
func (ss *session) onTriggers(ctx context.Context, f protocol.ClientFrame) error { return errTODO }
func (ss *session) onVisitors(ctx context.Context, f protocol.ClientFrame) error { return errTODO }
