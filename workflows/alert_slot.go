package workflows

import (
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/authops/authops/contract"
)

// AlertSlot holds one of the alerts.max_open slots for the incident an alert declared: it starts
// the incident as its child and closes when the incident does, so the slot is taken exactly as
// long as the incident runs (across its continue-as-new). The gateway starts a slot under the id
// alert-slot-N with a conflict policy that fails while that slot runs: that is the bound, held by
// the server. The incident's own id, never reused, keeps one incident per alert group.
func AlertSlot(ctx workflow.Context, in contract.AlertSlotInput) (string, error) {
	if err := contract.CheckIncidentID(in.Incident); err != nil {
		return "", temporal.NewNonRetryableApplicationError("invalid alert slot: "+err.Error(), contract.ErrTypeInvalidInput, err)
	}
	// A canceled slot keeps waiting for its incident, which is not the slot's to end; a
	// terminated one abandons it (ParentClosePolicy), so the incident runs on.
	dctx, cancel := workflow.NewDisconnectedContext(ctx)
	defer cancel()
	cctx := workflow.WithChildOptions(dctx, workflow.ChildWorkflowOptions{
		WorkflowID:            in.Incident,
		TaskQueue:             contract.TaskQueue,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
		TypedSearchAttributes: temporal.NewSearchAttributes(contract.AttrRunbook.ValueSet("auth-incident")),
		StaticSummary: fmt.Sprintf("Auth incident (%s, %s) declared by %s: %s", in.Input.Trigger, in.Input.Severity,
			in.Input.Reporter, in.Input.Summary),
	})
	var rep contract.Report
	err := workflow.ExecuteChildWorkflow(cctx, contract.WorkflowAuthIncident, in.Input).Get(cctx, &rep)
	var started *temporal.ChildWorkflowExecutionAlreadyStartedError
	switch {
	case errors.As(err, &started):
		return fmt.Sprintf("incident %s exists already; the slot is free again", in.Incident), nil
	case err != nil:
		// The slot's work is done either way: the incident closed, and the slot is free.
		return fmt.Sprintf("incident %s closed: %s", in.Incident, contract.CleanText(err.Error())), nil
	}
	return fmt.Sprintf("incident %s closed: %s", in.Incident, contract.CleanText(rep.Outcome)), nil
}
