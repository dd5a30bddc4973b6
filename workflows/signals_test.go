package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/authops/authops/contract"
)

// A signal whose payload does not decode (here a bare string, as a hand-typed
// `temporal workflow signal --input '"bob"'` would send) is recorded as denied, approves nothing,
// and does not hold up the approval timeout.
func TestMalformedSignalIsRecordedAndIgnored(t *testing.T) {
	h := newRotationHarness(t)
	h.at(time.Minute, func() { h.env.SignalWorkflow(contract.DecisionApprove, "bob") })
	h.run(manualInput())

	res := h.completed()
	require.Equal(t, contract.OutcomeExpired, res.Outcome)
	ev := requireEvent(t, res.Timeline, "unknown", contract.DecisionApprove, "denied")
	assert.Equal(t, t0.Add(time.Minute).UTC(), ev.At)
	assert.Equal(t, "signal", ev.Via)
	assert.False(t, ev.Verified)
	assert.Contains(t, ev.Detail, "malformed payload")
	for _, e := range res.Timeline {
		require.NotEqual(t, "accepted", e.Outcome, "nothing may be approved: %+v", e)
	}
	closed := requireEvent(t, res.Timeline, systemActor, "closed", contract.OutcomeExpired)
	assert.Equal(t, t0.Add(time.Hour).UTC(), closed.At, "the approval timeout still ran its course")
	assert.Equal(t, []string{"LoadPolicy", "PreCheck"}, h.steps())
	h.assertNotCalled("CreatePendingSecret")
}

// A decision sent as a signal takes the Update's path: an unsigned one is refused and recorded,
// a signed one counts, and the timeline says it came as a signal.
func TestSignalDecisionsAreVerifiedLikeUpdates(t *testing.T) {
	h := newRotationHarness(t)
	h.at(time.Minute, func() {
		h.env.SignalWorkflow(contract.DecisionApprove, contract.Decision{Actor: "bob", Comment: "typed, not signed"})
	})
	var waiting contract.Status
	h.at(2*time.Minute, func() { waiting = h.status() })
	h.signalAt(3*time.Minute, contract.DecisionApprove, "bob", "signed")
	h.run(manualInput())

	res := h.completed()
	assert.Equal(t, contract.OutcomeCompleted, res.Outcome)
	assert.Equal(t, "bob", res.ApprovedBy)
	assert.Equal(t, "waiting for approval", waiting.Phase, "the unsigned signal approved nothing")
	assert.Empty(t, waiting.ApprovedBy)

	unsigned := requireEvent(t, res.Timeline, "bob", contract.DecisionApprove, "denied")
	assert.Equal(t, t0.Add(time.Minute).UTC(), unsigned.At)
	assert.Equal(t, "signal", unsigned.Via)
	assert.False(t, unsigned.Verified)
	assert.Contains(t, unsigned.Detail, "unsigned: decisions must be signed")
	signed := requireEvent(t, res.Timeline, "bob", contract.DecisionApprove, "accepted")
	assert.Equal(t, t0.Add(3*time.Minute).UTC(), signed.At)
	assert.Equal(t, "signal", signed.Via)
	assert.True(t, signed.Verified)
	assert.Empty(t, signed.UpdateID)
	assert.Equal(t, "approvals 1 of 1: bob; signed", signed.Detail)
	create := h.callsNamed("CreatePendingSecret")
	require.Len(t, create, 1)
	assert.Equal(t, 3*time.Minute, create[0].At)
}

// A promotion whose answer was lost (it may have committed: the store then holds v2 as current)
// is undone with RollBackSecret, which handles a pending and a current version alike;
// MarkSecretFailed would refuse a current one and leave the store ahead of the env file.
func TestRotation_LostPromotionIsRolledBack(t *testing.T) {
	h := newRotationHarness(t)
	h.promote = func(contract.VersionInput) error {
		return temporal.NewNonRetryableApplicationError("store answer lost", contract.ErrTypeConflict, nil)
	}
	h.decideAt(time.Minute, contract.DecisionApprove, "bob", "")
	h.run(manualInput())

	res := h.runbookFailed()
	require.Equal(t, contract.OutcomeRolledBack, res.Outcome)
	assert.Contains(t, res.Cause, "store answer lost")
	assert.Equal(t, concat(rotationSteps, restoreSteps, []string{"RollBackSecret(v2)"}), h.steps())
	h.assertNotCalled("MarkSecretFailed")
}
