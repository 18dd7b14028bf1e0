package chat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shopchat/chat/transport"
	"github.com/shopchat/chat/transport/sse"
	"github.com/shopchat/chat/transport/websocket"
)

// Config configures a Server. Store, Secret and Operators are required;
// every other field has the default its comment names.
type Config struct {
	// Store persists everything. Required: store/sqlite for one process,
	// store/postgres for several, store/memory for tests. New finds its
	// optional roles once (see Server.Capabilities) and refuses, with a
	// *MissingRoleError, a store lacking one the nodes must share when
	// Broker is set.
	Store Store
	// Secret signs visitor tokens (and, with notify/email, reply addresses).
	// Required, at least 32 bytes; keep it stable across restarts or every
	// visitor loses their history.
	Secret []byte
	// Operators authenticates operators with the shop's own auth. Required.
	Operators OperatorAuthFunc

	// Path is where Handler is mounted in the shop's mux. Default "/chat/".
	Path string
	// Transport upgrades requests to connections. Default: transport/websocket
	// with AllowedOrigins.
	Transport Transport
	// Fallback is the second transport, for networks that break WebSocket:
	// the widget switches to it by itself when Transport cannot connect. It
	// is mounted at {Path}sse, where the widget speaks transport/sse's
	// protocol. Default: transport/sse with AllowedOrigins. The same
	// authentication, caps and rate limits apply to both.
	Fallback Transport
	// NoFallback mounts no second transport: WebSocket (Transport) only,
	// and {Path}sse answers 404. Default false.
	NoFallback bool
	// AllowedOrigins lists extra origins (host patterns) allowed to open
	// sockets; the shop's own host is always allowed. Used only by the
	// default Transport and Fallback. "*" is refused.
	AllowedOrigins []string
	// Router picks operators. Default LeastBusy().
	Router Router
	// Notifier receives notifications: offline mail, missed replies and
	// transcripts for people (notify/email), and every conversation event
	// for the shop's systems (notify/webhook); chat.Multi combines them.
	// Default: none.
	Notifier Notifier
	// Broker fans out events between nodes: broker/postgres, broker/redis or
	// broker/nats. Default: none, a single process. Every node of a shop
	// needs the same Store (store/postgres) and Broker.
	Broker Broker
	// BrokerTopic is the broker topic the nodes share, and with ".visits"
	// appended the topic of their live-visitor announcements. Default
	// "shopchat".
	BrokerTopic string
	// SyncInterval is how often a node sends the other nodes a heartbeat.
	// Nodes number their broker events; a receiver that sees a gap (events
	// the broker lost, in an outage or otherwise) has its sessions catch up
	// from the Store, at most once per SyncInterval, and the heartbeat
	// reveals a gap even when nothing else is sent. After a broker outage,
	// every client so holds every stored message within the broker's
	// reconnect time plus SyncInterval (plus the catch-up's store reads).
	// A node unheard for three SyncIntervals no longer counts towards an
	// operator's presence. Default 2s. Used only with a Broker.
	SyncInterval time.Duration
	// Logger receives the Server's logs. Default: discard.
	Logger *slog.Logger
	// Metrics receives counters and observations. Default: none.
	Metrics Metrics

	// Attachments turns on files and images in conversations (set
	// Attachments.Blobs) and sets their limits. Default: off.
	Attachments AttachmentConfig

	// Widget sets the visitor widget's appearance and pre-chat form.
	Widget WidgetConfig
	// CannedResponses are the team's canned responses. They are stored on
	// first start (by Shortcut: one stored already keeps its stored, perhaps
	// edited, version); operators edit them and add personal ones in the
	// console.
	CannedResponses []CannedResponse
	// CannedVariables, if set, supplies the shop's own variables for canned
	// responses ({name} in a response's text), per visitor.
	CannedVariables func(ctx context.Context, v *Visitor) map[string]string
	// VisitorInfo, if set, supplies the shop's data about a visitor (cart,
	// orders, labels) for the operator's side panel.
	VisitorInfo VisitorInfoFunc
	// Bot, if set, answers visitors first and hands conversations to the
	// team when it cannot help (see Bot; bot/faq answers from the team's
	// canned responses and past answers). Default: none, the team answers.
	Bot Bot
	// BotOptions name the Bot and bound its turns.
	BotOptions BotOptions
	// ConsoleLoginURL is where the console sends an operator who is not
	// logged in, with ?next= the console's URL. Default: a plain 401 page.
	ConsoleLoginURL string

	// SneakPeek sends the visitor's draft to the operator while they type.
	// Card-number-like digit runs are masked. Default false.
	SneakPeek bool
	// DefaultCapacity is the number of conversations an operator with
	// Operator.Capacity 0 handles at once. Default 5.
	DefaultCapacity int
	// WaitEstimate seeds the queue's wait estimate: the expected time between
	// two conversations leaving the queue, before any has. Default 1 minute.
	WaitEstimate time.Duration
	// PresenceTTL is how long an operator's presence lasts without a
	// heartbeat; connected operators renew it every third of it, so an
	// operator whose node dies goes offline within it. Default 15s.
	PresenceTTL time.Duration
	// RequeueOffline is how long an operator may be offline before their
	// conversations go back to the queue for someone else: long enough for
	// a page reload or a reconnect, short enough that a visitor is not left
	// waiting. With PresenceTTL, the conversations of an operator whose
	// node died move within PresenceTTL + RequeueOffline + PresenceTTL/3
	// (45-50 s by default). Default 30s; negative keeps them assigned until
	// the operator returns.
	RequeueOffline time.Duration

	// CookieName names the visitor cookie. Default "shopchat_visitor".
	CookieName string
	// CookiePath is the visitor cookie's Path. Default "/": the shop's own
	// pages see the visitor too, so Identify in a login handler can adopt an
	// anonymous visitor's chats, and tracking can attribute page views.
	CookiePath string
	// CookieSecure forces the Secure cookie attribute. Default: set when the
	// request came over TLS, directly or through a trusted proxy that says
	// so (X-Forwarded-Proto: https; see TrustedProxies).
	CookieSecure bool
	// VisitorTokenTTL is how long a visitor token stays valid without a
	// visit; each visit renews it. Default 180 days.
	VisitorTokenTTL time.Duration

	// MaxMessageLength caps a message's text, in bytes. Default 4000.
	MaxMessageLength int
	// SendQueue bounds each connection's outgoing queue, in frames. A client
	// that falls this far behind is disconnected and resumes. Default 1024.
	SendQueue int
	// MaxQueuedBytes bounds each connection's outgoing queue in bytes, as
	// SendQueue does in frames. Default 4 MiB.
	MaxQueuedBytes int
	// QueuedBytesBudget bounds the bytes queued for all connections
	// together; past it, the connection holding the most is disconnected
	// (it resumes) rather than the process growing. Default 256 MiB.
	QueuedBytesBudget int64
	// MaxFramesPerSecond limits the frames one visitor (or operator) may
	// send, across all their connections; excess frames, valid or not, get
	// a rate_limited error. Default 50, with bursts of twice that.
	MaxFramesPerSecond int
	// MaxFramesPerSecondPerIP limits the frames visitors may send from one
	// client address (see TrustedProxies), across all their connections.
	// Default 200, with bursts of twice that; negative: no limit.
	MaxFramesPerSecondPerIP int
	// MaxVisitorConns caps one visitor's simultaneous connections (tabs).
	// Default 16.
	MaxVisitorConns int
	// MaxConnsPerIP caps simultaneous visitor connections from one client
	// address (see TrustedProxies). Default 64; negative: no cap.
	MaxConnsPerIP int
	// NewVisitorsPerMinute limits the anonymous visitors one client address
	// may start (tokens issued by the session endpoint and by
	// middleware.Track), in bursts of as many. Default 30; negative: no
	// limit.
	NewVisitorsPerMinute int
	// TrustedProxies lists the proxies (CIDRs, such as "10.0.0.0/8" or
	// "127.0.0.1/32") whose X-Forwarded-For, Forwarded and
	// X-Forwarded-Proto headers are believed: the client address is the
	// nearest address in them that is not a trusted proxy. Behind a proxy
	// not listed here every visitor shares the proxy's address and its caps.
	// Default: none; New refuses a malformed CIDR.
	TrustedProxies []string
	// HelloTimeout is how long a new connection may take to say hello
	// before it is closed. Default 10s.
	HelloTimeout time.Duration
	// OperatorRecheck is how often an operator's open console is checked
	// again with Operators (on a copy of the request that opened it); an
	// operator no longer let in is disconnected. Default 1 minute.
	OperatorRecheck time.Duration
	// BusinessHours, if set, are when chats are answered; outside them
	// visitors see the offline form. Default: always open.
	BusinessHours *BusinessHours
	// MissedReplyDelay is how long an operator's message may stay unseen
	// before it is mailed to a visitor who left an email. Default 2 minutes.
	MissedReplyDelay time.Duration
	// TranscriptOnClose mails the transcript to visitors who left an email
	// when their conversation closes. Default false.
	TranscriptOnClose bool
	// ReplyTokenTTL is how long the reply address in our mails stays valid.
	// Default 30 days.
	ReplyTokenTTL time.Duration
	// TeamAlertInterval rate-limits mail to the team about visitors waiting
	// while nobody is available. Default 5 minutes.
	TeamAlertInterval time.Duration
	// NotifyQueue bounds the notifications waiting for the Notifier; when
	// full, new ones are dropped and counted. Default 1024.
	NotifyQueue int
	// EventQueue bounds the events waiting to be written to the Store's
	// EventLog (see Events); when full (the store is down or far behind),
	// new ones are dropped, counted (events_dropped_total) and logged.
	// Default 8192.
	EventQueue int

	// Triggers are proactive-message rules. They are stored on first
	// start (one whose ID is stored already keeps its stored, perhaps
	// edited, version) and edited in the console. New refuses invalid
	// patterns.
	Triggers []Trigger
	// MaxProactivePerVisit caps the proactive messages (triggers and
	// invitations) one visitor receives per visit. Default 2.
	MaxProactivePerVisit int
	// VisitTimeout ends a visit after this long without a page view or a
	// connected widget: the live list drops the visitor and per-session
	// triggers may fire again. Default 30 minutes.
	VisitTimeout time.Duration
	// CookieOnInteraction makes middleware.Track set no visitor cookie
	// until the visitor interacts with the widget; page views before that
	// are counted only in aggregate. Default false.
	CookieOnInteraction bool
	// AttributionWindow is how long after a chat an order is attributed to
	// it. Default 7 days.
	AttributionWindow time.Duration
	// FirstTouch attributes an order to the first chat in the window rather
	// than the last. Default false (last touch).
	FirstTouch bool

	// Retention, if set, purges conversations closed longer ago than this,
	// with their messages, checking every Retention/10 (at most hourly).
	// Default 0: keep everything.
	Retention time.Duration
	// WriteTimeout bounds one frame write. Default 10s.
	WriteTimeout time.Duration
	// Now returns the current time. Default time.Now; tests set a fake clock.
	Now func() time.Time
}

