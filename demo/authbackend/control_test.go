package main

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// controlEndpoints lists every control route with a valid body.
func controlEndpoints() []struct {
	method, path string
	body         any
} {
	return []struct {
		method, path string
		body         any
	}{
		{http.MethodGet, "/_control/state", nil},
		{http.MethodPost, "/_control/sessions/revoke", map[string]string{"username": ""}},
		{http.MethodPost, "/_control/sessions/restore", map[string]string{"username": ""}},
		{http.MethodPost, "/_control/password-reset", map[string]any{"usernames": []string{"bob"}, "required": true}},
		{http.MethodPut, "/_control/log-level", map[string]string{"level": "debug"}},
		{http.MethodPost, "/_control/routes/restrict", map[string]any{"prefixes": []string{"/admin"}, "status": 503}},
		{http.MethodPost, "/_control/routes/lift", map[string]any{"prefixes": []string{}}},
		{http.MethodPost, "/_control/cidrs/deny", map[string]any{"cidrs": []string{"10.0.0.0/8"}}},
		{http.MethodPost, "/_control/cidrs/allow", map[string]any{"cidrs": []string{}}},
	}
}

func TestControlRequiresAdminToken(t *testing.T) {
	f := newFixture(t)
	before := f.state()
	for _, ep := range controlEndpoints() {
		t.Run(ep.method+" "+ep.path, func(t *testing.T) {
			r := f.do(request{method: ep.method, path: ep.path, body: ep.body})
			require.Equal(t, http.StatusUnauthorized, r.status, "no token")
			r = f.do(request{method: ep.method, path: ep.path, body: ep.body,
				headers: map[string]string{"Authorization": "Basic " + testAdminToken}})
			require.Equal(t, http.StatusUnauthorized, r.status, "not bearer")
			r = f.do(request{method: ep.method, path: ep.path, body: ep.body, bearer: "wrong-token"})
			require.Equal(t, http.StatusForbidden, r.status, "wrong token")
			r = f.do(request{method: ep.method, path: ep.path, body: ep.body, bearer: f.login("alice").AccessToken})
			require.Equal(t, http.StatusForbidden, r.status, "a user's token is not the admin token")
			r = f.control(ep.method, ep.path, ep.body)
			require.Equal(t, http.StatusOK, r.status, string(r.body))
			f.controlOK(http.MethodPost, "/_control/password-reset", map[string]any{"usernames": []string{"bob"}, "required": false})
			f.controlOK(http.MethodPut, "/_control/log-level", map[string]string{"level": "info"})
			f.controlOK(http.MethodPost, "/_control/routes/lift", map[string]any{"prefixes": []string{}})
			f.controlOK(http.MethodPost, "/_control/cidrs/allow", map[string]any{"cidrs": []string{}})
		})
	}
	after := f.state()
	require.Equal(t, before["denied_cidrs"], after["denied_cidrs"])
}

func TestControlIsNotFoundWithoutAdminToken(t *testing.T) {
	f := newFixture(t, func(c *serverConfig) { c.adminToken = "" })
	for _, ep := range controlEndpoints() {
		for _, bearer := range []string{"", testAdminToken, "anything"} {
			r := f.do(request{method: ep.method, path: ep.path, body: ep.body, bearer: bearer})
			require.Equal(t, http.StatusNotFound, r.status, "%s %s", ep.method, ep.path)
			require.Equal(t, "not_found", r.errorCode(t))
		}
	}
}

func TestControlStateShape(t *testing.T) {
	f := newFixture(t)
	require.Equal(t, map[string]any{
		"revoked_before":       nil,
		"revoked_sessions":     float64(0),
		"active_sessions":      float64(0),
		"password_reset_users": []any{},
		"log_level":            "info",
		"restricted_routes":    []any{},
		"denied_cidrs":         []any{},
	}, f.state())
}

