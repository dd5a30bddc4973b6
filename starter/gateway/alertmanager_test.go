package gateway

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
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
