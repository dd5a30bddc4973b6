package workflows

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authops/authops/contract"
)

// Breaking glass skips the second person, so a person outside the approvers cannot do it, even
// with a valid signed start: the run changes nothing and says why.
func TestEmergencyInvalidation_BreakGlassOnlyForApprovers(t *testing.T) {
	h := newInvHarness(t)
	in := invInput()
	in.RequestedBy, in.BreakGlass = "dave", true
	h.run(in)

	appErr := requireAppError(t, h.env.GetWorkflowError())
	assert.Equal(t, contract.ErrTypeInvalidInput, appErr.Type())
	assert.Contains(t, appErr.Error(), "dave is not one")
	assert.Equal(t, []string{"LoadPolicy"}, h.steps())
	h.assertNotRun("PrepareCanary", "RevokeSessions", "RestrictRoutes", "SecretRotation")
	tl := h.timeline()
	requireEvent(t, tl, "dave", "start", "verified")
	requireEvent(t, tl, "dave", "BREAK GLASS", "denied")
}

// Names are canonical. The requester "alice " is trimmed to alice, whose signed start holds; but
// a decision must name exactly whom its statement is signed for, and a statement must be signed
// for a canonical name: " alice", "bob " and "Bob" are nobody's.
func TestRotation_ActorNamesMustBeCanonical(t *testing.T) {
	h := newRotationHarness(t)
	in := manualInput()
	in.RequestedBy = "alice "
	in.Statement = h.signedStart("alice", contract.ActionStartRotation, in.Reason, in.StartArgs())
	// alice's own statement, under a name with a space: still alice, and refused as such.
	spacedSelf := h.decideWith(time.Minute, contract.DecisionApprove, func() contract.Decision {
		d := h.signed(contract.DecisionApprove, "alice", "")
		d.Actor = " alice"
		return d
	})
	// bob's statement, sent as "bob ".
	spacedDecision := h.decideWith(2*time.Minute, contract.DecisionApprove, func() contract.Decision {
		d := h.signed(contract.DecisionApprove, "bob", "")
		d.Actor = "bob "
		return d
	})
	// A statement signed with bob's key for "bob " or "Bob": no such person.
	spacedStatement := h.decideWith(3*time.Minute, contract.DecisionApprove, func() contract.Decision {
		st := h.statement(contract.DecisionApprove, "bob ", "")
		return contract.Decision{Actor: "bob ", Statement: signAs(t, "bob", st)}
	})
	upper := h.decideWith(4*time.Minute, contract.DecisionApprove, func() contract.Decision {
		st := h.statement(contract.DecisionApprove, "Bob", "")
		return contract.Decision{Actor: "Bob", Statement: signAs(t, "bob", st)}
	})
	var waiting contract.Status
	h.at(5*time.Minute, func() { waiting = h.status() })
	h.decideAt(6*time.Minute, contract.DecisionReject, "bob", "")
	h.run(in)

	res := h.completed()
	assert.Equal(t, contract.OutcomeRejected, res.Outcome)
	assert.Equal(t, "alice", h.status().RequestedBy)
	requireEvent(t, res.Timeline, "alice", "start", "verified")
	for _, c := range []struct {
		d   *decision
		why string
	}{
		{spacedSelf, `the statement is signed for alice, but the decision names " alice"`},
		{spacedDecision, `the statement is signed for bob, but the decision names "bob "`},
		{spacedStatement, `unknown person "bob "`},
		{upper, `unknown person "Bob"`},
	} {
		ev := c.d.requireDenied(t, c.why)
		requireRecorded(t, res.Timeline, ev)
	}
	assert.Equal(t, "approvals 0 of 1; waiting for one more of: bob, carol", waiting.Approvals)
	assert.Empty(t, waiting.ApprovedBy)
	for _, e := range res.Timeline {
		assert.False(t, e.Action == contract.DecisionApprove && e.Outcome == "accepted", "nothing was approved: %+v", e)
	}
	h.assertNotRun("CreatePendingSecret")
}