func TestRevokeAndRestore(t *testing.T) {
	f := newFixture(t)
	alice, bob := f.login("alice"), f.login("bob")
	bob2 := f.login("bob")
	meStatus := func(tok string) int { s, _ := f.me(tok); return s }

	t.Run("revoke one user", func(t *testing.T) {
		body := f.controlOK(http.MethodPost, "/_control/sessions/revoke", map[string]string{"username": "bob"})
		require.EqualValues(t, 2, body["revoked"])
		cutoff, err := time.Parse(time.RFC3339, body["cutoff"].(string))
		require.NoError(t, err)
		require.Equal(t, f.clock.Now().Truncate(time.Second), cutoff)
		require.Equal(t, http.StatusUnauthorized, meStatus(bob.AccessToken))
		require.Equal(t, http.StatusUnauthorized, meStatus(bob2.AccessToken))
		require.Equal(t, http.StatusOK, meStatus(alice.AccessToken))
		st := f.state()
		require.Nil(t, st["revoked_before"], "a per-user revoke sets no global cutoff")
		require.EqualValues(t, 2, st["revoked_sessions"])
		require.EqualValues(t, 1, st["active_sessions"])
	})
	t.Run("restore one user", func(t *testing.T) {
		body := f.controlOK(http.MethodPost, "/_control/sessions/restore", map[string]string{"username": "bob"})
		require.EqualValues(t, 2, body["restored"])
		require.Equal(t, http.StatusOK, meStatus(bob.AccessToken))
		require.EqualValues(t, 3, f.state()["active_sessions"])
	})
	t.Run("revoke all", func(t *testing.T) {
		body := f.controlOK(http.MethodPost, "/_control/sessions/revoke", map[string]string{"username": ""})
		require.EqualValues(t, 3, body["revoked"])
		require.Equal(t, http.StatusUnauthorized, meStatus(alice.AccessToken))
		require.Equal(t, http.StatusUnauthorized, meStatus(bob.AccessToken))
		st := f.state()
		require.Equal(t, body["cutoff"], st["revoked_before"])
		require.EqualValues(t, 3, st["revoked_sessions"])
		require.EqualValues(t, 0, st["active_sessions"])
		// Revoking again finds nothing left to revoke.
		body = f.controlOK(http.MethodPost, "/_control/sessions/revoke", map[string]string{"username": ""})
		require.EqualValues(t, 0, body["revoked"])
	})
	t.Run("restore all", func(t *testing.T) {
		body := f.controlOK(http.MethodPost, "/_control/sessions/restore", map[string]string{"username": ""})
		require.EqualValues(t, 3, body["restored"])
		require.Nil(t, body["revoked_before"])
		require.Equal(t, http.StatusOK, meStatus(alice.AccessToken))
		require.Equal(t, http.StatusOK, meStatus(bob.AccessToken))
		require.Nil(t, f.state()["revoked_before"])
	})
}

func TestPasswordReset(t *testing.T) {
	f := newFixture(t)
	bob, carol := f.login("bob"), f.login("carol")
	loginStatus := func(user string) int {
		return f.do(request{method: http.MethodPost, path: "/auth/token",
			body: map[string]string{"username": user, "password": passwordOf(t, user)}}).status
	}

	body := f.controlOK(http.MethodPost, "/_control/password-reset",
		map[string]any{"usernames": []string{"bob"}, "required": true})
	require.Equal(t, []any{"bob"}, body["users"])
	require.EqualValues(t, 1, body["revoked"])
	status, _ := f.me(bob.AccessToken)
	require.Equal(t, http.StatusUnauthorized, status, "the user's sessions are revoked")
	status, _ = f.me(carol.AccessToken)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, http.StatusForbidden, loginStatus("bob"))
	r := f.do(request{method: http.MethodPost, path: "/auth/refresh", body: map[string]string{"refresh_token": bob.RefreshToken}})
	require.Equal(t, http.StatusUnauthorized, r.status)
	require.Equal(t, []any{"bob"}, f.state()["password_reset_users"])

	// Restore must not bring back sessions of a user who must reset.
	f.controlOK(http.MethodPost, "/_control/sessions/restore", map[string]string{"username": ""})
	status, _ = f.me(bob.AccessToken)
	require.Equal(t, http.StatusUnauthorized, status)

	body = f.controlOK(http.MethodPost, "/_control/password-reset",
		map[string]any{"usernames": []string{"carol", "bob"}, "required": true})
	require.Equal(t, []any{"bob", "carol"}, body["users"])

	body = f.controlOK(http.MethodPost, "/_control/password-reset",
		map[string]any{"usernames": []string{"bob"}, "required": false})
	require.Equal(t, []any{"carol"}, body["users"])
	require.Equal(t, http.StatusOK, loginStatus("bob"))
	require.Equal(t, http.StatusForbidden, loginStatus("carol"))
}