// Metrics receives the Server's counters and observations, e.g. to export
// them to Prometheus (metrics/prometheus). Names are stable and listed in
// doc.go. The Server calls it from many goroutines at once, on the paths it
// measures: it should be quick and must be safe for concurrent use.
type Metrics interface {
	// Add adds delta to the counter name (names end in _total).
	Add(name string, delta float64)
	// Observe records one sample of name (names end in _seconds, values
	// are seconds): a histogram's, such as how long the Store took to
	// append a message.
	Observe(name string, value float64)
}

// GaugeMetrics is a Metrics that also takes gauges, values that go up and
// down (the queue's length). The Server detects it on Config.Metrics.
type GaugeMetrics interface {
	Metrics
	Set(name string, value float64)
}

// Server is a running chat service. Create it with New, mount Handler in
// the shop's mux, and Close it on shutdown.
type Server struct {
	cfg     Config
	store   *checked // Config.Store behind Checked, with its roles
	router  Router
	log     *slog.Logger
	now     func() time.Time
	hub     *hub
	tokens  tokenSigner
	handler http.Handler

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // live connections and background work

	mu          sync.Mutex
	closed      bool
	sessions    map[*session]struct{}
	perVisitor  map[string]int
	perIP       map[string]int
	limits      serverLimits
	queuedBytes atomic.Int64         // bytes queued for every session together
	opSessions  map[string]int       // operator id -> live sessions
	opPresence  map[string]Presence  // operator id -> presence, while connected
	opProfiles  map[string]*Operator // cache of operators seen
	queueSpots  map[string]int       // conversation id -> last position published
	lastDequeue time.Time
	dequeueGap  time.Duration // moving average of time between dequeues
	heartbeat   bool          // the presence heartbeat goroutine runs
	availKnown  bool          // lastAvail has been published
	lastAvail   bool          // whether an operator was online, as last published
	assets      *assets
	bridge      *bridge // nil without a Broker
	track       *tracker
	bot         *botRunner // nil without Config.Bot
	events      *eventWriter
	attach      *attachments // nil: attachments off

	notifications chan Notification
	missedTimers  map[string]*time.Timer    // conversation id -> pending missed-reply check
	toMail        map[string]map[int64]bool // conversation id -> seqs of operator messages written here, to mail if unseen
	lastTeamAlert time.Time

	dispatchMu sync.Mutex
	closing    stripedLocks // per conversation: see closeOnce
	// routeUnfinished: the last dispatch failed or left a live
	// conversation queued beside an operator with room; the live loop
	// retries it.
	routeUnfinished atomic.Bool
	dispatchRounds  atomic.Int64 // dispatch calls, for tests
}

