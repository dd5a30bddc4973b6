package controls

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const token = "adm1n-t0ken-never-shown"

// seen is one request as the fake control API received it.
type seen struct {
	Method, Path, Auth, ContentType string
	Body                            map[string]any
}

// fakeAPI records every request and answers with the status and body that reply returns.
type fakeAPI struct {
	*httptest.Server
	count atomic.Int64
	mu    sync.Mutex
	reqs  []seen
	reply func(r *http.Request) (int, string)
}

func newFakeAPI(t *testing.T, reply func(r *http.Request) (int, string)) *fakeAPI {
	t.Helper()
	f := &fakeAPI{reply: reply}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.count.Add(1)
		s := seen{Method: r.Method, Path: r.URL.Path, Auth: r.Header.Get("Authorization"), ContentType: r.Header.Get("Content-Type")}
		if b, _ := io.ReadAll(r.Body); len(b) > 0 {
			if err := json.Unmarshal(b, &s.Body); err != nil {
				t.Errorf("request body is not JSON: %v", err)
			}
		}
		f.mu.Lock()
		f.reqs = append(f.reqs, s)
		f.mu.Unlock()
		status, body := http.StatusOK, `{}`
		if f.reply != nil {
			status, body = f.reply(r)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeAPI) last(t *testing.T) seen {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	require.NotEmpty(t, f.reqs, "a request was sent")
	return f.reqs[len(f.reqs)-1]
}

func (f *fakeAPI) client() Client {
	// A trailing slash on the base URL must not double the slash of the path.
	return Client{BaseURL: f.URL + "/", Token: token, HTTP: f.Client()}
}

func TestMethods_SendTheRightRequest(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name   string
		call   func(c Client) error
		method string
		path   string
		body   map[string]any // nil: no body
	}{
		{"State", func(c Client) error { _, err := c.State(ctx); return err },
			http.MethodGet, "/_control/state", nil},
		{"RevokeSessions all", func(c Client) error { _, err := c.RevokeSessions(ctx, ""); return err },
			http.MethodPost, "/_control/sessions/revoke", map[string]any{"username": ""}},
		{"RevokeSessions one user", func(c Client) error { _, err := c.RevokeSessions(ctx, "bob"); return err },
			http.MethodPost, "/_control/sessions/revoke", map[string]any{"username": "bob"}},
		{"RestoreSessions", func(c Client) error { return c.RestoreSessions(ctx, "") },
			http.MethodPost, "/_control/sessions/restore", map[string]any{"username": ""}},
		{"RequirePasswordReset", func(c Client) error { return c.RequirePasswordReset(ctx, []string{"alice", "bob"}, true) },
			http.MethodPost, "/_control/password-reset", map[string]any{"usernames": []any{"alice", "bob"}, "required": true}},
		{"RequirePasswordReset undo", func(c Client) error { return c.RequirePasswordReset(ctx, []string{"alice"}, false) },
			http.MethodPost, "/_control/password-reset", map[string]any{"usernames": []any{"alice"}, "required": false}},
		{"SetLogLevel", func(c Client) error { _, err := c.SetLogLevel(ctx, "debug"); return err },
			http.MethodPut, "/_control/log-level", map[string]any{"level": "debug"}},
		{"RestrictRoutes", func(c Client) error { return c.RestrictRoutes(ctx, []string{"/admin", "/billing"}, 503) },
			http.MethodPost, "/_control/routes/restrict", map[string]any{"prefixes": []any{"/admin", "/billing"}, "status": float64(503)}},
		{"LiftRoutes all", func(c Client) error { return c.LiftRoutes(ctx, nil) },
			http.MethodPost, "/_control/routes/lift", map[string]any{"prefixes": []any{}}},
		{"LiftRoutes some", func(c Client) error { return c.LiftRoutes(ctx, []string{"/admin"}) },
			http.MethodPost, "/_control/routes/lift", map[string]any{"prefixes": []any{"/admin"}}},
		{"DenyCIDRs", func(c Client) error { return c.DenyCIDRs(ctx, []string{"10.0.0.0/8", "2001:db8::/32"}) },
			http.MethodPost, "/_control/cidrs/deny", map[string]any{"cidrs": []any{"10.0.0.0/8", "2001:db8::/32"}}},
		{"AllowCIDRs all", func(c Client) error { return c.AllowCIDRs(ctx, nil) },
			http.MethodPost, "/_control/cidrs/allow", map[string]any{"cidrs": []any{}}},
		{"AllowCIDRs some", func(c Client) error { return c.AllowCIDRs(ctx, []string{"10.0.0.0/8"}) },
			http.MethodPost, "/_control/cidrs/allow", map[string]any{"cidrs": []any{"10.0.0.0/8"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI(t, nil)
			require.NoError(t, tc.call(api.client()))
			require.EqualValues(t, 1, api.count.Load(), "exactly one request")
			got := api.last(t)
			require.Equal(t, tc.method, got.Method)
			require.Equal(t, tc.path, got.Path)
			require.Equal(t, "Bearer "+token, got.Auth)
			require.Equal(t, tc.body, got.Body)
			if tc.body != nil {
				require.Equal(t, "application/json", got.ContentType)
			}
		})
	}
}

func TestMethods_DecodeAnswers(t *testing.T) {
	ctx := context.Background()
	api := newFakeAPI(t, func(r *http.Request) (int, string) {
		switch r.URL.Path {
		case "/_control/state":
			return 200, `{"revoked_before":"2026-11-28T22:00:00Z","revoked_sessions":3,"active_sessions":2,
				"password_reset_users":["alice"],"log_level":"debug",
				"restricted_routes":[{"prefix":"/admin","status":503}],"denied_cidrs":["10.0.0.0/8"]}`
		case "/_control/sessions/revoke":
			return 200, `{"revoked":5,"cutoff":"2026-11-28T22:00:01Z"}`
		case "/_control/log-level":
			return 200, `{"previous":"info","level":"debug"}`
		}
		return 200, ``
	})
	c := api.client()

	st, err := c.State(ctx)
	require.NoError(t, err)
	cutoff := time.Date(2026, 11, 28, 22, 0, 0, 0, time.UTC)
	require.Equal(t, State{
		RevokedBefore: &cutoff, RevokedSessions: 3, ActiveSessions: 2, PasswordResetUsers: []string{"alice"},
		LogLevel: "debug", RestrictedRoutes: []Route{{Prefix: "/admin", Status: 503}}, DeniedCIDRs: []string{"10.0.0.0/8"},
	}, st)

	rev, err := c.RevokeSessions(ctx, "")
	require.NoError(t, err)
	require.Equal(t, 5, rev.Revoked)
	require.True(t, rev.Cutoff.Equal(cutoff.Add(time.Second)))

	prev, err := c.SetLogLevel(ctx, "debug")
	require.NoError(t, err)
	require.Equal(t, "info", prev)

	require.NoError(t, c.RestoreSessions(ctx, ""), "an empty 2xx body is fine")
}

func TestNon2xx_IsStatusError(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name    string
		status  int
		body    string
		message string
	}{
		{"bad input", 400, `{"error":"invalid prefix \"x\": must start with /"}`, `invalid prefix "x": must start with /`},
		{"unauthorized", 401, `{"error":"unauthorized"}`, "unauthorized"},
		{"no control API", 404, `404 page not found`, ""},
		{"server error", 500, `{"error":"state file not writable"}`, "state file not writable"},
		{"unavailable, empty body", 503, ``, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI(t, func(*http.Request) (int, string) { return tc.status, tc.body })
			err := api.client().RestrictRoutes(ctx, []string{"/admin"}, 503)
			var se *StatusError
			require.ErrorAs(t, err, &se)
			require.Equal(t, "/_control/routes/restrict", se.Path)
			require.Equal(t, tc.status, se.Status)
			require.Equal(t, tc.message, se.Message)
			require.Contains(t, err.Error(), "/_control/routes/restrict")
			require.Contains(t, err.Error(), fmt.Sprintf("status %d", tc.status))
			require.NotContains(t, err.Error(), token)
		})
	}

	// Every method reports a non-2xx answer the same way.
	api := newFakeAPI(t, func(*http.Request) (int, string) { return 403, `{"error":"forbidden"}` })
	c := api.client()
	for name, call := range map[string]func() error{
		"State":                func() error { _, err := c.State(ctx); return err },
		"RevokeSessions":       func() error { _, err := c.RevokeSessions(ctx, ""); return err },
		"RestoreSessions":      func() error { return c.RestoreSessions(ctx, "") },
		"RequirePasswordReset": func() error { return c.RequirePasswordReset(ctx, []string{"a"}, true) },
		"SetLogLevel":          func() error { _, err := c.SetLogLevel(ctx, "warn"); return err },
		"LiftRoutes":           func() error { return c.LiftRoutes(ctx, nil) },
		"DenyCIDRs":            func() error { return c.DenyCIDRs(ctx, []string{"10.0.0.0/8"}) },
		"AllowCIDRs":           func() error { return c.AllowCIDRs(ctx, nil) },
	} {
		var se *StatusError
		require.ErrorAs(t, call(), &se, name)
		require.Equal(t, 403, se.Status, name)
		require.Equal(t, "forbidden", se.Message, name)
	}
}