func TestLogLevel(t *testing.T) {
	f := newFixture(t)
	for _, step := range []struct{ level, previous string }{
		{"debug", "info"}, {"warn", "debug"}, {"error", "warn"}, {"info", "error"},
	} {
		body := f.controlOK(http.MethodPut, "/_control/log-level", map[string]string{"level": step.level})
		require.Equal(t, map[string]any{"previous": step.previous, "level": step.level}, body)
		require.Equal(t, step.level, f.state()["log_level"])
		want, err := parseLevel(step.level)
		require.NoError(t, err)
		require.Equal(t, want, f.cfg.logLevel.Level())
	}

	// The level really gates the log: debug request lines only at debug.
	mark := len(f.logs.String())
	f.do(request{method: http.MethodGet, path: "/healthz"})
	require.NotContains(t, f.logs.String()[mark:], `"msg":"request"`)
	f.controlOK(http.MethodPut, "/_control/log-level", map[string]string{"level": "debug"})
	f.do(request{method: http.MethodGet, path: "/healthz"})
	require.Contains(t, f.logs.String()[mark:], `"msg":"request","method":"GET","path":"/healthz"`)
}

func TestRestrictAndLiftRoutes(t *testing.T) {
	f := newFixture(t)
	alice := f.login("alice")
	get := func(path string) response {
		return f.do(request{method: http.MethodGet, path: path, bearer: alice.AccessToken})
	}

	body := f.controlOK(http.MethodPost, "/_control/routes/restrict",
		map[string]any{"prefixes": []string{"/admin"}, "status": 503})
	require.Equal(t, []any{map[string]any{"prefix": "/admin", "status": float64(503)}}, body["restricted_routes"])
	r := get("/admin/users")
	require.Equal(t, http.StatusServiceUnavailable, r.status)
	require.Equal(t, "route_restricted", r.errorCode(t))
	require.Equal(t, http.StatusOK, get("/auth/me").status)
	require.Equal(t, http.StatusOK, get("/healthz").status)

	// Restricting everything still leaves health and control reachable.
	f.controlOK(http.MethodPost, "/_control/routes/restrict", map[string]any{"prefixes": []string{"/"}, "status": 403})
	require.Equal(t, http.StatusForbidden, get("/auth/me").status)
	require.Equal(t, http.StatusServiceUnavailable, get("/admin/users").status, "the longest prefix wins")
	require.Equal(t, http.StatusForbidden, f.do(request{method: http.MethodPost, path: "/auth/token",
		body: map[string]string{"username": "alice", "password": passwordOf(t, "alice")}}).status)
	require.Equal(t, http.StatusOK, get("/healthz").status)
	require.Equal(t, http.StatusOK, f.control(http.MethodGet, "/_control/state", nil).status)
	// Path tricks do not slip past a restriction.
	require.NotEqual(t, http.StatusOK, get("/healthz/../admin/users").status)

	// Re-restricting a prefix replaces its status.
	f.controlOK(http.MethodPost, "/_control/routes/restrict", map[string]any{"prefixes": []string{"/admin/"}, "status": 403})
	require.Equal(t, []any{
		map[string]any{"prefix": "/", "status": float64(403)},
		map[string]any{"prefix": "/admin", "status": float64(403)},
	}, f.state()["restricted_routes"])

	body = f.controlOK(http.MethodPost, "/_control/routes/lift", map[string]any{"prefixes": []string{"/admin"}})
	require.Equal(t, []any{map[string]any{"prefix": "/", "status": float64(403)}}, body["restricted_routes"])
	body = f.controlOK(http.MethodPost, "/_control/routes/lift", map[string]any{"prefixes": []string{}})
	require.Equal(t, []any{}, body["restricted_routes"])
	require.Equal(t, http.StatusOK, get("/admin/users").status)
}

