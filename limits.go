package chat

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/shopchat/chat/internal/origin"
	"github.com/shopchat/chat/internal/ratelimit"
	"github.com/shopchat/chat/transport"
)

// serverLimits holds the limits shared by all of a Server's connections,
// keyed by visitor, operator or client address rather than by socket, so
// opening more sockets buys no more.
type serverLimits struct {
	frames      *ratelimit.Keyed // per visitor or operator
	ipFrames    *ratelimit.Keyed // per client address (visitors); nil: none
	newVisitors *ratelimit.Keyed // per client address; nil: none
	proxies     []netip.Prefix
	proxyWarned *atomic.Bool

	// Mail a visitor makes us send (transcripts) goes to an address the
	// visitor typed: limited per visitor, per address and for the shop, so
	// the shop cannot be made to mail a stranger over and over.
	mailPerVisitor, mailPerAddress, mailPerShop *ratelimit.Keyed
}

// Limits of mail a visitor triggers (docs/security.md).
const (
	visitorMailPerHour = 3  // per visitor
	addressMailPerDay  = 5  // per recipient address
	shopMailPerHour    = 60 // for the whole shop (per node)
)

// maxLimitKeys bounds each keyed limit's memory (about 100 bytes a key).
const maxLimitKeys = 100_000

func newServerLimits(cfg Config) (serverLimits, error) {
	l := serverLimits{
		proxyWarned: new(atomic.Bool),
		frames:      ratelimit.NewKeyed(float64(cfg.MaxFramesPerSecond), 2*float64(cfg.MaxFramesPerSecond), maxLimitKeys),
	}
	if n := cfg.MaxFramesPerSecondPerIP; n > 0 {
		l.ipFrames = ratelimit.NewKeyed(float64(n), 2*float64(n), maxLimitKeys)
	}
	if n := cfg.NewVisitorsPerMinute; n > 0 {
		l.newVisitors = ratelimit.NewKeyed(float64(n)/60, float64(n), maxLimitKeys)
	}
	l.mailPerVisitor = ratelimit.NewKeyed(visitorMailPerHour/3600.0, visitorMailPerHour, maxLimitKeys)
	l.mailPerAddress = ratelimit.NewKeyed(addressMailPerDay/86400.0, addressMailPerDay, maxLimitKeys)
	l.mailPerShop = ratelimit.NewKeyed(shopMailPerHour/3600.0, shopMailPerHour, 1)
	for _, c := range cfg.TrustedProxies {
		p, err := netip.ParsePrefix(strings.TrimSpace(c))
		if err != nil {
			if a, aerr := netip.ParseAddr(strings.TrimSpace(c)); aerr == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			} else {
				return l, fmt.Errorf("%w: Config.TrustedProxies: %q is not a CIDR or address", ErrInvalid, c)
			}
		}
		l.proxies = append(l.proxies, p.Masked())
	}
	return l, nil
}

func (l *serverLimits) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range l.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// peerAddr is the address of the request's direct peer.
func peerAddr(r *http.Request) (netip.Addr, string) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap(), host
}

// clientIP is the address the per-address limits count: the peer's, or,
// when the peer is a trusted proxy, the nearest untrusted address its
// forwarding headers name.
func (s *Server) clientIP(r *http.Request) string {
	peer, host := peerAddr(r)
	if !peer.IsValid() || !s.limits.trusted(peer) {
		if len(s.limits.proxies) == 0 && (peer.IsLoopback() || peer.IsPrivate()) &&
			(r.Header.Get("X-Forwarded-For") != "" || r.Header.Get("Forwarded") != "") &&
			s.limits.proxyWarned.CompareAndSwap(false, true) {
			s.log.Warn("chat: requests arrive through a proxy that is not in Config.TrustedProxies: every visitor behind it shares its address's limits", "proxy", host)
		}
		return host
	}
	hops := forwardedFor(r)
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(hops[i])
		if err != nil {
			return host // a hop we cannot read: count the proxy, not a guess
		}
		if !s.limits.trusted(a) {
			return a.Unmap().String()
		}
	}
	return host
}

// forwardedFor lists the client-side hops of X-Forwarded-For, or else of
// Forwarded's for= parameters, nearest last.
func forwardedFor(r *http.Request) []string {
	var hops []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		for part := range strings.SplitSeq(h, ",") {
			if p := strings.TrimSpace(part); p != "" {
				hops = append(hops, p)
			}
		}
	}
	if len(hops) > 0 {
		return hops
	}
	for _, h := range r.Header.Values("Forwarded") {
		for elem := range strings.SplitSeq(h, ",") {
			for pair := range strings.SplitSeq(elem, ";") {
				k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if !ok || !strings.EqualFold(k, "for") {
					continue
				}
				v = strings.Trim(v, `"`)
				if strings.HasPrefix(v, "[") { // [v6]:port
					if end := strings.Index(v, "]"); end > 0 {
						v = v[1:end]
					}
				} else if h, _, err := net.SplitHostPort(v); err == nil {
					v = h
				}
				hops = append(hops, v)
			}
		}
	}
	return hops
}