func TestValidatePrefixes(t *testing.T) {
	cases := []struct {
		prefixes []string
		want     string // "" = valid
	}{
		{[]string{"/admin"}, ""},
		{[]string{"/admin", "/billing/", "/api/v1/users"}, ""},
		{nil, "no route prefixes given"},
		{[]string{}, "no route prefixes given"},
		{[]string{""}, `route "" is not a path prefix like /admin`},
		{[]string{"admin"}, `route "admin" is not a path prefix like /admin`},
		{[]string{" /admin"}, `route " /admin" is not a path prefix`},
		{[]string{"/ad min"}, `route "/ad min" is not a path prefix`},
		{[]string{"/admin\t"}, `is not a path prefix`},
		{[]string{"/admin?x=1"}, `route "/admin?x=1" is not a path prefix`},
		{[]string{"/admin#top"}, `is not a path prefix`},
		{[]string{"/admin/*"}, `route "/admin/*" is not a path prefix`},
		{[]string{"//admin"}, `route "//admin" is not a path prefix`},
		{[]string{"/admin//users"}, `is not a path prefix`},
		{[]string{"https://example.com/admin"}, `is not a path prefix`},
		{[]string{"/"}, `route "/" would cut off health checks or the control API`},
		{[]string{"/_control"}, `route "/_control" would cut off`},
		{[]string{"/_control/state"}, `would cut off`},
		{[]string{"/healthz"}, `route "/healthz" would cut off`},
		{[]string{"/admin", "billing"}, `route "billing" is not a path prefix`},
		{[]string{"/admin", "/healthz"}, `route "/healthz" would cut off`},
	}
	for _, tc := range cases {
		err := ValidatePrefixes(tc.prefixes)
		if tc.want == "" {
			require.NoError(t, err, "%q", tc.prefixes)
			continue
		}
		require.ErrorContains(t, err, tc.want, "%q", tc.prefixes)

		// RestrictRoutes refuses the same input without sending anything.
		api := newFakeAPI(t, nil)
		require.ErrorContains(t, api.client().RestrictRoutes(context.Background(), tc.prefixes, 503), tc.want)
		require.Zero(t, api.count.Load(), "no request for bad input %q", tc.prefixes)
	}
}

