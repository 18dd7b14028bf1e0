package chat

import (
	"context"
	"net/http"

	"github.com/shopchat/chat/protocol"
)

// STUB: the tracking work replaces everything in this file.

var errTODO = userErr(ErrInvalid, "not implemented yet")

func (ss *session) onPage(ctx context.Context, f protocol.ClientFrame) error     { return errTODO }
func (ss *session) onRate(ctx context.Context, f protocol.ClientFrame) error     { return errTODO }
func (ss *session) onInvite(ctx context.Context, f protocol.ClientFrame) error   { return errTODO }
func (ss *session) onCanned(ctx context.Context, f protocol.ClientFrame) error   { return errTODO }
func (ss *session) onTriggers(ctx context.Context, f protocol.ClientFrame) error { return errTODO }
func (ss *session) onVisitors(ctx context.Context, f protocol.ClientFrame) error { return errTODO }

func (s *Server) cannedFrames(ctx context.Context, operatorID string) ([]protocol.Canned, error) {
	var out []protocol.Canned
	for _, c := range s.cfg.CannedResponses {
		out = append(out, protocol.Canned{Shortcut: c.Shortcut, Title: c.Title, Text: c.Text})
	}
	return out, nil
}

func (s *Server) serveReports(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "not implemented", http.StatusNotImplemented)
}
