package chat

import (
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/shopchat/chat/internal/refuse"
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
// visitor token cookie, or Config.Operators. Any other method, HEAD
// included, gets 405 with Allow.
func (s *Server) mountTransports(mux *http.ServeMux) {
	p := s.cfg.Path
	mount := func(name string, t Transport) {
		visitor := map[string]http.HandlerFunc{http.MethodGet: s.serveVisitorSocket(t)}
		operator := map[string]http.HandlerFunc{http.MethodGet: s.serveOperatorSocket(t)}
		if pt, ok := t.(transport.Poster); ok {
			visitor[http.MethodPost] = s.servePost(pt, false)
			operator[http.MethodPost] = s.servePost(pt, true)
		}
		mux.Handle(p+name, byMethod(visitor))
		mux.Handle(p+"operator/"+name, byMethod(operator))
	}
	mount("ws", s.cfg.Transport)
	if s.cfg.Fallback != nil && !s.cfg.NoFallback {
		mount("sse", s.cfg.Fallback)
	}
}

// byMethod routes a request to the handler of its method, and answers any
// other method with 405 and Allow. Why not ServeMux's "GET /path": it
// serves HEAD with the GET handler, and a HEAD on a socket's path would be
// admitted as a session (counted against the caps, the visitor announced
// online) and, on the event stream, hold the connection open with its body
// discarded.
func byMethod(handlers map[string]http.HandlerFunc) http.Handler {
	allow := slices.Sorted(maps.Keys(handlers))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, ok := handlers[r.Method]; ok {
			h(w, r)
			return
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		refuse.Error(w, r, "method not allowed", http.StatusMethodNotAllowed) // a body it may carry is not read
	})
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
// frame for another owner's connection. A visitor's token is checked as the
// stream's was, against the stored visitor (a store read per frame; up
// frames are few): a token revoked by a logout, a login or an erasure posts
// nothing, even to a stream it learned the id of. A refusal stops the
// reading of the frame's body (refuse.Error).
func (s *Server) servePost(t transport.Poster, operator bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var owner string
		if operator {
			op, err := s.cfg.Operators(r)
			if err != nil || op == nil || op.ID == "" {
				refuse.Error(w, r, "operator login required", http.StatusUnauthorized)
				return
			}
			owner = (&session{op: op}).owner()
		} else {
			tok, err := s.requestToken(r)
			if err == nil {
				_, err = s.visitorOfToken(r.Context(), tok, false)
			}
			switch {
			case errors.Is(err, ErrUnauthorized):
				refuse.Error(w, r, "no valid visitor token", http.StatusUnauthorized)
				return
			case errors.Is(err, ErrNotFound):
				// Signed, but never stored (it opened no stream) or erased
				// (its streams were closed): no stream of its can exist.
				refuse.Error(w, r, "unknown stream: open a new one", http.StatusNotFound)
				return
			case err != nil:
				s.logErr("frame post", err)
				refuse.Error(w, r, "chat unavailable", http.StatusServiceUnavailable)
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