// New validates cfg, fills in defaults and returns a Server.
func New(cfg Config) (*Server, error) {
	var missing []string
	if cfg.Store == nil {
		missing = append(missing, "Store")
	}
	if cfg.Operators == nil {
		missing = append(missing, "Operators")
	}
	if len(cfg.Secret) == 0 {
		missing = append(missing, "Secret")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("chat: Config.%s required", strings.Join(missing, ", Config."))
	}
	if len(cfg.Secret) < 32 {
		return nil, fmt.Errorf("chat: Config.Secret is %d bytes; use at least 32 random bytes", len(cfg.Secret))
	}
	if cfg.Path == "" {
		cfg.Path = "/chat/"
	}
	if !strings.HasPrefix(cfg.Path, "/") || !strings.HasSuffix(cfg.Path, "/") {
		return nil, fmt.Errorf("chat: Config.Path %q must start and end with /", cfg.Path)
	}
	if cfg.Transport == nil {
		t, err := websocket.New(websocket.Options{OriginPatterns: cfg.AllowedOrigins})
		if err != nil {
			return nil, fmt.Errorf("chat: %w", err)
		}
		cfg.Transport = t
	}
	if cfg.Fallback == nil && !cfg.NoFallback {
		t, err := sse.New(sse.Options{OriginPatterns: cfg.AllowedOrigins})
		if err != nil {
			return nil, fmt.Errorf("chat: %w", err)
		}
		cfg.Fallback = t
	}
	if cfg.Router == nil {
		cfg.Router = LeastBusy()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	store := newChecked(cfg.Store)
	if err := store.adopt(cfg.Broker != nil, cfg.Logger); err != nil {
		return nil, err
	}
	defaultTo(&cfg.DefaultCapacity, 5)
	defaultTo(&cfg.WaitEstimate, time.Minute)
	defaultTo(&cfg.PresenceTTL, 15*time.Second)
	defaultTo(&cfg.CookieName, "shopchat_visitor")
	defaultTo(&cfg.CookiePath, "/")
	defaultTo(&cfg.VisitorTokenTTL, 180*24*time.Hour)
	defaultTo(&cfg.MaxMessageLength, 4000)
	defaultTo(&cfg.SendQueue, 1024)
	defaultTo(&cfg.MaxFramesPerSecond, 50)
	defaultTo(&cfg.MaxFramesPerSecondPerIP, 200)
	defaultTo(&cfg.MaxQueuedBytes, 4<<20)
	defaultTo(&cfg.QueuedBytesBudget, 256<<20)
	defaultTo(&cfg.MaxVisitorConns, 16)
	defaultTo(&cfg.MaxConnsPerIP, 64)
	defaultTo(&cfg.NewVisitorsPerMinute, 30)
	defaultTo(&cfg.HelloTimeout, 10*time.Second)
	defaultTo(&cfg.OperatorRecheck, time.Minute)
	defaultTo(&cfg.WriteTimeout, 10*time.Second)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := validateWidget(&cfg.Widget); err != nil {
		return nil, err
	}
	if err := cfg.BusinessHours.validate(); err != nil {
		return nil, err
	}
	defaultTo(&cfg.MissedReplyDelay, 2*time.Minute)
	defaultTo(&cfg.ReplyTokenTTL, 30*24*time.Hour)
	defaultTo(&cfg.TeamAlertInterval, 5*time.Minute)
	defaultTo(&cfg.NotifyQueue, 1024)
	defaultTo(&cfg.EventQueue, 8192)
	defaultTo(&cfg.BrokerTopic, "shopchat")
	defaultTo(&cfg.RequeueOffline, 30*time.Second)
	defaultTo(&cfg.SyncInterval, 2*time.Second)
	defaultTo(&cfg.AttributionWindow, 7*24*time.Hour)
	defaultTo(&cfg.MaxProactivePerVisit, 2)
	defaultTo(&cfg.VisitTimeout, 30*time.Minute)
	limits, err := newServerLimits(cfg)
	if err != nil {
		return nil, err
	}
	assets, err := loadAssets()
	if err != nil {
		return nil, err
	}
	triggers, err := compileTriggers(cfg.Triggers, cfg.MaxMessageLength)
	if err != nil {
		return nil, err
	}

	attach, err := newAttachments(cfg.Attachments, store)
	if err != nil {
		return nil, err
	}

	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		attach:     attach,
		cfg:        cfg,
		store:      store,
		router:     cfg.Router,
		log:        cfg.Logger,
		now:        cfg.Now,
		hub:        newHub(),
		tokens:     tokenSigner{secret: cfg.Secret},
		ctx:        ctx,
		cancel:     cancel,
		sessions:   make(map[*session]struct{}),
		perVisitor: make(map[string]int),
		perIP:      make(map[string]int),
		opSessions: make(map[string]int),
		opPresence: make(map[string]Presence),
		opProfiles: make(map[string]*Operator),
		queueSpots: make(map[string]int),
		dequeueGap: cfg.WaitEstimate,
		assets:     assets,
		limits:     limits,

		missedTimers: make(map[string]*time.Timer),
		toMail:       make(map[string]map[int64]bool),
	}
	s.handler = s.routes()
	if s.bot, err = newBotRunner(s); err != nil {
		cancel()
		return nil, err
	}
	if err := s.validateCannedConfig(); err != nil {
		cancel()
		return nil, err
	}
	seedCtx, seedCancel := context.WithTimeout(ctx, 30*time.Second)
	err = s.seedCanned(seedCtx)
	if err == nil && s.bot != nil {
		err = s.bot.register(seedCtx)
	}
	seedCancel()
	if err != nil {
		cancel()
		return nil, err
	}
	s.startEvents()
	if err := s.startTracking(triggers); err != nil {
		cancel()
		return nil, err
	}
	if cfg.Broker != nil {
		s.bridge = newBridge(s)
		if err := s.bridge.start(); err != nil {
			cancel()
			return nil, fmt.Errorf("chat: broker subscribe: %w", err)
		}
	}
	if cfg.Notifier != nil {
		s.notifications = make(chan Notification, cfg.NotifyQueue)
		s.wg.Add(1)
		go s.notifyLoop()
	}
	if cfg.RequeueOffline > 0 {
		s.wg.Add(1)
		go s.presenceSweep()
	}
	s.wg.Add(1)
	go s.liveLoop()
	if cfg.Retention > 0 {
		s.wg.Add(1)
		go s.retentionLoop()
	}
	s.wg.Add(1)
	go s.operatorRecheckLoop()
	if attach != nil {
		s.wg.Add(1)
		go s.attachmentSweepLoop()
	}
	return s, nil
}

