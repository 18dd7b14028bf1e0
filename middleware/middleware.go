// Package middleware adapts a chat.Server to the shop's own pages.
//
// Track resolves the chat visitor of every request (the same signed cookie
// the widget uses), records page views for the operators' live list and
// triggers, and puts the visitor in the request's context:
//
//	handler := middleware.Track(srv)(shopMux)
//	// in a handler:
//	v := chat.VisitorFrom(r.Context())
//
// Requests for static assets, the chat's own Handler and bots pass
// through untouched.
package middleware

import (
	"net/http"
	"path"
	"strings"

	"github.com/shopchat/chat"
)

// DefaultExtensions are the file extensions of static assets that Track
// skips by default.
var DefaultExtensions = []string{
	".css", ".js", ".mjs", ".map", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp",
	".avif", ".ico", ".woff", ".woff2", ".ttf", ".otf", ".eot", ".mp4", ".webm",
	".mp3", ".txt", ".xml", ".json", ".webmanifest", ".pdf", ".zip",
}

// DefaultBots are the User-Agent substrings (compared ignoring ASCII case)
// of requests Track skips by default.
var DefaultBots = []string{
	"bot", "crawl", "spider", "slurp", "facebookexternalhit", "embedly",
	"preview", "headlesschrome", "lighthouse", "curl/", "wget/", "python-requests",
}

// Option configures Track.
type Option func(*options)

type options struct {
	prefixes   []string
	extensions []string
	bots       []string
}

// SkipPrefixes skips requests whose path starts with any of prefixes
// ("/static/", "/api/"). The chat's own Path is always skipped.
func SkipPrefixes(prefixes ...string) Option {
	return func(o *options) { o.prefixes = append(o.prefixes, prefixes...) }
}

// SkipExtensions replaces DefaultExtensions: requests whose path ends in
// one of exts (".css"; compared ignoring case) are skipped.
func SkipExtensions(exts ...string) Option {
	return func(o *options) { o.extensions = exts }
}

// SkipBots replaces DefaultBots: requests whose User-Agent contains one of
// substrings (ignoring ASCII case), or that have none, are skipped.
func SkipBots(substrings ...string) Option {
	return func(o *options) { o.bots = substrings }
}

// Track returns middleware that calls srv.TrackRequest for the shop's
// pages (see there) and passes the request on with the visitor in its
// context. Skipped requests (the chat's Path, SkipPrefixes, static assets
// by extension, bots by User-Agent) pass through untouched, with no
// visitor in the context. It never fails or delays a request on a Store
// error or a full page view queue.
func Track(srv *chat.Server, opts ...Option) func(http.Handler) http.Handler {
	o := options{prefixes: []string{srv.Path()}, extensions: DefaultExtensions, bots: DefaultBots}
	for _, opt := range opts {
		opt(&o)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !o.skip(r) {
				r = srv.TrackRequest(w, r)
			}
			next.ServeHTTP(w, r)
		})
	}
}

func (o *options) skip(r *http.Request) bool {
	p := r.URL.Path
	for _, pre := range o.prefixes {
		if strings.HasPrefix(p, pre) {
			return true
		}
	}
	if ext := path.Ext(p); ext != "" {
		for _, e := range o.extensions {
			if strings.EqualFold(ext, e) {
				return true
			}
		}
	}
	if len(o.bots) > 0 {
		ua := r.UserAgent()
		if ua == "" {
			return true
		}
		for _, b := range o.bots {
			if containsFold(ua, b) {
				return true
			}
		}
	}
	return false
}

// containsFold is strings.Contains ignoring ASCII case, without the
// allocation of lowering s.
func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}
