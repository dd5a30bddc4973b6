package main

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"path"
	"slices"
	"strings"
	"time"
)

// requireAdmin guards the control API: 404 when no admin token is set (the
// API does not exist), 401 without a Bearer token, 403 for a wrong one.
func (s *server) requireAdmin(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.adminTokenHash == nil {
			writeError(w, http.StatusNotFound, "not_found")
			return
		}
		raw, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok {
			s.logDecision(r, http.StatusUnauthorized, "admin_token_missing", "")
			w.Header().Set("WWW-Authenticate", `Bearer realm="authbackend-control"`)
			writeError(w, http.StatusUnauthorized, "unauthorized")
			return
		}
		sum := sha256.Sum256([]byte(raw))
		if subtle.ConstantTimeCompare(sum[:], s.adminTokenHash) != 1 {
			s.logDecision(r, http.StatusForbidden, "admin_token_invalid", "")
			writeError(w, http.StatusForbidden, "forbidden")
			return
		}
		next(w, r)
	}
}

// controlStateResponse is the body of GET /_control/state.
type controlStateResponse struct {
	RevokedBefore      *string            `json:"revoked_before"`
	RevokedSessions    int                `json:"revoked_sessions"`
	ActiveSessions     int                `json:"active_sessions"`
	PasswordResetUsers []string           `json:"password_reset_users"`
	LogLevel           string             `json:"log_level"`
	RestrictedRoutes   []routeRestriction `json:"restricted_routes"`
	DeniedCIDRs        []string           `json:"denied_cidrs"`
}

func (s *server) handleControlState(w http.ResponseWriter, _ *http.Request) {
	now := s.now()
	var resp controlStateResponse
	s.store.view(func(st *controlState, _ []netip.Prefix) {
		resp = controlStateResponse{
			RevokedBefore:      formatCutoff(st.RevokedBefore),
			PasswordResetUsers: slices.Clone(st.PasswordReset),
			LogLevel:           st.LogLevel,
			RestrictedRoutes:   slices.Clone(st.RestrictedRoutes),
			DeniedCIDRs:        slices.Clone(st.DeniedCIDRs),
		}
		resp.ActiveSessions, resp.RevokedSessions = st.sessionCounts(now)
	})
	writeJSON(w, http.StatusOK, resp)
}

func formatCutoff(t *time.Time) *string {
	if t == nil {
		return nil
	}
	v := t.UTC().Format(time.RFC3339)
	return &v
}

func (s *server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Username string `json:"username"`
		// Usernames revokes the sessions of several users at once: all of them or, when one
		// is unknown, none.
		Usernames []string `json:"usernames"`
	}
	if !s.decodeControl(w, r, &req) || !s.knownUsers(w, req.Username) {
		return
	}
	if req.Username != "" && len(req.Usernames) > 0 {
		writeError(w, http.StatusBadRequest, "give username or usernames, not both")
		return
	}
	if !s.knownUsernames(w, req.Usernames) {
		return
	}
	s.controlMu.Lock()
	defer s.controlMu.Unlock()
	now := s.now().UTC()
	revoked := 0
	err := s.store.update(now, func(st *controlState) error {
		if len(req.Usernames) > 0 {
			for _, u := range req.Usernames {
				revoked += st.revokeSessions(u, now)
			}
			return nil
		}
		if req.Username == "" {
			st.RevokedBefore = &now
		}
		revoked = st.revokeSessions(req.Username, now)
		return nil
	})
	if err != nil {
		s.internalError(w, r, "revoke sessions", err)
		return
	}
	s.logControl(r, "sessions_revoke", slog.String("username", req.Username), slog.Any("usernames", req.Usernames), slog.Int("revoked", revoked))
	writeJSON(w, http.StatusOK, map[string]any{"revoked": revoked, "cutoff": now.Format(time.RFC3339)})
}

func (s *server) handleRestore(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Username string `json:"username"`
	}
	if !s.decodeControl(w, r, &req) || !s.knownUsers(w, req.Username) {
		return
	}
	s.controlMu.Lock()
	defer s.controlMu.Unlock()
	restored := 0
	var cutoff *string
	err := s.store.update(s.now(), func(st *controlState) error {
		if req.Username == "" {
			st.RevokedBefore = nil
		}
		restored = st.restoreSessions(req.Username)
		cutoff = formatCutoff(st.RevokedBefore)
		return nil
	})
	if err != nil {
		s.internalError(w, r, "restore sessions", err)
		return
	}
	s.logControl(r, "sessions_restore", slog.String("username", req.Username), slog.Int("restored", restored))
	writeJSON(w, http.StatusOK, map[string]any{"restored": restored, "revoked_before": cutoff})
}

