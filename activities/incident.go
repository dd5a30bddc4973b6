package activities

import (
	"context"
	"errors"

	"github.com/authops/authops/contract"
)

// Runbook 1's activities. Inputs and results carry names, fingerprints and probe outcomes only.

// IncidentTargetInput names one affected target of an incident.
type IncidentTargetInput struct {
	Incident string `json:"incident"`
	Target   string `json:"target"`
}

// MeasureInput is one containment measure on one target.
type MeasureInput struct {
	Incident string                  `json:"incident"`
	ActionID string                  `json:"action_id"`
	Target   string                  `json:"target"`
	Request  contract.ContainRequest `json:"request"`
	// Previous is what an undo restores (the log level before the measure).
	Previous string `json:"previous,omitempty"`
}

// MeasureResult says what a measure (or its undo) did, read back from the backend's state.
type MeasureResult struct {
	Detail string `json:"detail"`
	// Previous is the value the measure replaced (the log level before), for its undo.
	Previous string `json:"previous,omitempty"`
}

// IncidentVerifyInput is what the verification checklist expects of one target.
type IncidentVerifyInput struct {
	Incident string `json:"incident"`
	Target   string `json:"target"`
	// ResetUsers must be refused with 403 at login; DeniedCIDRs refused from inside the range.
	ResetUsers  []string `json:"reset_users,omitempty"`
	DeniedCIDRs []string `json:"denied_cidrs,omitempty"`
}

// ReportInput is a run's report to write as artifacts.
type ReportInput struct {
	WorkflowID string          `json:"workflow_id"`
	Report     contract.Report `json:"report"`
}

// ArchiveInput is a part of an incident's timeline to archive before continue-as-new.
type ArchiveInput struct {
	Incident string           `json:"incident"`
	Part     int              `json:"part"`
	Events   []contract.Event `json:"events"`
}

// FreezeInput asks whether an incident other than Exempt freezes Target.
type FreezeInput struct {
	Target string `json:"target"`
	Exempt string `json:"exempt,omitempty"`
}

var errTODO = errors.New("not implemented yet")

// LoadIncidentPolicy returns the incident policy: every target, the union of their approvers,
// people, gateway keys, clocks, status cadences and action rules.
func (a *Activities) LoadIncidentPolicy(ctx context.Context) (contract.IncidentPolicy, error) {
	return contract.IncidentPolicy{}, errTODO
}

// SnapshotTarget records a target's environment and auth settings, every value fingerprinted,
// and writes it to the incident's artifacts directory.
func (a *Activities) SnapshotTarget(ctx context.Context, in IncidentTargetInput) (contract.Snapshot, error) {
	return contract.Snapshot{}, errTODO
}

// ConfirmAuth checks that the auth endpoints answer: /healthz, a probe login and /auth/me.
func (a *Activities) ConfirmAuth(ctx context.Context, in IncidentTargetInput) (contract.ProbeResults, error) {
	return nil, errTODO
}

// ApplyMeasure applies a containment measure through the target's control API and reads the
// state back.
func (a *Activities) ApplyMeasure(ctx context.Context, in MeasureInput) (MeasureResult, error) {
	return MeasureResult{}, errTODO
}

// UndoMeasure undoes a temporary measure and verifies it is gone.
func (a *Activities) UndoMeasure(ctx context.Context, in MeasureInput) (MeasureResult, error) {
	return MeasureResult{}, errTODO
}

// VerifyIncident runs the verification checklist against a target.
func (a *Activities) VerifyIncident(ctx context.Context, in IncidentVerifyInput) (contract.ProbeResults, error) {
	return nil, errTODO
}

// WriteReport writes a run's report as Markdown and JSON to its artifacts directory, with any
// archived timeline parts put back in.
func (a *Activities) WriteReport(ctx context.Context, in ReportInput) ([]contract.ArtifactRef, error) {
	return nil, errTODO
}

// ArchiveTimeline writes a part of a timeline to the artifacts directory.
func (a *Activities) ArchiveTimeline(ctx context.Context, in ArchiveInput) (contract.ArtifactRef, error) {
	return contract.ArtifactRef{}, errTODO
}

// FrozenBy returns the id of a running incident, other than in.Exempt, that freezes in.Target,
// or "".
func (a *Activities) FrozenBy(ctx context.Context, in FreezeInput) (string, error) {
	return "", errTODO
}
