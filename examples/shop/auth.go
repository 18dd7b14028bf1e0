package main

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/shopchat/chat"
)

// Cookies. Both are HMAC-signed with the shop's session key (derived from
// shopConfig.Secret) and carry ids and a timestamp, never a password.
const (
	sessionCookie  = "shop_session"  // "<sid>.<customer id>.<issued>.<mac>"
	operatorCookie = "shop_operator" // "<operator id>.<issued>.<mac>"

	sessionTTL  = 30 * 24 * time.Hour
	operatorTTL = 12 * time.Hour
)

// demoOperator is one of the shop's staff. A real shop keeps these in its
// user table with password hashes; the demo compares SHA-256 digests in
// constant time so that at least no plaintext comparison leaks timing.
type demoOperator struct {
	ID, Name, Email string
	Department      string
	Password        string // demo only: printed at start
}

var demoOperators = []demoOperator{
	{ID: "alice", Name: "Alice Martin", Email: "alice@shop.test", Department: "sales", Password: "alice"},
	{ID: "bob", Name: "Bob Okafor", Email: "bob@shop.test", Department: "support", Password: "bob"},
}

// customer is a registered customer of the shop.
type customer struct {
	ID, Name, Email string
	Address         string
	Password        string // demo only: printed at start
}

var demoCustomers = []customer{
	{ID: "carol", Name: "Carol Weber", Email: "carol@example.com", Address: "Lindenstraße 12\n10969 Berlin\nGermany", Password: "carol"},
	{ID: "dave", Name: "Dave Rossi", Email: "dave@example.com", Address: "Via Roma 3\n20121 Milano\nItaly", Password: "dave"},
}

func findOperator(id string) *demoOperator {
	for i := range demoOperators {
		if demoOperators[i].ID == id {
			return &demoOperators[i]
		}
	}
	return nil
}

func findCustomer(id string) *customer {
	for i := range demoCustomers {
		if demoCustomers[i].ID == id {
			return &demoCustomers[i]
		}
	}
	return nil
}

// checkPassword reports whether password is right for the account with
// this email address, without an early exit on the first differing byte.
func checkPassword(want, got string) bool {
	a, b := sha256.Sum256([]byte(want)), sha256.Sum256([]byte(got))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// signer makes and checks the shop's MACs. Each purpose ("session",
// "operator", "csrf", ...) is mixed in, so a MAC for one is never valid
// for another.
type signer struct{ key []byte }

var b64 = base64.RawURLEncoding

func (sg signer) mac(purpose, payload string) string {
	h := hmac.New(sha256.New, sg.key)
	h.Write([]byte(purpose))
	h.Write([]byte{0})
	h.Write([]byte(payload))
	return b64.EncodeToString(h.Sum(nil))
}

func (sg signer) sign(purpose string, fields ...string) string {
	payload := strings.Join(fields, ".")
	return payload + "." + sg.mac(purpose, payload)
}

// verify checks a value made by sign with n fields, the last of which is
// the unix time it was issued, and returns the fields before it.
func (sg signer) verify(purpose, value string, n int, ttl time.Duration, now time.Time) ([]string, error) {
	parts := strings.Split(value, ".")
	if len(parts) != n+1 {
		return nil, errors.New("malformed")
	}
	payload := strings.Join(parts[:n], ".")
	if !hmac.Equal([]byte(parts[n]), []byte(sg.mac(purpose, payload))) {
		return nil, errors.New("bad signature")
	}
	issued, err := strconv.ParseInt(parts[n-1], 10, 64)
	if err != nil {
		return nil, errors.New("malformed")
	}
	if age := now.Sub(time.Unix(issued, 0)); age > ttl || age < -time.Minute {
		return nil, errors.New("expired")
	}
	return parts[:n-1], nil
}

// deriveKey makes independent keys for the chat library and the shop's own
// cookies from the one configured secret.
func deriveKey(secret []byte, purpose string) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte("shopchat-demo-shop/" + purpose))
	return h.Sum(nil)
}

func randomID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return b64.EncodeToString(b)
}

// session is a visitor's shop session, kept entirely in the signed cookie:
// a random id (carts and CSRF tokens hang off it) and, once logged in, the
// customer. Logging out clears the cookie; a copied cookie stays valid
// until it expires, which a real shop would prevent with a server-side
// session table.
type session struct {
	ID       string
	Customer *customer // nil: anonymous
}

// cartKey names the session's cart: the customer's when logged in (so the
// operator's side panel can find it through Visitor.CustomerID), else the
// session's.
func (ss session) cartKey() string {
	if ss.Customer != nil {
		return "customer:" + ss.Customer.ID
	}
	return "session:" + ss.ID
}

func (s *shop) secure(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(s.cfg.BaseURL, "https:")
}

// readSession returns the request's valid session, if any.
func (s *shop) readSession(r *http.Request) (session, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return session{}, false
	}
	f, err := s.sign.verify("session", c.Value, 3, sessionTTL, time.Now())
	if err != nil || f[0] == "" {
		return session{}, false
	}
	ss := session{ID: f[0]}
	if f[1] != "" {
		ss.Customer = findCustomer(f[1])
	}
	return ss, true
}

// session returns the request's session, starting one (and setting its
// cookie) when there is none, so that every page's forms carry a CSRF
// token. It keeps no server-side state.
func (s *shop) session(w http.ResponseWriter, r *http.Request) session {
	if ss, ok := s.readSession(r); ok {
		return ss
	}
	ss := session{ID: randomID()}
	s.setSession(w, r, ss)
	return ss
}

