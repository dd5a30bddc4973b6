package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
// so that health checks and the operator's own controls always work.
func exemptPath(p string) bool {
	return p == "/healthz" || p == "/_control" || strings.HasPrefix(p, "/_control/")
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

// tokenResponse is the body of /auth/token and /auth/refresh.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
}

var errPasswordResetRequired = errors.New("password reset required")

func (s *server) handleToken(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := decodeJSON(w, r, &req, false); err != nil {
		s.logDecision(r, http.StatusBadRequest, "malformed_request", "")
		writeError(w, http.StatusBadRequest, "malformed_request")
		return
	}
	if req.Username == "" || req.Password == "" {
		s.logDecision(r, http.StatusBadRequest, "missing_credentials", "")
		writeError(w, http.StatusBadRequest, "missing_credentials")
		return
	}
	u, err := s.users.authenticate(req.Username, req.Password)
	switch {
	case errors.Is(err, errUnknownUser):
		// The name is not logged: it may be a mistyped password.
		s.logDecision(r, http.StatusUnauthorized, "unknown_user", "")
		writeError(w, http.StatusUnauthorized, "invalid_credentials")
		return
	case errors.Is(err, errBadPassword):
		s.logDecision(r, http.StatusUnauthorized, "bad_password", u.name)
		writeError(w, http.StatusUnauthorized, "invalid_credentials")
		return
	case err != nil:
		s.internalError(w, r, "authenticate", err)
		return
	}

	now := s.now()
	sid := rand.Text()
	limit := now.Add(refreshTTL)
	refresh, err := s.tokens.sign(u, sid, typeRefresh, now, limit)
	if err != nil {
		s.internalError(w, r, "issue tokens", err)
		return
	}
	err = s.store.update(now, func(st *controlState) error {
		// Checked inside the update so a concurrent reset cannot slip
		// between the check and the new session.
		if slices.Contains(st.PasswordReset, u.name) {
			return errPasswordResetRequired
		}
		st.Sessions[sid] = session{
			Username:    u.name,
			CreatedAt:   now.UTC(),
			ExpiresAt:   limit.UTC(), // writeTokens caps every token at limit
			RefreshHash: tokenHash(refresh),
		}
		return nil
	})
	switch {
	case errors.Is(err, errPasswordResetRequired):
		s.logDecision(r, http.StatusForbidden, "password_reset_required", u.name)
		writeError(w, http.StatusForbidden, "password_reset_required")
		return
	case err != nil:
		s.internalError(w, r, "create session", err)
		return
	}
	s.writeTokens(w, r, u, sid, now, limit, refresh, "login")
}

// errRefreshRefused makes the refresh's state update change nothing.
var errRefreshRefused = errors.New("refresh refused")

func (s *server) handleRefresh(w http.ResponseWriter, r *http.Request) {
	var req struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := decodeJSON(w, r, &req, false); err != nil {
		s.logDecision(r, http.StatusBadRequest, "malformed_request", "")
		writeError(w, http.StatusBadRequest, "malformed_request")
		return
	}
	if req.RefreshToken == "" {
		s.logDecision(r, http.StatusBadRequest, "missing_refresh_token", "")
		writeError(w, http.StatusBadRequest, "missing_refresh_token")
		return
	}
	claims, u, reason := s.verify(req.RefreshToken, typeRefresh)
	if reason != "" {
		s.logDecision(r, http.StatusUnauthorized, reason, u.name)
		writeError(w, http.StatusUnauthorized, reason)
		return
	}
	// Rotation: the presented token is spent, a new one of the same session
	// replaces it. New tokens never outlive the refresh token, hence the
	// session.
	now, sid, limit := s.now(), claims.SessionID, claims.ExpiresAt.Time
	next, err := s.tokens.sign(u, sid, typeRefresh, now, limit)
	if err != nil {
		s.internalError(w, r, "issue tokens", err)
		return
	}
	// The check against the session's current refresh token and the swap
	// are one step under the store's lock, so of two requests racing with
	// the same token exactly one wins, and the other is a reuse.
	err = s.store.update(now, func(st *controlState) error {
		reason = st.rotateRefresh(sid, u.name, claims.IssuedAt.Time, now.UTC(), tokenHash(req.RefreshToken), tokenHash(next))
		switch reason {
		case "", reasonRefreshReused: // both change the state: persist
			return nil
		default: // the session changed since verify: refuse, change nothing
			return errRefreshRefused
		}
	})
	if reason == reasonRefreshReused {
		s.logRefreshReuse(r, u.name, err == nil)
	}
	switch {
	case errors.Is(err, errRefreshRefused) || (err == nil && reason != ""):
		s.logDecision(r, http.StatusUnauthorized, reason, u.name)
		writeError(w, http.StatusUnauthorized, reason)
		return
	case err != nil:
		s.internalError(w, r, "rotate refresh token", err)
		return
	}
	s.writeTokens(w, r, u, sid, now, limit, next, "refresh")
}

