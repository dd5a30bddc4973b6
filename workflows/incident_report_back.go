package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/authops/authops/activities"
	"github.com/authops/authops/contract"
)

// reportToIncident tells the incident that started this run how it ended, by Update addressed
// by workflow id, so the outcome reaches the incident's current run even after it continued as
// new. Only a run whose parent is that incident reports; the incident waits for runs it linked.
func reportToIncident(ctx workflow.Context, rec *record, incidentID, outcome, summary string) {
	p := workflow.GetInfo(ctx).ParentWorkflowExecution
	if incidentID == "" || p == nil || p.ID != incidentID {
		return
	}
	if workflow.GetVersion(ctx, "report-to-incident", workflow.DefaultVersion, 1) == workflow.DefaultVersion {
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
