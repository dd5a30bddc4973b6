package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/authops/authops/activities"
)

// A signal whose payload does not decode (here a bare string, as a hand-typed
// `temporal workflow signal --input '"bob"'` would send) is recorded as denied, approves nothing,
// and does not hold up the approval timeout.
func TestMalformedSignalIsRecordedAndIgnored(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterActivity(&activities.Activities{})
	env.OnActivity(acts.LoadPolicy, mock.Anything, "demo").Return(activities.Policy{
		Target: "demo", Approvers: []string{"alice", "bob"}, ApprovalTimeout: time.Hour, ClosedWindow: "end",
		DeployTimeout: time.Minute,
	}, nil)
	env.OnActivity(acts.PreCheck, mock.Anything, mock.Anything).Return(activities.PreCheckResult{
		OK: true, Current: activities.VersionRef{ID: "v1", Fingerprint: "fp1"},
	}, nil)
	env.OnActivity(acts.Announce, mock.Anything, mock.Anything).Return(nil)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalApprove, "bob") }, time.Minute)

	env.ExecuteWorkflow(SecretRotation, RotationInput{Target: "demo", RequestedBy: "alice", Mode: ModeManual})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res RotationResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, OutcomeExpired, res.Outcome)
	var malformed bool
	for _, e := range res.Timeline {
		if e.Action == SignalApprove && e.Outcome == "denied" && e.Actor == "unknown" {
			malformed = true
		}
		require.NotEqual(t, "accepted", e.Outcome, "nothing may be approved: %+v", e)
	}
	require.True(t, malformed, "the malformed attempt is on the timeline: %+v", res.Timeline)
	env.AssertNotCalled(t, "CreatePendingSecret", mock.Anything, mock.Anything)
}
