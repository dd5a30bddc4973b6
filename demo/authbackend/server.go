package main

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"time"
)

const (
	minSecretBytes = 32
	// refreshTTL bounds a session: no token of a session outlives it.
	refreshTTL = 24 * time.Hour
	// sessionCookieTTL is the exp of the session cookie's JWT.
	sessionCookieTTL  = 8 * time.Hour
	sessionCookieName = "session"
	maxBodyBytes      = 64 << 10
	roleAdmin         = "admin"
)

// serverConfig is everything newServer needs; main fills it from flags and
// files, tests fill it directly.
type serverConfig struct {
	secret     []byte
	issuer     string
	accessTTL  time.Duration
	adminToken string // empty: the control API answers 404
	users      []userEntry
	stateFile  string // empty: state is kept in memory only
	logger     *slog.Logger
	logLevel   *slog.LevelVar
	now        func() time.Time
	// bcryptCost is 0 (bcrypt.DefaultCost) in production; tests lower it.
	bcryptCost int
}

// server is the auth backend's HTTP handler.
type server struct {
	tokens    *tokenIssuer
	accessTTL time.Duration
	// adminTokenHash is the SHA-256 of the admin token, so the comparison
	// is constant-time regardless of length; nil when no token is set.
	adminTokenHash []byte
	users          *userDirectory
	store          *stateStore
	log            *slog.Logger
	level          *slog.LevelVar
	now            func() time.Time
	startedAt      time.Time
	pid            int
	mux            *http.ServeMux
	metrics        *metrics
	// controlMu serialises control changes, so that reading the previous
	// value, persisting and applying (log level) happen as one step.
	controlMu sync.Mutex
}

func newServer(cfg serverConfig) (*server, error) {
	if len(cfg.secret) < minSecretBytes {
		return nil, fmt.Errorf("JWT_SECRET must be at least %d bytes", minSecretBytes)
	}
	if cfg.issuer == "" {
		return nil, errors.New("issuer is empty")
	}
	if cfg.accessTTL <= 0 {
		return nil, fmt.Errorf("access TTL must be positive, got %s", cfg.accessTTL)
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.DiscardHandler)
	}
	if cfg.logLevel == nil {
		cfg.logLevel = new(slog.LevelVar)
	}
	users, err := newUserDirectory(cfg.users, cfg.bcryptCost)
	if err != nil {
		return nil, fmt.Errorf("load users: %w", err)
	}
	store, err := openStateStore(cfg.stateFile, cfg.now())
	if err != nil {
		return nil, err
	}
	s := &server{
		tokens:    newTokenIssuer(cfg.secret, cfg.issuer, cfg.now),
		accessTTL: cfg.accessTTL,
		users:     users,
		store:     store,
		log:       cfg.logger,
		level:     cfg.logLevel,
		now:       cfg.now,
		startedAt: cfg.now().UTC(),
		pid:       os.Getpid(),
		metrics:   newMetrics(cfg.now),
	}
	if cfg.adminToken != "" {
		sum := sha256.Sum256([]byte(cfg.adminToken))
		s.adminTokenHash = sum[:]
	}
	// The persisted level wins over the default, so a restart keeps it.
	store.view(func(st *controlState, _ []netip.Prefix) {
		lvl, _ := parseLevel(st.LogLevel) // validated when the state was loaded
		s.level.Set(lvl)
	})
	s.routes()
	return s, nil
}

