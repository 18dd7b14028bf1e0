package middleware_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/middleware"
	"github.com/shopchat/chat/store/memory"
)

var secret = []byte("0123456789abcdef0123456789abcdef-test-secret")

func newServer(t testing.TB) *chat.Server {
	t.Helper()
	srv, err := chat.New(chat.Config{
		Store:     memory.New(),
		Secret:    secret,
		Operators: func(*http.Request) (*chat.Operator, error) { return nil, chat.ErrUnauthorized },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Close(ctx)
	})
	return srv
}

// serve runs one request through Track and returns the visitor the next
// handler saw and the response.
func serve(h func(http.Handler) http.Handler, r *http.Request) (*chat.Visitor, *http.Response) {
	var seen *chat.Visitor
	rec := httptest.NewRecorder()
	h(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = chat.VisitorFrom(r.Context())
	})).ServeHTTP(rec, r)
	return seen, rec.Result()
}

func TestTrackSkips(t *testing.T) {
	srv := newServer(t)
	track := middleware.Track(srv, middleware.SkipPrefixes("/api/"))
	for _, tc := range []struct {
		path, ua string
		skip     bool
	}{
		{"/product/7", "Mozilla/5.0", false},
		{"/static/app.CSS", "Mozilla/5.0", true},
		{"/img/logo.png", "Mozilla/5.0", true},
		{"/chat/session", "Mozilla/5.0", true},
		{"/api/cart", "Mozilla/5.0", true},
		{"/product/7", "Mozilla/5.0 (compatible; Googlebot/2.1)", true},
		{"/product/7", "", true},
	} {
		r := httptest.NewRequest(http.MethodGet, tc.path, nil)
		r.Header.Set("User-Agent", tc.ua)
		v, resp := serve(track, r)
		if skipped := v == nil && len(resp.Cookies()) == 0; skipped != tc.skip {
			t.Errorf("%s (%q): visitor %v, cookies %v; want skipped %v", tc.path, tc.ua, v, resp.Cookies(), tc.skip)
		}
	}
}

func TestTrackReturningVisitorKeepsIdentity(t *testing.T) {
	srv := newServer(t)
	track := middleware.Track(srv)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("User-Agent", "Mozilla/5.0")
	first, resp := serve(track, r)
	cookies := resp.Cookies()
	if first == nil || len(cookies) != 1 || !cookies[0].HttpOnly {
		t.Fatalf("new visitor: %v, cookies %v", first, cookies)
	}
	for i := 0; i < 2; i++ {
		r := httptest.NewRequest(http.MethodPost, "/checkout", nil)
		r.Header.Set("User-Agent", "Mozilla/5.0")
		r.AddCookie(cookies[0])
		again, resp := serve(track, r)
		if again == nil || again.ID != first.ID || len(resp.Cookies()) != 0 {
			t.Fatalf("returning request %d: visitor %v (want %s), cookies %v", i, again, first.ID, resp.Cookies())
		}
	}
	// A forged token is a new visitor, never the one it names.
	r = httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("User-Agent", "Mozilla/5.0")
	r.AddCookie(&http.Cookie{Name: cookies[0].Name, Value: first.ID + ".1.forged"})
	if forged, _ := serve(track, r); forged == nil || forged.ID == first.ID {
		t.Fatalf("forged token resolved to %v", forged)
	}
}

// nopWriter is a ResponseWriter that keeps nothing.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *nopWriter) WriteHeader(int)             {}

// BenchmarkTrack measures Track's overhead on a returning visitor's page
// request (no Store write on the request path). Target: < 5 µs and < 10
// allocs/op; reported, not asserted.
func BenchmarkTrack(b *testing.B) {
	srv := newServer(b)
	h := middleware.Track(srv)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	first := httptest.NewRequest(http.MethodGet, "/", nil)
	first.Header.Set("User-Agent", "Mozilla/5.0")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, first)
	cookie := rec.Result().Cookies()[0]
	r := httptest.NewRequest(http.MethodGet, "/product/7?color=blue", nil)
	r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0")
	r.Header.Set("Referer", "https://shop.example/")
	r.Header.Set("Cookie", "theme=dark; "+cookie.Name+"="+cookie.Value+"; lang=en")
	w := &nopWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}
