// Package origin decides whether a browser request may come from the page
// it came from: the one rule that the Server's state-changing endpoints and
// the transports without a library of their own to check it (transport/sse)
// share.
package origin

import (
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// Validate refuses patterns that would allow every site ("*") or are empty.
func Validate(patterns []string) error {
	for _, p := range patterns {
		host := p
		if i := strings.Index(p, "://"); i >= 0 {
			host = p[i+3:]
		}
		if host == "*" || host == "" {
			return fmt.Errorf("origin pattern %q would allow every site; list the shop's origins instead", p)
		}
	}
	return nil
}

// Allowed reports whether r may come from where it came: the request's own
// host, an origin matching one of patterns (host patterns matched with
// path.Match, "scheme://host" when they hold "://"), or a client that is no
// browser. A cross-site page's form, fetch or EventSource is refused.
func Allowed(r *http.Request, patterns []string) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return true
	}
	o := r.Header.Get("Origin")
	if o == "" {
		// Browsers send Origin with every cross-origin POST and EventSource;
		// without it and without Sec-Fetch-Site this is no browser's
		// cross-site request.
		return r.Header.Get("Sec-Fetch-Site") == ""
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, p := range patterns {
		target := u.Host
		if strings.Contains(p, "://") {
			target = u.Scheme + "://" + u.Host
		}
		if ok, err := path.Match(strings.ToLower(p), strings.ToLower(target)); err == nil && ok {
			return true
		}
	}
	return false
}