// logRefreshReuse records a detected refresh token reuse as a security
// event, next to the request's auth_decision line. It names the user but
// holds no token and no sid: a sid is what keeps a leaked JWT_SECRET from
// minting tokens for a live session. Error level, so that no log level set
// through the control API hides it.
func (s *server) logRefreshReuse(r *http.Request, username string, revoked bool) {
	s.log.LogAttrs(r.Context(), slog.LevelError, "security_event",
		slog.String("event", reasonRefreshReused),
		slog.String("route", r.URL.Path),
		slog.String("user", username),
		slog.Bool("session_revoked", revoked),
		slog.String("remote", r.RemoteAddr),
	)
}

// writeTokens issues an access token and a session cookie for session sid,
// both capped at limit, and hands them out with the session's current
// refresh token.
func (s *server) writeTokens(w http.ResponseWriter, r *http.Request, u user, sid string, now, limit time.Time, refresh, reason string) {
	accessExp := minTime(now.Add(s.accessTTL), limit)
	access, err := s.tokens.sign(u, sid, typeAccess, now, accessExp)
	if err != nil {
		s.internalError(w, r, "issue tokens", err)
		return
	}
	cookie, err := s.tokens.sign(u, sid, typeSession, now, minTime(now.Add(sessionCookieTTL), limit))
	if err != nil {
		s.internalError(w, r, "issue tokens", err)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name:     sessionCookieName,
		Value:    cookie,
		Path:     "/",
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteLaxMode,
	})
	s.logDecision(r, http.StatusOK, reason, u.name)
	writeJSON(w, http.StatusOK, tokenResponse{
		AccessToken:  access,
		TokenType:    "Bearer",
		ExpiresIn:    accessExp.Unix() - now.Unix(),
		RefreshToken: refresh,
	})
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func (s *server) handleMe(w http.ResponseWriter, r *http.Request) {
	_, u, reason := s.authenticate(r)
	if reason != "" {
		s.unauthorized(w, r, reason, u.name)
		return
	}
	s.logDecision(r, http.StatusOK, "ok", u.name)
	writeJSON(w, http.StatusOK, map[string]string{"username": u.name, "role": u.role})
}

type userInfo struct {
	Username              string `json:"username"`
	Role                  string `json:"role"`
	PasswordResetRequired bool   `json:"password_reset_required"`
}

func (s *server) handleAdminUsers(w http.ResponseWriter, r *http.Request) {
	_, u, reason := s.authenticate(r)
	if reason != "" {
		s.unauthorized(w, r, reason, u.name)
		return
	}
	if u.role != roleAdmin {
		s.logDecision(r, http.StatusForbidden, "role_not_admin", u.name)
		writeError(w, http.StatusForbidden, "forbidden")
		return
	}
	var reset []string
	s.store.view(func(st *controlState, _ []netip.Prefix) { reset = slices.Clone(st.PasswordReset) })
	list := []userInfo{}
	for _, v := range s.users.list() {
		list = append(list, userInfo{Username: v.name, Role: v.role, PasswordResetRequired: slices.Contains(reset, v.name)})
	}
	s.logDecision(r, http.StatusOK, "ok", u.name)
	writeJSON(w, http.StatusOK, map[string]any{"users": list})
}

