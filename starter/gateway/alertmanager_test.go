package gateway

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
)

func amBody(t testing.TB, status, groupKey string, labels map[string]string, summary string) string {
	p := map[string]any{
		"version": "4", "groupKey": groupKey, "status": status, "receiver": "authops", "truncatedAlerts": 0,
		"groupLabels": map[string]string{"alertname": labels["alertname"]}, "commonLabels": labels,
		"commonAnnotations": map[string]string{}, "externalURL": "http://alertmanager:9093",
		"alerts": []map[string]any{{
			"status": status, "labels": labels, "annotations": map[string]string{"summary": summary},
			"startsAt": "2026-12-01T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": "abc",
		}},
	}
	b, err := json.Marshal(p)
	require.NoError(t, err)
	return string(b)
}

var authLabels = map[string]string{"alertname": "LoginFailuresHigh", "runbook": "auth-incident", "trigger": "credential-stuffing", "severity": "critical"}

func (h *harness) alert(body, token string) reply {
	hdr := http.Header{"Content-Type": {"application/json"}}
	if token != "" {
		hdr.Set("Authorization", "Bearer "+token)
	}
	return h.post("/webhooks/alertmanager", body, hdr)
}

// TestAlertmanager: firing declares, a repeat of the group names the same incident, resolved is
// a note; unauthorized and malformed payloads change nothing.
func TestAlertmanager(t *testing.T) {
	h := newHarness(t)
	firing := amBody(t, "firing", `{}:{alertname="LoginFailuresHigh"}`, authLabels, "login failures 40x baseline")

	for _, tok := range []string{"", "wrong", "am-tokenx"} {
		require.Equal(t, http.StatusUnauthorized, h.alert(firing, tok).code, tok)
	}
	for _, body := range []string{"", "{", `{"version":"3","groupKey":"g","status":"firing","alerts":[{"status":"firing"}]}`,
		`{"version":"4","status":"firing","alerts":[{"status":"firing"}]}`, `{"version":"4","groupKey":"g","status":"firing","alerts":[]}`,
		`{"version":"4","groupKey":"g","status":"burning","alerts":[{"status":"firing"}]}`, `{"version":"4","groupKey":"g","status":"firing","alerts":[{"status":"x"}]} {}`} {
		require.Equal(t, http.StatusBadRequest, h.alert(body, "am-token").code, body)
	}
	require.Equal(t, http.StatusRequestEntityTooLarge, h.alert(strings.Repeat(" ", MaxBody+1), "am-token").code)
	require.Zero(t, h.runs.calls())

	other := amBody(t, "firing", "g2", map[string]string{"alertname": "DiskFull", "severity": "critical"}, "disk")
	r := h.alert(other, "am-token")
	require.Equal(t, http.StatusOK, r.code)
	require.Contains(t, r.body, "ignored")
	require.Zero(t, h.runs.calls())

	require.Equal(t, http.StatusOK, h.alert(firing, "am-token").code)
	require.Equal(t, http.StatusOK, h.alert(firing, "am-token").code)
	resolved := amBody(t, "resolved", `{}:{alertname="LoginFailuresHigh"}`, authLabels, "login failures 40x baseline")
	require.Equal(t, http.StatusOK, h.alert(resolved, "am-token").code)
	require.Len(t, h.runs.alerts, 3)
	a := h.runs.alerts[0]
	require.Equal(t, AlertIncidentID(`{}:{alertname="LoginFailuresHigh"}`), a.IncidentID)
	require.Regexp(t, `^incident-am-[0-9a-f]{12}$`, a.IncidentID)
	require.Equal(t, "credential-stuffing", a.Trigger)
	require.Equal(t, "critical", a.Severity)
	require.Equal(t, "LoginFailuresHigh: login failures 40x baseline", a.Summary)
	require.False(t, a.Resolved)
	require.Equal(t, a, h.runs.alerts[1], "a repeat names the same incident")
	require.True(t, h.runs.alerts[2].Resolved)
	require.Equal(t, a.IncidentID, h.runs.alerts[2].IncidentID)
	require.Contains(t, h.runs.alerts[2].Note, "resolved")

	h.runs.err = serviceerror.NewUnavailable("down")
	require.Equal(t, http.StatusServiceUnavailable, h.alert(firing, "am-token").code, "Alertmanager retries")
	h.runs.err = errors.New("boom")
	require.Equal(t, http.StatusInternalServerError, h.alert(firing, "am-token").code)
}

func TestAlertMapping(t *testing.T) {
	for label, want := range map[string]string{"critical": "critical", "error": "high", "high": "high", "warning": "medium", "info": "low", "": "low", "CRITICAL": "critical"} {
		require.Equal(t, want, AlertSeverity(label), label)
	}
	labels := map[string]string{"runbook": "auth-incident", "trigger": "made-up"}
	a, ok, err := ParseAlertmanager([]byte(amBody(t, "firing", "g", labels, "x\u202ey\nz")))
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "other", a.Trigger, "an unknown trigger is other")
	require.Equal(t, "low", a.Severity)
	require.Equal(t, "x y z", a.Summary, "control and format characters are dropped")
}

