package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Breaking glass skips the second person, so someone outside the approvers cannot do it: the run
// changes nothing and says why.
func TestEmergencyInvalidation_BreakGlassOnlyForApprovers(t *testing.T) {
	h := newInvHarness(t)
	in := invInput()
	in.RequestedBy, in.BreakGlass = "mallory", true
	h.run(in)

	appErr := requireAppError(t, h.env.GetWorkflowError())
	assert.Equal(t, ErrTypeInvalidInput, appErr.Type())
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
	h.signalAt(time.Minute, SignalApprove, " alice", "")
	h.signalAt(2*time.Minute, SignalReject, "bob", "")
	h.run(in)

	res := h.completed()
	assert.Equal(t, OutcomeRejected, res.Outcome)
	requireEvent(t, res.Timeline, "alice", SignalApprove, "denied")
}

// A window length without a start opens the window at once and still closes it on time.
func TestRotation_WindowWithoutStartCloses(t *testing.T) {
	h := newRotationHarness(t)
	in := manualInput()
	in.Window = 30 * time.Minute
	h.signalAt(50*time.Minute, SignalApprove, "bob", "")
	h.run(in)

	res := h.completed()
	require.Equal(t, OutcomeWindowClosed, res.Outcome, res.Summary)
	h.assertNotRun("CreatePendingSecret", "ApplySecret", "Deploy")
}