// A window length without a start opens the window at once and still closes it on time.
func TestRotation_WindowWithoutStartCloses(t *testing.T) {
	h := newRotationHarness(t)
	in := manualInput()
	in.Window = 30 * time.Minute
	late := h.decideAt(50*time.Minute, contract.DecisionApprove, "bob", "")
	h.run(in)

	res := h.completed()
	require.Equal(t, contract.OutcomeWindowClosed, res.Outcome, res.Summary)
	late.requireAccepted(t)
	h.assertNotRun("CreatePendingSecret", "ApplySecret", "Deploy")
}

// Someone edits JWT_SECRET by hand while the run waits for its approver: the re-check right
// before any change sees it, and the run stops with nothing changed rather than overwrite it.
func TestRotation_RecheckStopsWhenTheLiveSecretChanged(t *testing.T) {
	h := newRotationHarness(t)
	var prechecks atomic.Int32
	h.precheck = func(contract.PreCheckInput) (contract.PreCheckResult, error) {
		current := prevV
		if prechecks.Add(1) > 1 {
			current = contract.VersionRef{ID: "v3", Fingerprint: "fp3"}
		}
		return contract.PreCheckResult{OK: true, Current: current}, nil
	}
	h.decideAt(40*time.Minute, contract.DecisionApprove, "bob", "")
	h.run(manualInput())

	res := h.runbookFailed()
	assert.Equal(t, contract.OutcomePrecheckFailed, res.Outcome)
	assert.Contains(t, res.Cause, "the live secret changed while the run waited (v1 fp-prev, now v3 fp3)")
	requireEvent(t, res.Timeline, systemActor, "re-check before change", contract.StateFailed)
	assert.Equal(t, []string{"LoadPolicy", "PreCheck", "PreCheck"}, h.steps())
	h.assertNotCalled("CreatePendingSecret", "ApplySecret", "Deploy", "PromoteSecret")
}

// The approval gate of runs on Updates: who may approve, given the verified actor.
func TestGateMayApprove(t *testing.T) {
	approvers := []string{"alice", "bob", "carol", "schedule:nightly"}
	cases := []struct {
		name, actor, requester string
		closed                 bool
		approved               []string
		want                   string // "" = allowed
	}{
		{name: "second approver", actor: "bob", requester: "alice"},
		{name: "requester", actor: "alice", requester: "alice", want: "alice requested this run and cannot approve it"},
		{name: "not an approver", actor: "dave", requester: "alice", want: "dave is not an approver for this target (approvers: alice, bob, carol, schedule:nightly)"},
		{name: "case matters", actor: "Bob", requester: "alice", want: "Bob is not an approver"},
		{name: "twice", actor: "bob", requester: "alice", approved: []string{"bob"}, want: "bob has already approved; the quorum needs distinct people"},
		{name: "another one", actor: "carol", requester: "alice", approved: []string{"bob"}},
		// Listed as an approver by mistake, a schedule still never approves.
		{name: "unattended schedule", actor: "schedule:nightly", requester: "alice", want: "schedule:nightly is an unattended requester and never approves"},
		{name: "unattended alert", actor: "alert:pagerduty", requester: "alice", want: "alert:pagerduty is an unattended requester and never approves"},
		{name: "closed", actor: "bob", requester: "alice", closed: true, want: "the run is not waiting for approval"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := &gate{rec: newRecord("test", "demo", tc.requester), approvers: approvers, requester: tc.requester, quorum: 2, open: !tc.closed}
			for _, a := range tc.approved {
				g.approvals = append(g.approvals, approval{Actor: a})
			}
			got := g.mayApprove(tc.actor)
			if tc.want == "" {
				assert.Empty(t, got)
				return
			}
			assert.Contains(t, got, tc.want)
		})
	}
}
