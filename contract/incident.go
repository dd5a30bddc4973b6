package contract

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"go.temporal.io/sdk/temporal"
)

// WorkflowAuthIncident is runbook 1's workflow type.
const WorkflowAuthIncident = "AuthIncident"

// ActionStartIncident is the action of an incident's signed start.
const ActionStartIncident = "start:auth-incident"

// Incident decisions (Updates). approve, reject, resolve and cancel keep their shared names;
// approve and reject name the pending action in Args ({"action":"a2"}).
const (
	UpdateOwner    = "owner"
	UpdateNote     = "note"
	UpdateSeverity = "severity"
	UpdateContain  = "contain"
	UpdateVerify   = "verify"
	// UpdateChildClosed is how a child run (an emergency invalidation or a rotation the incident
	// started) reports its outcome to the incident, addressed by workflow id, so that the report
	// survives the incident's continue-as-new.
	UpdateChildClosed = "child-closed"
	// QueryIncident answers IncidentStatus; QueryFrozen the targets the incident freezes.
	QueryIncident = "incident"
	QueryFrozen   = "frozen"
)

// AttrFrozenTargets lists the targets a running incident freezes. Rotations, the starter's
// `freeze status` and the gateway's /freeze read it from Temporal's visibility store.
var AttrFrozenTargets = temporal.NewSearchAttributeKeyKeywordList("AuthopsFrozenTargets")

// Triggers of runbook 1.
var IncidentTriggers = []string{"credential-stuffing", "unusual-login", "auth-error-spike", "impersonation", "other"}

// Severities, lowest first.
var Severities = []string{"low", "medium", "high", "critical"}

// IncidentSources are where a declaration may come from.
var IncidentSources = []string{"cli", "slack", "alert"}

// Containment kinds.
const (
	ContainLogoutAll    = "logout-all"
	ContainLogoutUsers  = "logout-users"
	ContainDenyCIDR     = "deny-cidr"
	ContainLogLevel     = "log-level"
	ContainRequireReset = "require-reset"
	ContainInvalidate   = "invalidate"
	ContainRotate       = "rotate"
)

// ContainKinds lists every containment action.
var ContainKinds = []string{ContainLogoutAll, ContainLogoutUsers, ContainDenyCIDR, ContainLogLevel,
	ContainRequireReset, ContainInvalidate, ContainRotate}

// Incident outcomes.
const (
	OutcomeResolved = "resolved"
)

// Incident checklist steps, in order (the runbook's first 15 minutes, then verify and resolve).
const (
	StepDeclare  = "declare and assign an owner"
	StepFreeze   = "freeze auth-related deployments and config changes"
	StepSnapshot = "snapshot environment and auth settings"
	StepConfirm  = "confirm auth endpoints are reachable and healthy"
	StepTimeline = "keep the UTC timeline"
	StepContain  = "contain"
	StepVerify   = "verify"
	StepResolve  = "resolve and report"
)

// IncidentFirstSteps are the steps the 15-minute clock waits for.
var IncidentFirstSteps = []string{StepDeclare, StepFreeze, StepSnapshot, StepConfirm}

var incidentIDPattern = regexp.MustCompile(`^incident-[a-z0-9-]{1,40}$`)

// CheckIncidentID refuses an id that is not incident-[a-z0-9-]{1,40}, so that an incident can
// never take the id of another runbook's run.
func CheckIncidentID(id string) error {
	if !incidentIDPattern.MatchString(id) {
		return fmt.Errorf("incident id %q must match incident-[a-z0-9-]{1,40}", CleanText(id))
	}
	return nil
}

// IncidentInput starts an AuthIncident.
type IncidentInput struct {
	Trigger  string `json:"trigger"`
	Severity string `json:"severity"`
	Summary  string `json:"summary"`
	Reporter string `json:"reporter"`
	Source   string `json:"source"`
	// Targets are the affected targets; empty means every target in the config.
	Targets []string `json:"targets,omitempty"`
	// Statement is the reporter's signed start: action ActionStartIncident, comment the summary.
	Statement *SignedStatement `json:"statement,omitempty"`
	// State is the incident carried across continue-as-new; nil at declaration.
	State *IncidentState `json:"state,omitempty"`
}

// Validate checks a declaration; the starter and the workflow both call it.
func (in IncidentInput) Validate() error {
	var errs []error
	if !slices.Contains(IncidentTriggers, in.Trigger) {
		errs = append(errs, fmt.Errorf("trigger must be one of %s, got %q", strings.Join(IncidentTriggers, ", "), CleanText(in.Trigger)))
	}
	if !slices.Contains(Severities, in.Severity) {
		errs = append(errs, fmt.Errorf("severity must be one of %s, got %q", strings.Join(Severities, ", "), CleanText(in.Severity)))
	}
	if !slices.Contains(IncidentSources, in.Source) {
		errs = append(errs, fmt.Errorf("source must be one of %s, got %q", strings.Join(IncidentSources, ", "), CleanText(in.Source)))
	}
	if strings.TrimSpace(in.Summary) == "" {
		errs = append(errs, errors.New("summary is required"))
	}
	if strings.TrimSpace(in.Reporter) == "" {
		errs = append(errs, errors.New("reporter is required"))
	}
	errs = append(errs, CheckText("summary", in.Summary), CheckText("reporter", in.Reporter), CheckNote(in.Summary))
	for _, t := range in.Targets {
		errs = append(errs, CheckText("target", t))
	}
	return errors.Join(errs...)
}

// MaxNote is the longest note (and summary) an incident takes.
const MaxNote = 4 << 10

// CheckNote refuses a note over MaxNote bytes or with control characters.
func CheckNote(s string) error {
	if len(s) > MaxNote {
		return fmt.Errorf("text is %d bytes; the limit is %d (4 KiB)", len(s), MaxNote)
	}
	return CheckText("text", s)
}

// NoteRequest is Decision.Args of a status note (a plain note has no Args).
type NoteRequest struct {
	Status bool `json:"status,omitempty"`
}
