package contract

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Rotation modes.
const (
	ModeManual    = "manual"
	ModeScheduled = "scheduled"
	// ModeEmergency is a hard cutover driven by EmergencyInvalidation: no window, no approval
	// gate of its own (the parent run had it) and no observation wait.
	ModeEmergency = "emergency"
)

// Outcomes of a rotation.
const (
	OutcomeCompleted          = "completed"
	OutcomeRolledBack         = "rolled_back"
	OutcomeRolledBackManually = "rolled_back_manually"
	OutcomeRollbackFailed     = "rollback_failed"
	OutcomeExpired            = "expired"
	OutcomeRejected           = "rejected"
	OutcomePrecheckFailed     = "precheck_failed"
	OutcomeWindowClosed       = "window_closed"
	OutcomeCanceled           = "canceled"
	// OutcomePreempted: an emergency run took the target before this rotation changed it, or
	// after its compensation restored the previous secret. OutcomeSuperseded: the rotation was
	// escalated, waiting for resolve, and the emergency run's rotation took the target over.
	OutcomePreempted  = "preempted"
	OutcomeSuperseded = "superseded"
	// OutcomeFrozen: a running incident froze the target, and the target's config says refuse.
	OutcomeFrozen = "frozen"
)

// ErrTypeInvalidInput marks bad input; the run fails before doing anything.
const ErrTypeInvalidInput = "InvalidInput"

// ErrTypeRunbookFailed marks a run that ended in a failure state (rolled back, pre-checks failed,
// rollback failed). Its details hold the RotationResult, so the Web UI shows the run as failed
// and the artifacts are still there.
const ErrTypeRunbookFailed = "RunbookFailed"

// RotationInput starts a SecretRotation.
type RotationInput struct {
	Target      string `json:"target"`
	Reason      string `json:"reason"`
	RequestedBy string `json:"requested_by"`
	// WindowStart is when the rotation may start (zero: now). Window is how long the window stays
	// open (zero: no end).
	WindowStart time.Time     `json:"window_start,omitempty"`
	Window      time.Duration `json:"window,omitempty"`
	// RollbackOwner may roll back during the observation window; defaults to the requester, or for a
	// scheduled run to the approver.
	RollbackOwner string `json:"rollback_owner,omitempty"`
	Mode          string `json:"mode"`
	// ApprovedBy records the approval of a parent run, for ModeEmergency.
	ApprovedBy string `json:"approved_by,omitempty"`
	// Statement is the requester's signed start (action ActionStartRotation, comment the reason).
	// Only a schedule's or an emergency run's child starts without one.
	Statement *SignedStatement `json:"statement,omitempty"`
	// Restricted lists the route restrictions the parent emergency run holds while this rotation
	// runs: validation checks them for their status and defers the checks they answer first.
	Restricted []RouteRestriction `json:"restricted,omitempty"`
	// IncidentID is the incident that started this rotation; the rotation reports its outcome
	// to it when it closes.
	IncidentID string `json:"incident_id,omitempty"`
	// CutoverOf (emergency mode) is the parent emergency run. The validation after the redeploy
	// then runs that run's cutover checks too (its pre-cutoff session refused, every critical
	// endpoint as configured) and returns them in RotationResult.Cutover, sharing its logins.
	CutoverOf string `json:"cutover_of,omitempty"`
	// LoginProbedAt and DeployCheckedAt (emergency mode) are when the parent's canary session
	// logged in and its dry run of the deploy path passed: a pre-check soon after need not
	// repeat them.
	LoginProbedAt   time.Time `json:"login_probed_at,omitzero"`
	DeployCheckedAt time.Time `json:"deploy_checked_at,omitzero"`
}

// RouteRestriction is a route prefix that answers Status (403 or 503) instead of its handler.
type RouteRestriction struct {
	Prefix string `json:"prefix"`
	Status int    `json:"status"`
}

// ConfigChange records a changed config value by version id and fingerprint, never by value.
type ConfigChange struct {
	At              time.Time `json:"at"`
	Item            string    `json:"item"`
	FromVersion     string    `json:"from_version"`
	FromFingerprint string    `json:"from_fingerprint"`
	ToVersion       string    `json:"to_version"`
	ToFingerprint   string    `json:"to_fingerprint"`
	Reason          string    `json:"reason"`
}

// Validation is one named set of probe results.
type Validation struct {
	Stage   string       `json:"stage"`
	OK      bool         `json:"ok"`
	Results ProbeResults `json:"results"`
}

// RotationResult is the run's artifact: timeline, changes, validation outputs and a summary.
type RotationResult struct {
	Target      string         `json:"target"`
	Outcome     string         `json:"outcome"`
	Cause       string         `json:"cause,omitempty"`
	Summary     string         `json:"summary"`
	ApprovedBy  string         `json:"approved_by,omitempty"`
	Previous    VersionRef     `json:"previous"`
	New         VersionRef     `json:"new"`
	Prechecks   []Check        `json:"prechecks,omitempty"`
	Changes     []ConfigChange `json:"changes"`
	Validations []Validation   `json:"validations"`
	// Cutover holds the parent emergency run's cutover checks (CutoverOf), run with the
	// validation after the redeploy. They are the parent's to judge: none rolls the secret back.
	Cutover  ProbeResults `json:"cutover,omitempty"`
	Timeline []Event      `json:"timeline"`
}

// CheckTexts refuses control characters in the text people gave: it would reach terminals,
// reports and Slack.
func (in RotationInput) CheckTexts() error {
	return errors.Join(CheckText("reason", in.Reason), CheckText("requested_by", in.RequestedBy),
		CheckText("rollback_owner", in.RollbackOwner))
}

// CheckWindowAhead refuses a window that starts more than max after now: a far-off window
// would hold the target's rotation id (and block every other rotation of it) for that long.
func (in RotationInput) CheckWindowAhead(now time.Time, max time.Duration) error {
	if max > 0 && in.WindowStart.After(now.Add(max)) {
		return fmt.Errorf("window start %s is more than %s ahead (rotation.max_window_ahead)",
			in.WindowStart.UTC().Format(time.RFC3339), max)
	}
	return nil
}

// Validate checks the input against now. Both the starter and the workflow call it.
func (in RotationInput) Validate(now time.Time) error {
	var errs []error
	if in.Target == "" {
		errs = append(errs, errors.New("target is required"))
	}
	if strings.TrimSpace(in.RequestedBy) == "" {
		errs = append(errs, errors.New("requested_by is required"))
	}
	switch in.Mode {
	case ModeManual, ModeScheduled, ModeEmergency:
	default:
		errs = append(errs, fmt.Errorf("mode must be manual, scheduled or emergency, got %q", in.Mode))
	}
	if in.Window < 0 {
		errs = append(errs, fmt.Errorf("window length %s is negative", in.Window))
	}
	if !in.WindowStart.IsZero() {
		end := in.WindowStart.Add(in.Window)
		switch {
		case in.Mode == ModeEmergency:
			errs = append(errs, errors.New("an emergency rotation has no window"))
		case in.Window > 0 && !end.After(now):
			errs = append(errs, fmt.Errorf("window %s–%s is in the past", in.WindowStart.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339)))
		case in.Window == 0 && in.WindowStart.Before(now.Add(-time.Minute)):
			errs = append(errs, fmt.Errorf("window start %s is in the past", in.WindowStart.UTC().Format(time.RFC3339)))
		}
	}
	return errors.Join(errs...)
}
