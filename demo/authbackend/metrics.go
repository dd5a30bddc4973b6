package main

import (
	"crypto/sha256"
	"encoding/binary"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Login outcomes, the values of authops_demo_logins_total's outcome label. The set is fixed, so
// the label's cardinality is too.
const (
	loginSuccess         = "success"
	loginBadPassword     = "bad_password"
	loginUnknownUser     = "unknown_user"
	loginResetRequired   = "password_reset_required"
	loginMalformed       = "malformed_request"
	loginMissing         = "missing_credentials"
	loginInternalError   = "internal_error"
	routeOther           = "other"
	failedAccountsWindow = 5 * time.Minute
	// maxFailedAccounts bounds the memory an attacker can make the window hold; the gauge
	// saturates there, far above any alert threshold.
	maxFailedAccounts = 10000
)

var loginOutcomes = []string{loginSuccess, loginBadPassword, loginUnknownUser, loginResetRequired,
	loginMalformed, loginMissing, loginInternalError}

// metrics are the backend's Prometheus metrics, on a registry of their own: a restarted server
// in the same process (the tests) registers afresh, and nothing else's metrics leak in.
type metrics struct {
	registry      *prometheus.Registry
	logins        *prometheus.CounterVec
	loginFailures prometheus.Counter
	responses     *prometheus.CounterVec
	failed        *failedAccounts
	handler       http.Handler
}

func newMetrics(now func() time.Time) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authops_demo_logins_total",
			Help: "Login attempts on POST /auth/token, by outcome.",
		}, []string{"outcome"}),
		loginFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "authops_demo_login_failures_total",
			Help: "Failed credential checks (bad_password or unknown_user).",
		}),
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authops_demo_http_responses_total",
			Help: "HTTP responses by route (the matched route, or \"other\") and status code.",
		}, []string{"route", "code"}),
		failed: newFailedAccounts(failedAccountsWindow, maxFailedAccounts),
	}
	failedGauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "authops_demo_login_failed_accounts",
		Help: "Distinct account names with a failed login in the last 5 minutes (capped at 10000).",
	}, func() float64 { return float64(m.failed.count(now())) })
	m.registry.MustRegister(m.logins, m.loginFailures, m.responses, failedGauge,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Every outcome, and the 401 and 403 of the auth routes, exist from the start at 0, so that
	// rate() sees the first failure as an increase instead of a new series.
	for _, o := range loginOutcomes {
		m.logins.WithLabelValues(o)
	}
	for _, route := range []string{"/auth/token", "/auth/refresh", "/auth/me", "/admin/users"} {
		m.responses.WithLabelValues(route, "401")
		m.responses.WithLabelValues(route, "403")
	}
	m.handler = promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
	return m
}

// login counts one login attempt; username is the name tried, only kept hashed, and only for
// the credential failures.
func (m *metrics) login(outcome, username string, at time.Time) {
	m.logins.WithLabelValues(outcome).Inc()
	if outcome == loginBadPassword || outcome == loginUnknownUser {
		m.loginFailures.Inc()
		m.failed.add(username, at)
	}
}

// response counts one response. pattern is the mux pattern that matched ("GET /auth/me"), or
// "" for none: an unmatched path is "other", so that a scan of random paths adds no series.
func (m *metrics) response(pattern string, status int) {
	route := routeOther
	if pattern != "" {
		_, p, found := strings.Cut(pattern, " ")
		if !found {
			p = pattern
		}
		route = p
	}
	m.responses.WithLabelValues(route, strconv.Itoa(status)).Inc()
}

// failedAccounts is the set of account names that failed a login within the window, each held
// as a 64-bit hash with its last failure: names are attacker input (sometimes a password typed
// in the wrong field), so none is kept.
type failedAccounts struct {
	mu     sync.Mutex
	window time.Duration
	limit  int
	last   map[uint64]time.Time
}

func newFailedAccounts(window time.Duration, limit int) *failedAccounts {
	return &failedAccounts{window: window, limit: limit, last: map[uint64]time.Time{}}
}

func (f *failedAccounts) add(username string, at time.Time) {
	sum := sha256.Sum256([]byte(username))
	key := binary.BigEndian.Uint64(sum[:8])
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.last[key]; !ok && len(f.last) >= f.limit {
		f.pruneLocked(at)
		if len(f.last) >= f.limit {
			return
		}
	}
	f.last[key] = at
}

// count is how many accounts failed within the window before now.
func (f *failedAccounts) count(now time.Time) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pruneLocked(now)
	return len(f.last)
}

func (f *failedAccounts) pruneLocked(now time.Time) {
	cutoff := now.Add(-f.window)
	for k, t := range f.last {
		if !t.After(cutoff) {
			delete(f.last, k)
		}
	}
}

func (s *server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	s.metrics.handler.ServeHTTP(w, r)
}
