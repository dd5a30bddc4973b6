package contract

// Inputs and results of the probe and control activities: the canary, session revocation, route
// restrictions and the cutover checks of an emergency run.

import "time"

// CanaryInput names the target and the run that owns the canary.
type CanaryInput struct {
	Target string `json:"target"`
	RunID  string `json:"run_id"`
}

// RevokeInput asks the backend to end sessions.
type RevokeInput struct {
	Target   string `json:"target"`
	RunID    string `json:"run_id"`
	Username string `json:"username,omitempty"`
}

// RevokeResult says what the logout policy did and when the canary's token first failed.
type RevokeResult struct {
	Revoked int       `json:"revoked"`
	Cutoff  time.Time `json:"cutoff"`
	// CanaryRejectedAt is when the pre-cutoff canary token was first answered 401.
	CanaryRejectedAt time.Time `json:"canary_rejected_at"`
	CanaryRejected   bool      `json:"canary_rejected"`
}

// RoutesInput restricts or lifts route prefixes.
type RoutesInput struct {
	Target   string   `json:"target"`
	Prefixes []string `json:"prefixes"`
	Status   int      `json:"status,omitempty"`
}

// CutoverInput says what to verify after an emergency cutover.
type CutoverInput struct {
	Target           string   `json:"target"`
	RunID            string   `json:"run_id"`
	LiveVersionID    string   `json:"live_version_id"`
	RetiredVersionID string   `json:"retired_version_id"`
	Restricted       []string `json:"restricted,omitempty"`
	RestrictedStatus int      `json:"restricted_status,omitempty"`
	// RotationValidated says the rotation's own validation passed on LiveVersionID after its
	// redeploy: a fresh login, its token on the new secret, an old-secret token refused and the
	// restrictions. Then the verification does not repeat it (each login costs the backend a
	// bcrypt hash); it still checks the old session and every critical endpoint.
	RotationValidated bool `json:"rotation_validated,omitempty"`
}

// CutoverValidation is the validation of an emergency run's rotation after its redeploy, with
// that run's cutover checks.
type CutoverValidation struct {
	// Rotation decides the rotation: when one fails, the rotation rolls back.
	Rotation ProbeResults `json:"rotation"`
	// Cutover is the emergency run's to judge: its pre-cutoff session refused (bearer, refresh,
	// cookie) and every critical endpoint answering as configured. Its failures never roll the
	// new secret back; the emergency run escalates them.
	Cutover ProbeResults `json:"cutover"`
}
