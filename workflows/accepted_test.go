package workflows

// "Accepted means applied": a decision that arrives while a run is still starting waits until
// the run can apply it, and is then judged against the real state. Each decision sent at once
// after the start, or at a later wait of the run, is either refused with a reason or visible in
// the run's state at the end.

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authops/authops/contract"
)

// judged asserts d was answered: refused with a reason, or accepted and then visible (applied).
func judged(t *testing.T, d *decision, applied bool) {
	t.Helper()
	require.True(t, d.sent && d.completed, "%s got no answer", d.name)
	require.NoError(t, d.rejected, "%s rejected by the validator, unrecorded", d.name)
	if d.err != nil {
		assert.NotEmpty(t, d.ev.Detail, "%s refused without a reason", d.name)
		return
	}
	assert.Equal(t, "accepted", d.ev.Outcome)
	assert.True(t, applied, "%s answered accepted (%s) but not visible in the run's state", d.name, d.ev.Detail)
}

func TestIncident_DecisionsAtEveryWaitAreApplied(t *testing.T) {
	// 0: while the run loads its policy, verifies its start and declares; a minute: in its loop.
	for _, at := range []time.Duration{0, time.Minute} {
		t.Run(fmt.Sprint(at), func(t *testing.T) {
			h := newIncHarness(t)
			owner := h.decideAt(at, contract.UpdateOwner, "bob", "")
			severity := h.decideAt(at, contract.UpdateSeverity, "alice", "critical")
			note := h.noteAt(at, "carol", "status: watching the login errors", true)
			contain := h.containAt(at, "alice", contract.ContainRequest{Kind: contract.ContainLogLevel, Level: "debug", Reason: "trace the stuffing"})
			verify := h.decideAt(at, contract.UpdateVerify, "dave", "")
			approve := h.actionAt(at, contract.DecisionApprove, "carol", "")
			reject := h.actionAt(at, contract.DecisionReject, "carol", "")
			resolve := h.resolveAt(time.Hour, "bob", incResolve())
			h.run(incInput())
			rep := h.completed()
			var st contract.IncidentStatus
			h.query(contract.QueryIncident, &st)

			judged(t, owner, st.Owner == "bob")
			judged(t, severity, st.Severity == "critical")
			judged(t, note, !st.LastStatusUpdate.IsZero())
			judged(t, contain, slices.ContainsFunc(st.Measures, func(m contract.Measure) bool {
				return m.Request.Kind == contract.ContainLogLevel && m.Request.Level == "debug"
			}))
			judged(t, verify, slices.ContainsFunc(rep.Validations, func(v contract.Validation) bool { return v.Stage == "verify 1 (asked by dave) demo" }))
			judged(t, approve, false)
			judged(t, reject, false)
			resolve.requireAccepted(t)
			// bob took the incident; whatever declare did, it did before his decision.
			owner.requireAccepted(t)
			assert.Equal(t, "bob", st.Owner)
			assert.Equal(t, contract.OutcomeResolved, rep.Outcome)
		})
	}
}

func TestRotation_DecisionsAtEveryWaitAreApplied(t *testing.T) {
	// 0: while the run loads its policy and verifies its start; a minute: waiting for approval.
	for _, at := range []time.Duration{0, time.Minute} {
		t.Run(fmt.Sprint(at), func(t *testing.T) {
			h := newRotationHarness(t)
			approve := h.decideAt(at, contract.DecisionApprove, "bob", "looks right")
			self := h.decideAt(at, contract.DecisionApprove, "alice", "my own")
			rollback := h.decideAt(at, contract.DecisionRollback, "alice", "too early")
			resolve := h.decideAt(at, contract.DecisionResolve, "bob", "nothing to resolve")
			h.run(manualInput())
			res := h.completed()

			judged(t, approve, res.ApprovedBy == "bob")
			judged(t, self, false)
			judged(t, rollback, false)
			judged(t, resolve, false)
			approve.requireAccepted(t)
			assert.Equal(t, contract.OutcomeCompleted, res.Outcome)
		})
	}
}

func TestEmergencyInvalidation_DecisionsAtEveryWaitAreApplied(t *testing.T) {
	// 0: while the run loads its policy and verifies its start; a minute: waiting for its go-ahead.
	for _, at := range []time.Duration{0, time.Minute} {
		t.Run(fmt.Sprint(at), func(t *testing.T) {
			h := newInvHarness(t)
			approve := h.decideAt(at, contract.DecisionApprove, "bob", "go")
			self := h.decideAt(at, contract.DecisionApprove, "alice", "my own")
			lift := h.decideAt(at, contract.DecisionLiftRestrictions, "bob", "too early")
			h.run(invInput())
			res := h.completed()

			judged(t, approve, res.ApprovedBy == "bob")
			judged(t, self, false)
			judged(t, lift, false)
			approve.requireAccepted(t)
			assert.Equal(t, contract.OutcomeCompleted, res.Outcome)
		})
	}
}

// In the observation window, after the rotation: the rollback owner's rollback is applied, and
// an approval or a resolve, which the run no longer takes, is refused with a reason.
func TestRotation_DecisionsInObservationAreApplied(t *testing.T) {
	h := newRotationHarness(t)
	h.decideAt(time.Minute, contract.DecisionApprove, "bob", "looks right")
	approve := h.decideAt(5*time.Minute, contract.DecisionApprove, "carol", "late")
	resolve := h.decideAt(5*time.Minute, contract.DecisionResolve, "bob", "nothing to resolve")
	rollback := h.decideAt(5*time.Minute, contract.DecisionRollback, "alice", "users report logouts")
	h.run(manualInput())
	res := h.completed()

	judged(t, approve, false)
	judged(t, resolve, false)
	rollback.requireAccepted(t)
	judged(t, rollback, res.Outcome == contract.OutcomeRolledBackManually)
}
