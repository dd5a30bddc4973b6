package contract

// Inputs and results of the secret store, env sink and deploy activities (runbooks 2 and 3).
// They carry target names, version ids and fingerprints only: they land in workflow history.

import "time"

// PreCheckInput names the target; IdempotencyKey identifies the run.
type PreCheckInput struct {
	Target         string `json:"target"`
	IdempotencyKey string `json:"idempotency_key"`
	// Mode is the rotation's mode. With ModeEmergency a pending version that a closed run left
	// behind is reported as Stale, and an env sink that drifted from the store's current version
	// as Drift, instead of failing the check: the emergency must always rotate. Other modes keep
	// both as failed checks.
	Mode string `json:"mode,omitempty"`
	// LoginProbedAt (emergency mode) is when the emergency run's canary session logged in, and
	// DeployCheckedAt when its dry run of the deploy path passed, both while it waited for its
	// go-ahead. Within two minutes of them the pre-check does not repeat them: a login costs the
	// backend a bcrypt hash, a dry run starts a process, and the cutover waits for both.
	LoginProbedAt   time.Time `json:"login_probed_at,omitzero"`
	DeployCheckedAt time.Time `json:"deploy_checked_at,omitzero"`
}

// PreCheckResult lists the checks and the version the target runs on now.
type PreCheckResult struct {
	OK      bool       `json:"ok"`
	Checks  []Check    `json:"checks"`
	Current VersionRef `json:"current"`
	// NeedsAdoption says the store has no current version: Current is empty, and
	// the live secret, of fingerprint LiveFingerprint, must be adopted before anything changes.
	NeedsAdoption   bool   `json:"needs_adoption,omitempty"`
	LiveFingerprint string `json:"live_fingerprint,omitempty"`
	// Stale (emergency mode) is a pending version that the closed run StaleRun
	// (<workflow id>/<run id>) left behind: the workflow supersedes it (SupersedePending) before
	// anything else changes.
	Stale    *VersionRef `json:"stale,omitempty"`
	StaleRun string      `json:"stale_run,omitempty"`
	// Drift (emergency mode) says the env sink holds a value that is not the store's current
	// version; NeedsAdoption is set with it and Current is empty: the live value is adopted as
	// the current version (AdoptLiveSecret with ReplaceCurrent) so that a rollback restores it.
	Drift string `json:"drift,omitempty"`
	// Validation holds the baseline probe results.
	Validation ProbeResults `json:"validation"`
}

// AdoptInput asks to adopt the live secret; IdempotencyKey identifies the run.
type AdoptInput struct {
	Target         string `json:"target"`
	IdempotencyKey string `json:"idempotency_key"`
	// ReplaceCurrent adopts the live secret even over a different current version, which
	// becomes previous: an emergency rotation's answer to drift (PreCheckResult.Drift).
	ReplaceCurrent bool `json:"replace_current,omitempty"`
}

// SecretInput asks for a new secret version.
type SecretInput struct {
	Target         string `json:"target"`
	IdempotencyKey string `json:"idempotency_key"`
}

// VersionInput names one version of a target's secret.
type VersionInput struct {
	Target    string `json:"target"`
	VersionID string `json:"version_id"`
	// IdempotencyKey finds the run's pending version when its id never reached the workflow
	// (MarkSecretFailed after a create that timed out).
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// ApplyResult says what the env sink now holds.
type ApplyResult struct {
	Key         string `json:"key"`
	Path        string `json:"path"`
	VersionID   string `json:"version_id"`
	Fingerprint string `json:"fingerprint"`
	Changed     bool   `json:"changed"`
}

// DeployInput names the target to redeploy.
type DeployInput struct {
	Target string `json:"target"`
}

// DeployResult reports a redeploy. The deploy's output reaches the run's history only as its
// last lines (Output) and a digest of all of it (OutputDigest, "sha256:<hex>"), both taken after
// every secret and credential the worker knows was replaced by [REDACTED]. Histories from before
// the digest hold a longer Output and no digest; they decode the same.
type DeployResult struct {
	Output       string `json:"output,omitempty"`
	OutputDigest string `json:"output_digest,omitempty"`
	OutputBytes  int64  `json:"output_bytes,omitempty"`
	ExitCode     int    `json:"exit_code"`
	DurationMS   int64  `json:"duration_ms"`
	ReadyMS      int64  `json:"ready_ms"`
}

// ValidateInput says which version should be live and which one retired.
type ValidateInput struct {
	Target           string `json:"target"`
	LiveVersionID    string `json:"live_version_id"`
	RetiredVersionID string `json:"retired_version_id,omitempty"`
	// Restricted lists the route restrictions the caller holds (an emergency run's child
	// rotation): each is checked for its status, and checks it answers first are deferred.
	Restricted []RouteRestriction `json:"restricted,omitempty"`
	// CutoverOf is the emergency run whose cutover ValidateCutover checks as well.
	CutoverOf string `json:"cutover_of,omitempty"`
}

// SupersedeInput names the stale pending version an emergency rotation supersedes;
// IdempotencyKey is the superseding run's.
type SupersedeInput struct {
	Target         string `json:"target"`
	VersionID      string `json:"version_id"`
	IdempotencyKey string `json:"idempotency_key"`
}

// SettleOutcome says what became of a pending version: marked failed, already failed, or
// nothing was pending.
type SettleOutcome struct {
	Version VersionRef `json:"version"`
	// Run is the run that left the version behind; RunState says it is closed and how.
	Run      string `json:"run,omitempty"`
	RunState string `json:"run_state,omitempty"`
	// Already: the version was failed before this call (a retry, or settled meanwhile).
	Already bool `json:"already,omitempty"`
	// NothingPending: no version was named and none is pending; nothing changed.
	NothingPending bool `json:"nothing_pending,omitempty"`
}

// SettleSecretInput names the version to settle; empty means the pending one.
type SettleSecretInput struct {
	Target    string `json:"target"`
	VersionID string `json:"version_id,omitempty"`
}
