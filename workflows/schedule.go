package workflows

import (
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/authops/authops/contract"
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
	// The rotation takes a schedule: requester from this run alone (its parent's id), so this
	// run must be one the target's own Schedule started, as the server says, not any run under
	// a look-alike id.
	if v := recorded(ctx, func(ctx workflow.Context) verdict { return checkScheduledBy(ctx, in.Target) }); v.Refused != "" {
		return res, temporal.NewNonRetryableApplicationError(v.Refused, contract.ErrTypeInvalidInput, nil)
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

// AttrScheduledByID is the search attribute the server sets on a run that a Schedule started:
// the schedule's id. A client cannot set it on a start of its own.
var AttrScheduledByID = temporal.NewSearchAttributeKeyKeyword("TemporalScheduledById")

// checkScheduledBy refuses a scheduled rotation of target that the target's Schedule did not
// start. It reads the run's start attributes, so it runs recorded.
func checkScheduledBy(ctx workflow.Context, target string) verdict {
	want := contract.ScheduleID(target)
	got, ok := workflow.GetTypedSearchAttributes(ctx).GetKeyword(AttrScheduledByID)
	if !ok {
		// A payload without its type metadata is not among the typed attributes.
		//lint:ignore SA1019 the typed attributes drop a payload without type metadata; only the raw field still holds it
		if p := workflow.GetInfo(ctx).SearchAttributes.GetIndexedFields()[AttrScheduledByID.GetName()]; p != nil {
			ok = converter.GetDefaultDataConverter().FromPayload(p, &got) == nil
		}
	}
	switch {
	case !ok || got == "":
		return verdict{Refused: fmt.Sprintf("a scheduled rotation of %s is started only by its schedule %s; the server says no schedule started this run", target, want)}
	case got != want:
		return verdict{Refused: fmt.Sprintf("a scheduled rotation of %s is started only by its schedule %s, not by %s", target, want, contract.CleanText(got))}
	}
	return verdict{}
}