func (s *server) handlePasswordReset(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Usernames []string `json:"usernames"`
		Required  *bool    `json:"required"`
	}
	if !s.decodeControl(w, r, &req) {
		return
	}
	switch {
	case len(req.Usernames) == 0:
		writeError(w, http.StatusBadRequest, "usernames must list at least one user")
		return
	case req.Required == nil:
		writeError(w, http.StatusBadRequest, "required must be true or false")
		return
	}
	if !s.knownUsernames(w, req.Usernames) {
		return
	}
	s.controlMu.Lock()
	defer s.controlMu.Unlock()
	now := s.now().UTC()
	revoked := 0
	var users []string
	err := s.store.update(now, func(st *controlState) error {
		for _, name := range req.Usernames {
			if *req.Required {
				if !slices.Contains(st.PasswordReset, name) {
					st.PasswordReset = append(st.PasswordReset, name)
				}
				revoked += st.revokeSessions(name, now)
			} else {
				st.PasswordReset = slices.DeleteFunc(st.PasswordReset, func(n string) bool { return n == name })
			}
		}
		slices.Sort(st.PasswordReset)
		users = slices.Clone(st.PasswordReset)
		return nil
	})
	if err != nil {
		s.internalError(w, r, "password reset", err)
		return
	}
	s.logControl(r, "password_reset", slog.Any("usernames", req.Usernames),
		slog.Bool("required", *req.Required), slog.Int("revoked", revoked))
	writeJSON(w, http.StatusOK, map[string]any{"users": users, "revoked": revoked})
}

func (s *server) handleLogLevel(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Level string `json:"level"`
	}
	if !s.decodeControl(w, r, &req) {
		return
	}
	lvl, err := parseLevel(req.Level)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.controlMu.Lock()
	defer s.controlMu.Unlock()
	var previous string
	err = s.store.update(s.now(), func(st *controlState) error {
		previous, st.LogLevel = st.LogLevel, req.Level
		return nil
	})
	if err != nil {
		s.internalError(w, r, "set log level", err)
		return
	}
	s.level.Set(lvl)
	s.logControl(r, "log_level", slog.String("previous", previous), slog.String("level", req.Level))
	writeJSON(w, http.StatusOK, map[string]string{"previous": previous, "level": req.Level})
}

func (s *server) handleRestrict(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Prefixes []string `json:"prefixes"`
		Status   int      `json:"status"`
	}
	if !s.decodeControl(w, r, &req) {
		return
	}
	if len(req.Prefixes) == 0 {
		writeError(w, http.StatusBadRequest, "prefixes must list at least one prefix")
		return
	}
	for _, p := range req.Prefixes {
		if err := validateRestriction(p, req.Status); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	s.updateRoutes(w, r, "routes_restrict", func(routes []routeRestriction) []routeRestriction {
		for _, p := range req.Prefixes {
			p = path.Clean(p)
			routes = slices.DeleteFunc(routes, func(rr routeRestriction) bool { return rr.Prefix == p })
			routes = append(routes, routeRestriction{Prefix: p, Status: req.Status})
		}
		return routes
	}, slog.Any("prefixes", req.Prefixes), slog.Int("status", req.Status))
}

func (s *server) handleLift(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Prefixes []string `json:"prefixes"`
	}
	if !s.decodeControl(w, r, &req) {
		return
	}
	for _, p := range req.Prefixes {
		if err := validatePrefix(p); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	s.updateRoutes(w, r, "routes_lift", func(routes []routeRestriction) []routeRestriction {
		if len(req.Prefixes) == 0 {
			return []routeRestriction{}
		}
		for _, p := range req.Prefixes {
			p = path.Clean(p)
			routes = slices.DeleteFunc(routes, func(rr routeRestriction) bool { return rr.Prefix == p })
		}
		return routes
	}, slog.Any("prefixes", req.Prefixes))
}

func (s *server) updateRoutes(w http.ResponseWriter, r *http.Request, action string,
	change func([]routeRestriction) []routeRestriction, attrs ...slog.Attr) {
	byPrefix := func(a, b routeRestriction) int { return strings.Compare(a.Prefix, b.Prefix) }
	updateList(s, w, r, action, "restricted_routes", func(st *controlState) *[]routeRestriction { return &st.RestrictedRoutes },
		byPrefix, change, attrs...)
}

func (s *server) handleDeny(w http.ResponseWriter, r *http.Request) {
	var req struct {
		CIDRs []string `json:"cidrs"`
	}
	if !s.decodeControl(w, r, &req) {
		return
	}
	if len(req.CIDRs) == 0 {
		writeError(w, http.StatusBadRequest, "cidrs must list at least one CIDR")
		return
	}
	prefixes, err := parseCIDRs(req.CIDRs)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.updateCIDRs(w, r, "cidrs_deny", func(cidrs []string) []string {
		for _, p := range prefixes {
			if !slices.Contains(cidrs, p.String()) {
				cidrs = append(cidrs, p.String())
			}
		}
		return cidrs
	}, slog.Any("cidrs", req.CIDRs))
}

