package workflows

import (
	"github.com/authops/authops/contract"

	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// ScheduledRotation starts the target's rotation under its usual id, rotation-<target>, so that
// scheduled and manual rotations exclude each other. (A schedule's own workflow ids carry a
// timestamp, which would not.) The rotation is abandoned to run on its own: it waits for an
// approver like any other.
func ScheduledRotation(ctx workflow.Context, in contract.ScheduledRotationInput) (contract.ScheduledRotationResult, error) {
	res := contract.ScheduledRotationResult{RotationID: contract.RotationID(in.Target)}
	if in.Target == "" || in.Window <= 0 {
		return res, temporal.NewNonRetryableApplicationError("scheduled rotation needs a target and a positive window", contract.ErrTypeInvalidInput, nil)
	}
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            res.RotationID,
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		StaticSummary:         fmt.Sprintf("Scheduled JWT secret rotation of %s (%s)", in.Target, in.Schedule),
		TypedSearchAttributes: temporal.NewSearchAttributes(contract.AttrTarget.ValueSet(in.Target), contract.AttrRunbook.ValueSet("secret-rotation")),
	})
	child := workflow.ExecuteChildWorkflow(cctx, SecretRotation, contract.RotationInput{
		Target: in.Target, Reason: "scheduled key hygiene (" + in.Schedule + ")", RequestedBy: "schedule:" + in.Schedule,
		WindowStart: workflow.Now(ctx), Window: in.Window, RollbackOwner: in.RollbackOwner, Mode: contract.ModeScheduled,
	})
	var exec workflow.Execution
	err := child.GetChildWorkflowExecution().Get(ctx, &exec)
	var started *temporal.ChildWorkflowExecutionAlreadyStartedError
	if errors.As(err, &started) {
		res.Skipped = "a rotation of " + in.Target + " is already running"
		return res, nil
	}
	if err != nil {
		return res, fmt.Errorf("start %s: %w", res.RotationID, err)
	}
	res.RunID = exec.RunID
	return res, nil
}
