package main

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

func TestHealthz(t *testing.T) {
	f := newFixture(t)
	r := f.do(request{method: http.MethodGet, path: "/healthz"})
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "application/json", r.header.Get("Content-Type"))
	body := r.json(t)
	require.Equal(t, "ok", body["status"])
	require.EqualValues(t, os.Getpid(), body["pid"])
	started, err := time.Parse(time.RFC3339Nano, body["started_at"].(string))
	require.NoError(t, err)
	require.True(t, started.Equal(f.clock.Now()))
}

// parseIssued decodes a token the server issued and checks its header.
func parseIssued(t *testing.T, raw string) jwt.MapClaims {
	t.Helper()
	claims := jwt.MapClaims{}
	tok, err := jwt.NewParser(jwt.WithoutClaimsValidation()).ParseWithClaims(raw, claims,
		func(*jwt.Token) (any, error) { return []byte(testSecret), nil })
	require.NoError(t, err)
	require.Equal(t, "HS256", tok.Header["alg"])
	return claims
}

func TestLoginIssuesTokens(t *testing.T) {
	f := newFixture(t)
	now := f.clock.Now()
	r := f.do(request{method: http.MethodPost, path: "/auth/token",
		body: map[string]string{"username": "alice", "password": passwordOf(t, "alice")}})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.Equal(t, "no-store", r.header.Get("Cache-Control"))
	got := decodeIssued(t, r)
	require.Equal(t, "Bearer", got.TokenType)
	require.EqualValues(t, testAccessTTL.Seconds(), got.ExpiresIn)

	access := parseIssued(t, got.AccessToken)
	sid, _ := access["sid"].(string)
	require.NotEmpty(t, sid)
	require.Equal(t, jwt.MapClaims{
		"iss":  testIssuer,
		"sub":  "alice",
		"role": "admin",
		"sid":  sid,
		"typ":  "access",
		"iat":  float64(now.Unix()),
		"exp":  float64(now.Add(testAccessTTL).Unix()),
	}, access)

	refresh := parseIssued(t, got.RefreshToken)
	require.Equal(t, "refresh", refresh["typ"])
	require.Equal(t, sid, refresh["sid"])
	require.Equal(t, float64(now.Add(refreshTTL).Unix()), refresh["exp"])

	// The cookie holds a session-typed JWT of the same session.
	setCookie := r.header.Get("Set-Cookie")
	for _, attr := range []string{"session=", "HttpOnly", "Path=/", "SameSite=Lax"} {
		require.Contains(t, setCookie, attr)
	}
	require.NotContains(t, setCookie, "Secure", "no TLS, no Secure")
	require.True(t, got.cookie.HttpOnly)
	require.Equal(t, http.SameSiteLaxMode, got.cookie.SameSite)
	session := parseIssued(t, got.cookie.Value)
	require.Equal(t, "session", session["typ"])
	require.Equal(t, sid, session["sid"])
	require.Equal(t, "alice", session["sub"])

	// A second login is a second session.
	require.NotEqual(t, sid, parseIssued(t, f.login("alice").AccessToken)["sid"])
}

