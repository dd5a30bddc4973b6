package main

import (
	"crypto/rand"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

// forged signs claims with the real secret, as someone holding a leaked
// JWT_SECRET would.
func forged(t *testing.T, c *tokenClaims) string {
	t.Helper()
	return craft(t, jwt.SigningMethodHS256, []byte(testSecret), c)
}

// sidOf reads the sid of a token the server issued.
func sidOf(t *testing.T, raw string) string {
	t.Helper()
	sid, _ := parseIssued(t, raw)["sid"].(string)
	require.NotEmpty(t, sid)
	return sid
}

// requireDecision asserts that an auth_decision line with this route, status
// and reason was logged.
func requireDecision(t *testing.T, f *fixture, route string, status int, reason string) {
	t.Helper()
	require.Contains(t, f.logs.String(),
		`"msg":"auth_decision","route":"`+route+`","status":`+strconv.Itoa(status)+`,"reason":"`+reason+`"`)
}

// rejectedEverywhere checks that claims, signed with the real secret, get
// 401 with code on every route that takes a token: as a bearer access token
// on /auth/me and /admin/users, as a session cookie and as a refresh token.
func rejectedEverywhere(t *testing.T, f *fixture, c func(typ string) *tokenClaims, code string) {
	t.Helper()
	access := forged(t, c(typeAccess))
	for _, path := range []string{"/auth/me", "/admin/users"} {
		r := f.do(request{method: http.MethodGet, path: path, bearer: access})
		require.Equal(t, http.StatusUnauthorized, r.status, "%s bearer: %s", path, r.body)
		require.Equal(t, code, r.errorCode(t), path)
		requireDecision(t, f, path, http.StatusUnauthorized, code)
	}
	r := f.do(request{method: http.MethodGet, path: "/admin/users", cookie: forged(t, c(typeSession))})
	require.Equal(t, http.StatusUnauthorized, r.status, "cookie: %s", r.body)
	require.Equal(t, code, r.errorCode(t))
	r = f.do(request{method: http.MethodGet, path: "/auth/me", cookie: forged(t, c(typeSession))})
	require.Equal(t, http.StatusUnauthorized, r.status, "cookie: %s", r.body)
	require.Equal(t, code, r.errorCode(t))
	r = f.do(request{method: http.MethodPost, path: "/auth/refresh",
		body: map[string]string{"refresh_token": forged(t, c(typeRefresh))}})
	require.Equal(t, http.StatusUnauthorized, r.status, "refresh: %s", r.body)
	require.Equal(t, code, r.errorCode(t))
	require.Empty(t, r.header.Values("Set-Cookie"), "a rejected refresh issues nothing")
	requireDecision(t, f, "/auth/refresh", http.StatusUnauthorized, code)
}

// TestForgedTokenAfterRevokeAllIsRejected is the review scenario: after an
// emergency revoke-all, someone holding the leaked secret forges an admin
// token with a fresh iat and a made-up sid. It must not get in.
func TestForgedTokenAfterRevokeAllIsRejected(t *testing.T) {
	f := newFixture(t)
	alice := f.login("alice")
	f.login("bob")
	f.clock.Advance(time.Second)
	f.controlOK(http.MethodPost, "/_control/sessions/revoke", map[string]string{"username": ""})
	f.clock.Advance(time.Minute) // well past the cutoff

	now := f.clock.Now()
	randomSID := rand.Text()
	rejectedEverywhere(t, f, func(typ string) *tokenClaims {
		return claimsFor("alice", "admin", randomSID, typ, now, time.Hour)
	}, "unknown_session")

	// Reusing the revoked session's sid with a fresh iat does not help either.
	aliceSID := sidOf(t, alice.AccessToken)
	rejectedEverywhere(t, f, func(typ string) *tokenClaims {
		return claimsFor("alice", "admin", aliceSID, typ, now, time.Hour)
	}, "session_revoked")

	// A real login after the revoke still works, as admin.
	fresh := f.login("alice")
	r := f.do(request{method: http.MethodGet, path: "/admin/users", bearer: fresh.AccessToken})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
}

func TestTokensMustMatchTheirSession(t *testing.T) {
	f := newFixture(t)
	alice, bob := f.login("alice"), f.login("bob")
	aliceSID, bobSID := sidOf(t, alice.AccessToken), sidOf(t, bob.AccessToken)
	now := f.clock.Now()

	tests := []struct {
		name   string
		claims func(typ string) *tokenClaims
		code   string
	}{
		{"unknown sid", func(typ string) *tokenClaims {
			return claimsFor("bob", "user", "never-issued-"+rand.Text(), typ, now, time.Hour)
		}, "unknown_session"},
		// bob's live session, but claiming to be the admin.
		{"live sid of another user", func(typ string) *tokenClaims {
			return claimsFor("alice", "admin", bobSID, typ, now, time.Hour)
		}, "session_user_mismatch"},
		{"live sid of another user, own role", func(typ string) *tokenClaims {
			return claimsFor("carol", "user", bobSID, typ, now, time.Hour)
		}, "session_user_mismatch"},
		// bob's own live session, but claiming the admin role.
		{"role escalated", func(typ string) *tokenClaims {
			return claimsFor("bob", "admin", bobSID, typ, now, time.Hour)
		}, "role_mismatch"},
		{"role lowered", func(typ string) *tokenClaims {
			return claimsFor("alice", "user", aliceSID, typ, now, time.Hour)
		}, "role_mismatch"},
		{"empty role", func(typ string) *tokenClaims {
			return claimsFor("bob", "", bobSID, typ, now, time.Hour)
		}, "role_mismatch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rejectedEverywhere(t, f, tc.claims, tc.code)
		})
	}

	// The same crafted shape with matching sid, sub and role is accepted,
	// so each case above fails for its own reason; the role on /admin/users
	// is the user's.
	r := f.do(request{method: http.MethodGet, path: "/admin/users",
		bearer: forged(t, claimsFor("alice", "admin", aliceSID, typeAccess, now, time.Hour))})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	r = f.do(request{method: http.MethodGet, path: "/admin/users",
		bearer: forged(t, claimsFor("bob", "user", bobSID, typeAccess, now, time.Hour))})
	require.Equal(t, http.StatusForbidden, r.status, string(r.body))
	r = f.do(request{method: http.MethodGet, path: "/auth/me",
		bearer: forged(t, claimsFor("bob", "user", bobSID, typeAccess, now, time.Hour))})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.Equal(t, map[string]any{"username": "bob", "role": "user"}, r.json(t))

	// The genuine tokens of both sessions keep working.
	for _, tok := range []string{alice.AccessToken, bob.AccessToken} {
		status, _ := f.me(tok)
		require.Equal(t, http.StatusOK, status)
	}

	// A refresh token is also bound to the session's current one, so even
	// a matching minted one is not accepted: it is not the current token,
	// which makes it a reuse, and that ends bob's session. alice's lives on.
	r = f.do(request{method: http.MethodPost, path: "/auth/refresh",
		body: map[string]string{"refresh_token": forged(t, claimsFor("bob", "user", bobSID, typeRefresh, now, time.Hour))}})
	require.Equal(t, http.StatusUnauthorized, r.status, string(r.body))
	require.Equal(t, reasonRefreshReused, r.errorCode(t))
	status, code := f.me(bob.AccessToken)
	require.Equal(t, http.StatusUnauthorized, status)
	require.Equal(t, "session_revoked", code)
	status, _ = f.me(alice.AccessToken)
	require.Equal(t, http.StatusOK, status)
}