func (s *server) routes() {
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /healthz", s.handleHealthz)
	s.mux.HandleFunc("GET /metrics", s.handleMetrics)
	s.mux.HandleFunc("POST /auth/token", s.handleToken)
	s.mux.HandleFunc("POST /auth/refresh", s.handleRefresh)
	s.mux.HandleFunc("GET /auth/me", s.handleMe)
	s.mux.HandleFunc("GET /admin/users", s.handleAdminUsers)

	s.mux.HandleFunc("GET /_control/state", s.requireAdmin(s.handleControlState))
	s.mux.HandleFunc("POST /_control/sessions/revoke", s.requireAdmin(s.handleRevoke))
	s.mux.HandleFunc("POST /_control/sessions/restore", s.requireAdmin(s.handleRestore))
	s.mux.HandleFunc("POST /_control/password-reset", s.requireAdmin(s.handlePasswordReset))
	s.mux.HandleFunc("PUT /_control/log-level", s.requireAdmin(s.handleLogLevel))
	s.mux.HandleFunc("POST /_control/routes/restrict", s.requireAdmin(s.handleRestrict))
	s.mux.HandleFunc("POST /_control/routes/lift", s.requireAdmin(s.handleLift))
	s.mux.HandleFunc("POST /_control/cidrs/deny", s.requireAdmin(s.handleDeny))
	s.mux.HandleFunc("POST /_control/cidrs/allow", s.requireAdmin(s.handleAllow))
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	s.dispatch(rec, r)
	_, pattern := s.mux.Handler(r)
	s.metrics.response(pattern, rec.status)
	// The query string is left out: it is the one place a careless client
	// might put a token.
	s.log.LogAttrs(r.Context(), slog.LevelDebug, "request",
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", rec.status),
		slog.String("remote", r.RemoteAddr),
		slog.Duration("duration", time.Since(start)),
	)
}

// dispatch applies the CIDR deny list and route restrictions, then routes.
func (s *server) dispatch(w http.ResponseWriter, r *http.Request) {
	p := path.Clean("/" + r.URL.Path)
	if !exemptPath(p) {
		if status, reason := s.blocked(p, r.RemoteAddr); status != 0 {
			s.logDecision(r, status, reason, "")
			writeError(w, status, reason)
			return
		}
	}
	if _, pattern := s.mux.Handler(r); pattern == "" {
		// No route: the mux would answer 404/405 in plain text.
		w = &jsonErrorWriter{ResponseWriter: w}
	}
	s.mux.ServeHTTP(w, r)
}

// exemptPath reports whether p bypasses CIDR deny and route restrictions,
// so that health checks, the metrics that detect an incident and the
// operator's own controls always work, also while an incident contains.
func exemptPath(p string) bool {
	return p == "/healthz" || p == "/metrics" || p == "/_control" || strings.HasPrefix(p, "/_control/")
}

// blocked returns the status and reason for a request that a control
// blocks, or 0.
func (s *server) blocked(p, remoteAddr string) (status int, reason string) {
	ap, addrErr := netip.ParseAddrPort(remoteAddr)
	// RemoteAddr only: X-Forwarded-For is set by the client and would let
	// anyone step around the deny list.
	ip := ap.Addr().Unmap()
	s.store.view(func(st *controlState, denied []netip.Prefix) {
		if len(denied) > 0 {
			// An address we cannot parse cannot be shown to be allowed.
			if addrErr != nil || slices.ContainsFunc(denied, func(pr netip.Prefix) bool { return pr.Contains(ip) }) {
				status, reason = http.StatusForbidden, "cidr_denied"
				return
			}
		}
		longest := -1
		for _, rr := range st.RestrictedRoutes {
			if prefixMatches(rr.Prefix, p) && len(rr.Prefix) > longest {
				longest = len(rr.Prefix)
				status, reason = rr.Status, "route_restricted"
			}
		}
	})
	return status, reason
}

// prefixMatches matches whole path segments: /admin covers /admin and
// /admin/users but not /administrator.
func prefixMatches(prefix, p string) bool {
	if prefix == "/" || p == prefix {
		return true
	}
	return strings.HasPrefix(p, strings.TrimSuffix(prefix, "/")+"/")
}

func (s *server) handleHealthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, struct {
		Status    string `json:"status"`
		StartedAt string `json:"started_at"`
		PID       int    `json:"pid"`
	}{"ok", s.startedAt.Format(time.RFC3339Nano), s.pid})
}