func TestLoginSetsSecureCookieUnderTLS(t *testing.T) {
	f := newFixture(t)
	ts := httptest.NewTLSServer(f.srv)
	defer ts.Close()
	resp, err := ts.Client().Post(ts.URL+"/auth/token", "application/json",
		strings.NewReader(`{"username":"bob","password":"`+passwordOf(t, "bob")+`"}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Set-Cookie"), "; Secure")
}

func TestLoginRejections(t *testing.T) {
	f := newFixture(t)
	f.controlOK(http.MethodPost, "/_control/password-reset",
		map[string]any{"usernames": []string{"carol"}, "required": true})

	tests := []struct {
		name   string
		body   string
		status int
		code   string
	}{
		{"malformed JSON", `{"username":`, http.StatusBadRequest, "malformed_request"},
		{"empty body", ``, http.StatusBadRequest, "malformed_request"},
		{"JSON null", `null`, http.StatusBadRequest, "malformed_request"},
		{"JSON array", `[]`, http.StatusBadRequest, "malformed_request"},
		{"trailing data", `{"username":"alice","password":"x"} {}`, http.StatusBadRequest, "malformed_request"},
		{"wrong field type", `{"username":1,"password":"x"}`, http.StatusBadRequest, "malformed_request"},
		{"missing password", `{"username":"alice"}`, http.StatusBadRequest, "missing_credentials"},
		{"bad password", `{"username":"alice","password":"nope"}`, http.StatusUnauthorized, "invalid_credentials"},
		{"unknown user", `{"username":"mallory","password":"nope"}`, http.StatusUnauthorized, "invalid_credentials"},
		{"other user's password", `{"username":"alice","password":"` + passwordOf(t, "bob") + `"}`, http.StatusUnauthorized, "invalid_credentials"},
		{"password reset required", `{"username":"carol","password":"` + passwordOf(t, "carol") + `"}`, http.StatusForbidden, "password_reset_required"},
		// The reset is only revealed to whoever knows the password.
		{"password reset, bad password", `{"username":"carol","password":"nope"}`, http.StatusUnauthorized, "invalid_credentials"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := f.do(request{method: http.MethodPost, path: "/auth/token", body: tc.body})
			require.Equal(t, tc.status, r.status, string(r.body))
			require.Equal(t, tc.code, r.errorCode(t))
			require.Empty(t, r.header.Values("Set-Cookie"))
		})
	}
}

func TestRefresh(t *testing.T) {
	f := newFixture(t)
	first := f.login("bob")
	f.clock.Advance(time.Minute)

	r := f.do(request{method: http.MethodPost, path: "/auth/refresh",
		body: map[string]string{"refresh_token": first.RefreshToken}})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	next := decodeIssued(t, r)
	require.Equal(t, "Bearer", next.TokenType)
	require.EqualValues(t, testAccessTTL.Seconds(), next.ExpiresIn)
	require.NotEqual(t, first.AccessToken, next.AccessToken)
	require.NotEmpty(t, next.RefreshToken)
	require.NotEqual(t, first.RefreshToken, next.RefreshToken, "refresh tokens rotate")

	claims := parseIssued(t, next.AccessToken)
	require.Equal(t, "access", claims["typ"])
	require.Equal(t, parseIssued(t, first.AccessToken)["sid"], claims["sid"], "refresh keeps the session")
	require.Equal(t, float64(f.clock.Now().Unix()), claims["iat"])

	status, _ := f.me(next.AccessToken)
	require.Equal(t, http.StatusOK, status)
	r = f.do(request{method: http.MethodGet, path: "/auth/me", cookie: next.cookie.Value})
	require.Equal(t, http.StatusOK, r.status)
}

func TestRefreshCapsAtRefreshExpiry(t *testing.T) {
	f := newFixture(t)
	first := f.login("bob")
	// Five minutes before the refresh token runs out, the new access token
	// must not outlive it.
	f.clock.Advance(refreshTTL - 5*time.Minute)
	r := f.do(request{method: http.MethodPost, path: "/auth/refresh",
		body: map[string]string{"refresh_token": first.RefreshToken}})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	next := decodeIssued(t, r)
	require.EqualValues(t, (5 * time.Minute).Seconds(), next.ExpiresIn)
	require.Equal(t, parseIssued(t, first.RefreshToken)["exp"], parseIssued(t, next.AccessToken)["exp"])
}

func TestRefreshRejections(t *testing.T) {
	f := newFixture(t)
	bob := f.login("bob")
	carol := f.login("carol")
	f.controlOK(http.MethodPost, "/_control/sessions/revoke", map[string]string{"username": "carol"})
	now := f.clock.Now()
	bobSID := parseIssued(t, bob.AccessToken)["sid"].(string)

	tests := []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"malformed JSON", `{"refresh_token"`, http.StatusBadRequest, "malformed_request"},
		{"missing token", `{}`, http.StatusBadRequest, "missing_refresh_token"},
		{"garbage", map[string]string{"refresh_token": "not-a-jwt"}, http.StatusUnauthorized, "token_malformed"},
		{"wrong secret", map[string]string{"refresh_token": craft(t, jwt.SigningMethodHS256,
			[]byte("another-secret-that-is-long-enough-32b"), claimsFor("bob", "user", bobSID, typeRefresh, now, time.Hour))},
			http.StatusUnauthorized, "signature_invalid"},
		{"revoked session", map[string]string{"refresh_token": carol.RefreshToken}, http.StatusUnauthorized, "session_revoked"},
		{"access token as refresh", map[string]string{"refresh_token": bob.AccessToken}, http.StatusUnauthorized, "wrong_token_type"},
		{"session token as refresh", map[string]string{"refresh_token": bob.cookie.Value}, http.StatusUnauthorized, "wrong_token_type"},
		{"expired", map[string]string{"refresh_token": craft(t, jwt.SigningMethodHS256, []byte(testSecret),
			claimsFor("bob", "user", bobSID, typeRefresh, now.Add(-2*time.Hour), time.Hour))},
			http.StatusUnauthorized, "token_expired"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := f.do(request{method: http.MethodPost, path: "/auth/refresh", body: tc.body})
			require.Equal(t, tc.status, r.status, string(r.body))
			require.Equal(t, tc.code, r.errorCode(t))
		})
	}
}

func TestMeAcceptsBearerAndCookie(t *testing.T) {
	f := newFixture(t)
	got := f.login("bob")

	r := f.do(request{method: http.MethodGet, path: "/auth/me", bearer: got.AccessToken})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.Equal(t, map[string]any{"username": "bob", "role": "user"}, r.json(t))

	r = f.do(request{method: http.MethodGet, path: "/auth/me", cookie: got.cookie.Value})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.Equal(t, map[string]any{"username": "bob", "role": "user"}, r.json(t))
}

// tamper swaps the payload for one claiming another role, keeping the
// original signature.
func tamper(t *testing.T, raw string) string {
	t.Helper()
	parts := strings.Split(raw, ".")
	require.Len(t, parts, 3)
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	forged := strings.Replace(string(payload), `"role":"user"`, `"role":"admin"`, 1)
	require.NotEqual(t, string(payload), forged)
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(forged))
	return strings.Join(parts, ".")
}

func TestMeRejections(t *testing.T) {
	f := newFixture(t)
	bob := f.login("bob")
	now := f.clock.Now()
	sid := parseIssued(t, bob.AccessToken)["sid"].(string)
	secret := []byte(testSecret)
	valid := func() *tokenClaims { return claimsFor("bob", "user", sid, typeAccess, now, time.Minute) }
	with := func(change func(*tokenClaims)) *tokenClaims { c := valid(); change(c); return c }

	noneToken := craft(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid())

	tests := []struct {
		name   string
		bearer string
		cookie string
		header string // raw Authorization header
		code   string
	}{
		{name: "missing", code: "token_missing"},
		{name: "basic auth", header: "Basic Ym9iOnB3", code: "authorization_not_bearer"},
		{name: "empty bearer", header: "Bearer ", code: "authorization_not_bearer"},
		{name: "garbage", bearer: "garbage", code: "token_malformed"},
		{name: "expired", bearer: craft(t, jwt.SigningMethodHS256, secret,
			claimsFor("bob", "user", sid, typeAccess, now.Add(-time.Hour), time.Minute)), code: "token_expired"},
		{name: "alg none", bearer: noneToken, code: "signature_invalid"},
		{name: "alg HS512", bearer: craft(t, jwt.SigningMethodHS512, secret, valid()), code: "signature_invalid"},
		{name: "wrong secret", bearer: craft(t, jwt.SigningMethodHS256,
			[]byte("not-the-secret-but-just-as-long-0123456"), valid()), code: "signature_invalid"},
		{name: "tampered", bearer: tamper(t, bob.AccessToken), code: "signature_invalid"},
		{name: "refresh token as bearer", bearer: bob.RefreshToken, code: "wrong_token_type"},
		{name: "session token as bearer", bearer: bob.cookie.Value, code: "wrong_token_type"},
		{name: "access token as cookie", cookie: bob.AccessToken, code: "wrong_token_type"},
		{name: "wrong issuer", bearer: craft(t, jwt.SigningMethodHS256, secret,
			with(func(c *tokenClaims) { c.Issuer = "someone-else" })), code: "issuer_invalid"},
		{name: "no exp", bearer: craft(t, jwt.SigningMethodHS256, secret,
			with(func(c *tokenClaims) { c.ExpiresAt = nil })), code: "claim_missing"},
		{name: "no iat", bearer: craft(t, jwt.SigningMethodHS256, secret,
			with(func(c *tokenClaims) { c.IssuedAt = nil })), code: "claim_missing"},
		{name: "no sid", bearer: craft(t, jwt.SigningMethodHS256, secret,
			with(func(c *tokenClaims) { c.SessionID = "" })), code: "claim_missing"},
		{name: "iat in the future", bearer: craft(t, jwt.SigningMethodHS256, secret,
			claimsFor("bob", "user", sid, typeAccess, now.Add(time.Hour), time.Hour)), code: "issued_in_future"},
		{name: "unknown user", bearer: craft(t, jwt.SigningMethodHS256, secret,
			with(func(c *tokenClaims) { c.Subject = "mallory" })), code: "unknown_user"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := request{method: http.MethodGet, path: "/auth/me", bearer: tc.bearer, cookie: tc.cookie}
			if tc.header != "" {
				req.headers = map[string]string{"Authorization": tc.header}
			}
			r := f.do(req)
			require.Equal(t, http.StatusUnauthorized, r.status, string(r.body))
			require.Equal(t, tc.code, r.errorCode(t))
			require.NotEmpty(t, r.header.Get("WWW-Authenticate"))
		})
	}

	// The crafted "valid" claims really are accepted, so each case above
	// fails for its own reason.
	status, _ := f.me(craft(t, jwt.SigningMethodHS256, secret, valid()))
	require.Equal(t, http.StatusOK, status)
}

func TestMeRejectsExpiredByClock(t *testing.T) {
	f := newFixture(t)
	got := f.login("bob")
	f.clock.Advance(testAccessTTL + time.Second)
	status, code := f.me(got.AccessToken)
	require.Equal(t, http.StatusUnauthorized, status)
	require.Equal(t, "token_expired", code)

	// The refresh token still works and yields a working access token.
	r := f.do(request{method: http.MethodPost, path: "/auth/refresh",
		body: map[string]string{"refresh_token": got.RefreshToken}})
	require.Equal(t, http.StatusOK, r.status)
	status, _ = f.me(decodeIssued(t, r).AccessToken)
	require.Equal(t, http.StatusOK, status)
}

func TestMeRejectsRevoked(t *testing.T) {
	t.Run("revoke all", func(t *testing.T) {
		f := newFixture(t)
		alice, bob := f.login("alice"), f.login("bob")
		f.controlOK(http.MethodPost, "/_control/sessions/revoke", map[string]string{"username": ""})
		for _, tok := range []string{alice.AccessToken, bob.AccessToken} {
			status, code := f.me(tok)
			require.Equal(t, http.StatusUnauthorized, status)
			require.Equal(t, "session_revoked", code)
		}
		r := f.do(request{method: http.MethodGet, path: "/auth/me", cookie: bob.cookie.Value})
		require.Equal(t, http.StatusUnauthorized, r.status)
	})
	t.Run("revoke one user leaves the other valid", func(t *testing.T) {
		f := newFixture(t)
		alice, bob := f.login("alice"), f.login("bob")
		body := f.controlOK(http.MethodPost, "/_control/sessions/revoke", map[string]string{"username": "bob"})
		require.EqualValues(t, 1, body["revoked"])
		status, code := f.me(bob.AccessToken)
		require.Equal(t, http.StatusUnauthorized, status)
		require.Equal(t, "session_revoked", code)
		status, _ = f.me(alice.AccessToken)
		require.Equal(t, http.StatusOK, status)
		// bob can log in again and gets a fresh, working session.
		status, _ = f.me(f.login("bob").AccessToken)
		require.Equal(t, http.StatusOK, status)
	})
}

func TestTokenIssuedRightAfterRevokeAllWorks(t *testing.T) {
	f := newFixture(t)
	second := f.clock.Now().Truncate(time.Second)

	f.clock.Set(second.Add(200 * time.Millisecond))
	before := f.login("bob")
	f.clock.Set(second.Add(500 * time.Millisecond))
	body := f.controlOK(http.MethodPost, "/_control/sessions/revoke", map[string]string{"username": ""})
	require.Equal(t, second.Format(time.RFC3339), body["cutoff"])
	f.clock.Set(second.Add(800 * time.Millisecond))
	after := f.login("bob")

	// Same iat second for both: the old one falls by its session, the new
	// one passes the cutoff.
	require.Equal(t, parseIssued(t, before.AccessToken)["iat"], parseIssued(t, after.AccessToken)["iat"])
	status, code := f.me(before.AccessToken)
	require.Equal(t, http.StatusUnauthorized, status)
	require.Equal(t, "session_revoked", code)
	status, _ = f.me(after.AccessToken)
	require.Equal(t, http.StatusOK, status)

	// The cutoff applies on top of the session: even in the live session
	// made after it, a token with iat a second before the cutoff is
	// rejected, one in the same second is not.
	secret := []byte(testSecret)
	liveSID := parseIssued(t, after.AccessToken)["sid"].(string)
	old := craft(t, jwt.SigningMethodHS256, secret, claimsFor("bob", "user", liveSID, typeAccess, second.Add(-time.Second), time.Hour))
	status, code = f.me(old)
	require.Equal(t, http.StatusUnauthorized, status)
	require.Equal(t, "issued_before_cutoff", code)
	same := craft(t, jwt.SigningMethodHS256, secret, claimsFor("bob", "user", liveSID, typeAccess, second, time.Hour))
	status, _ = f.me(same)
	require.Equal(t, http.StatusOK, status)

	// A session the state does not know is no longer judged by the cutoff
	// alone: a fresh iat does not make a made-up sid acceptable.
	unknown := craft(t, jwt.SigningMethodHS256, secret, claimsFor("bob", "user", "unknown-sid", typeAccess, second, time.Hour))
	status, code = f.me(unknown)
	require.Equal(t, http.StatusUnauthorized, status)
	require.Equal(t, "unknown_session", code)
}

func TestAdminUsers(t *testing.T) {
	f := newFixture(t)
	alice, bob := f.login("alice"), f.login("bob")

	r := f.do(request{method: http.MethodGet, path: "/admin/users", bearer: alice.AccessToken})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.Equal(t, map[string]any{"users": []any{
		map[string]any{"username": "alice", "role": "admin", "password_reset_required": false},
		map[string]any{"username": "bob", "role": "user", "password_reset_required": false},
		map[string]any{"username": "carol", "role": "user", "password_reset_required": false},
	}}, r.json(t))
	require.NotContains(t, string(r.body), "hash")

	r = f.do(request{method: http.MethodGet, path: "/admin/users", cookie: alice.cookie.Value})
	require.Equal(t, http.StatusOK, r.status)

	r = f.do(request{method: http.MethodGet, path: "/admin/users", bearer: bob.AccessToken})
	require.Equal(t, http.StatusForbidden, r.status)
	require.Equal(t, "forbidden", r.errorCode(t))

	r = f.do(request{method: http.MethodGet, path: "/admin/users"})
	require.Equal(t, http.StatusUnauthorized, r.status)
	r = f.do(request{method: http.MethodGet, path: "/admin/users", bearer: tamper(t, bob.AccessToken)})
	require.Equal(t, http.StatusUnauthorized, r.status)
}

func TestUnknownRoutesAnswerJSON(t *testing.T) {
	f := newFixture(t)
	r := f.do(request{method: http.MethodGet, path: "/nope"})
	require.Equal(t, http.StatusNotFound, r.status)
	require.Equal(t, "not_found", r.errorCode(t))

	r = f.do(request{method: http.MethodDelete, path: "/auth/token"})
	require.Equal(t, http.StatusMethodNotAllowed, r.status)
	require.Equal(t, "method_not_allowed", r.errorCode(t))
	require.Contains(t, r.header.Get("Allow"), http.MethodPost)
}

func TestPrefixMatches(t *testing.T) {
	tests := []struct {
		prefix, path string
		want         bool
	}{
		{"/admin", "/admin", true},
		{"/admin", "/admin/users", true},
		{"/admin/", "/admin/users", true},
		{"/admin", "/administrator", false},
		{"/auth/me", "/auth/token", false},
		{"/", "/anything/at/all", true},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, prefixMatches(tc.prefix, tc.path), "%s vs %s", tc.prefix, tc.path)
	}
}

func TestNewServerValidatesConfig(t *testing.T) {
	tests := []struct {
		name   string
		change func(*serverConfig)
		want   string
	}{
		{"short secret", func(c *serverConfig) { c.secret = []byte("short") }, "JWT_SECRET must be at least 32 bytes"},
		{"no issuer", func(c *serverConfig) { c.issuer = "" }, "issuer"},
		{"zero ttl", func(c *serverConfig) { c.accessTTL = 0 }, "access TTL"},
		{"bad user", func(c *serverConfig) { c.users = []userEntry{{Username: "x", Role: "user"}} }, "password is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := serverConfig{secret: []byte(testSecret), issuer: testIssuer, accessTTL: time.Minute, bcryptCost: 4}
			tc.change(&cfg)
			_, err := newServer(cfg)
			require.ErrorContains(t, err, tc.want)
		})
	}
}
