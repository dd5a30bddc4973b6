package workflows

import (
	"github.com/authops/authops/contract"

	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
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
	env.OnActivity(acts.LoadPolicy, mock.Anything, "demo").Return(contract.Policy{
		Target: "demo", Approvers: []string{"alice", "bob"}, ApprovalTimeout: time.Hour, ClosedWindow: "end",
		DeployTimeout: time.Minute,
	}, nil)
	env.OnActivity(acts.PreCheck, mock.Anything, mock.Anything).Return(activities.PreCheckResult{
		OK: true, Current: contract.VersionRef{ID: "v1", Fingerprint: "fp1"},
	}, nil)
	env.OnActivity(acts.Announce, mock.Anything, mock.Anything).Return(nil)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(contract.SignalApprove, "bob") }, time.Minute)

	env.ExecuteWorkflow(SecretRotation, contract.RotationInput{Target: "demo", RequestedBy: "alice", Mode: contract.ModeManual})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res contract.RotationResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, contract.OutcomeExpired, res.Outcome)
	var malformed bool
	for _, e := range res.Timeline {
		if e.Action == contract.SignalApprove && e.Outcome == "denied" && e.Actor == "unknown" {
			malformed = true
		}
		require.NotEqual(t, "accepted", e.Outcome, "nothing may be approved: %+v", e)
	}
	require.True(t, malformed, "the malformed attempt is on the timeline: %+v", res.Timeline)
	env.AssertNotCalled(t, "CreatePendingSecret", mock.Anything, mock.Anything)
}

// A promotion whose answer was lost (it may have committed: the store then holds v2 as current)
// is undone with RollBackSecret, which handles a pending and a current version alike;
// MarkSecretFailed would refuse a current one and leave the store ahead of the env file.
func TestRotation_LostPromotionIsRolledBack(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterActivity(&activities.Activities{})
	prev, next := contract.VersionRef{ID: "v1", Fingerprint: "fp1"}, contract.VersionRef{ID: "v2", Fingerprint: "fp2"}
	env.OnActivity(acts.LoadPolicy, mock.Anything, "demo").Return(contract.Policy{
		Target: "demo", Approvers: []string{"alice", "bob"}, ApprovalTimeout: time.Hour, ClosedWindow: "end",
		DeployTimeout: time.Minute, ObservationWindow: time.Minute,
	}, nil)
	env.OnActivity(acts.PreCheck, mock.Anything, mock.Anything).Return(activities.PreCheckResult{OK: true, Current: prev}, nil)
	env.OnActivity(acts.Announce, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(acts.CreatePendingSecret, mock.Anything, mock.Anything).Return(next, nil)
	env.OnActivity(acts.ApplySecret, mock.Anything, mock.Anything).Return(activities.ApplyResult{}, nil)
	env.OnActivity(acts.Deploy, mock.Anything, mock.Anything).Return(activities.DeployResult{}, nil)
	env.OnActivity(acts.Validate, mock.Anything, mock.Anything).Return(contract.ProbeResults{{Name: "ok", OK: true}}, nil)
	env.OnActivity(acts.PromoteSecret, mock.Anything, mock.Anything).Return(
		temporal.NewNonRetryableApplicationError("store answer lost", activities.ErrTypeConflict, nil))
	env.OnActivity(acts.RollBackSecret, mock.Anything, mock.Anything).Return(nil)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(contract.SignalApprove, contract.Decision{Actor: "bob"}) }, time.Minute)
	env.ExecuteWorkflow(SecretRotation, contract.RotationInput{Target: "demo", RequestedBy: "alice", Mode: contract.ModeManual})

	require.True(t, env.IsWorkflowCompleted())
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, env.GetWorkflowError(), &appErr)
	var res contract.RotationResult
	require.NoError(t, appErr.Details(&res))
	require.Equal(t, contract.OutcomeRolledBack, res.Outcome)
	env.AssertCalled(t, "ApplySecret", mock.Anything, activities.VersionInput{Target: "demo", VersionID: "v1"})
	env.AssertCalled(t, "RollBackSecret", mock.Anything, activities.VersionInput{Target: "demo", VersionID: "v2"})
	env.AssertNotCalled(t, "MarkSecretFailed", mock.Anything, mock.Anything)
}
