package contract

import (
	"errors"

	"go.temporal.io/sdk/temporal"
)

// ChildRun is a runbook run the incident started or linked.
type ChildRun struct {
	ActionID   string `json:"action_id"`
	WorkflowID string `json:"workflow_id"`
	Runbook    string `json:"runbook"`
	Target     string `json:"target"`
	// Linked is true when the run was already running and was linked, not started.
	Linked  bool   `json:"linked,omitempty"`
	Outcome string `json:"outcome,omitempty"`
	Summary string `json:"summary,omitempty"`
}

// ChildClosed is what a child run reports to its incident when it closes.
type ChildClosed struct {
	WorkflowID string `json:"workflow_id"`
	Outcome    string `json:"outcome"`
	Summary    string `json:"summary"`
}

// RunOutcome is the part of every runbook's result that says how it ended.
type RunOutcome struct {
	Outcome string `json:"outcome"`
	Summary string `json:"summary"`
}

// ClosedFrom says how a run ended, from its result (when err is nil) or its error: a failed
// runbook's error carries its result, a canceled run is canceled, anything else failed.
func ClosedFrom(workflowID string, res RunOutcome, err error) ChildClosed {
	var appErr *temporal.ApplicationError
	var canceled *temporal.CanceledError
	switch {
	case err == nil:
	case errors.As(err, &appErr) && appErr.HasDetails() && appErr.Details(&res) == nil:
	case errors.As(err, &canceled):
		res = RunOutcome{Outcome: OutcomeCanceled, Summary: canceled.Error()}
	default:
		res = RunOutcome{Outcome: "failed", Summary: err.Error()}
	}
	return ChildClosed{WorkflowID: workflowID, Outcome: res.Outcome, Summary: res.Summary}
}
