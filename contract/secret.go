package contract

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Short workflows that read or settle a target's secret store. The starter cannot read a
// worker's store, so it asks a run on the worker's task queue.
const (
	WorkflowSecretStatus = "SecretStatus"
	WorkflowSecretSettle = "SecretSettle"
)

// Outcomes of a SecretSettle run.
const (
	OutcomeSettled         = "settled"
	OutcomeNothingToSettle = "nothing_to_settle"
	OutcomeRefused         = "refused"
)

// SecretStatusID is the workflow id of one SecretStatus run of a target; suffix makes it unique.
func SecretStatusID(target, suffix string) string { return "secret-status-" + target + "-" + suffix }

// SecretSettleID is the workflow id of the settle run of a target: one at a time, enforced by
// Temporal with the conflict policy FAIL.
func SecretSettleID(target string) string { return "secret-settle-" + target }

// SecretStatusInput asks for the versions of a target's secret.
type SecretStatusInput struct {
	Target string `json:"target"`
}

// SecretVersion is one version of a target's secret, never its value.
type SecretVersion struct {
	ID             string    `json:"id"`
	Stage          string    `json:"stage"`
	Fingerprint    string    `json:"fingerprint"`
	CreatedAt      time.Time `json:"created_at"`
	IdempotencyKey string    `json:"idempotency_key,omitempty"`
	// Run is the run that created the version (<workflow id>/<run id>), read from its key.
	Run string `json:"run,omitempty"`
	// RunState is, for a pending version only, whether Run is "running" or "closed (<status>)",
	// or why that cannot be told.
	RunState string `json:"run_state,omitempty"`
	// Live says the env sink holds this version's value now.
	Live bool `json:"live,omitempty"`
}

// SecretStatus is the state of a target's secret store, oldest version first.
type SecretStatus struct {
	Target string `json:"target"`
	// LiveFingerprint is the fingerprint of the env sink's value ("" when it holds none);
	// LiveVersion the version holding that value, "" when the store has none.
	LiveFingerprint string          `json:"live_fingerprint,omitempty"`
	LiveVersion     string          `json:"live_version,omitempty"`
	Versions        []SecretVersion `json:"versions"`
}

// ByStage returns the newest version with stage.
func (s SecretStatus) ByStage(stage string) (SecretVersion, bool) {
	for i := len(s.Versions) - 1; i >= 0; i-- {
		if s.Versions[i].Stage == stage {
			return s.Versions[i], true
		}
	}
	return SecretVersion{}, false
}

// SettleInput starts a SecretSettle run: RequestedBy, an approver of Target, marks a pending
// version that a closed run left behind failed.
type SettleInput struct {
	Target string `json:"target"`
	// VersionID is the version to settle; empty means the pending version, whichever it is.
	VersionID   string `json:"version_id,omitempty"`
	RequestedBy string `json:"requested_by"`
	Reason      string `json:"reason,omitempty"`
	// Statement is the requester's signed start: action ActionSettleSecret, comment SignedText.
	Statement *SignedStatement `json:"statement,omitempty"`
}

// SignedText is what the start statement signs as its comment: the version asked for and the
// reason, so that neither can be swapped under the signature.
func (in SettleInput) SignedText() string {
	return "version=" + in.VersionID + "; reason=" + in.Reason
}

// Validate checks the input; the starter and the workflow both call it.
func (in SettleInput) Validate() error {
	var errs []error
	if in.Target == "" {
		errs = append(errs, errors.New("target is required"))
	}
	if strings.TrimSpace(in.RequestedBy) == "" {
		errs = append(errs, errors.New("requested_by is required"))
	}
	if v := in.VersionID; v != "" && (strings.ContainsFunc(v, isControl) || strings.ContainsAny(v, " /")) {
		errs = append(errs, fmt.Errorf("version %q is not a version id like v3-1a2b3c4d", CleanText(v)))
	}
	if err := CheckText("reason", in.Reason); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// SettleResult is what a SecretSettle run did, or why it refused.
type SettleResult struct {
	Target  string `json:"target"`
	Outcome string `json:"outcome"`
	Cause   string `json:"cause,omitempty"`
	Summary string `json:"summary"`
	// Version is the version settled (or refused); Run the run that left it behind.
	Version   VersionRef `json:"version"`
	Run       string     `json:"run,omitempty"`
	SettledBy string     `json:"settled_by,omitempty"`
	Timeline  []Event    `json:"timeline"`
}