// authenticate accepts a Bearer access token or, without an Authorization
// header, the session cookie. A bad header never falls back to the cookie.
func (s *server) authenticate(r *http.Request) (*tokenClaims, user, string) {
	if h := r.Header.Get("Authorization"); h != "" {
		raw, ok := bearerToken(h)
		if !ok {
			return nil, user{}, "authorization_not_bearer"
		}
		return s.verify(raw, typeAccess)
	}
	if c, err := r.Cookie(sessionCookieName); err == nil && c.Value != "" {
		return s.verify(c.Value, typeSession)
	}
	return nil, user{}, "token_missing"
}

// verify checks a token of type typ against the state: its sid must name a
// live, unrevoked session of the token's user, its iat must not be before the
// revoke-all cutoff, and its role must be the user's role. It returns the
// reason for a rejection, or "". The user is returned when known, for logs
// and for authorization: callers use u.role, never the role claim.
func (s *server) verify(raw, typ string) (*tokenClaims, user, string) {
	claims, err := s.tokens.parse(raw, typ)
	if err != nil {
		var te *tokenError
		if errors.As(err, &te) {
			return nil, user{}, te.reason
		}
		return nil, user{}, "token_invalid"
	}
	u, ok := s.users.lookup(claims.Subject)
	if !ok {
		return nil, user{}, "unknown_user"
	}
	if reason := s.store.sessionReason(claims.SessionID, u.name, claims.IssuedAt.Time, s.now()); reason != "" {
		return nil, u, reason
	}
	// The users file, not the token, decides the role; a token claiming
	// another role was not issued by this service.
	if claims.Role != u.role {
		return nil, u, "role_mismatch"
	}
	if s.store.passwordResetRequired(u.name) {
		return nil, u, "password_reset_required"
	}
	return claims, u, ""
}

func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

func (s *server) unauthorized(w http.ResponseWriter, r *http.Request, reason, username string) {
	s.logDecision(r, http.StatusUnauthorized, reason, username)
	w.Header().Set("WWW-Authenticate", `Bearer realm="authbackend"`)
	writeError(w, http.StatusUnauthorized, reason)
}

// logDecision writes the one auth_decision line per decision that the
// contract asks for. reason is always a fixed code, never request data.
func (s *server) logDecision(r *http.Request, status int, reason, username string) {
	level := slog.LevelInfo
	if status >= 400 {
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{
		slog.String("route", r.URL.Path),
		slog.Int("status", status),
		slog.String("reason", reason),
	}
	if username != "" {
		attrs = append(attrs, slog.String("user", username))
	}
	attrs = append(attrs, slog.String("remote", r.RemoteAddr))
	s.log.LogAttrs(r.Context(), level, "auth_decision", attrs...)
}

func (s *server) internalError(w http.ResponseWriter, r *http.Request, op string, err error) {
	s.log.LogAttrs(r.Context(), slog.LevelError, "internal_error",
		slog.String("route", r.URL.Path), slog.String("op", op), slog.String("error", err.Error()))
	writeError(w, http.StatusInternalServerError, "internal_error")
}

// decodeJSON reads exactly one JSON object from the body. strict rejects
// unknown fields: on the control API a typo must not turn into "all".
func decodeJSON(w http.ResponseWriter, r *http.Request, v any, strict bool) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	body = bytes.TrimSpace(body)
	// A bare null would decode into the zero value, which means "all"
	// for several control calls.
	if len(body) == 0 || body[0] != '{' {
		return errors.New("body is not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode body: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("data after the JSON object")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	// Responses carry tokens or security state: never cache them.
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// statusRecorder remembers the status for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// jsonErrorWriter replaces the mux's plain-text 404/405 body with the
// service's JSON error shape, keeping the status and headers like Allow.
type jsonErrorWriter struct {
	http.ResponseWriter
	wroteHeader bool
}

func (w *jsonErrorWriter) WriteHeader(status int) {
	if w.wroteHeader {
		return
	}
	w.wroteHeader = true
	w.Header().Del("Content-Length")
	writeError(w.ResponseWriter, status, errorCode(status))
}

func (w *jsonErrorWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return len(b), nil // the plain-text body is dropped
}

func errorCode(status int) string {
	return strings.ReplaceAll(strings.ToLower(http.StatusText(status)), " ", "_")
}