// secureRequest reports whether the visitor reached us over HTTPS: directly,
// through a trusted proxy that says so, or as Config.CookieSecure declares.
func (s *Server) secureRequest(r *http.Request) bool {
	if s.cfg.CookieSecure || r.TLS != nil {
		return true
	}
	peer, _ := peerAddr(r)
	if !peer.IsValid() || !s.limits.trusted(peer) {
		return false
	}
	if strings.EqualFold(strings.TrimSpace(firstValue(r.Header.Get("X-Forwarded-Proto"))), "https") {
		return true
	}
	for elem := range strings.SplitSeq(r.Header.Get("Forwarded"), ",") {
		for pair := range strings.SplitSeq(elem, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
			if ok && strings.EqualFold(k, "proto") && strings.EqualFold(strings.Trim(v, `"`), "https") {
				return true
			}
		}
		break // the first element is the client's side
	}
	return false
}

func firstValue(list string) string {
	v, _, _ := strings.Cut(list, ",")
	return v
}

// sameOriginRequest reports whether a state-changing request may come from
// where it came: the shop's own pages (or an AllowedOrigins one), or a
// client that is no browser. A cross-site page's form or fetch is refused.
func (s *Server) sameOriginRequest(r *http.Request) bool {
	return origin.Allowed(r, s.cfg.AllowedOrigins)
}

// allowFrame takes one frame from the session's principal's budget and,
// for visitors, from its address's.
func (s *Server) allowFrame(ss *session) bool {
	now := time.Now() // not s.now: a fake clock must not freeze the buckets
	key := "o:"
	if ss.op != nil {
		key += ss.op.ID
	} else {
		key = "v:" + ss.visitorID
	}
	if !s.limits.frames.Allow(key, now) {
		return false
	}
	return ss.op != nil || s.limits.ipFrames == nil || s.limits.ipFrames.Allow(ss.ip, now)
}

// allowNewVisitor reports whether the request's address may start another
// anonymous visitor now.
func (s *Server) allowNewVisitor(r *http.Request) bool {
	if s.limits.newVisitors == nil {
		return true
	}
	if s.limits.newVisitors.Allow(s.clientIP(r), time.Now()) {
		return true
	}
	s.add("visitors_rate_limited_total", 1)
	return false
}

// shedSlowest disconnects the session holding the most queued bytes, once
// all sessions together hold more than Config.QueuedBytesBudget.
func (s *Server) shedSlowest() {
	var victim *session
	most := 0
	s.mu.Lock()
	for ss := range s.sessions {
		ss.mu.Lock()
		if q := ss.queued; q > most && !ss.closed {
			victim, most = ss, q
		}
		ss.mu.Unlock()
	}
	s.mu.Unlock()
	if victim != nil && s.queuedBytes.Load() > s.cfg.QueuedBytesBudget {
		s.add("queue_budget_disconnects_total", 1)
		victim.shutdown(transport.StatusTryAgainLater, "server busy: reconnect and resume")
	}
}

// watchHello closes ss if it has not said hello within Config.HelloTimeout.
// The timer is stopped by hello and by the session's end.
func (s *Server) watchHello(ss *session) {
	ss.helloTimer = time.AfterFunc(s.cfg.HelloTimeout, func() {
		if !ss.saidHello.Load() {
			s.add("hello_timeouts_total", 1)
			ss.shutdown(transport.StatusPolicy, "no hello in time")
		}
	})
}

// authRequest keeps what Config.Operators needs to check the operator again
// later: the request's headers, cookies and context values, no body.
func authRequest(r *http.Request) *http.Request {
	c := r.Clone(context.WithoutCancel(r.Context()))
	c.Body = http.NoBody
	return c
}

// operatorRecheckLoop asks Config.Operators again, every
// Config.OperatorRecheck, whether each connected operator is still let in,
// and disconnects those who are not.
func (s *Server) operatorRecheckLoop() {
	defer s.wg.Done()
	tick := time.NewTicker(s.cfg.OperatorRecheck)
	defer tick.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-tick.C:
		}
		for _, ss := range s.sessionsWhere(func(ss *session) bool { return ss.authReq != nil }) {
			if !s.operatorStillAllowed(ss) {
				s.add("operators_logged_out_total", 1)
				ss.shutdown(transport.StatusPolicy, "operator access ended")
			}
		}
	}
}

func (s *Server) operatorStillAllowed(ss *session) (ok bool) {
	defer func() {
		if recover() != nil { // the shop's auth must not take the server down
			ok = false
		}
	}()
	op, err := s.cfg.Operators(ss.authReq)
	return err == nil && op != nil && op.ID == ss.op.ID
}

// sessionsWhere returns this node's sessions that match.
func (s *Server) sessionsWhere(match func(*session) bool) []*session {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*session
	for ss := range s.sessions {
		if match(ss) {
			out = append(out, ss)
		}
	}
	return out
}

// allowVisitorMail takes one mail from the visitor's, their address's and
// the shop's allowance of mail that visitors trigger; ErrRateLimited when
// one is spent.
func (s *Server) allowVisitorMail(ctx context.Context, visitorID string) error {
	v, err := s.store.Visitor(ctx, visitorID)
	if err != nil {
		return err
	}
	now := time.Now()
	l := &s.limits
	if !l.mailPerVisitor.Allow(visitorID, now) || !l.mailPerAddress.Allow(strings.ToLower(v.Email), now) || !l.mailPerShop.Allow("", now) {
		s.add("visitor_mail_rate_limited_total", 1)
		return userErr(ErrRateLimited, "too many emails requested; try again later")
	}
	return nil
}
