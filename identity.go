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
)

// Visitor tokens are "<id>.<issued unix seconds>.<mac>": the id is 128
// random bits chosen by the server, and the MAC (HMAC-SHA256 under
// Config.Secret) covers id and timestamp, so a client can neither choose its
// own id nor keep a token alive past its TTL.
type tokenSigner struct{ secret []byte }

var b64 = base64.RawURLEncoding

func (t tokenSigner) mac(purpose, payload string) string {
	h := hmac.New(sha256.New, t.secret)
	h.Write([]byte(purpose))
	h.Write([]byte{0})
	h.Write([]byte(payload))
	return b64.EncodeToString(h.Sum(nil))
}

func (t tokenSigner) sign(visitorID string, issued time.Time) string {
	payload := visitorID + "." + strconv.FormatInt(issued.Unix(), 10)
	return payload + "." + t.mac("visitor", payload)
}

// verify returns the visitor id in token, or ErrUnauthorized.
func (t tokenSigner) verify(token string, now time.Time, ttl time.Duration) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", fmt.Errorf("%w: malformed visitor token", ErrUnauthorized)
	}
	payload := parts[0] + "." + parts[1]
	if !hmac.Equal([]byte(parts[2]), []byte(t.mac("visitor", payload))) {
		return "", fmt.Errorf("%w: visitor token signature mismatch", ErrUnauthorized)
	}
	issued, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return "", fmt.Errorf("%w: malformed visitor token", ErrUnauthorized)
	}
	if now.Sub(time.Unix(issued, 0)) > ttl {
		return "", fmt.Errorf("%w: visitor token expired", ErrUnauthorized)
	}
	return parts[0], nil
}

func newVisitorID() string {
	var b [16]byte
	rand.Read(b[:])
	return b64.EncodeToString(b[:])
}

// visitorFromRequest resolves the visitor of a request's token cookie.
func (s *Server) visitorFromRequest(r *http.Request) (*Visitor, error) {
	c, err := r.Cookie(s.cfg.CookieName)
	if err != nil {
		return nil, fmt.Errorf("%w: no visitor token", ErrUnauthorized)
	}
	id, err := s.tokens.verify(c.Value, s.now(), s.cfg.VisitorTokenTTL)
	if err != nil {
		return nil, err
	}
	v, err := s.store.Visitor(r.Context(), id)
	if errors.Is(err, ErrNotFound) {
		// We signed this id, so it is ours; the store lost it (a memory
		// store restarted). Recreate rather than strand the visitor.
		v = &Visitor{ID: id, CreatedAt: s.now(), LastSeenAt: s.now()}
		if err = s.store.CreateVisitor(r.Context(), v); errors.Is(err, ErrConflict) {
			v, err = s.store.Visitor(r.Context(), id)
		}
	}
	if err != nil {
		return nil, err
	}
	return v, nil
}

// setVisitorCookie sets a fresh token for v and returns it.
func (s *Server) setVisitorCookie(w http.ResponseWriter, r *http.Request, v *Visitor) string {
	token := s.tokens.sign(v.ID, s.now())
	http.SetCookie(w, &http.Cookie{
		Name:     s.cfg.CookieName,
		Value:    token,
		Path:     s.cfg.CookiePath,
		MaxAge:   int(s.cfg.VisitorTokenTTL / time.Second),
		HttpOnly: true,
		Secure:   s.cfg.CookieSecure || r.TLS != nil,
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
		v, err = s.newVisitor(r.Context(), "")
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
// customer's. It returns ErrInvalid for an empty customer ID.
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
			v, err = cur, s.store.UpdateVisitor(ctx, cur)
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

// Forget clears the visitor cookie, e.g. when a customer logs out on a
// shared computer; the next page starts an anonymous visitor.
func (s *Server) Forget(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: s.cfg.CookieName, Value: "", Path: s.cfg.CookiePath, MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
}