func TestDenyAndAllowCIDRs(t *testing.T) {
	f := newFixture(t)
	bob := f.login("bob")
	me := func(headers map[string]string) response {
		return f.do(request{method: http.MethodGet, path: "/auth/me", bearer: bob.AccessToken, headers: headers})
	}

	body := f.controlOK(http.MethodPost, "/_control/cidrs/deny", map[string]any{"cidrs": []string{"10.1.2.3/8"}})
	require.Equal(t, []any{"10.0.0.0/8"}, body["denied_cidrs"], "stored masked")
	// X-Forwarded-For is not trusted, neither to deny nor to allow.
	require.Equal(t, http.StatusOK, me(map[string]string{"X-Forwarded-For": "10.9.9.9"}).status)

	body = f.controlOK(http.MethodPost, "/_control/cidrs/deny", map[string]any{"cidrs": []string{"127.0.0.0/8", "10.0.0.0/8"}})
	require.Equal(t, []any{"10.0.0.0/8", "127.0.0.0/8"}, body["denied_cidrs"])
	r := me(nil)
	require.Equal(t, http.StatusForbidden, r.status)
	require.Equal(t, "cidr_denied", r.errorCode(t))
	require.Equal(t, http.StatusForbidden, me(map[string]string{"X-Forwarded-For": "8.8.8.8"}).status)
	require.Equal(t, http.StatusOK, f.do(request{method: http.MethodGet, path: "/healthz"}).status)
	require.Equal(t, []any{"10.0.0.0/8", "127.0.0.0/8"}, f.state()["denied_cidrs"], "control still works")

	body = f.controlOK(http.MethodPost, "/_control/cidrs/allow", map[string]any{"cidrs": []string{"127.0.0.0/8"}})
	require.Equal(t, []any{"10.0.0.0/8"}, body["denied_cidrs"])
	require.Equal(t, http.StatusOK, me(nil).status)

	body = f.controlOK(http.MethodPost, "/_control/cidrs/allow", map[string]any{"cidrs": []string{}})
	require.Equal(t, []any{}, body["denied_cidrs"])
}

func TestDenyUsesRemoteAddr(t *testing.T) {
	f := newFixture(t)
	f.controlOK(http.MethodPost, "/_control/cidrs/deny", map[string]any{"cidrs": []string{"192.0.2.0/24", "2001:db8::/32"}})
	tests := []struct {
		remote string
		status int
	}{
		{"192.0.2.7:4000", http.StatusForbidden},
		{"[::ffff:192.0.2.7]:4000", http.StatusForbidden}, // IPv4-mapped IPv6
		{"[2001:db8::1]:4000", http.StatusForbidden},
		{"198.51.100.1:4000", http.StatusUnauthorized}, // allowed through, then no token
		{"not-an-address", http.StatusForbidden},       // cannot prove it is allowed
	}
	for _, tc := range tests {
		req := httptest.NewRequest(http.MethodGet, "/auth/me", nil)
		req.RemoteAddr = tc.remote
		rec := httptest.NewRecorder()
		f.srv.ServeHTTP(rec, req)
		require.Equal(t, tc.status, rec.Code, tc.remote)
	}
}

func TestControlBadInputChangesNothing(t *testing.T) {
	f := newFixture(t)
	f.login("bob")
	tests := []struct {
		name, method, path string
		body               any
	}{
		{"revoke malformed", http.MethodPost, "/_control/sessions/revoke", `{"username":`},
		{"revoke null body", http.MethodPost, "/_control/sessions/revoke", `null`},
		{"revoke empty body", http.MethodPost, "/_control/sessions/revoke", ``},
		{"revoke typo field", http.MethodPost, "/_control/sessions/revoke", map[string]string{"user": "bob"}},
		{"revoke unknown user", http.MethodPost, "/_control/sessions/revoke", map[string]string{"username": "mallory"}},
		{"restore unknown user", http.MethodPost, "/_control/sessions/restore", map[string]string{"username": "mallory"}},
		{"reset no users", http.MethodPost, "/_control/password-reset", map[string]any{"usernames": []string{}, "required": true}},
		{"reset no required", http.MethodPost, "/_control/password-reset", map[string]any{"usernames": []string{"bob"}}},
		{"reset unknown user", http.MethodPost, "/_control/password-reset", map[string]any{"usernames": []string{"bob", "mallory"}, "required": true}},
		{"reset empty name", http.MethodPost, "/_control/password-reset", map[string]any{"usernames": []string{""}, "required": true}},
		{"unknown level", http.MethodPut, "/_control/log-level", map[string]string{"level": "verbose"}},
		{"level wrong case", http.MethodPut, "/_control/log-level", map[string]string{"level": "DEBUG"}},
		{"empty level", http.MethodPut, "/_control/log-level", map[string]string{}},
		{"restrict bad status", http.MethodPost, "/_control/routes/restrict", map[string]any{"prefixes": []string{"/admin"}, "status": 200}},
		{"restrict no status", http.MethodPost, "/_control/routes/restrict", map[string]any{"prefixes": []string{"/admin"}}},
		{"restrict bad prefix", http.MethodPost, "/_control/routes/restrict", map[string]any{"prefixes": []string{"/ok", "admin"}, "status": 503}},
		{"restrict no prefixes", http.MethodPost, "/_control/routes/restrict", map[string]any{"prefixes": []string{}, "status": 503}},
		{"lift bad prefix", http.MethodPost, "/_control/routes/lift", map[string]any{"prefixes": []string{"admin"}}},
		{"deny invalid CIDR", http.MethodPost, "/_control/cidrs/deny", map[string]any{"cidrs": []string{"10.0.0.0/8", "10.0.0.0/33"}}},
		{"deny bare IP", http.MethodPost, "/_control/cidrs/deny", map[string]any{"cidrs": []string{"10.0.0.1"}}},
		{"deny garbage", http.MethodPost, "/_control/cidrs/deny", map[string]any{"cidrs": []string{"not-a-cidr"}}},
		{"deny empty list", http.MethodPost, "/_control/cidrs/deny", map[string]any{"cidrs": []string{}}},
		{"allow invalid CIDR", http.MethodPost, "/_control/cidrs/allow", map[string]any{"cidrs": []string{"300.0.0.0/8"}}},
	}
	before := f.state()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := f.control(tc.method, tc.path, tc.body)
			require.Equal(t, http.StatusBadRequest, r.status, string(r.body))
			require.NotEmpty(t, r.errorCode(t))
			require.Equal(t, before, f.state())
		})
	}
	require.Equal(t, slog.LevelInfo, f.cfg.logLevel.Level())
}

