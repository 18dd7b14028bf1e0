package chat

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/shopchat/chat/transport"
)

// Visitor tokens are "<id>.<generation>.<issued unix seconds>.<mac>": the
// id is 128 random bits chosen by the server, the generation is the
// visitor's TokenGen when the token was issued, and the MAC (HMAC-SHA256
// under Config.Secret) covers all three, so a client can neither choose its
// own id, nor keep a token alive past its TTL, nor outlive a login or a
// logout (which raise the stored generation). Tokens of the older
// three-part form ("<id>.<issued>.<mac>") are generation 0.
type tokenSigner struct{ secret []byte }

var b64 = base64.RawURLEncoding

func (t tokenSigner) mac(purpose, payload string) string {
	h := hmac.New(sha256.New, t.secret)
	h.Write([]byte(purpose))
	h.Write([]byte{0})
	h.Write([]byte(payload))
	return b64.EncodeToString(h.Sum(nil))
}

func (t tokenSigner) sign(visitorID string, gen int64, issued time.Time) string {
	payload := visitorID + "." + strconv.FormatInt(gen, 10) + "." + strconv.FormatInt(issued.Unix(), 10)
	return payload + "." + t.mac("visitor", payload)
}

// visitorToken is a verified token's content.
type visitorToken struct {
	id     string
	gen    int64
	issued time.Time
}

// verify returns what token says, or ErrUnauthorized.
func (t tokenSigner) verify(token string, now time.Time, ttl time.Duration) (visitorToken, error) {
	if len(token) > 256 {
		return visitorToken{}, fmt.Errorf("%w: malformed visitor token", ErrUnauthorized)
	}
	parts := strings.Split(token, ".")
	var genText string
	switch len(parts) {
	case 3:
		genText = "0"
	case 4:
		genText = parts[1]
	default:
		return visitorToken{}, fmt.Errorf("%w: malformed visitor token", ErrUnauthorized)
	}
	payload := strings.Join(parts[:len(parts)-1], ".")
	if !hmac.Equal([]byte(parts[len(parts)-1]), []byte(t.mac("visitor", payload))) {
		return visitorToken{}, fmt.Errorf("%w: visitor token signature mismatch", ErrUnauthorized)
	}
	issued, err := strconv.ParseInt(parts[len(parts)-2], 10, 64)
	gen, gerr := strconv.ParseInt(genText, 10, 64)
	if err != nil || gerr != nil || parts[0] == "" {
		return visitorToken{}, fmt.Errorf("%w: malformed visitor token", ErrUnauthorized)
	}
	at := time.Unix(issued, 0)
	if now.Sub(at) > ttl {
		return visitorToken{}, fmt.Errorf("%w: visitor token expired", ErrUnauthorized)
	}
	return visitorToken{id: parts[0], gen: gen, issued: at}, nil
}

func newVisitorID() string {
	var b [16]byte
	rand.Read(b[:])
	return b64.EncodeToString(b[:])
}

// requestToken returns the request's verified visitor token.
func (s *Server) requestToken(r *http.Request) (visitorToken, error) {
	c, err := r.Cookie(s.cfg.CookieName)
	if err != nil {
		return visitorToken{}, fmt.Errorf("%w: no visitor token", ErrUnauthorized)
	}
	return s.tokens.verify(c.Value, s.now(), s.cfg.VisitorTokenTTL)
}

// visitorFromRequest resolves the visitor of a request's token cookie,
// creating the stored visitor on its first use: a token is issued without
// one, so that only a visitor with something to keep (a widget that
// connects) costs a row.
func (s *Server) visitorFromRequest(r *http.Request) (*Visitor, error) {
	tok, err := s.requestToken(r)
	if err != nil {
		return nil, err
	}
	return s.visitorOfToken(r.Context(), tok, true)
}

// visitorOfToken returns the visitor tok names; with create, one not stored
// yet is created (ErrNotFound otherwise). ErrUnauthorized for a token older
// than the visitor's TokenGen.
func (s *Server) visitorOfToken(ctx context.Context, tok visitorToken, create bool) (*Visitor, error) {
	v, err := s.store.Visitor(ctx, tok.id)
	if errors.Is(err, ErrNotFound) && create {
		// We signed this id, so it is ours: either issued without a row
		// (the row comes with first use) or lost by a store (a memory store
		// restarted).
		now := s.now()
		v = &Visitor{ID: tok.id, CreatedAt: now, LastSeenAt: now, TokenGen: tok.gen}
		if err = s.store.CreateVisitor(ctx, v); errors.Is(err, ErrConflict) {
			v, err = s.store.Visitor(ctx, tok.id)
		} else if err == nil {
			s.visitorStored(ctx, v, true)
		}
	}
	if err != nil {
		return nil, err
	}
	if tok.gen < v.TokenGen {
		return nil, fmt.Errorf("%w: visitor token revoked", ErrUnauthorized)
	}
	return v, nil
}

