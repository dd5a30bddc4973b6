package contract

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Emergency triggers named by runbook 3.
const (
	TriggerSecretCompromise = "secret-compromise"
	TriggerTokenAbuse       = "token-abuse"
	TriggerAuthRegression   = "auth-regression"
)

// Outcomes of an emergency invalidation besides the rotation ones.
const (
	OutcomeRotationFailed     = "rotation_failed"
	OutcomeVerificationFailed = "verification_failed"
)

// InvalidationInput starts an EmergencyInvalidation.
type InvalidationInput struct {
	Target      string `json:"target"`
	Trigger     string `json:"trigger"`
	Reason      string `json:"reason"`
	RequestedBy string `json:"requested_by"`
	IncidentID  string `json:"incident_id,omitempty"`
	// Restrict lists sensitive route prefixes to close while abuse is active, for RestrictTTL.
	Restrict       []string      `json:"restrict,omitempty"`
	RestrictTTL    time.Duration `json:"restrict_ttl,omitempty"`
	RestrictStatus int           `json:"restrict_status,omitempty"`
	// KeepRestrictions leaves routes restricted if the run fails, instead of lifting them.
	KeepRestrictions bool `json:"keep_restrictions,omitempty"`
	// BreakGlass lets the requester proceed alone; the run is flagged and reviewed afterwards.
	BreakGlass bool `json:"break_glass,omitempty"`
	// Statement is the requester's signed start: action ActionStartInvalidation, with
	// BreakGlassSuffix when BreakGlass is set; comment the reason.
	Statement *SignedStatement `json:"statement,omitempty"`
}

// CheckTexts refuses control characters in the text people gave.
func (in InvalidationInput) CheckTexts() error {
	return errors.Join(CheckText("reason", in.Reason), CheckText("requested_by", in.RequestedBy),
		CheckText("incident_id", in.IncidentID))
}

// StartAction is the action a start statement of this input must name.
func (in InvalidationInput) StartAction() string {
	if in.BreakGlass {
		return ActionStartInvalidation + BreakGlassSuffix
	}
	return ActionStartInvalidation
}

// InvalidationID is the workflow id of the emergency run of a target: one at a time, enforced by
// Temporal with the conflict policy FAIL.
func InvalidationID(target string) string { return "invalidate-" + target }

// InvalidationResult is the emergency run's artifact.
type InvalidationResult struct {
	Target     string `json:"target"`
	Outcome    string `json:"outcome"`
	Cause      string `json:"cause,omitempty"`
	Summary    string `json:"summary"`
	ApprovedBy string `json:"approved_by,omitempty"`
	BreakGlass bool   `json:"break_glass"`
	// GoAheadAt is when the go-ahead was accepted; CutoffAt when the backend's logout policy took
	// effect; OldTokenRejectedAt when the pre-cutoff canary token was first refused.
	GoAheadAt          time.Time      `json:"go_ahead_at"`
	CutoffAt           time.Time      `json:"cutoff_at"`
	OldTokenRejectedAt time.Time      `json:"old_token_rejected_at,omitempty"`
	ExposureMS         int64          `json:"exposure_ms"`
	VerifiedAt         time.Time      `json:"verified_at,omitempty"`
	Rotation           string         `json:"rotation_id"`
	RotationOutcome    string         `json:"rotation_outcome"`
	ActiveControls     []string       `json:"active_controls"`
	Changes            []ConfigChange `json:"changes"`
	Validations        []Validation   `json:"validations"`
	Timeline           []Event        `json:"timeline"`
}

// Validate checks the input; the starter and the workflow both call it.
func (in InvalidationInput) Validate() error {
	var errs []error
	if in.Target == "" {
		errs = append(errs, errors.New("target is required"))
	}
	if strings.TrimSpace(in.Reason) == "" {
		if in.BreakGlass {
			errs = append(errs, errors.New("break glass needs a reason"))
		} else {
			errs = append(errs, errors.New("reason is required"))
		}
	}
	if strings.TrimSpace(in.RequestedBy) == "" {
		errs = append(errs, errors.New("requested_by is required"))
	}
	switch in.Trigger {
	case TriggerSecretCompromise, TriggerTokenAbuse, TriggerAuthRegression:
	default:
		errs = append(errs, fmt.Errorf("trigger must be %s, %s or %s, got %q",
			TriggerSecretCompromise, TriggerTokenAbuse, TriggerAuthRegression, in.Trigger))
	}
	if len(in.Restrict) > 0 {
		if err := ValidatePrefixes(in.Restrict); err != nil {
			errs = append(errs, fmt.Errorf("restrict: %w", err))
		}
		if in.RestrictTTL <= 0 {
			errs = append(errs, fmt.Errorf("restrict TTL must be positive, got %s", in.RestrictTTL))
		}
		if in.RestrictStatus != 0 && in.RestrictStatus != 403 && in.RestrictStatus != 503 {
			errs = append(errs, fmt.Errorf("restrict status must be 403 or 503, got %d", in.RestrictStatus))
		}
	} else if in.RestrictTTL != 0 {
		errs = append(errs, errors.New("restrict TTL given without routes to restrict"))
	}
	return errors.Join(errs...)
}
