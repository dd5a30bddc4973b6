package workflows

import (
	"github.com/authops/authops/contract"

	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/authops/authops/activities"
)

// Breaking glass skips the second person, so someone outside the approvers cannot do it: the run
// changes nothing and says why.
func TestEmergencyInvalidation_BreakGlassOnlyForApprovers(t *testing.T) {
	h := newInvHarness(t)
	in := invInput()
	in.RequestedBy, in.BreakGlass = "mallory", true
	h.run(in)

	appErr := requireAppError(t, h.env.GetWorkflowError())
	assert.Equal(t, contract.ErrTypeInvalidInput, appErr.Type())
	assert.Contains(t, appErr.Error(), "mallory is not one")
	assert.Equal(t, []string{"LoadPolicy"}, h.steps())
	h.assertNotRun("PrepareCanary", "RevokeSessions", "RestrictRoutes", "SecretRotation")
	requireEvent(t, h.timeline(), "mallory", "BREAK GLASS", "denied")
}

// "alice " is alice: a trailing space must not turn the requester into a second person.
func TestRotation_ActorNamesAreTrimmed(t *testing.T) {
	h := newRotationHarness(t)
	in := manualInput()
	in.RequestedBy = "alice "
	h.signalAt(time.Minute, contract.SignalApprove, " alice", "")
	h.signalAt(2*time.Minute, contract.SignalReject, "bob", "")
	h.run(in)

	res := h.completed()
	assert.Equal(t, contract.OutcomeRejected, res.Outcome)
	requireEvent(t, res.Timeline, "alice", contract.SignalApprove, "denied")
}

// A window length without a start opens the window at once and still closes it on time.
func TestRotation_WindowWithoutStartCloses(t *testing.T) {
	h := newRotationHarness(t)
	in := manualInput()
	in.Window = 30 * time.Minute
	h.signalAt(50*time.Minute, contract.SignalApprove, "bob", "")
	h.run(in)

	res := h.completed()
	require.Equal(t, contract.OutcomeWindowClosed, res.Outcome, res.Summary)
	h.assertNotRun("CreatePendingSecret", "ApplySecret", "Deploy")
}

// Someone edits JWT_SECRET by hand while the run waits for its approver: the re-check right
// before any change sees it, and the run stops with nothing changed rather than overwrite it.
func TestRotation_RecheckStopsWhenTheLiveSecretChanged(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterActivity(&activities.Activities{})
	env.OnActivity(acts.LoadPolicy, mock.Anything, "demo").Return(contract.Policy{
		Target: "demo", Approvers: []string{"alice", "bob"}, ApprovalTimeout: time.Hour, ClosedWindow: "end", DeployTimeout: time.Minute,
	}, nil)
	env.OnActivity(acts.PreCheck, mock.Anything, mock.Anything).Return(activities.PreCheckResult{
		OK: true, Current: contract.VersionRef{ID: "v1", Fingerprint: "fp1"}}, nil).Once()
	env.OnActivity(acts.PreCheck, mock.Anything, mock.Anything).Return(activities.PreCheckResult{
		OK: true, Current: contract.VersionRef{ID: "v3", Fingerprint: "fp3"}}, nil).Once()
	env.OnActivity(acts.Announce, mock.Anything, mock.Anything).Return(nil)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(contract.SignalApprove, contract.Decision{Actor: "bob"}) }, 40*time.Minute)
	env.ExecuteWorkflow(SecretRotation, contract.RotationInput{Target: "demo", RequestedBy: "alice", Mode: contract.ModeManual})

	var appErr *temporal.ApplicationError
	require.ErrorAs(t, env.GetWorkflowError(), &appErr)
	var res contract.RotationResult
	require.NoError(t, appErr.Details(&res))
	assert.Equal(t, contract.OutcomePrecheckFailed, res.Outcome)
	assert.Contains(t, res.Cause, "the live secret changed while the run waited")
	requireEvent(t, res.Timeline, systemActor, "re-check before change", contract.StateFailed)
	env.AssertNotCalled(t, "CreatePendingSecret", mock.Anything, mock.Anything)
	env.AssertNotCalled(t, "ApplySecret", mock.Anything, mock.Anything)
}

// The approval policy itself: who may approve a run requested by whom.
func TestApprovalPolicyCheck(t *testing.T) {
	cases := []struct {
		name, actor, requester string
		selfOK                 bool
		want                   string // "" = allowed
	}{
		{"second approver", "bob", "alice", false, ""},
		{"approver for a non-approver's request", "alice", "mallory", false, ""},
		{"requester cannot approve", "alice", "alice", false, "alice requested this run and cannot approve it; a second person must"},
		{"non-approver cannot", "mallory", "alice", false, "mallory is not an approver for this target"},
		{"non-approver cannot even with self approval", "mallory", "mallory", true, "mallory is not an approver for this target"},
		{"no actor", "", "alice", false, "no actor given"},
		{"case matters", "Bob", "alice", false, "Bob is not an approver for this target"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := approvalPolicy{Approvers: []string{"alice", "bob"}, Requester: tc.requester}
			assert.Equal(t, tc.want, p.check(tc.actor))
		})
	}
}
