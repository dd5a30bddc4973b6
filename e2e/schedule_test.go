package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/testenv"
)

// TestScheduledRotation: a Temporal Schedule starts rotation-<target> in scheduled mode; a
// second firing while it runs is skipped; an approver approves and becomes the rollback owner.
func TestScheduledRotation(t *testing.T) {
	env := startStack(t, testenv.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	out, err := env.Starter(t, "schedule-rotation", "--target", "demo", "--cron", "0 3 1 1 *", "--window", "1h")
	require.NoError(t, err, out)
	schedID := strings.TrimSpace(out)
	require.Equal(t, contract.ScheduleID("demo"), schedID)
	out, err = env.Starter(t, "schedule-rotation", "--target", "demo", "--cron", "0 3 1 1 *")
	require.Error(t, err)
	require.Contains(t, out, "already exists")
	out, err = env.Starter(t, "schedule-rotation", "--target", "demo", "--cron", "every tuesday")
	require.Error(t, err, out)

	h := env.Client.ScheduleClient().GetHandle(ctx, schedID)
	require.NoError(t, h.Trigger(ctx, client.ScheduleTriggerOptions{}))
	id := contract.RotationID("demo")
	waitPhase(t, env, id, "waiting for approval")
	v, err := env.Client.QueryWorkflow(ctx, id, "", contract.QueryStatus)
	require.NoError(t, err)
	var st contract.Status
	require.NoError(t, v.Get(&st))
	require.Equal(t, "schedule:"+schedID, st.RequestedBy)

	// A second firing while the rotation waits starts nothing new.
	require.NoError(t, h.Trigger(ctx, client.ScheduleTriggerOptions{}))
	require.Eventually(t, func() bool {
		resp, err := env.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: "default", Query: "WorkflowType = 'ScheduledRotation' AND ExecutionStatus = 'Completed'"})
		if err != nil || len(resp.Executions) < 2 {
			return false
		}
		skipped := 0
		for _, e := range resp.Executions {
			var r contract.ScheduledRotationResult
			if env.Client.GetWorkflow(ctx, e.Execution.WorkflowId, e.Execution.RunId).Get(ctx, &r) == nil && r.Skipped != "" {
				skipped++
			}
		}
		return skipped == 1
	}, time.Minute, 300*time.Millisecond)

	out, err = env.Starter(t, "approve", id, "--as", "bob")
	require.NoError(t, err, out)
	var res contract.RotationResult
	require.NoError(t, env.Client.GetWorkflow(ctx, id, "").Get(ctx, &res))
	require.Equal(t, contract.OutcomeCompleted, res.Outcome, res.Summary)
	requireTimeline(t, res.Timeline, "authops", "approval by a second person", "done")

	out, err = env.Starter(t, "schedule-rotation", "--target", "demo", "--delete")
	require.NoError(t, err, out)
	env.CheckReplay(t, id, "", "rotation-scheduled")
	scan := env.LeakScan(t)
	scan.History(id)
	scan.Check(t)
}
