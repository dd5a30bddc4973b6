package activities

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/authops/authops/contract"
)

// Peers reaches other runs: a child reports its outcome to its incident, and an incident waits
// for a run it linked. The worker's Temporal client is one.
type Peers interface {
	UpdateWorkflow(ctx context.Context, opts client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error)
	GetWorkflow(ctx context.Context, workflowID, runID string) client.WorkflowRun
}

// ChildReport is a child run's outcome for its incident.
type ChildReport struct {
	Incident string               `json:"incident"`
	Closed   contract.ChildClosed `json:"closed"`
}

// ReportToIncident tells the incident how a run it started ended, by Update addressed by
// workflow id, so that it reaches the incident's current run after a continue-as-new.
func (a *Activities) ReportToIncident(ctx context.Context, in ChildReport) error {
	if a.Peers == nil {
		return temporal.NewNonRetryableApplicationError("the worker has no Temporal client to report with", ErrTypeConfig, nil)
	}
	h, err := a.Peers.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: in.Incident, UpdateName: contract.UpdateChildClosed, Args: []any{in.Closed},
		UpdateID:     "child-closed-" + in.Closed.WorkflowID + "-" + activity.GetInfo(ctx).WorkflowExecution.RunID,
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = h.Get(ctx, nil)
	}
	var notFound *serviceerror.NotFound
	var appErr *temporal.ApplicationError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &notFound):
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("incident %s is not running; its outcome stays on this run", in.Incident), ErrTypeConflict, nil)
	case errors.As(err, &appErr):
		// The incident's validator refused it (not one of its children): retrying changes nothing.
		return temporal.NewNonRetryableApplicationError("incident "+in.Incident+" refused the report: "+appErr.Error(), ErrTypeConflict, nil)
	}
	return fmt.Errorf("report to incident %s: %w", in.Incident, err)
}

// AwaitRun waits for a run the incident linked (it was running already) to close and returns its
// outcome. It heartbeats, so a worker restart resumes the wait.
func (a *Activities) AwaitRun(ctx context.Context, workflowID string) (contract.ChildClosed, error) {
	if a.Peers == nil {
		return contract.ChildClosed{}, temporal.NewNonRetryableApplicationError("the worker has no Temporal client to wait with", ErrTypeConfig, nil)
	}
	var res contract.RunOutcome
	err := heartbeatWhile(ctx, "waiting for "+workflowID, func() error {
		return a.Peers.GetWorkflow(ctx, workflowID, "").Get(ctx, &res)
	})
	if err != nil && ctx.Err() != nil {
		return contract.ChildClosed{WorkflowID: workflowID}, ctx.Err()
	}
	closed := contract.ClosedFrom(workflowID, res, err)
	return closed, nil
}