func TestControlErrorsAreClear(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		method, path string
		body         any
		want         string
	}{
		{http.MethodPost, "/_control/cidrs/deny", map[string]any{"cidrs": []string{"10.0.0.0/33"}}, `invalid CIDR "10.0.0.0/33"`},
		{http.MethodPut, "/_control/log-level", map[string]string{"level": "loud"}, `unknown log level "loud"`},
		{http.MethodPost, "/_control/routes/restrict", map[string]any{"prefixes": []string{"/a"}, "status": 404}, "invalid status 404"},
		{http.MethodPost, "/_control/routes/restrict", map[string]any{"prefixes": []string{"a"}, "status": 403}, `invalid prefix "a"`},
	}
	for _, tc := range tests {
		r := f.control(tc.method, tc.path, tc.body)
		require.Equal(t, http.StatusBadRequest, r.status)
		require.Contains(t, r.errorCode(t), tc.want)
	}
}

func TestParseCIDRs(t *testing.T) {
	got, err := parseCIDRs([]string{"10.1.2.3/8", " 192.168.0.0/16 ", "2001:db8::1/32"})
	require.NoError(t, err)
	var s []string
	for _, p := range got {
		s = append(s, p.String())
	}
	require.Equal(t, []string{"10.0.0.0/8", "192.168.0.0/16", "2001:db8::/32"}, s)
	for _, bad := range []string{"", "10.0.0.0", "10.0.0.0/-1", "::/129", "a/b"} {
		_, err := parseCIDRs([]string{bad})
		require.Error(t, err, bad)
	}
}

func TestRevokeSeveralUsersAllOrNothing(t *testing.T) {
	f := newFixture(t)
	alice, bob, carol := f.login("alice"), f.login("bob"), f.login("carol")
	meStatus := func(tok string) int { s, _ := f.me(tok); return s }

	// One unknown name: nothing is revoked.
	r := f.control(http.MethodPost, "/_control/sessions/revoke", map[string]any{"usernames": []string{"bob", "nobody"}})
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Equal(t, http.StatusOK, meStatus(bob.AccessToken), "bob was revoked although the request was refused")
	require.EqualValues(t, 3, f.state()["active_sessions"])

	body := f.controlOK(http.MethodPost, "/_control/sessions/revoke", map[string]any{"usernames": []string{"bob", "carol"}})
	require.EqualValues(t, 2, body["revoked"])
	require.Equal(t, http.StatusUnauthorized, meStatus(bob.AccessToken))
	require.Equal(t, http.StatusUnauthorized, meStatus(carol.AccessToken))
	require.Equal(t, http.StatusOK, meStatus(alice.AccessToken))
	require.Nil(t, f.state()["revoked_before"], "revoking listed users sets no global cutoff")
}