func TestValidateCIDRs(t *testing.T) {
	cases := []struct {
		cidrs []string
		want  string // "" = valid
	}{
		{[]string{"10.0.0.0/8"}, ""},
		{[]string{"192.168.1.7/32", "2001:db8::/32", "0.0.0.0/0"}, ""},
		{nil, "no CIDRs given"},
		{[]string{}, "no CIDRs given"},
		{[]string{""}, `invalid CIDR ""`},
		{[]string{"10.0.0.1"}, `invalid CIDR "10.0.0.1"`},
		{[]string{"10.0.0.0/33"}, `invalid CIDR "10.0.0.0/33"`},
		{[]string{"10.0.0/8"}, `invalid CIDR "10.0.0/8"`},
		{[]string{"300.0.0.0/8"}, `invalid CIDR "300.0.0.0/8"`},
		{[]string{" 10.0.0.0/8"}, `invalid CIDR " 10.0.0.0/8"`},
		{[]string{"2001:db8::/129"}, `invalid CIDR "2001:db8::/129"`},
		{[]string{"example.com/24"}, `invalid CIDR "example.com/24"`},
		{[]string{"10.0.0.0/8", "10.0.0.0/8,192.168.0.0/16"}, `invalid CIDR "10.0.0.0/8,192.168.0.0/16"`},
	}
	for _, tc := range cases {
		err := ValidateCIDRs(tc.cidrs)
		if tc.want == "" {
			require.NoError(t, err, "%q", tc.cidrs)
			continue
		}
		require.EqualError(t, err, tc.want, "%q", tc.cidrs)

		api := newFakeAPI(t, nil)
		require.EqualError(t, api.client().DenyCIDRs(context.Background(), tc.cidrs), tc.want)
		require.Zero(t, api.count.Load(), "no request for bad input %q", tc.cidrs)
	}
}

func TestTokenNeverInErrors(t *testing.T) {
	ctx := context.Background()
	var errs []error

	// A backend that echoes the request, Authorization header included, in its error.
	echo := newFakeAPI(t, func(r *http.Request) (int, string) {
		b, _ := json.Marshal(map[string]string{"error": "denied: " + r.Header.Get("Authorization")})
		return http.StatusUnauthorized, string(b)
	})
	_, err := echo.client().State(ctx)
	errs = append(errs, err)

	// Non-JSON answers and answers that do not decode.
	bad := newFakeAPI(t, func(*http.Request) (int, string) { return 200, `{"revoked":"many"}` })
	_, err = bad.client().RevokeSessions(ctx, "")
	errs = append(errs, err)

	// Nobody listening.
	gone := newFakeAPI(t, nil)
	c := gone.client()
	gone.Close()
	_, err = c.State(ctx)
	errs = append(errs, err)

	// A cancelled context.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	errs = append(errs, newFakeAPI(t, nil).client().RestoreSessions(cctx, ""))

	// A base URL that does not parse.
	errs = append(errs, Client{BaseURL: "http://[::1", Token: token}.LiftRoutes(ctx, nil))

	for i, err := range errs {
		require.Error(t, err, "case %d", i)
		require.NotContains(t, err.Error(), token, "case %d", i)
		require.NotContains(t, err.Error(), "t0ken", "case %d", i)
		var se *StatusError
		if errors.As(err, &se) {
			require.NotContains(t, se.Message, token, "case %d", i)
		}
	}
	require.True(t, strings.HasPrefix(errs[0].Error(), "control /_control/state: status 401"), errs[0].Error())
}
