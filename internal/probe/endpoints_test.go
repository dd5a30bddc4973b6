package probe

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

// otherBackend logs in at POST /api/login {"user","pass"}, answers {"data":{"token"}} and issues
// no refresh token and no cookie; GET /api/whoami answers {"user":{"name"}}.
func otherBackend(t *testing.T, revoked *bool) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/login", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ User, Pass string }
		if json.NewDecoder(r.Body).Decode(&in) != nil || in.User != "probe" || in.Pass != "pw-123" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"data": map[string]string{"token": "tok-abc"}})
	})
	mux.HandleFunc("GET /api/whoami", func(w http.ResponseWriter, r *http.Request) {
		if *revoked || r.Header.Get("Authorization") != "Bearer tok-abc" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"user": map[string]string{"name": "probe"}})
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts
}

// A backend of another shape is probed through its endpoints: the login finds the token where
// they say, the identity check reads the name where they say, and the refresh and cookie checks
// are not made, since it issues neither.
func TestEndpointsOfAnotherBackend(t *testing.T) {
	revoked := false
	ts := otherBackend(t, &revoked)
	tg := Target{BaseURL: ts.URL, Endpoints: Endpoints{
		LoginPath: "/api/login", UsernameField: "user", PasswordField: "pass", TokenField: "data.token",
		RefreshField: None, SessionCookie: None, IdentityPath: "/api/whoami", IdentityField: "user.name",
	}}
	ctx := context.Background()
	s, res := tg.Login(ctx, Credentials{Username: "probe", Password: "pw-123"})
	require.True(t, res.OK, "%+v", res)
	require.Equal(t, "tok-abc", s.AccessToken)
	require.Equal(t, "/api/login", res.Path)
	require.True(t, tg.Me(ctx, "me", s.AccessToken, "probe", http.StatusOK).OK)
	require.False(t, tg.Me(ctx, "me", s.AccessToken, "someone-else", http.StatusOK).OK, "the identity is read, not assumed")

	revoked = true
	rs := tg.VerifySessionCutover(ctx, s)
	require.Len(t, rs, 1, "only the access token is checked: %+v", rs)
	require.Equal(t, "old_access_token_rejected", rs[0].Name)
	require.True(t, rs.OK(), "%+v", rs)

	// With the demo's defaults the same backend fails the login: nothing is assumed to work.
	_, res = Target{BaseURL: ts.URL}.Login(ctx, Credentials{Username: "probe", Password: "pw-123"})
	require.False(t, res.OK)
}

// A login answer without the token where the endpoints say fails, naming the field.
func TestEndpointsMissingToken(t *testing.T) {
	ts := otherBackend(t, new(bool))
	tg := Target{BaseURL: ts.URL, Endpoints: Endpoints{LoginPath: "/api/login", UsernameField: "user", PasswordField: "pass",
		TokenField: "data.jwt", RefreshField: None, SessionCookie: None}}
	_, res := tg.Login(context.Background(), Credentials{Username: "probe", Password: "pw-123"})
	require.False(t, res.OK)
	require.Contains(t, res.Detail, "data.jwt")
	require.NotContains(t, res.Detail, "pw-123")
}
