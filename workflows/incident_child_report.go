package workflows

import (
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/contract/act"
)

// childReportRefused refuses a child-closed Update: a child's outcome is read from the server's
// record of its close, never from a message, which anyone with namespace access could send. The
// attempt is on the timeline with the client identity the server recorded for it.
func (i *incident) childReportRefused(ctx workflow.Context, c contract.ChildClosed) error {
	id := workflow.GetCurrentUpdateInfo(ctx).ID
	var who string
	if err := workflow.ExecuteActivity(shortCtx(ctx), act.Sender, contract.SenderInput{UpdateID: id}).Get(ctx, &who); err != nil || who == "" {
		who = "unknown"
	}
	ev := i.rec.decision(ctx, contract.Event{Actor: who, Action: contract.UpdateChildClosed, Outcome: "denied", Via: "update", UpdateID: id,
		Detail: fmt.Sprintf("a report that %s %s is not taken: the incident reads each run's outcome from the server when the run closes",
			contract.CleanText(c.WorkflowID), contract.CleanText(c.Outcome))})
	return temporal.NewApplicationErrorWithOptions(contract.UpdateChildClosed+" denied: "+ev.Detail, contract.ErrTypeDecisionDenied,
		temporal.ApplicationErrorOptions{NonRetryable: true, Details: []any{ev}})
}
