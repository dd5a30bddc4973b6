package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/authops/authops/contract"
)

// AlertActor is who the gateway signs as for an alert: an unattended requester that may only
// declare an incident and add notes.
const AlertActor = contract.RequesterAlertPrefix + "alertmanager"

// AlertRunbookLabel is the label value (runbook="auth-incident") that makes an alert declare an
// incident.
const AlertRunbookLabel = "auth-incident"

// AlertTargetLabel is the label that names the targets an alert is about: one, or several
// separated by commas (target="demo,staging").
const AlertTargetLabel = "target"

// alertTimeout bounds the Temporal work of one notification; Alertmanager retries on 5xx.
const alertTimeout = 20 * time.Second

// amPayload is Alertmanager's webhook payload, version 4.
type amPayload struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []amAlert         `json:"alerts"`
}

type amAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// ParseAlertmanager reads an Alertmanager webhook payload (version 4). It returns ok=false for a
// well-formed notification with no alert labelled runbook="auth-incident", and an error for a
// malformed one. It is pure: no clock, no I/O.
func ParseAlertmanager(body []byte) (a Alert, ok bool, err error) {
	var p amPayload
	dec := json.NewDecoder(strings.NewReader(string(body)))
	if err := dec.Decode(&p); err != nil {
		return Alert{}, false, fmt.Errorf("not an Alertmanager payload: %w", err)
	}
	if dec.More() {
		return Alert{}, false, errors.New("not an Alertmanager payload: trailing data")
	}
	switch {
	case p.Version != "4":
		return Alert{}, false, fmt.Errorf("payload version %q is not supported (want \"4\")", contract.CleanText(p.Version))
	case p.GroupKey == "":
		return Alert{}, false, errors.New("payload has no groupKey")
	case p.Status != "firing" && p.Status != "resolved":
		return Alert{}, false, fmt.Errorf("payload status %q is neither firing nor resolved", contract.CleanText(p.Status))
	case len(p.Alerts) == 0:
		return Alert{}, false, errors.New("payload has no alerts")
	}
	var ours []amAlert
	for i, al := range p.Alerts {
		if al.Status != "firing" && al.Status != "resolved" {
			return Alert{}, false, fmt.Errorf("alerts[%d].status %q is neither firing nor resolved", i, contract.CleanText(al.Status))
		}
		labels := maps.Clone(p.CommonLabels)
		if labels == nil {
			labels = map[string]string{}
		}
		maps.Copy(labels, al.Labels)
		al.Labels = labels
		if labels["runbook"] == AlertRunbookLabel {
			ours = append(ours, al)
		}
	}
	if len(ours) == 0 {
		return Alert{}, false, nil
	}
	firing := slices.IndexFunc(ours, func(al amAlert) bool { return al.Status == "firing" })
	first := ours[0]
	if firing >= 0 {
		first = ours[firing]
	}
	a = Alert{
		IncidentID: AlertIncidentID(p.GroupKey),
		Trigger:    first.Labels["trigger"],
		Severity:   AlertSeverity(first.Labels["severity"]),
		Resolved:   firing < 0,
	}
	if !slices.Contains(contract.IncidentTriggers, a.Trigger) {
		a.Trigger = "other"
	}
	// The targets are those the group's alerts name (the firing ones, while any fires), in order.
	for _, al := range ours {
		if firing >= 0 && al.Status != "firing" {
			continue
		}
		for _, t := range contract.SplitTargets(al.Labels[AlertTargetLabel]) {
			if !slices.Contains(a.Targets, t) {
				a.Targets = append(a.Targets, t)
			}
		}
	}
	name := first.Labels["alertname"]
	summary := firstNonEmpty(first.Annotations["summary"], p.CommonAnnotations["summary"], first.Annotations["description"],
		p.CommonAnnotations["description"], name, "alert from Alertmanager")
	if name != "" && summary != name {
		summary = name + ": " + summary
	}
	a.Summary = plainText(summary, 1024)
	n := 0
	for _, al := range ours {
		if al.Status == "firing" {
			n++
		}
	}
	if a.Resolved {
		a.Note = plainText(fmt.Sprintf("alert resolved (Alertmanager): %s", a.Summary), contract.MaxNote)
	} else {
		a.Note = plainText(fmt.Sprintf("alert still firing (Alertmanager, %d firing): %s", n, a.Summary), contract.MaxNote)
	}
	return a, true, nil
}