// setVisitorCookie sets a fresh token for v and returns it.
func (s *Server) setVisitorCookie(w http.ResponseWriter, r *http.Request, v *Visitor) string {
	token := s.tokens.sign(v.ID, v.TokenGen, s.now())
	http.SetCookie(w, &http.Cookie{
		Name:     s.cfg.CookieName,
		Value:    token,
		Path:     s.cfg.CookiePath,
		MaxAge:   int(s.cfg.VisitorTokenTTL / time.Second),
		HttpOnly: true,
		Secure:   s.secureRequest(r),
		SameSite: http.SameSiteLaxMode,
	})
	return token
}

// serveSession (POST {Path}session) returns the caller's visitor, creating
// one with a fresh token cookie if the request has no valid token, and
// renewing the token otherwise. With Config.CookieOnInteraction, a request
// with ?passive and no valid token gets only the widget config: the widget
// sends it on page load and asks again without it when the visitor opens
// the chat.
func (s *Server) serveSession(w http.ResponseWriter, r *http.Request) {
	if !s.sameOriginRequest(r) {
		s.add("cross_site_refused_total", 1)
		http.Error(w, "cross-site request refused", http.StatusForbidden)
		return
	}
	widget := struct {
		WidgetConfig
		CookieOnInteraction bool `json:"cookie_on_interaction,omitempty"`
	}{s.cfg.Widget, s.cfg.CookieOnInteraction}
	v, err := s.visitorFromRequest(r)
	if errors.Is(err, ErrUnauthorized) {
		if s.cfg.CookieOnInteraction && r.URL.Query().Has("passive") {
			// The widget asks before the visitor interacted: no visitor and
			// no cookie yet, only how to look (it asks again when opened).
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			json.NewEncoder(w).Encode(map[string]any{"widget": widget})
			return
		}
		if !s.allowNewVisitor(r) {
			w.Header().Set("Retry-After", "60")
			http.Error(w, "too many new visitors from this address; try again later", http.StatusTooManyRequests)
			return
		}
		v, err = s.unsavedVisitor(), nil
	}
	if err != nil {
		s.logErr("visitor session", err)
		http.Error(w, "chat unavailable", http.StatusServiceUnavailable)
		return
	}
	s.setVisitorCookie(w, r, v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(map[string]any{
		"visitor": map[string]string{"id": v.ID, "name": v.Name, "email": v.Email},
		"widget":  widget,
	})
}

// unsavedVisitor is a new anonymous visitor that is not stored yet: the
// first use of its token stores it (see visitorOfToken).
func (s *Server) unsavedVisitor() *Visitor {
	now := s.now()
	return &Visitor{ID: newVisitorID(), CreatedAt: now, LastSeenAt: now}
}

func (s *Server) newVisitor(ctx context.Context, customerID string) (*Visitor, error) {
	v := &Visitor{ID: newVisitorID(), CustomerID: customerID, CreatedAt: s.now(), LastSeenAt: s.now()}
	if err := s.store.CreateVisitor(ctx, v); err != nil {
		return nil, err
	}
	return v, nil
}

// Customer is a logged-in customer of the shop, as passed to Identify.
type Customer struct {
	ID    string // the shop's user id; required
	Name  string // optional display name
	Email string // optional, for offline replies
}

// Identify binds the request's visitor to a logged-in customer so that their
// chat history follows them across devices. Call it from the shop's code
// after its own login check (for example in the login handler); it sets the
// visitor cookie on w. Only server code can call it, so an anonymous
// session can never claim a customer's identity.
//
// If the customer already has a visitor (from another device), the cookie
// switches to it; otherwise the current anonymous visitor becomes the
// customer's, with its chats. Either way the token the browser held before
// the login no longer opens anything of the customer's: an anonymous
// visitor that becomes the customer's gets a new token generation, and its
// sockets (on every node) are closed, to reconnect with the new cookie. It
// returns ErrInvalid for an empty customer ID.
func (s *Server) Identify(w http.ResponseWriter, r *http.Request, c Customer) (*Visitor, error) {
	if c.ID == "" {
		return nil, invalidf("customer id is empty")
	}
	ctx := r.Context()
	v, err := s.store.VisitorByCustomer(ctx, c.ID)
	switch {
	case err == nil:
	case errors.Is(err, ErrNotFound):
		cur, cerr := s.visitorFromRequest(r)
		if cerr == nil && cur.CustomerID == "" {
			cur.CustomerID = c.ID
			cur.TokenGen++ // the pre-login token must not read the customer's chats
			if err = s.store.UpdateVisitor(ctx, cur); err == nil {
				v = cur
				s.closeVisitorSessions(cur.ID, cur.TokenGen)
			}
		} else {
			v, err = s.newVisitor(ctx, c.ID)
		}
		if errors.Is(err, ErrConflict) { // bound concurrently by another request
			v, err = s.store.VisitorByCustomer(ctx, c.ID)
		}
		if err != nil {
			return nil, err
		}
	default:
		return nil, err
	}
	if (c.Name != "" && c.Name != v.Name) || (c.Email != "" && c.Email != v.Email) {
		if c.Name != "" {
			v.Name = c.Name
		}
		if c.Email != "" {
			v.Email = c.Email
		}
		if err := s.store.UpdateVisitor(ctx, v); err != nil {
			return nil, err
		}
	}
	s.setVisitorCookie(w, r, v)
	return v, nil
}

// Forget logs the request's visitor out of the chat: call it from the
// shop's logout handler. It raises the visitor's token generation, so no
// token issued before (in this browser or on the customer's other devices)
// opens their chats any more, closes their open sockets on every node, and
// clears the cookie; the next page starts an anonymous visitor. A request
// without a valid visitor token only has its cookie cleared.
func (s *Server) Forget(w http.ResponseWriter, r *http.Request) error {
	http.SetCookie(w, &http.Cookie{
		Name: s.cfg.CookieName, Value: "", Path: s.cfg.CookiePath, MaxAge: -1,
		HttpOnly: true, Secure: s.secureRequest(r), SameSite: http.SameSiteLaxMode,
	})
	tok, err := s.requestToken(r)
	if err != nil {
		return nil // nothing of ours to revoke
	}
	err = s.RevokeVisitor(r.Context(), tok.id)
	if errors.Is(err, ErrNotFound) {
		return nil // never stored: the token opened nothing
	}
	return err
}

// RevokeVisitor ends every token issued so far to the visitor with id and
// closes their open sockets on every node: for a logout from elsewhere
// (the shop's "log out everywhere") or an account's suspension. The
// visitor's chats stay; a later Identify binds them to a fresh token.
// ErrNotFound for an unknown visitor.
func (s *Server) RevokeVisitor(ctx context.Context, id string) error {
	v, err := s.store.Visitor(ctx, id)
	if err != nil {
		return err
	}
	v.TokenGen++
	if err := s.store.UpdateVisitor(ctx, v); err != nil {
		return err
	}
	s.add("visitor_tokens_revoked_total", 1)
	s.closeVisitorSessions(id, v.TokenGen)
	return nil
}

// DisconnectOperator closes the operator's open consoles on every node, at
// once: call it from the shop's operator logout or when taking an
// operator's access away (Config.Operators must also refuse them from now
// on, or their console reconnects).
func (s *Server) DisconnectOperator(ctx context.Context, operatorID string) error {
	if operatorID == "" {
		return invalidf("operator id is empty")
	}
	s.closeOperatorSessions(operatorID)
	s.bridge.kick(wireEvent{Kind: "kick", Topic: operatorTopic(operatorID)})
	return ctx.Err()
}

// closeVisitorSessions closes the visitor's sockets opened with a token
// older than gen, here and on every other node.
func (s *Server) closeVisitorSessions(id string, gen int64) {
	s.closeVisitorSessionsLocal(id, gen)
	s.bridge.kick(wireEvent{Kind: "kick", Topic: visitorTopic(id), Seq: gen})
}

func (s *Server) closeVisitorSessionsLocal(id string, gen int64) {
	s.forgetVisitToken(id)
	for _, ss := range s.sessionsWhere(func(ss *session) bool { return ss.visitorID == id && ss.tokenGen < gen }) {
		ss.shutdown(transport.StatusPolicy, "logged out")
	}
}

func (s *Server) closeOperatorSessions(id string) {
	for _, ss := range s.sessionsWhere(func(ss *session) bool { return ss.op != nil && ss.op.ID == id }) {
		ss.shutdown(transport.StatusPolicy, "operator access ended")
	}
}

// cookieValue returns the value of the named cookie without parsing the
// others (r.Cookie allocates for every cookie of the request).
func cookieValue(r *http.Request, name string) string {
	for _, line := range r.Header["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			if len(part) > len(name) && part[len(name)] == '=' && part[:len(name)] == name {
				return strings.Trim(part[len(name)+1:], `"`)
			}
		}
	}
	return ""
}

// constEqual compares in constant time: a token's MAC is secret.
func constEqual(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	var d byte
	for i := 0; i < len(a); i++ {
		d |= a[i] ^ b[i]
	}
	return d == 0
}