func (s *shop) setSession(w http.ResponseWriter, r *http.Request, ss session) {
	cust := ""
	if ss.Customer != nil {
		cust = ss.Customer.ID
	}
	http.SetCookie(w, &http.Cookie{
		Name:     sessionCookie,
		Value:    s.sign.sign("session", ss.ID, cust, strconv.FormatInt(time.Now().Unix(), 10)),
		Path:     "/",
		MaxAge:   int(sessionTTL / time.Second),
		HttpOnly: true,
		Secure:   s.secure(r),
		SameSite: http.SameSiteLaxMode,
	})
}

// csrfToken is the session's token for POST forms.
func (s *shop) csrfToken(ss session) string { return s.sign.mac("csrf", ss.ID) }

// checkPost guards every state-changing request: the body is capped, the
// browser's Origin (or Referer) must be this shop when sent, and the form's
// csrf field must match the session. It writes the error response and
// returns false when the request is refused.
func (s *shop) checkPost(w http.ResponseWriter, r *http.Request) (session, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		s.fail(w, r, http.StatusBadRequest, "The form could not be read.")
		return session{}, false
	}
	if !s.sameOrigin(r) {
		s.fail(w, r, http.StatusForbidden, "This form was sent from another site.")
		return session{}, false
	}
	ss, ok := s.readSession(r)
	if !ok || !hmac.Equal([]byte(r.PostForm.Get("csrf")), []byte(s.csrfToken(ss))) {
		s.fail(w, r, http.StatusForbidden, "Your session expired or cookies are disabled. Please go back, reload the page and try again.")
		return session{}, false
	}
	return ss, true
}

// sameOrigin reports whether the request's Origin, or failing that its
// Referer, names this shop. Requests with neither (old browsers, curl) are
// left to the CSRF token.
func (s *shop) sameOrigin(r *http.Request) bool {
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return false
	}
	src := r.Header.Get("Origin")
	if src == "" || src == "null" {
		src = r.Header.Get("Referer")
		if src == "" {
			return r.Header.Get("Origin") == ""
		}
	}
	u, err := url.Parse(src)
	if err != nil || u.Host == "" {
		return false
	}
	if u.Host == r.Host {
		return true
	}
	if base, err := url.Parse(s.cfg.BaseURL); err == nil && base.Host != "" {
		return u.Host == base.Host
	}
	return false
}

// safeNext returns next if it is a path on this shop ("/..." but not
// "//host" or "/\host", which browsers treat as another site), "" for an
// empty one, and an error otherwise.
func safeNext(next string) (string, error) {
	if next == "" {
		return "", nil
	}
	bad := fmt.Errorf("invalid next URL %q", next)
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n\t") {
		return "", bad
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "", bad
	}
	for _, r := range next {
		if r < 0x20 || r == 0x7f {
			return "", bad
		}
	}
	return next, nil
}

// operatorAuth is the chat Config.Operators hook: the shop's own operator
// session cookie, checked on the console page and the operator socket.
func (s *shop) operatorAuth(r *http.Request) (*chat.Operator, error) {
	op := s.currentOperator(r)
	if op == nil {
		return nil, fmt.Errorf("%w: operator login required", chat.ErrUnauthorized)
	}
	if s.cfg.BaseURL == "" {
		// Order links in the side panel need an absolute URL; without a
		// configured one, use the host the (authenticated) operator uses.
		s.learned.Store(strings.TrimSuffix(s.absURL(r, "/"), "/"))
	}
	return &chat.Operator{
		ID:          op.ID,
		Name:        op.Name,
		Email:       op.Email,
		AvatarURL:   s.absURL(r, "/static/avatars/"+op.ID+".svg"),
		Departments: []string{op.Department},
		Capacity:    4,
	}, nil
}

// currentOperator returns the operator logged in on r, or nil.
func (s *shop) currentOperator(r *http.Request) *demoOperator {
	c, err := r.Cookie(operatorCookie)
	if err != nil {
		return nil
	}
	f, err := s.sign.verify("operator", c.Value, 2, operatorTTL, time.Now())
	if err != nil {
		return nil
	}
	if _, out := s.loggedOut.Load(c.Value); out {
		return nil
	}
	return findOperator(f[0])
}

// operatorCookie returns a signed operator session cookie for the demo
// operator id ("alice" or "bob"), as the operator login sets it: tests add
// it to a request, a cookie jar or client.Options.Header to act as that
// operator. It returns nil for an unknown id.
func (s *shop) operatorCookie(id string) *http.Cookie {
	if findOperator(id) == nil {
		return nil
	}
	return &http.Cookie{
		Name:     operatorCookie,
		Value:    s.sign.sign("operator", id, strconv.FormatInt(time.Now().Unix(), 10)),
		Path:     "/",
		MaxAge:   int(operatorTTL / time.Second),
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
}

// customerCookie returns a signed shop session cookie for a new session
// logged in as the demo customer id ("carol" or "dave"), or anonymous for
// "". Unlike the login form it does not call chat Identify: tests that
// need the chat visitor bound to the customer log in through /login. It
// returns nil for an unknown id.
func (s *shop) customerCookie(id string) *http.Cookie {
	ss := session{ID: randomID()}
	if id != "" {
		if ss.Customer = findCustomer(id); ss.Customer == nil {
			return nil
		}
	}
	return &http.Cookie{
		Name:     sessionCookie,
		Value:    s.sign.sign("session", ss.ID, id, strconv.FormatInt(time.Now().Unix(), 10)),
		Path:     "/",
		MaxAge:   int(sessionTTL / time.Second),
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
}

// absURL makes an absolute URL for a path on the shop: from
// shopConfig.BaseURL, else from the request's host.
func (s *shop) absURL(r *http.Request, path string) string {
	if s.cfg.BaseURL != "" {
		return strings.TrimSuffix(s.cfg.BaseURL, "/") + path
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + path
}
