package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/contract/act"
)

// announce sends a message and records it. A notifier that is down must not stop a security
// runbook, so a failed announcement goes on the timeline and the run continues.
func announce(ctx workflow.Context, rec *record, m contract.Message) {
	m.RunID = workflow.GetInfo(ctx).WorkflowExecution.ID
	sent(ctx, rec, m, workflow.ExecuteActivity(shortCtx(ctx), act.Announce, m))
}

// announceLocal is announce from this worker, as a local activity: the message a run closes on
// then costs it no trip through the task queue. The announcement itself only hands the message
// to the channel's notification run, which delivers it to Slack and retries.
func announceLocal(ctx workflow.Context, rec *record, m contract.Message) {
	m.RunID = workflow.GetInfo(ctx).WorkflowExecution.ID
	sent(ctx, rec, m, execute(shortCtx(withLocalActivities(ctx)), act.Announce, m))
}

// sent records how an announcement went.
func sent(ctx workflow.Context, rec *record, m contract.Message, f workflow.Future) {
	if err := f.Get(ctx, nil); err != nil {
		rec.add(ctx, systemActor, "announce "+m.Kind, contract.StateFailed, err.Error())
		return
	}
	rec.add(ctx, systemActor, "announce "+m.Kind, "sent", "to "+m.Channel)
}
