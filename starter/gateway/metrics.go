package gateway

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/authops/authops/internal/runs"
)

// Outcomes of an Alertmanager notification, as GET /metrics counts them; the first four are
// internal/runs's answers.
const (
	// AlertDeclared: the alert declared its group's incident.
	AlertDeclared = runs.AlertDeclared
	// AlertNoted: the alert was a note on its group's open incident.
	AlertNoted = runs.AlertNoted
	// AlertOverMaxOpen: alerts.max_open alert incidents were open, so the alert became a note on
	// the newest of them.
	AlertOverMaxOpen = runs.AlertOverMaxOpen
	// AlertNothing: nothing to do (a resolved alert with no open incident, a closed incident).
	AlertNothing = runs.AlertNothing
	// AlertUnknownTarget: the alert's target label named a target the config does not have; it
	// was refused.
	AlertUnknownTarget = "unknown_target"
	// AlertFailed: Temporal refused or could not be reached; Alertmanager retries.
	AlertFailed = "failed"
)

var alertOutcomes = []string{AlertDeclared, AlertNoted, AlertOverMaxOpen, AlertNothing, AlertUnknownTarget, AlertFailed}

// counters are the gateway's counters since it started, served as Prometheus text.
type counters struct {
	mu                 sync.Mutex
	alerts             map[string]int
	responseURLRefused int
}

func (c *counters) alert(outcome string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.alerts == nil {
		c.alerts = map[string]int{}
	}
	c.alerts[outcome]++
}

func (c *counters) refusedResponseURL() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.responseURLRefused++
}

// Alerts is how many notifications ended with outcome (tests).
func (s *Server) Alerts(outcome string) int {
	s.count.mu.Lock()
	defer s.count.mu.Unlock()
	return s.count.alerts[outcome]
}

// ResponseURLsRefused is how many response_url posts were refused (tests).
func (s *Server) ResponseURLsRefused() int {
	s.count.mu.Lock()
	defer s.count.mu.Unlock()
	return s.count.responseURLRefused
}

// metrics serves GET /metrics: the counters in the Prometheus text format.
func (s *Server) metrics(w http.ResponseWriter, _ *http.Request) {
	s.count.mu.Lock()
	var b strings.Builder
	b.WriteString("# HELP authops_gateway_alerts_total Alertmanager notifications by outcome.\n")
	b.WriteString("# TYPE authops_gateway_alerts_total counter\n")
	for _, o := range slices.Sorted(slices.Values(alertOutcomes)) {
		fmt.Fprintf(&b, "authops_gateway_alerts_total{outcome=%q} %d\n", o, s.count.alerts[o])
	}
	b.WriteString("# HELP authops_gateway_response_url_refused_total Posts to a response_url not on Slack's host, refused.\n")
	b.WriteString("# TYPE authops_gateway_response_url_refused_total counter\n")
	fmt.Fprintf(&b, "authops_gateway_response_url_refused_total %d\n", s.count.responseURLRefused)
	s.count.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write([]byte(b.String()))
}
