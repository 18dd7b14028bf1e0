package chat

import (
	"errors"
	"net/http"

	"github.com/shopchat/chat/protocol"
	"github.com/shopchat/chat/transport"
)

// Transport turns an HTTP request into a frame connection. Two are built
// in: transport/websocket (Config.Transport's default) and transport/sse,
// Server-Sent Events down and POST up (Config.Fallback's default), which
// the widget falls back to by itself where WebSocket cannot connect.
type Transport = transport.Transport

// Conn is one client connection made by a Transport.
type Conn = transport.Conn

// The endpoints of a transport: {Path}ws and {Path}operator/ws for
// Config.Transport, {Path}sse and {Path}operator/sse for Config.Fallback
// (GET opens the connection; POST, for a transport.Poster, sends a frame).
// Every request is authenticated the same way, whichever transport: the
// visitor token cookie, or Config.Operators.
func (s *Server) mountTransports(mux *http.ServeMux) {
	p := s.cfg.Path
	mount := func(name string, t Transport) {
		mux.HandleFunc("GET "+p+name, s.serveVisitorSocket(t))
		mux.HandleFunc("GET "+p+"operator/"+name, s.serveOperatorSocket(t))
		if pt, ok := t.(transport.Poster); ok {
			mux.HandleFunc("POST "+p+name, s.servePost(pt, false))
			mux.HandleFunc("POST "+p+"operator/"+name, s.servePost(pt, true))
		}
	}
	mount("ws", s.cfg.Transport)
	if s.cfg.Fallback != nil && !s.cfg.NoFallback {
		mount("sse", s.cfg.Fallback)
	}
}

func (s *Server) serveVisitorSocket(t Transport) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := s.visitorFromRequest(r)
		if err != nil {
			if errors.Is(err, ErrUnauthorized) {
				http.Error(w, "no valid visitor token: POST "+s.cfg.Path+"session first", http.StatusUnauthorized)
				return
			}
			s.logErr("visitor socket", err)
			http.Error(w, "chat unavailable", http.StatusServiceUnavailable)
			return
		}
		s.serveSocket(w, r, t, &session{role: protocol.RoleVisitor, visitor: v, tokenGen: v.TokenGen})
	}
}

func (s *Server) serveOperatorSocket(t Transport) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		op, err := s.cfg.Operators(r)
		if err != nil || op == nil || op.ID == "" {
			http.Error(w, "operator login required", http.StatusUnauthorized)
			return
		}
		op = cloneOperator(op)
		if err := s.store.PutOperator(r.Context(), op); err != nil {
			s.logErr("operator socket", err, "operator", op.ID)
			http.Error(w, "chat unavailable", http.StatusServiceUnavailable)
			return
		}
		s.mu.Lock()
		s.opProfiles[op.ID] = op
		s.mu.Unlock()
		s.serveSocket(w, r, t, &session{role: protocol.RoleOperator, op: op, authReq: authRequest(r)})
	}
}

// servePost authenticates a frame sent up to a Poster's connection as its
// connection was, and hands it on with its owner: the transport refuses a
// frame for another owner's connection. A visitor's token is checked by its
// signature alone, with no store read per frame: its revocation (a logout)
// ends the visitor's connections anyway.
func (s *Server) servePost(t transport.Poster, operator bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var owner string
		if operator {
			op, err := s.cfg.Operators(r)
			if err != nil || op == nil || op.ID == "" {
				http.Error(w, "operator login required", http.StatusUnauthorized)
				return
			}
			owner = (&session{op: op}).owner()
		} else {
			tok, err := s.requestToken(r)
			if err != nil {
				http.Error(w, "no valid visitor token", http.StatusUnauthorized)
				return
			}
			owner = (&session{visitorID: tok.id}).owner()
		}
		if err := t.Post(w, r.WithContext(transport.WithOwner(r.Context(), owner))); err != nil {
			s.add("posts_refused_total", 1)
			s.log.Debug("frame post refused", "err", err)
		}
	}
}
