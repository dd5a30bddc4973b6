package workflows

import (
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// ScheduledRotationInput is what a Temporal Schedule starts for routine key hygiene.
type ScheduledRotationInput struct {
	Target string `json:"target"`
	// Window is how long the rotation may take to get approved and run.
	Window        time.Duration `json:"window"`
	RollbackOwner string        `json:"rollback_owner,omitempty"`
	Schedule      string        `json:"schedule"`
}

// ScheduledRotationResult says which rotation was started, or why none was.
type ScheduledRotationResult struct {
	RotationID string `json:"rotation_id"`
	RunID      string `json:"run_id,omitempty"`
	Skipped    string `json:"skipped,omitempty"`
}

// ScheduleID is the id of the rotation schedule of a target.
func ScheduleID(target string) string { return "rotation-schedule-" + target }

// ScheduledRotation starts the target's rotation under its usual id, rotation-<target>, so that
// scheduled and manual rotations exclude each other. (A schedule's own workflow ids carry a
// timestamp, which would not.) The rotation is abandoned to run on its own: it waits for an
// approver like any other.
func ScheduledRotation(ctx workflow.Context, in ScheduledRotationInput) (ScheduledRotationResult, error) {
	res := ScheduledRotationResult{RotationID: RotationID(in.Target)}
	if in.Target == "" || in.Window <= 0 {
		return res, temporal.NewNonRetryableApplicationError("scheduled rotation needs a target and a positive window", ErrTypeInvalidInput, nil)
	}
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            res.RotationID,
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		StaticSummary:         fmt.Sprintf("Scheduled JWT secret rotation of %s (%s)", in.Target, in.Schedule),
		TypedSearchAttributes: temporal.NewSearchAttributes(AttrTarget.ValueSet(in.Target), AttrRunbook.ValueSet("secret-rotation")),
	})
	child := workflow.ExecuteChildWorkflow(cctx, SecretRotation, RotationInput{
		Target: in.Target, Reason: "scheduled key hygiene (" + in.Schedule + ")", RequestedBy: "schedule:" + in.Schedule,
		WindowStart: workflow.Now(ctx), Window: in.Window, RollbackOwner: in.RollbackOwner, Mode: ModeScheduled,
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