func (s *server) handleAllow(w http.ResponseWriter, r *http.Request) {
	var req struct {
		CIDRs []string `json:"cidrs"`
	}
	if !s.decodeControl(w, r, &req) {
		return
	}
	prefixes, err := parseCIDRs(req.CIDRs)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.updateCIDRs(w, r, "cidrs_allow", func(cidrs []string) []string {
		if len(prefixes) == 0 {
			return []string{}
		}
		for _, p := range prefixes {
			cidrs = slices.DeleteFunc(cidrs, func(c string) bool { return c == p.String() })
		}
		return cidrs
	}, slog.Any("cidrs", req.CIDRs))
}

func (s *server) updateCIDRs(w http.ResponseWriter, r *http.Request, action string,
	change func([]string) []string, attrs ...slog.Attr) {
	updateList(s, w, r, action, "denied_cidrs", func(st *controlState) *[]string { return &st.DeniedCIDRs },
		strings.Compare, change, attrs...)
}

// updateList is what the routes and CIDRs handlers share: change one list of
// the control state, kept sorted by compare, persist it, log the change and
// answer with the whole list under key. A type parameter because a method
// cannot have one.
func updateList[T any](s *server, w http.ResponseWriter, r *http.Request, action, key string,
	list func(*controlState) *[]T, compare func(a, b T) int, change func([]T) []T, attrs ...slog.Attr) {
	s.controlMu.Lock()
	defer s.controlMu.Unlock()
	var out []T
	err := s.store.update(s.now(), func(st *controlState) error {
		l := list(st)
		*l = change(*l)
		slices.SortFunc(*l, compare)
		out = slices.Clone(*l)
		return nil
	})
	if err != nil {
		s.internalError(w, r, action, err)
		return
	}
	s.logControl(r, action, attrs...)
	writeJSON(w, http.StatusOK, map[string]any{key: out})
}

// decodeControl decodes a control request strictly and answers 400 itself.
func (s *server) decodeControl(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := decodeJSON(w, r, v, true); err != nil {
		writeError(w, http.StatusBadRequest, "malformed request: "+err.Error())
		return false
	}
	return true
}

// knownUsers answers 400 and returns false when a non-empty name is not a
// known user: revoking a typo must not look like success.
func (s *server) knownUsers(w http.ResponseWriter, names ...string) bool {
	for _, name := range names {
		if _, ok := s.users.lookup(name); name != "" && !ok {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("unknown user %q", name))
			return false
		}
	}
	return true
}

// knownUsernames is knownUsers for a usernames list, where an empty name is
// an error rather than "all users".
func (s *server) knownUsernames(w http.ResponseWriter, names []string) bool {
	if slices.Contains(names, "") {
		writeError(w, http.StatusBadRequest, "usernames must not be empty")
		return false
	}
	return s.knownUsers(w, names...)
}

func (s *server) logControl(r *http.Request, action string, attrs ...slog.Attr) {
	attrs = append([]slog.Attr{slog.String("action", action)}, attrs...)
	attrs = append(attrs, slog.String("remote", r.RemoteAddr))
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "control_change", attrs...)
}

func parseLevel(name string) (slog.Level, error) {
	switch name {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("unknown log level %q: want debug, info, warn or error", name)
}

func validatePrefix(p string) error {
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("invalid prefix %q: must start with /", p)
	}
	return nil
}

func validateRestriction(prefix string, status int) error {
	if err := validatePrefix(prefix); err != nil {
		return err
	}
	if status != http.StatusForbidden && status != http.StatusServiceUnavailable {
		return fmt.Errorf("invalid status %d: must be 403 or 503", status)
	}
	return nil
}

// parseCIDRs parses and masks a list of CIDRs, so 10.1.2.3/8 is stored as
// 10.0.0.0/8, and turns an IPv4-mapped range into its IPv4 form
// (::ffff:192.0.2.0/120 is 192.0.2.0/24): a client is matched by its
// unmapped address, so the mapped form as written would match nobody.
func parseCIDRs(cidrs []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(cidrs))
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(strings.TrimSpace(c))
		if err != nil {
			return nil, fmt.Errorf("invalid CIDR %q", c)
		}
		if p.Addr().Is4In6() {
			if p.Bits() < 96 {
				return nil, fmt.Errorf("invalid CIDR %q: an IPv4-mapped range shorter than /96 is not a whole IPv4 range", c)
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// cidrStrings is the stored form of a deny list: each range once, sorted.
func cidrStrings(ps []netip.Prefix) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		if s := p.String(); !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}
