package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

// TestLogsHoldNoSecrets drives every route, including failures, at debug
// level and then searches the whole log for secret material.
func TestLogsHoldNoSecrets(t *testing.T) {
	f := newFixture(t)
	const wrongPassword = "wrong-password-Vx93#"
	// A user who types the password into the username field.
	const passwordAsUsername = "typed-pw-into-user-K2j!"

	f.controlOK(http.MethodPut, "/_control/log-level", map[string]string{"level": "debug"})
	alice, bob := f.login("alice"), f.login("bob")
	f.clock.Advance(time.Second)
	r := f.do(request{method: http.MethodPost, path: "/auth/refresh", body: map[string]string{"refresh_token": bob.RefreshToken}})
	require.Equal(t, http.StatusOK, r.status)
	refreshed := decodeIssued(t, r)

	f.do(request{method: http.MethodPost, path: "/auth/token", body: map[string]string{"username": "bob", "password": wrongPassword}})
	f.do(request{method: http.MethodPost, path: "/auth/token", body: map[string]string{"username": passwordAsUsername, "password": wrongPassword}})
	f.do(request{method: http.MethodPost, path: "/auth/token", body: `{"username":"bob","password":"` + wrongPassword + `"`})
	f.do(request{method: http.MethodGet, path: "/auth/me", bearer: alice.AccessToken})
	f.do(request{method: http.MethodGet, path: "/auth/me", cookie: bob.cookie.Value})
	f.do(request{method: http.MethodGet, path: "/auth/me", bearer: refreshed.AccessToken})
	f.do(request{method: http.MethodGet, path: "/auth/me", bearer: tamper(t, bob.AccessToken)})
	f.do(request{method: http.MethodGet, path: "/auth/me", bearer: bob.RefreshToken})
	f.do(request{method: http.MethodGet, path: "/auth/me", bearer: craft(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType,
		claimsFor("bob", "user", "x", typeAccess, f.clock.Now(), time.Hour))})
	f.do(request{method: http.MethodGet, path: "/admin/users", bearer: alice.AccessToken})
	f.do(request{method: http.MethodGet, path: "/admin/users", bearer: bob.AccessToken})
	f.do(request{method: http.MethodGet, path: "/_control/state", bearer: "wrong-admin-token-guess"})
	f.do(request{method: http.MethodGet, path: "/_control/state", bearer: alice.AccessToken})
	f.state()
	f.controlOK(http.MethodPost, "/_control/routes/restrict", map[string]any{"prefixes": []string{"/admin"}, "status": 503})
	f.do(request{method: http.MethodGet, path: "/admin/users", bearer: alice.AccessToken})
	f.controlOK(http.MethodPost, "/_control/routes/lift", map[string]any{"prefixes": []string{}})
	f.controlOK(http.MethodPost, "/_control/cidrs/deny", map[string]any{"cidrs": []string{"127.0.0.0/8"}})
	f.do(request{method: http.MethodGet, path: "/auth/me", bearer: alice.AccessToken})
	f.controlOK(http.MethodPost, "/_control/cidrs/allow", map[string]any{"cidrs": []string{}})
	f.controlOK(http.MethodPost, "/_control/password-reset", map[string]any{"usernames": []string{"carol"}, "required": true})
	f.controlOK(http.MethodPost, "/_control/sessions/revoke", map[string]string{"username": ""})
	f.do(request{method: http.MethodPost, path: "/auth/refresh", body: map[string]string{"refresh_token": bob.RefreshToken}})
	f.controlOK(http.MethodPost, "/_control/sessions/restore", map[string]string{"username": ""})
	f.control(http.MethodPut, "/_control/log-level", map[string]string{"level": "nope"})

	logs := f.logs.String()
	secrets := map[string]string{
		"jwt secret":           testSecret,
		"admin token":          testAdminToken,
		"wrong password":       wrongPassword,
		"password as username": passwordAsUsername,
	}
	for _, u := range testUsers() {
		secrets["password of "+u.Username] = u.Password
	}
	for name, tok := range map[string]string{
		"alice access": alice.AccessToken, "alice refresh": alice.RefreshToken, "alice cookie": alice.cookie.Value,
		"bob access": bob.AccessToken, "bob refresh": bob.RefreshToken, "bob cookie": bob.cookie.Value,
		"refreshed access": refreshed.AccessToken, "refreshed refresh": refreshed.RefreshToken,
		"refreshed cookie": refreshed.cookie.Value,
	} {
		secrets[name] = tok
		// Any one part of a token is as telling as the whole.
		parts := strings.Split(tok, ".")
		secrets[name+" payload"] = parts[1]
		secrets[name+" signature"] = parts[2]
	}
	for name, value := range secrets {
		require.NotContains(t, logs, value, "%s leaked into the log", name)
	}

	// Every line is JSON, and auth decisions carry the contract's fields.
	decisions := 0
	for line := range strings.Lines(logs) {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), line)
		if rec["msg"] != "auth_decision" {
			continue
		}
		decisions++
		for _, k := range []string{"route", "status", "reason", "remote"} {
			require.Contains(t, rec, k, line)
		}
	}
	require.Greater(t, decisions, 15)
	require.Contains(t, logs, `"msg":"auth_decision","route":"/auth/token","status":200,"reason":"login","user":"alice"`)
	require.Contains(t, logs, `"route":"/auth/token","status":401,"reason":"bad_password","user":"bob"`)
	require.Contains(t, logs, `"route":"/auth/token","status":401,"reason":"unknown_user","remote"`)
	require.Contains(t, logs, `"route":"/auth/me","status":403,"reason":"cidr_denied"`)
	require.Contains(t, logs, `"route":"/_control/state","status":403,"reason":"admin_token_invalid"`)
	require.Contains(t, logs, `"msg":"control_change","action":"sessions_revoke"`)
}
