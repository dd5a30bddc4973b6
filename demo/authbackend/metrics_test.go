package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
)

// value is the value of a collector of one counter or gauge.
func value(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	ms := collect(c)
	require.Len(t, ms, 1)
	var pb dto.Metric
	require.NoError(t, ms[0].Write(&pb))
	if pb.Counter != nil {
		return pb.Counter.GetValue()
	}
	return pb.Gauge.GetValue()
}

func collect(c prometheus.Collector) []prometheus.Metric {
	ch := make(chan prometheus.Metric)
	go func() {
		c.Collect(ch)
		close(ch)
	}()
	var out []prometheus.Metric
	for m := range ch {
		out = append(out, m)
	}
	return out
}

func (f *fixture) badLogin(username string) {
	f.t.Helper()
	r := f.do(request{method: http.MethodPost, path: "/auth/token",
		body: map[string]string{"username": username, "password": "wrong-pw-9f3k"}})
	require.Equal(f.t, http.StatusUnauthorized, r.status)
}

// TestMetricsLogins: every login outcome is counted, failures also as failed logins, and the
// distinct failed accounts in the window, however often each failed.
func TestMetricsLogins(t *testing.T) {
	f := newFixture(t)
	m := f.srv.metrics
	f.login("alice")
	f.badLogin("bob")
	f.badLogin("bob")
	f.badLogin("carol")
	for n := range 5 {
		f.badLogin(fmt.Sprintf("nobody-%d", n))
	}
	f.do(request{method: http.MethodPost, path: "/auth/token", body: "not json"})
	f.do(request{method: http.MethodPost, path: "/auth/token", body: map[string]string{"username": "bob"}})

	require.InDelta(t, 1, value(t, m.logins.WithLabelValues(loginSuccess)), 0)
	require.InDelta(t, 3, value(t, m.logins.WithLabelValues(loginBadPassword)), 0)
	require.InDelta(t, 5, value(t, m.logins.WithLabelValues(loginUnknownUser)), 0)
	require.InDelta(t, 1, value(t, m.logins.WithLabelValues(loginMalformed)), 0)
	require.InDelta(t, 1, value(t, m.logins.WithLabelValues(loginMissing)), 0)
	require.InDelta(t, 8, value(t, m.loginFailures), 0)
	require.Equal(t, 7, m.failed.count(f.clock.Now()), "bob, carol and five unknown names")

	// The window slides: a failure older than it no longer counts.
	f.clock.Advance(3 * time.Minute)
	f.badLogin("carol")
	require.Equal(t, 7, m.failed.count(f.clock.Now()))
	f.clock.Advance(3 * time.Minute)
	require.Equal(t, 1, m.failed.count(f.clock.Now()), "only carol's second failure is within 5 minutes")
}

// TestMetricsPasswordResetLogin: a right password for an account that must reset is its own
// outcome, not a failed credential.
func TestMetricsPasswordResetLogin(t *testing.T) {
	f := newFixture(t)
	f.controlOK(http.MethodPost, "/_control/password-reset", map[string]any{"usernames": []string{"bob"}, "required": true})
	r := f.do(request{method: http.MethodPost, path: "/auth/token",
		body: map[string]string{"username": "bob", "password": passwordOf(t, "bob")}})
	require.Equal(t, http.StatusForbidden, r.status)
	m := f.srv.metrics
	require.InDelta(t, 1, value(t, m.logins.WithLabelValues(loginResetRequired)), 0)
	require.InDelta(t, 0, value(t, m.loginFailures), 0)
	require.Equal(t, 0, m.failed.count(f.clock.Now()))
}

// TestMetricsResponses: responses are counted by matched route and code; unknown paths share
// one route, so that a scan adds no series; blocked requests count on their route.
func TestMetricsResponses(t *testing.T) {
	f := newFixture(t)
	m := f.srv.metrics
	f.me("not-a-token")
	f.me("not-a-token")
	bob := f.login("bob")
	r := f.do(request{method: http.MethodGet, path: "/admin/users", bearer: bob.AccessToken})
	require.Equal(t, http.StatusForbidden, r.status)
	for n := range 20 {
		f.do(request{method: http.MethodGet, path: fmt.Sprintf("/scan-%d", n)})
	}
	f.controlOK(http.MethodPost, "/_control/routes/restrict", map[string]any{"prefixes": []string{"/auth/me"}, "status": 403})
	code, _ := f.me(bob.AccessToken)
	require.Equal(t, http.StatusForbidden, code)

	require.InDelta(t, 2, value(t, m.responses.WithLabelValues("/auth/me", "401")), 0)
	require.InDelta(t, 1, value(t, m.responses.WithLabelValues("/auth/me", "403")), 0)
	require.InDelta(t, 1, value(t, m.responses.WithLabelValues("/admin/users", "403")), 0)
	require.InDelta(t, 1, value(t, m.responses.WithLabelValues("/auth/token", "200")), 0)
	require.InDelta(t, 20, value(t, m.responses.WithLabelValues(routeOther, "404")), 0)
	require.Less(t, len(collect(m.responses)), 20, "bounded routes")
}

// TestMetricsEndpoint: GET /metrics serves the text format from the server's own registry, with
// the auth series at 0 from the start, stays reachable under a restriction of every route and
// holds no account name.
func TestMetricsEndpoint(t *testing.T) {
	f := newFixture(t)
	f.badLogin("nobody-secret-name")
	f.controlOK(http.MethodPost, "/_control/routes/restrict", map[string]any{"prefixes": []string{"/"}, "status": 403})
	r := f.do(request{method: http.MethodGet, path: "/metrics"})
	require.Equal(t, http.StatusOK, r.status)
	body := string(r.body)
	for _, want := range []string{
		`authops_demo_logins_total{outcome="success"} 0`,
		`authops_demo_logins_total{outcome="unknown_user"} 1`,
		`authops_demo_login_failures_total 1`,
		`authops_demo_login_failed_accounts 1`,
		`authops_demo_http_responses_total{code="401",route="/auth/me"} 0`,
		`authops_demo_http_responses_total{code="401",route="/auth/token"} 1`,
		"process_start_time_seconds",
	} {
		require.Contains(t, body, want)
	}
	require.NotContains(t, body, "nobody-secret-name")
	require.NotContains(t, strings.ToLower(body), "password=")

	// A restart builds a fresh registry: no duplicate registration, counters from zero.
	f.restart()
	r = f.do(request{method: http.MethodGet, path: "/metrics"})
	require.Equal(t, http.StatusOK, r.status)
	require.Contains(t, string(r.body), `authops_demo_logins_total{outcome="unknown_user"} 0`)
}

// TestFailedAccountsBounded: the window holds at most its limit, so a flood of names cannot
// grow memory without bound; expired names make room again.
func TestFailedAccountsBounded(t *testing.T) {
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	fa := newFailedAccounts(time.Minute, 3)
	for n := range 10 {
		fa.add(fmt.Sprintf("u%d", n), start)
	}
	require.Equal(t, 3, fa.count(start))
	fa.add("u0", start.Add(30*time.Second)) // a name already held is refreshed, not refused
	later := start.Add(61 * time.Second)
	fa.add("new", later)
	require.Equal(t, 2, fa.count(later), "u0 (refreshed) and new")
}