// TestTamperedRoleClaimIsNotAdmin: a token whose role claim was changed
// without the secret stays 401 on /admin/users (signature), never 200.
func TestTamperedRoleClaimIsNotAdmin(t *testing.T) {
	f := newFixture(t)
	bob := f.login("bob")
	r := f.do(request{method: http.MethodGet, path: "/admin/users", bearer: tamper(t, bob.AccessToken)})
	require.Equal(t, http.StatusUnauthorized, r.status, string(r.body))
	require.Equal(t, "signature_invalid", r.errorCode(t))
}

// TestExpiredSessionRejectsTokens: a session past its end that has not been
// pruned yet does not lend its sid to a token with a later exp.
func TestExpiredSessionRejectsTokens(t *testing.T) {
	f := newFixture(t)
	bob := f.login("bob")
	sid := sidOf(t, bob.AccessToken)
	f.clock.Advance(refreshTTL + time.Minute)
	now := f.clock.Now()
	rejectedEverywhere(t, f, func(typ string) *tokenClaims {
		return claimsFor("bob", "user", sid, typ, now, time.Hour)
	}, "session_expired")
}

// TestSessionsAndTokensSurviveRestart: sessions live in the state file, so
// every token of a session stays valid across a restart with the same secret.
func TestSessionsAndTokensSurviveRestart(t *testing.T) {
	f := newFixture(t)
	bob := f.login("bob")
	f.restart()

	status, _ := f.me(bob.AccessToken)
	require.Equal(t, http.StatusOK, status)
	r := f.do(request{method: http.MethodGet, path: "/auth/me", cookie: bob.cookie.Value})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	r = f.do(request{method: http.MethodPost, path: "/auth/refresh", body: map[string]string{"refresh_token": bob.RefreshToken}})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	status, _ = f.me(decodeIssued(t, r).AccessToken)
	require.Equal(t, http.StatusOK, status)
}

// TestMemoryOnlySessionsEndWithTheProcess: without a state file the sessions,
// and so their tokens, do not outlive a restart.
func TestMemoryOnlySessionsEndWithTheProcess(t *testing.T) {
	f := newFixture(t, func(c *serverConfig) { c.stateFile = "" })
	bob := f.login("bob")
	status, _ := f.me(bob.AccessToken)
	require.Equal(t, http.StatusOK, status)
	f.restart()
	status, code := f.me(bob.AccessToken)
	require.Equal(t, http.StatusUnauthorized, status)
	require.Equal(t, "unknown_session", code)
}
