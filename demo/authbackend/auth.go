package main

import (
	"crypto/rand"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"
)

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
		s.metrics.login(loginMalformed, "", s.now())
		s.logDecision(r, http.StatusBadRequest, "malformed_request", "")
		writeError(w, http.StatusBadRequest, "malformed_request")
		return
	}
	if req.Username == "" || req.Password == "" {
		s.metrics.login(loginMissing, "", s.now())
		s.logDecision(r, http.StatusBadRequest, "missing_credentials", "")
		writeError(w, http.StatusBadRequest, "missing_credentials")
		return
	}
	u, err := s.users.authenticate(req.Username, req.Password)
	switch {
	case errors.Is(err, errUnknownUser):
		// The name is not logged: it may be a mistyped password.
		s.metrics.login(loginUnknownUser, req.Username, s.now())
		s.logDecision(r, http.StatusUnauthorized, "unknown_user", "")
		writeError(w, http.StatusUnauthorized, "invalid_credentials")
		return
	case errors.Is(err, errBadPassword):
		s.metrics.login(loginBadPassword, req.Username, s.now())
		s.logDecision(r, http.StatusUnauthorized, "bad_password", u.name)
		writeError(w, http.StatusUnauthorized, "invalid_credentials")
		return
	case err != nil:
		s.metrics.login(loginInternalError, "", s.now())
		s.internalError(w, r, "authenticate", err)
		return
	}

	now := s.now()
	sid := rand.Text()
	limit := now.Add(refreshTTL)
	refresh, err := s.tokens.sign(u, sid, typeRefresh, now, limit)
	if err != nil {
		s.metrics.login(loginInternalError, "", now)
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
		s.metrics.login(loginResetRequired, "", s.now())
		s.logDecision(r, http.StatusForbidden, "password_reset_required", u.name)
		writeError(w, http.StatusForbidden, "password_reset_required")
		return
	case err != nil:
		s.metrics.login(loginInternalError, "", s.now())
		s.internalError(w, r, "create session", err)
		return
	}
	s.metrics.login(loginSuccess, "", now)
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