func defaultTo[T comparable](field *T, def T) {
	var zero T
	if *field == zero {
		*field = def
	}
}

// Handler serves everything under Config.Path: the visitor session endpoint
// and socket, the widget script, the operator socket, console and reports.
// Mount it at Config.Path:
//
//	mux.Handle("/chat/", srv.Handler())
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	p := s.cfg.Path
	mux.HandleFunc("POST "+p+"session", s.serveSession)
	s.mountTransports(mux)
	mux.HandleFunc("GET "+p+"widget.js", s.serveWidget)
	mux.HandleFunc("GET "+p+"console/{file...}", s.serveConsole)
	mux.HandleFunc("GET "+p+"reports", s.serveReports)
	mux.HandleFunc(p+"mail/unsubscribe", s.serveUnsubscribe)
	mux.HandleFunc("POST "+p+"attachments", s.serveUpload)
	mux.HandleFunc("GET "+p+"attachments/{id}", s.serveDownload)
	mux.HandleFunc("DELETE "+p+"attachments/{id}", s.serveDiscard)
	return mux
}

// Close stops the Server: it refuses new connections, closes live ones with
// "going away" (clients reconnect elsewhere and resume) and waits for them
// to finish or ctx to end. It does not close the Store.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for _, t := range s.missedTimers {
		t.Stop()
	}
	live := make([]*session, 0, len(s.sessions))
	for ss := range s.sessions {
		live = append(live, ss)
	}
	s.mu.Unlock()
	for _, ss := range live {
		ss.shutdown(transport.StatusGoingAway, "server shutting down")
	}
	s.cancel()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		// Events emitted as the last sessions ended (a visitor going
		// offline) came after the event loop's own flush.
		s.flushEvents(nil)
		return nil
	case <-ctx.Done():
		return fmt.Errorf("chat: close: %w", ctx.Err())
	}
}

func (s *Server) add(name string, delta float64) {
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.Add(name, delta)
	}
}

// set sets a gauge, if Config.Metrics takes gauges.
func (s *Server) set(name string, value float64) {
	if g, ok := s.cfg.Metrics.(GaugeMetrics); ok {
		g.Set(name, value)
	}
}

// observeSince observes the wall time since start, in seconds (wall time
// even under Config.Now: it measures the Store or the Notifier, not the
// chat's clock).
func (s *Server) observeSince(name string, start time.Time) {
	s.observe(name, time.Since(start).Seconds())
}

func (s *Server) observe(name string, seconds float64) {
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.Observe(name, seconds)
	}
}

// internal logs an unexpected error and returns it marked for the client
// as unavailable (a store failure) rather than leaking its text.
func (s *Server) logErr(msg string, err error, args ...any) {
	if errors.Is(err, context.Canceled) {
		return
	}
	s.log.Error(msg, append(args, "err", err)...)
}
