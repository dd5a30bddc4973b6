package probe

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUnderPrefixMatchesWholeSegments(t *testing.T) {
	assert.True(t, UnderPrefix("/admin", "/admin"))
	assert.True(t, UnderPrefix("/admin/users", "/admin"))
	assert.True(t, UnderPrefix("/admin/users", "/admin/"))
	assert.False(t, UnderPrefix("/administrator", "/admin"))
	assert.False(t, UnderPrefix("/auth/me", "/admin"))
}

func TestDeferRestricted(t *testing.T) {
	admin503 := []Restriction{{Prefix: "/admin", Status: http.StatusServiceUnavailable}}
	admin403 := []Restriction{{Prefix: "/admin", Status: http.StatusForbidden}}
	priv := func(got int) Result {
		return Result{Name: "admin_forbidden_for_user", Method: http.MethodGet, Path: "/admin/users", Expected: http.StatusForbidden, Got: got, OK: got == http.StatusForbidden}
	}
	cases := []struct {
		name         string
		in           Result
		restricted   []Restriction
		wantDeferred bool
		wantOK       bool
	}{
		{"restriction answered first", priv(503), admin503, true, false},
		// A 403 restriction answers what the privilege probe expects: that proves nothing either.
		{"restriction answers the expected status", priv(403), admin403, true, false},
		{"backend answered, restriction missing: its own pass", priv(403), admin503, false, true},
		{"backend answered, restriction missing: its own failure", priv(200), admin503, false, false},
		{"no restriction passed: a 503 is a failure", priv(503), nil, false, false},
		{"other prefix", priv(503), []Restriction{{Prefix: "/reports", Status: 503}}, false, false},
		{"segment match only", Result{Name: "x", Method: http.MethodGet, Path: "/administrator", Expected: 200, Got: 503}, admin503, false, false},
		{"local check never deferred", Result{Name: "token_signed_with_new_secret", Path: "/admin/x", Got: 503}, admin503, false, false},
		{"the restriction check itself", Result{Name: "restricted /admin answers 503", Method: http.MethodGet, Path: "/admin", Expected: 503, Got: 503, OK: true}, admin503, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := DeferRestricted(Results{tc.in}, tc.restricted)[0]
			assert.Equal(t, tc.wantDeferred, got.Deferred)
			assert.Equal(t, tc.wantOK, got.OK)
			assert.Equal(t, tc.in.Expected, got.Expected, "the expectation is kept")
			assert.Equal(t, tc.in.Got, got.Got, "what the route answered is kept")
			if tc.wantDeferred {
				assert.Contains(t, got.Detail, "deferred: /admin is restricted")
			}
		})
	}
}

func TestResultsWithDeferredChecks(t *testing.T) {
	pass := Result{Name: "health", OK: true}
	fail := Result{Name: "login"}
	deferred := Result{Name: "admin_forbidden_for_user", Deferred: true}

	rs := Results{pass, deferred}
	assert.True(t, rs.OK(), "a deferred check neither passes nor fails")
	assert.Empty(t, rs.Failed())
	assert.Equal(t, []string{"admin_forbidden_for_user"}, names(rs.Deferred()))

	rs = Results{pass, deferred, fail}
	assert.False(t, rs.OK())
	assert.Equal(t, []string{"login"}, names(rs.Failed()))

	assert.False(t, Results{deferred}.OK(), "only deferred checks prove nothing")
	assert.False(t, Results{}.OK())
	assert.True(t, Results{pass}.OK())
	assert.Empty(t, Results{pass}.Deferred())
}

func TestCheckRestrictionsAndDeferredPrivilegeProbe(t *testing.T) {
	_, backend := newFake(t, newSecret)
	// A proxy in front of the fake answers 503 under /admin, as a restricted backend does.
	var restricted atomic.Bool
	restricted.Store(true)
	u, err := url.Parse(backend.BaseURL)
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if restricted.Load() && UnderPrefix(r.URL.Path, "/admin") {
			http.Error(w, `{"error":"route_restricted"}`, http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	target := Target{BaseURL: srv.URL}
	ctx := context.Background()
	rr := []Restriction{{Prefix: "/admin", Status: http.StatusServiceUnavailable}}

	rs := target.CheckRestrictions(ctx, rr)
	require.Len(t, rs, 1)
	assert.Equal(t, "restricted /admin answers 503", rs[0].Name)
	assert.True(t, rs[0].OK, "%+v", rs[0])

	priv := target.AdminForbidden(ctx, probeCreds)
	assert.False(t, priv.OK, "the restriction answered, not the privilege check")
	deferred := DeferRestricted(Results{priv}, rr)[0]
	assert.True(t, deferred.Deferred)

	// Lifted: the privilege probe runs for real and passes.
	restricted.Store(false)
	priv = target.AdminForbidden(ctx, probeCreds)
	assert.True(t, priv.OK, "%+v", priv)
	assert.Equal(t, "admin_forbidden_for_user", priv.Name)
	assert.Equal(t, "/admin/users", priv.Path)
	assert.False(t, target.CheckRestrictions(ctx, rr)[0].OK, "a lifted restriction fails its check")

	// Without a working login the privilege probe fails: nothing was proven.
	bad := target.AdminForbidden(ctx, Credentials{Username: "probe", Password: "wrong-password-Q1"})
	assert.False(t, bad.OK)
	assert.False(t, bad.Deferred)
	assert.NotContains(t, bad.Detail, "wrong-password-Q1")
}