func FuzzParseAlertmanager(f *testing.F) {
	f.Add(amBody(f, "firing", "g", authLabels, "s"))
	f.Add(amBody(f, "resolved", "g", authLabels, ""))
	f.Add(`{"version":"4","groupKey":"g","status":"firing","alerts":[{"status":"firing","labels":{"runbook":"auth-incident"}}]}`)
	f.Fuzz(func(t *testing.T, body string) {
		a, ok, err := ParseAlertmanager([]byte(body))
		if err != nil || !ok {
			return
		}
		require.Regexp(t, `^incident-am-[0-9a-f]{12}$`, a.IncidentID)
		require.NotEmpty(t, a.Summary)
		require.LessOrEqual(t, len(a.Note), 4096)
		require.NotContains(t, a.Summary, "\n")
	})
}

func withLabels(extra map[string]string) map[string]string {
	l := maps.Clone(authLabels)
	maps.Copy(l, extra)
	return l
}

// TestAlertTargets: an alert is declared for the targets of its target label, else for
// alerts.default_targets, else for none; an unknown target refuses the alert, counted, and
// nothing reaches Temporal.
func TestAlertTargets(t *testing.T) {
	h := newHarness(t)
	send := func(groupKey string, labels map[string]string) reply {
		return h.alert(amBody(t, "firing", groupKey, labels, "login failures"), "am-token")
	}
	require.Equal(t, http.StatusOK, send("g1", withLabels(map[string]string{"target": "demo"})).code)
	require.Equal(t, http.StatusOK, send("g2", withLabels(map[string]string{"target": " staging, demo ,"})).code)
	require.Equal(t, http.StatusOK, send("g3", authLabels).code)
	require.Len(t, h.runs.alerts, 3)
	require.Equal(t, []string{"demo"}, h.runs.alerts[0].Targets)
	require.Equal(t, []string{"staging", "demo"}, h.runs.alerts[1].Targets)
	require.Empty(t, h.runs.alerts[2].Targets, "no label and no default: the incident freezes nothing")
	require.Equal(t, 3, h.srv.Alerts(AlertDeclared))

	for _, target := range []string{"prod", "demo,prod", "DEMO"} {
		r := send("g4", withLabels(map[string]string{"target": target}))
		require.Equal(t, http.StatusBadRequest, r.code, target)
		require.Contains(t, r.body, "alert refused, nothing was declared: the target label names unknown target")
		require.Contains(t, r.body, "(known: demo, staging)")
	}
	require.Len(t, h.runs.alerts, 3, "a refused alert reaches no run")
	require.Equal(t, 3, h.srv.Alerts(AlertUnknownTarget))

	withDefault := newHarness(t, func(o *Options) { o.AlertDefaultTargets = []string{"staging"} })
	require.Equal(t, http.StatusOK, withDefault.alert(amBody(t, "firing", "g5", authLabels, "x"), "am-token").code)
	require.Equal(t, http.StatusOK, withDefault.alert(amBody(t, "firing", "g6", withLabels(map[string]string{"target": "demo"}), "x"), "am-token").code)
	require.Equal(t, []string{"staging"}, withDefault.runs.alerts[0].Targets, "alerts.default_targets")
	require.Equal(t, []string{"demo"}, withDefault.runs.alerts[1].Targets, "the label wins over the default")
}

// TestAlertTargetsOfTheFiringAlerts: a group's targets are those its firing alerts name.
func TestAlertTargetsOfTheFiringAlerts(t *testing.T) {
	body := `{"version":"4","groupKey":"g","status":"firing","alerts":[
		{"status":"resolved","labels":{"runbook":"auth-incident","target":"staging"}},
		{"status":"firing","labels":{"runbook":"auth-incident","target":"demo"}},
		{"status":"firing","labels":{"runbook":"auth-incident","target":"demo,other"}}]}`
	a, ok, err := ParseAlertmanager([]byte(body))
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, []string{"demo", "other"}, a.Targets)
}

// TestAlertOverMaxOpen: an alert past alerts.max_open is logged and counted, and /metrics
// shows the counters.
func TestAlertOverMaxOpen(t *testing.T) {
	var logs syncBuffer
	h := newHarness(t, func(o *Options) { o.Log = slog.New(slog.NewTextHandler(&logs, nil)) })
	h.runs.alertOutcome = AlertOverMaxOpen
	r := h.alert(amBody(t, "firing", "g9", withLabels(map[string]string{"target": "demo"}), "x"), "am-token")
	require.Equal(t, http.StatusOK, r.code)
	require.Contains(t, r.body, `"outcome":"over_max_open"`)
	require.Equal(t, 1, h.srv.Alerts(AlertOverMaxOpen))
	require.Contains(t, logs.String(), "alert over alerts.max_open: noted on the newest open alert incident")

	resp, err := http.Get(h.http.URL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Contains(t, string(b), `authops_gateway_alerts_total{outcome="over_max_open"} 1`)
	require.Contains(t, string(b), `authops_gateway_alerts_total{outcome="declared"} 0`)
	require.Contains(t, string(b), "authops_gateway_response_url_refused_total 0")
}

// syncBuffer is a log buffer the handler goroutines may write to while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
