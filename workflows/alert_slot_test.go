package workflows

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/authops/authops/contract"
)

// TestAlertSlot: a slot runs the alert's incident as its child, under the incident's id and with
// the signed input the gateway gave it, and closes when the incident closes, however it ends.
func TestAlertSlot(t *testing.T) {
	in := contract.AlertSlotInput{Incident: "incident-am-0123456789ab", Input: contract.IncidentInput{Trigger: "other",
		Severity: "high", Summary: "s", Reporter: "alert:alertmanager", Source: "alert", Targets: []string{"demo"}}}
	for _, fail := range []bool{false, true} {
		env := newTestEnv(AlertSlot)
		var gotID string
		var got contract.IncidentInput
		env.RegisterWorkflowWithOptions(func(ctx workflow.Context, in contract.IncidentInput) (contract.Report, error) {
			gotID, got = workflow.GetInfo(ctx).WorkflowExecution.ID, in
			if fail {
				return contract.Report{}, errors.New("boom")
			}
			return contract.Report{Outcome: contract.OutcomeResolved}, nil
		}, workflow.RegisterOptions{Name: contract.WorkflowAuthIncident})
		env.ExecuteWorkflow(AlertSlot, in)
		require.True(t, env.IsWorkflowCompleted())
		require.NoError(t, env.GetWorkflowError(), "the slot is free however the incident ended")
		var out string
		require.NoError(t, env.GetWorkflowResult(&out))
		assert.Equal(t, in.Incident, gotID)
		assert.Equal(t, in.Input, got)
		if fail {
			assert.Contains(t, out, "boom")
		} else {
			assert.Equal(t, "incident incident-am-0123456789ab closed: resolved", out)
		}
	}

	env := newTestEnv(AlertSlot)
	env.ExecuteWorkflow(AlertSlot, contract.AlertSlotInput{Incident: "not an id"})
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(env.GetWorkflowError(), &appErr))
	assert.True(t, appErr.NonRetryable())
}
