package workflows

import (
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/authops/authops/activities"
	"github.com/authops/authops/contract"
)

// reportToIncident told the incident that started this run how it ended, by Update. Runs from
// before version 2 of report-to-incident still do on replay; newer ones report nothing, since the
// incident reads the outcome from the server (the child future) and never continues as new while
// a child runs.
func reportToIncident(ctx workflow.Context, rec *record, incidentID, outcome, summary string) {
	p := workflow.GetInfo(ctx).ParentWorkflowExecution
	if incidentID == "" || p == nil || p.ID != incidentID {
		return
	}
	// From version 2 the incident reads the outcome from this run's close, through the child
	// future, and refuses reports: anyone could send one.
	if v := workflow.GetVersion(ctx, "report-to-incident", workflow.DefaultVersion, 2); v == workflow.DefaultVersion || v >= 2 {
		return
	}
	dctx, cancel := workflow.NewDisconnectedContext(ctx)
	defer cancel()
	in := activities.ChildReport{Incident: incidentID, Closed: contract.ChildClosed{
		WorkflowID: workflow.GetInfo(ctx).WorkflowExecution.ID, Outcome: outcome, Summary: summary}}
	if err := workflow.ExecuteActivity(shortCtx(dctx), acts.ReportToIncident, in).Get(dctx, nil); err != nil {
		rec.add(dctx, systemActor, "report to "+incidentID, contract.StateFailed, err.Error())
		return
	}
	rec.add(dctx, systemActor, "report to "+incidentID, contract.StateDone, outcome)
}

// childReportRefused refuses a child-closed Update: a child's outcome is read from the server's
// record of its close, never from a message, which anyone with namespace access could send. The
// attempt is on the timeline with the client identity the server recorded for it.
func (i *incident) childReportRefused(ctx workflow.Context, c contract.ChildClosed) error {
	id := workflow.GetCurrentUpdateInfo(ctx).ID
	var who string
	if err := workflow.ExecuteActivity(shortCtx(ctx), acts.Sender, activities.SenderInput{UpdateID: id}).Get(ctx, &who); err != nil || who == "" {
		who = "unknown"
	}
	ev := i.rec.decision(ctx, contract.Event{Actor: who, Action: contract.UpdateChildClosed, Outcome: "denied", Via: "update", UpdateID: id,
		Detail: fmt.Sprintf("a report that %s %s is not taken: the incident reads each run's outcome from the server when the run closes",
			contract.CleanText(c.WorkflowID), contract.CleanText(c.Outcome))})
	return temporal.NewApplicationErrorWithOptions(contract.UpdateChildClosed+" denied: "+ev.Detail, contract.ErrTypeDecisionDenied,
		temporal.ApplicationErrorOptions{NonRetryable: true, Details: []any{ev}})
}