// AlertIncidentID is the incident id of an Alertmanager group: incident-am-<first 12 hex of
// sha256(groupKey)>, so that every notification of the group finds the same incident.
func AlertIncidentID(groupKey string) string {
	sum := sha256.Sum256([]byte(groupKey))
	return "incident-am-" + hex.EncodeToString(sum[:])[:12]
}

// AlertSeverity maps an alert's severity label: critical → critical, error or high → high,
// warning → medium, anything else → low.
func AlertSeverity(label string) string {
	switch strings.ToLower(strings.TrimSpace(label)) {
	case "critical":
		return "critical"
	case "error", "high":
		return "high"
	case "warning":
		return "medium"
	}
	return "low"
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}

// plainText turns alert text into one plain line: control and format characters become spaces,
// invalid UTF-8 is dropped, and it is cut at max bytes.
func plainText(s string, max int) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// alertmanager serves POST /webhooks/alertmanager.
func (s *Server) alertmanager(w http.ResponseWriter, r *http.Request) {
	if s.o.AlertToken == "" {
		http.Error(w, "the Alertmanager webhook is off: ALERTMANAGER_TOKEN is not set", http.StatusNotFound)
		return
	}
	token, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !found || subtle.ConstantTimeCompare([]byte(token), []byte(s.o.AlertToken)) != 1 {
		http.Error(w, "missing or wrong bearer token", http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		return
	}
	if err != nil {
		http.Error(w, "cannot read the request body", http.StatusBadRequest)
		return
	}
	a, ok, err := ParseAlertmanager(body)
	if err != nil {
		http.Error(w, contract.CleanText(err.Error()), http.StatusBadRequest)
		return
	}
	if !ok {
		writeJSON(w, http.StatusOK, map[string]string{"result": "ignored: no alert labelled runbook=\"auth-incident\""})
		return
	}
	dir := s.directory()
	if unknown := unknownTargets(dir.Targets, a.Targets); len(unknown) > 0 {
		// Refused as a whole: an alert about a target we do not know must not freeze another.
		s.count.alert(AlertUnknownTarget)
		msg := fmt.Sprintf("alert refused, nothing was declared: the %s label names unknown target %s (known: %s)",
			AlertTargetLabel, contract.CleanText(strings.Join(unknown, ", ")), strings.Join(dir.Targets, ", "))
		s.log.Warn("alert refused: unknown target", "group", a.IncidentID, "targets", contract.CleanText(strings.Join(unknown, ",")))
		http.Error(w, msg, http.StatusBadRequest)
		return
	}
	if len(a.Targets) == 0 {
		a.Targets = slices.Clone(dir.AlertDefaultTargets)
	}
	ctx, cancel := context.WithTimeout(r.Context(), alertTimeout)
	defer cancel()
	out, err := s.o.Runs.Alert(ctx, a)
	switch {
	case err != nil && Unreachable(err):
		s.count.alert(AlertFailed)
		s.log.Warn("alert: Temporal unreachable", "group", a.IncidentID, "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "Temporal is unreachable, try again", "incident": a.IncidentID})
	case err != nil:
		s.count.alert(AlertFailed)
		s.log.Warn("alert failed", "group", a.IncidentID, "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": contract.CleanText(err.Error()), "incident": a.IncidentID})
	default:
		s.count.alert(out.Outcome)
		if out.Outcome == AlertOverMaxOpen {
			s.log.Warn("alert over alerts.max_open: noted on the newest open alert incident", "group", a.IncidentID,
				"incident", out.Incident, "result", out.Text)
		} else {
			s.log.Info("alert handled", "group", a.IncidentID, "incident", out.Incident, "outcome", out.Outcome, "result", out.Text)
		}
		writeJSON(w, http.StatusOK, map[string]string{"result": out.Text, "outcome": out.Outcome, "incident": out.Incident})
	}
}

// unknownTargets are the targets not in known (the config's).
func unknownTargets(known, targets []string) []string {
	var out []string
	for _, t := range targets {
		if !slices.Contains(known, t) {
			out = append(out, t)
		}
	}
	return out
}
