package contract

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// UpdateTargets is the incident decision that names the targets of an incident declared with
// none (an alert without a target label): the run then freezes, snapshots and confirms them.
// Args is a TargetsRequest.
const UpdateTargets = "targets"

// TargetsRequest is the Args of an UpdateTargets decision.
type TargetsRequest struct {
	Targets []string `json:"targets"`
}

// MaxIncidentTargets bounds how many targets one decision names.
const MaxIncidentTargets = 64

var targetNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Validate checks the request's shape: at least one target, each a target name, none twice.
// Whether each is a configured target is the run's to judge.
func (r TargetsRequest) Validate() error {
	if len(r.Targets) == 0 {
		return errors.New("name at least one target")
	}
	if len(r.Targets) > MaxIncidentTargets {
		return fmt.Errorf("%d targets; at most %d", len(r.Targets), MaxIncidentTargets)
	}
	for n, t := range r.Targets {
		if !targetNamePattern.MatchString(t) {
			return fmt.Errorf("%q is not a target name", CleanText(t))
		}
		if slices.Contains(r.Targets[:n], t) {
			return fmt.Errorf("target %s is named twice", t)
		}
	}
	return nil
}

// SplitTargets reads a comma-separated list of targets ("a,b", "a, b"), as an alert's target
// label or the CLI gives it; empty items are dropped.
func SplitTargets(s string) []string {
	var out []string
	for _, t := range strings.Split(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// WorkflowAlertSlot is the type of the run that holds one of the alerts.max_open slots for an
// incident an alert declared.
const WorkflowAlertSlot = "AlertSlot"

// AlertSlotPrefix starts the id of a slot: alert-slot-1 … alert-slot-<max_open>. A slot is
// taken by starting its run with a conflict policy that fails while the slot is running, so
// the bound holds on the server, whoever asks.
const AlertSlotPrefix = "alert-slot-"

// AlertSlotID is the id of slot n (1-based).
func AlertSlotID(n int) string { return fmt.Sprintf("%s%d", AlertSlotPrefix, n) }

// MemoAlertIncident is the memo key of a slot run that names the incident it holds, so that a
// describe of the slot (strongly consistent) tells which incident holds it.
const MemoAlertIncident = "alert_incident"

// AlertSlotInput starts a slot run: the incident it starts as its child and holds the slot for.
type AlertSlotInput struct {
	Incident string        `json:"incident"`
	Input    IncidentInput `json:"input"`
}
