package workflows

// Decisions as verified Updates: what the intake refuses, and how a refusal is answered and
// recorded; the start statements of both runbooks; the approval quorum and approvals given
// before the window opens; cancel after the change. The harness is in helpers_test.go.

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/statement"
)

func runInfoWorkflow(ctx workflow.Context) (workflow.Info, error) { return *workflow.GetInfo(ctx), nil }

// Statements must name what the test environment reports for a run: the harness signs for
// testNamespace and testFirstRunID.
func TestHarnessRunInfo(t *testing.T) {
	env := newTestEnv(runInfoWorkflow)
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "rotation-demo"})
	env.ExecuteWorkflow(runInfoWorkflow)
	require.NoError(t, env.GetWorkflowError())
	var info workflow.Info
	require.NoError(t, env.GetWorkflowResult(&info))
	t.Logf("test env run: namespace %q, workflow id %q, run id %q, first run id %q",
		info.Namespace, info.WorkflowExecution.ID, info.WorkflowExecution.RunID, info.FirstRunID)
	assert.Equal(t, testNamespace, info.Namespace)
	assert.Equal(t, "rotation-demo", info.WorkflowExecution.ID)
	assert.Equal(t, testFirstRunID, info.FirstRunID)
}

// assertNothingApproved asserts the rotation ran to its approval timeout and changed nothing.
func assertNothingApproved(t *testing.T, h *rotationHarness, res contract.RotationResult) {
	t.Helper()
	assert.Equal(t, contract.OutcomeExpired, res.Outcome, "the run waited for an approval that never came")
	assert.Equal(t, []string{"LoadPolicy", "PreCheck"}, h.steps())
	h.assertNotCalled("CreatePendingSecret", "ApplySecret", "Deploy", "PromoteSecret")
	assert.Empty(t, res.ApprovedBy)
	for _, e := range res.Timeline {
		assert.NotEqual(t, "accepted", e.Outcome, "nothing may be accepted: %+v", e)
	}
}

// Each decision that no valid, fitting statement backs is refused as it arrives, answered with
// a DecisionDenied error that says why, recorded, and changes nothing.
func TestDecision_Refused(t *testing.T) {
	type build func(h *rotationHarness) contract.Decision
	// signedBy is bob's approval, with the statement changed by edit, signed with key's key.
	signedBy := func(key string, edit func(*contract.Statement)) build {
		return func(h *rotationHarness) contract.Decision {
			st := h.statement(contract.DecisionApprove, "bob", "lgtm")
			if edit != nil {
				edit(&st)
			}
			return contract.Decision{Actor: st.Actor, Comment: "lgtm", Statement: signAs(t, key, st)}
		}
	}
	cases := []struct {
		name   string
		action string // the decision sent; approve unless set
		build  build
		actor  string // as the timeline shows the attempt
		// verified: the statement held, and the runbook's rule refused the decision.
		verified bool
		why      string
	}{
		{name: "unsigned", actor: "bob", why: "unsigned: decisions must be signed",
			build: func(*rotationHarness) contract.Decision { return contract.Decision{Actor: "bob", Comment: "lgtm"} }},
		{name: "signature without a key", actor: "bob", why: "statement key is not a valid SSH public key",
			build: func(h *rotationHarness) contract.Decision {
				d := h.signed(contract.DecisionApprove, "bob", "lgtm")
				d.Statement.Key = ""
				return d
			}},
		{name: "unknown key", actor: "bob", why: "unknown key SHA256:",
			build: signedBy("mallory", nil)},
		{name: "someone else's key", actor: "bob", why: "belongs to carol, not bob",
			build: signedBy("carol", nil)},
		{name: "changed after signing", actor: "bob", why: "bad signature",
			build: func(h *rotationHarness) contract.Decision {
				d := h.signed(contract.DecisionApprove, "bob", "lgtm")
				d.Statement.Statement.Nonce = newNonce(t)
				return d
			}},
		{name: "another workflow", actor: "bob", why: `statement is for workflow "rotation-other", this is "rotation-demo"`,
			build: signedBy("bob", func(st *contract.Statement) { st.WorkflowID = "rotation-other" })},
		{name: "another namespace", actor: "bob", why: `statement is for namespace "prod", this is "default-test-namespace"`,
			build: signedBy("bob", func(st *contract.Statement) { st.Namespace = "prod" })},
		{name: "another run", actor: "bob", why: `statement is for first run "an-earlier-run", this is ""`,
			build: signedBy("bob", func(st *contract.Statement) { st.FirstRunID = "an-earlier-run" })},
		{name: "approve statement used to reject", action: contract.DecisionReject, actor: "bob",
			why: `statement is for action "approve", this is "reject"`, build: signedBy("bob", nil)},
		{name: "comment swapped", actor: "bob", why: "comment does not match the signed one",
			build: func(h *rotationHarness) contract.Decision {
				d := h.signed(contract.DecisionApprove, "bob", "lgtm")
				d.Comment = "lgtm, and also rotate prod"
				return d
			}},
		{name: "expired", actor: "bob", why: "statement expired (issued 2026-03-02T08:00:00Z, more than 5m ago): sign it again",
			build: signedBy("bob", func(st *contract.Statement) { st.IssuedAt = st.IssuedAt.Add(-6 * time.Minute) })},
		{name: "from the future", actor: "bob", why: "statement issued in the future (issued 2026-03-02T08:08:00Z, more than 1m after the run's time 2026-03-02T08:06:00Z)",
			build: signedBy("bob", func(st *contract.Statement) { st.IssuedAt = st.IssuedAt.Add(2 * time.Minute) })},
		{name: "decision names someone else", actor: "carol", why: `the statement is signed for bob, but the decision names "carol"`,
			build: func(h *rotationHarness) contract.Decision {
				d := h.signed(contract.DecisionApprove, "bob", "lgtm")
				d.Actor = "carol"
				return d
			}},
		{name: "unknown person", actor: "mallory", why: `unknown person "mallory": not in people:`,
			build: func(h *rotationHarness) contract.Decision {
				return h.signed(contract.DecisionApprove, "mallory", "lgtm")
			}},
		{name: "non-canonical name", actor: "Bob", why: `unknown person "Bob"`,
			build: signedBy("bob", func(st *contract.Statement) { st.Actor = "Bob" })},
		{name: "unattended schedule", actor: "schedule:x", why: `unknown person "schedule:x"`,
			build: signedBy("bob", func(st *contract.Statement) { st.Actor = "schedule:x" })},
		{name: "alert", actor: "alert:pagerduty", why: `"alert:pagerduty" can only be signed by the gateway`,
			build: signedBy("bob", func(st *contract.Statement) { st.Actor = "alert:pagerduty" })},
		{name: "requester", actor: "alice", verified: true, why: "alice requested this run and cannot approve it; a second person must",
			build: func(h *rotationHarness) contract.Decision { return h.signed(contract.DecisionApprove, "alice", "lgtm") }},
		{name: "not an approver", actor: "dave", verified: true, why: "dave is not an approver for this target (approvers: alice, bob, carol)",
			build: func(h *rotationHarness) contract.Decision { return h.signed(contract.DecisionApprove, "dave", "lgtm") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newRotationHarness(t)
			action := tc.action
			if action == "" {
				action = contract.DecisionApprove
			}
			d := h.decideWith(6*time.Minute, action, func() contract.Decision { return tc.build(h) })
			var after contract.Status
			h.at(7*time.Minute, func() { after = h.status() })
			h.run(manualInput())

			ev := d.requireDenied(t, tc.why)
			assert.Equal(t, tc.actor, ev.Actor)
			assert.Equal(t, t0.Add(6*time.Minute).UTC(), ev.At)
			assert.Equal(t, time.UTC, ev.At.Location())
			assert.Equal(t, tc.verified, ev.Verified)
			res := h.completed()
			requireRecorded(t, res.Timeline, ev)
			assert.Equal(t, "waiting for approval", after.Phase)
			assert.Equal(t, "approvals 0 of 1; waiting for one more of: bob, carol", after.Approvals)
			assertNothingApproved(t, h, res)
		})
	}
}

// A statement counts once: sent again, even unchanged and in time, it is refused.
func TestDecision_ReplayedStatementDenied(t *testing.T) {
	h := newRotationHarness(t)
	h.policy.RotationQuorum = 2
	var signed contract.Decision
	first := h.decideWith(time.Minute, contract.DecisionApprove, func() contract.Decision {
		signed = h.signed(contract.DecisionApprove, "bob", "lgtm")
		return signed
	})
	again := h.decideWith(2*time.Minute, contract.DecisionApprove, func() contract.Decision { return signed })
	var after contract.Status
	h.at(3*time.Minute, func() { after = h.status() })
	h.run(manualInput())

	first.requireAccepted(t)
	ev := again.requireDenied(t, "replayed statement: its nonce was seen before; sign a new one")
	assert.Equal(t, "bob", ev.Actor)
	assert.Equal(t, t0.Add(2*time.Minute).UTC(), ev.At)
	res := h.completed()
	requireRecorded(t, res.Timeline, ev)
	assert.Equal(t, "approvals 1 of 2: bob; waiting for one more of: carol", after.Approvals, "the replay counted for nothing")
	assert.Equal(t, contract.OutcomeExpired, res.Outcome)
	assert.Equal(t, []string{"LoadPolicy", "PreCheck"}, h.steps())
	h.assertNotCalled("CreatePendingSecret")
}

// The start statement's nonce is spent too: it cannot be sent again as a decision.
func TestDecision_StartStatementIsNoDecision(t *testing.T) {
	h := newRotationHarness(t)
	in := manualInput()
	in.Statement = h.signedStart("alice", contract.ActionStartRotation, in.Reason, in.StartArgs())
	start := *in.Statement
	d := h.decideWith(time.Minute, contract.DecisionApprove, func() contract.Decision {
		return contract.Decision{Actor: "alice", Comment: in.Reason, Statement: &start}
	})
	h.run(in)

	ev := d.requireDenied(t, `statement is for action "start:secret-rotation", this is "approve"`)
	res := h.completed()
	requireRecorded(t, res.Timeline, ev)
	assertNothingApproved(t, h, res)
}

// A decision is judged against the phase the run is in when it arrives: approvals and rejections
// only while the run waits for them, a rollback only in the observation window, a resolve only
// while the run is escalated.
func TestDecision_WrongPhaseDenied(t *testing.T) {
	h := newRotationHarness(t)
	early := h.decideAt(2*time.Minute, contract.DecisionRollback, "alice", "too early")
	resolve := h.decideAt(3*time.Minute, contract.DecisionResolve, "bob", "nothing to resolve")
	h.decideAt(5*time.Minute, contract.DecisionApprove, "bob", "")
	lateApprove := h.decideAt(8*time.Minute, contract.DecisionApprove, "carol", "me too")
	lateReject := h.decideAt(9*time.Minute, contract.DecisionReject, "carol", "changed my mind")
	var observing contract.Status
	h.at(10*time.Minute, func() { observing = h.status() })
	h.run(manualInput())

	res := h.completed()
	assert.Equal(t, contract.OutcomeCompleted, res.Outcome, "no denied decision stopped or undid the rotation")
	assert.Equal(t, "bob", res.ApprovedBy)
	assert.Equal(t, rotationSteps, h.steps())
	h.assertNotCalled("RollBackSecret", "MarkSecretFailed")
	assert.Equal(t, "observation window", observing.Phase)
	assert.Equal(t, "bob", observing.ApprovedBy)
	for _, c := range []struct {
		d     *decision
		at    time.Duration
		actor string
		why   string
	}{
		{early, 2 * time.Minute, "alice", "a rollback is taken only during the observation window"},
		{resolve, 3 * time.Minute, "bob", "the run is not escalated; there is nothing to resolve"},
		{lateApprove, 8 * time.Minute, "carol", "the run is not waiting for approval"},
		{lateReject, 9 * time.Minute, "carol", "the run is not waiting for approval"},
	} {
		ev := c.d.requireDenied(t, c.why)
		assert.Equal(t, c.actor, ev.Actor)
		assert.Equal(t, t0.Add(c.at).UTC(), ev.At)
		assert.True(t, ev.Verified, "signed and verified; refused for its timing")
		requireRecorded(t, res.Timeline, ev)
	}
}

// A break-glass run takes no approval at all.
func TestEmergencyInvalidation_BreakGlassTakesNoApproval(t *testing.T) {
	h := newInvHarness(t)
	in := invInput()
	in.BreakGlass = true
	late := h.decideAt(time.Minute, contract.DecisionApprove, "bob", "I agree")
	h.run(in)

	res := h.completed()
	assert.Equal(t, "alice (break glass)", res.ApprovedBy)
	ev := late.requireDenied(t, "the run is not waiting for approval")
	requireRecorded(t, res.Timeline, ev)
}

// The quorum: distinct approvers, never the requester; the run waits until it is met and says
// who it still waits for.
func TestRotation_QuorumOfTwo(t *testing.T) {
	h := newRotationHarness(t)
	h.policy.RotationQuorum = 2
	bob := h.decideAt(5*time.Minute, contract.DecisionApprove, "bob", "lgtm")
	var afterBob contract.Status
	h.at(6*time.Minute, func() { afterBob = h.status() })
	bobAgain := h.decideAt(7*time.Minute, contract.DecisionApprove, "bob", "really, lgtm")
	alice := h.decideAt(8*time.Minute, contract.DecisionApprove, "alice", "so that makes two")
	var beforeCarol contract.Status
	h.at(9*time.Minute, func() { beforeCarol = h.status() })
	carol := h.decideAt(10*time.Minute, contract.DecisionApprove, "carol", "ok")
	h.run(manualInput())

	first := bob.requireAccepted(t)
	assert.Equal(t, "approvals 1 of 2: bob; waiting for one more of: carol; lgtm", first.Detail)
	assert.Equal(t, "approvals 1 of 2: bob; waiting for one more of: carol", afterBob.Approvals, "the requester alice is not among those awaited")
	assert.Equal(t, "waiting for approval", afterBob.Phase)
	assert.Equal(t, contract.StatePending, checklist(afterBob)[stepGenerate])
	twice := bobAgain.requireDenied(t, "bob has already approved; the quorum needs distinct people")
	self := alice.requireDenied(t, "alice requested this run and cannot approve it")
	assert.Equal(t, "approvals 1 of 2: bob; waiting for one more of: carol", beforeCarol.Approvals, "denied approvals count for nothing")
	assert.Equal(t, "waiting for approval", beforeCarol.Phase)
	second := carol.requireAccepted(t)
	assert.Equal(t, "approvals 2 of 2: bob, carol; ok", second.Detail)

	res := h.completed()
	assert.Equal(t, contract.OutcomeCompleted, res.Outcome)
	assert.Equal(t, "bob, carol", res.ApprovedBy)
	assert.Equal(t, rotationSteps, h.steps())
	create := h.callsNamed("CreatePendingSecret")
	require.Len(t, create, 1)
	assert.Equal(t, 10*time.Minute, create[0].At, "the rotation waits for the quorum, not the first approval")
	for _, ev := range []contract.Event{first, twice, self, second} {
		requireRecorded(t, res.Timeline, ev)
	}
	step := requireEvent(t, res.Timeline, systemActor, stepApproval, contract.StateDone)
	assert.Equal(t, "approved by bob, carol", step.Detail)
	s := h.status()
	assert.Equal(t, "bob, carol", s.ApprovedBy)
	assert.Equal(t, "approvals 2 of 2: bob, carol", s.Approvals)
	assert.Contains(t, res.Summary, "approved by bob, carol")
}

// An approval given before the window opens is taken, and takes effect when the window opens;
// one given much earlier than ApprovalValidity before that expires then.
func TestRotation_ApprovalBeforeTheWindow(t *testing.T) {
	t.Run("takes effect when the window opens", func(t *testing.T) {
		h := newRotationHarness(t)
		in := manualInput()
		in.WindowStart = t0.Add(2 * time.Hour)
		early := h.decideAt(10*time.Minute, contract.DecisionApprove, "bob", "ahead of time")
		var waiting contract.Status
		h.at(time.Hour, func() { waiting = h.status() })
		h.run(in)

		ev := early.requireAccepted(t)
		assert.Equal(t, t0.Add(10*time.Minute).UTC(), ev.At, "recorded when given, not when the window opens")
		assert.Contains(t, ev.Detail, "takes effect when the window opens at 2026-03-02T10:00:00Z")
		assert.Equal(t, "takes effect when the window opens at 2026-03-02T10:00:00Z; approvals 1 of 1: bob; ahead of time", ev.Detail)
		assert.Equal(t, "waiting for window", waiting.Phase)
		assert.Equal(t, "approvals 1 of 1: bob", waiting.Approvals)

		res := h.completed()
		assert.Equal(t, contract.OutcomeCompleted, res.Outcome)
		assert.Equal(t, "bob", res.ApprovedBy)
		requireRecorded(t, res.Timeline, ev)
		create := h.callsNamed("CreatePendingSecret")
		require.Len(t, create, 1)
		assert.Equal(t, 2*time.Hour, create[0].At, "the rotation starts when the window opens")
		assert.False(t, hasEvent(res.Timeline, systemActor, "approval by bob", "expired"))
	})

	t.Run("kept within its validity", func(t *testing.T) {
		h := newRotationHarness(t)
		h.policy.ApprovalValidity = time.Hour
		in := manualInput()
		in.WindowStart = t0.Add(time.Hour)
		early := h.decideAt(10*time.Minute, contract.DecisionApprove, "bob", "")
		h.run(in)
		early.requireAccepted(t)

		res := h.completed()
		assert.Equal(t, contract.OutcomeCompleted, res.Outcome)
		create := h.callsNamed("CreatePendingSecret")
		require.Len(t, create, 1)
		assert.Equal(t, time.Hour, create[0].At)
		assert.False(t, hasEvent(res.Timeline, systemActor, "approval by bob", "expired"))
	})

	t.Run("expires when the window opens much later", func(t *testing.T) {
		h := newRotationHarness(t)
		h.policy.ApprovalValidity = time.Hour
		in := manualInput()
		in.WindowStart = t0.Add(3 * time.Hour)
		early := h.decideAt(10*time.Minute, contract.DecisionApprove, "bob", "ahead of time")
		var waiting contract.Status
		h.at(3*time.Hour+5*time.Minute, func() { waiting = h.status() })
		fresh := h.decideAt(3*time.Hour+10*time.Minute, contract.DecisionApprove, "bob", "still good")
		h.run(in)

		ev := early.requireAccepted(t)
		assert.Contains(t, ev.Detail, "takes effect when the window opens at 2026-03-02T11:00:00Z")
		// At the window, the stale approval is dropped and the run waits for a fresh one.
		assert.Equal(t, "waiting for approval", waiting.Phase)
		assert.Equal(t, "approvals 0 of 1; waiting for one more of: bob, carol", waiting.Approvals)
		assert.Equal(t, contract.StatePending, checklist(waiting)[stepGenerate])
		fresh.requireAccepted(t)

		res := h.completed()
		assert.Equal(t, contract.OutcomeCompleted, res.Outcome)
		assert.Equal(t, "bob", res.ApprovedBy)
		exp := requireEvent(t, res.Timeline, systemActor, "approval by bob", "expired")
		assert.Equal(t, t0.Add(3*time.Hour).UTC(), exp.At)
		assert.Contains(t, exp.Detail, "given at 2026-03-02T08:10:00Z, more than 1h0m0s before the window opened; approve again")
		create := h.callsNamed("CreatePendingSecret")
		require.Len(t, create, 1)
		assert.Equal(t, 3*time.Hour+10*time.Minute, create[0].At, "the stale approval did not start the rotation")
	})
}

// Once an approval expires, the status must not name its giver as approver any more.
func TestRotation_ExpiredApprovalLeavesNoApprover(t *testing.T) {
	h := newRotationHarness(t)
	h.policy.ApprovalValidity = time.Hour
	in := manualInput()
	in.WindowStart = t0.Add(3 * time.Hour)
	h.decideAt(10*time.Minute, contract.DecisionApprove, "bob", "ahead of time")
	var waiting contract.Status
	h.at(3*time.Hour+5*time.Minute, func() { waiting = h.status() })
	h.run(in)

	assert.Equal(t, "approvals 0 of 1; waiting for one more of: bob, carol", waiting.Approvals)
	assert.Empty(t, waiting.ApprovedBy, "the expired approval no longer counts")
	assert.Equal(t, contract.OutcomeExpired, h.completed().Outcome)
}

// Canceled while the rollback owner may still roll back: the rotation is done and validated,
// so the run ends canceled with the new secret live and nothing undone.
func TestRotation_CanceledDuringObservationWindow(t *testing.T) {
	h := newRotationHarness(t)
	h.decideAt(5*time.Minute, contract.DecisionApprove, "bob", "")
	h.at(10*time.Minute, func() { h.env.CancelWorkflow() })
	h.run(manualInput())

	err := h.env.GetWorkflowError()
	require.Error(t, err)
	var canceled *temporal.CanceledError
	require.True(t, errors.As(err, &canceled), "want a CanceledError, got %v", err)
	var summary string
	require.NoError(t, canceled.Details(&summary))
	assert.Contains(t, summary, "Rotation of demo: canceled.")
	assert.Contains(t, summary, "the new secret stays live, validated")

	assert.Equal(t, rotationSteps, h.steps(), "no rollback after a cancel: the rotation was complete")
	h.assertNotCalled("RollBackSecret", "MarkSecretFailed")
	assert.Len(t, h.callsNamed("ApplySecret"), 1)
	assert.Empty(t, h.announced("rollback"))

	s := h.status()
	assert.Equal(t, contract.OutcomeCanceled, s.Outcome)
	assert.Equal(t, "closed: canceled", s.Phase)
	assert.Equal(t, "bob", s.ApprovedBy)
	assert.Equal(t, contract.StateDone, checklist(s)[stepPromote])
	assert.Equal(t, contract.StateSkipped, checklist(s)[stepObserve])
	tl := h.timeline()
	obs := requireEvent(t, tl, systemActor, stepObserve, contract.StateSkipped)
	assert.Equal(t, t0.Add(10*time.Minute).UTC(), obs.At)
	assert.Contains(t, obs.Detail, "canceled during the observation window")
	closed := requireEvent(t, tl, systemActor, "closed", contract.OutcomeCanceled)
	assert.Equal(t, t0.Add(10*time.Minute).UTC(), closed.At)
	assert.False(t, hasEvent(tl, systemActor, "rollback", "started"))
}

// Canceled while the routes stay restricted: the run lifts them, then ends canceled; the
// cutover stays verified.
func TestEmergencyInvalidation_CanceledWhileRoutesRestricted(t *testing.T) {
	h := newInvHarness(t)
	h.approveAt(time.Minute, "bob")
	h.at(10*time.Minute, h.env.CancelWorkflow)
	h.run(invInput())

	err := h.env.GetWorkflowError()
	require.Error(t, err)
	var canceled *temporal.CanceledError
	require.True(t, errors.As(err, &canceled), "want a CanceledError, got %v", err)
	var summary string
	require.NoError(t, canceled.Details(&summary))
	assert.Contains(t, summary, "Emergency invalidation of demo: canceled.")
	assert.Contains(t, summary, "they were lifted, and the cutover stays verified")

	lifts := h.callsNamed("LiftRoutes")
	require.Len(t, lifts, 1)
	assert.Equal(t, 10*time.Minute, lifts[0].At, "lifted at the cancel, not at the TTL")
	assert.Equal(t, []string{"SecretRotation", "CleanupCanary", "LiftRoutes"}, h.steps()[4:])
	lifted := h.messages("restrictions-lifted")
	require.Len(t, lifted, 1)
	assert.Contains(t, lifted[0].Text, "run canceled")

	s := h.status()
	assert.Equal(t, contract.OutcomeCanceled, s.Outcome)
	assert.Equal(t, "closed: canceled", s.Phase)
	assert.Equal(t, contract.StateDone, checklist(s)[stepLift])
	assert.NotContains(t, s.Active, "routes /admin answer 503")
	tl := h.timeline()
	lift := requireEvent(t, tl, systemActor, stepLift, contract.StateDone)
	assert.Equal(t, "run canceled", lift.Detail)
	closed := requireEvent(t, tl, systemActor, "closed", contract.OutcomeCanceled)
	assert.Equal(t, t0.Add(10*time.Minute).UTC(), closed.At)
}

// A rotation starts only when its requester signed its start, under its own id; a scheduled one
// only as the child of the target's schedule.
func TestRotation_StartRefused(t *testing.T) {
	cases := []struct {
		name  string
		id    string // workflow id; rotation-demo unless set
		input func(h *rotationHarness) contract.RotationInput
		why   string
	}{
		{name: "unsigned", why: "start refused: unsigned",
			input: func(*rotationHarness) contract.RotationInput { return manualInput() }},
		{name: "signed by someone else", why: `start refused: the statement is signed for bob, but the run names "alice" as requester`,
			input: func(h *rotationHarness) contract.RotationInput {
				in := manualInput()
				in.Statement = h.signedStart("bob", contract.ActionStartRotation, in.Reason, in.StartArgs())
				return in
			}},
		{name: "another reason", why: "start refused: comment does not match the signed one",
			input: func(h *rotationHarness) contract.RotationInput {
				in := manualInput()
				in.Statement = h.signedStart("alice", contract.ActionStartRotation, "something harmless", in.StartArgs())
				return in
			}},
		{name: "statement for another runbook", why: `start refused: statement is for action "start:emergency-invalidation", this is "start:secret-rotation"`,
			input: func(h *rotationHarness) contract.RotationInput {
				in := manualInput()
				in.Statement = h.signedStart("alice", contract.ActionStartInvalidation, in.Reason, in.StartArgs())
				return in
			}},
		{name: "expired statement", why: "start refused: statement expired",
			input: func(h *rotationHarness) contract.RotationInput {
				in := manualInput()
				st := h.signedStart("alice", contract.ActionStartRotation, in.Reason, in.StartArgs()).Statement
				st.IssuedAt = t0.Add(-6 * time.Minute)
				in.Statement = signAs(t, "alice", st)
				return in
			}},
		{name: "control characters in the reason", why: "reason holds a control character",
			input: func(h *rotationHarness) contract.RotationInput {
				in := manualInput()
				in.Reason = "hygiene\n09:00 bob approve accepted"
				in.Statement = h.signedStart("alice", contract.ActionStartRotation, in.Reason, in.StartArgs())
				return in
			}},
		{name: "window too far ahead", why: "is more than 720h0m0s ahead (rotation.max_window_ahead)",
			input: func(h *rotationHarness) contract.RotationInput {
				h.policy.MaxWindowAhead = 30 * 24 * time.Hour
				in := manualInput()
				in.WindowStart = t0.Add(31 * 24 * time.Hour)
				in.Statement = h.signedStart("alice", contract.ActionStartRotation, in.Reason, in.StartArgs())
				return in
			}},
		{name: "another id", id: "rotation-other", why: "a rotation of demo runs only under the id rotation-demo, not rotation-other",
			input: func(h *rotationHarness) contract.RotationInput {
				in := manualInput()
				in.Statement = h.signedStart("alice", contract.ActionStartRotation, in.Reason, in.StartArgs())
				return in
			}},
		{name: "scheduled without the schedule", why: "a scheduled rotation is started only by the target's schedule",
			input: func(*rotationHarness) contract.RotationInput {
				return contract.RotationInput{Target: "demo", Reason: "scheduled key hygiene (nightly)", RequestedBy: "schedule:nightly",
					Mode: contract.ModeScheduled, WindowStart: t0, Window: time.Hour}
			}},
		{name: "scheduled by a person", why: "a scheduled rotation is started only by the target's schedule",
			input: func(h *rotationHarness) contract.RotationInput {
				in := manualInput()
				in.Mode, in.WindowStart, in.Window = contract.ModeScheduled, t0, time.Hour
				in.Statement = h.signedStart("alice", contract.ActionStartRotation, in.Reason, in.StartArgs())
				return in
			}},
		{name: "rollback owner nobody", why: `rollback owner "mallory" is not a person in the config`,
			input: func(h *rotationHarness) contract.RotationInput {
				in := manualInput()
				in.RollbackOwner = "mallory"
				in.Statement = h.signedStart("alice", contract.ActionStartRotation, in.Reason, in.StartArgs())
				return in
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := tc.id
			if id == "" {
				id = contract.RotationID("demo")
			}
			h := newRotationHarnessID(t, id)
			h.runRaw(tc.input(h))

			appErr := requireAppError(t, h.env.GetWorkflowError())
			assert.Equal(t, contract.ErrTypeInvalidInput, appErr.Type())
			assert.True(t, appErr.NonRetryable())
			assert.Contains(t, appErr.Error(), tc.why)
			assert.Equal(t, []string{"LoadPolicy"}, h.steps(), "only the policy, to know the people")
			h.assertNotCalled("PreCheck", "CreatePendingSecret", "Announce")
			tl := h.timeline()
			refused := requireEvent(t, tl, systemActor, "start", "refused")
			assert.Contains(t, refused.Detail, tc.why)
			assert.Equal(t, t0.UTC(), refused.At)
			for _, e := range tl {
				assert.NotEqual(t, "verified", e.Outcome, "%+v", e)
			}
		})
	}
}

// An emergency run starts only when its requester signed exactly its start, break glass
// included, and only under invalidate-<target>.
func TestEmergencyInvalidation_StartRefused(t *testing.T) {
	cases := []struct {
		name  string
		id    string // workflow id; invalidate-demo unless set
		input func(h *invHarness) contract.InvalidationInput
		why   string
	}{
		{name: "unsigned", why: "start refused: unsigned",
			input: func(*invHarness) contract.InvalidationInput { return invInput() }},
		{name: "break glass unsigned", why: "start refused: unsigned",
			input: func(*invHarness) contract.InvalidationInput {
				in := invInput()
				in.BreakGlass = true
				return in
			}},
		{name: "break glass on a plain start", why: `start refused: statement is for action "start:emergency-invalidation", this is "start:emergency-invalidation+break-glass"`,
			input: func(h *invHarness) contract.InvalidationInput {
				in := invInput()
				in.Statement = h.signedStart("alice", contract.ActionStartInvalidation, in.Reason, in.StartArgs())
				in.BreakGlass = true
				return in
			}},
		{name: "plain run on a break-glass start", why: `start refused: statement is for action "start:emergency-invalidation+break-glass", this is "start:emergency-invalidation"`,
			input: func(h *invHarness) contract.InvalidationInput {
				in := invInput()
				in.Statement = h.signedStart("alice", contract.ActionStartInvalidation+contract.BreakGlassSuffix, in.Reason, in.StartArgs())
				return in
			}},
		{name: "signed by someone else", why: `start refused: the statement is signed for bob, but the run names "alice" as requester`,
			input: func(h *invHarness) contract.InvalidationInput {
				in := invInput()
				in.Statement = h.signedStart("bob", contract.ActionStartInvalidation, in.Reason, in.StartArgs())
				return in
			}},
		{name: "unknown requester", why: `start refused: unknown person "mallory"`,
			input: func(h *invHarness) contract.InvalidationInput {
				in := invInput()
				in.RequestedBy = "mallory"
				in.Statement = h.signedStart("mallory", contract.ActionStartInvalidation, in.Reason, in.StartArgs())
				return in
			}},
		{name: "another id", id: "invalidate-demo-1234", why: "an emergency run on demo runs only under the id invalidate-demo, not invalidate-demo-1234",
			input: func(h *invHarness) contract.InvalidationInput {
				in := invInput()
				in.Statement = h.signedStart("alice", contract.ActionStartInvalidation, in.Reason, in.StartArgs())
				return in
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := tc.id
			if id == "" {
				id = invWorkflowID
			}
			h := newInvHarnessID(t, id)
			h.runRaw(tc.input(h))

			appErr := requireAppError(t, h.env.GetWorkflowError())
			assert.Equal(t, contract.ErrTypeInvalidInput, appErr.Type())
			assert.True(t, appErr.NonRetryable())
			assert.Contains(t, appErr.Error(), tc.why)
			assert.Equal(t, []string{"LoadPolicy"}, h.steps())
			h.assertNotRun("Announce", "PrepareCanary", "RevokeSessions", "RestrictRoutes", "SecretRotation")
			assert.Empty(t, h.upserts, "nothing flags a refused run as break glass")
			tl := h.timeline()
			refused := requireEvent(t, tl, systemActor, "start", "refused")
			assert.Contains(t, refused.Detail, tc.why)
			assert.False(t, hasEvent(tl, "alice", "BREAK GLASS", "proceeding without a second approver"))
		})
	}
}

// scheduleParent stands in for ScheduledRotation, under the schedule's workflow id: it starts
// the rotation as its child and, unlike the real one, waits for it, so the test sees it through.
func scheduleParent(ctx workflow.Context, in contract.RotationInput) (contract.RotationResult, error) {
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{WorkflowID: contract.RotationID(in.Target)})
	var res contract.RotationResult
	err := workflow.ExecuteChildWorkflow(cctx, SecretRotation, in).Get(ctx, &res)
	return res, err
}

// A scheduled rotation started by the target's schedule needs no statement; its unattended
// requester never approves, and its first approver owns the rollback.
func TestRotation_ScheduledByTheSchedule(t *testing.T) {
	h := newRotationHarness(t)
	h.env.RegisterWorkflow(scheduleParent)
	h.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: contract.ScheduledRotationWorkflowID("demo") + "-2026-03-02T08:00:00Z"})
	h.child = true
	machine := h.decideWith(time.Minute, contract.DecisionApprove, func() contract.Decision {
		st := h.statement(contract.DecisionApprove, "schedule:nightly", "")
		return contract.Decision{Actor: "schedule:nightly", Statement: signAs(t, "alice", st)}
	})
	bob := h.decideAt(2*time.Minute, contract.DecisionApprove, "bob", "routine")
	h.mockActivities()
	h.execute(scheduleParent, contract.RotationInput{Target: "demo", Reason: "scheduled key hygiene (nightly)",
		RequestedBy: "schedule:nightly", Mode: contract.ModeScheduled, WindowStart: t0, Window: time.Hour})

	require.NoError(t, h.env.GetWorkflowError())
	var res contract.RotationResult
	require.NoError(t, h.env.GetWorkflowResult(&res))
	assert.Equal(t, contract.OutcomeCompleted, res.Outcome)
	assert.Equal(t, "bob", res.ApprovedBy)
	assert.Equal(t, rotationSteps, h.steps())
	ev := machine.requireDenied(t, `unknown person "schedule:nightly"`)
	requireRecorded(t, res.Timeline, ev)
	ok := bob.requireAccepted(t)
	requireRecorded(t, res.Timeline, ok)
	step := requireEvent(t, res.Timeline, systemActor, stepApproval, contract.StateDone)
	assert.Equal(t, "approved by bob; rollback owner bob", step.Detail)
	assert.False(t, hasEvent(res.Timeline, systemActor, "start", "refused"))
}

// The statement fields the harness signs are the ones the run checks: a statement signed by the
// harness verifies against the policy's people as the run would verify it.
func TestHarnessStatementsVerify(t *testing.T) {
	h := newRotationHarness(t)
	st := h.signedStart("alice", contract.ActionStartRotation, "why", "")
	v, err := statement.Verify(st, basePolicy("#x").People, nil, statement.Expect{
		Namespace: testNamespace, WorkflowID: "rotation-demo", Action: contract.ActionStartRotation, Comment: "why", Now: t0,
	})
	require.NoError(t, err)
	assert.Equal(t, "alice", v.Person)
	_, err = statement.Verify(signAs(t, "dave", st.Statement), basePolicy("#x").People, nil, statement.Expect{
		Namespace: testNamespace, WorkflowID: "rotation-demo", Action: contract.ActionStartRotation, Comment: "why", Now: t0,
	})
	require.Error(t, err, "dave's key does not speak for alice")
}

// A signed cancel from someone the runbook allows stops the run as a cancel from outside would,
// and the run says who canceled and why; others, and a cancel without a reason, are refused.
func TestRotation_SignedCancel(t *testing.T) {
	h := newRotationHarness(t)
	dave := h.decideAt(2*time.Minute, contract.DecisionCancel, "dave", "not my run, but still")
	noReason := h.decideAt(3*time.Minute, contract.DecisionCancel, "bob", "")
	var waiting contract.Status
	h.at(4*time.Minute, func() { waiting = h.status() })
	bob := h.decideAt(5*time.Minute, contract.DecisionCancel, "bob", "freeze week")
	h.run(manualInput())

	err := h.env.GetWorkflowError()
	require.Error(t, err)
	assert.True(t, temporal.IsCanceledError(err), "want canceled, got %v", err)
	tl := h.timeline()
	for _, c := range []struct {
		d   *decision
		why string
	}{{dave, "dave may not cancel this run"}, {noReason, "a cancel needs a reason"}} {
		ev := c.d.requireDenied(t, c.why)
		assert.True(t, ev.Verified)
		requireRecorded(t, tl, ev)
	}
	assert.Equal(t, "waiting for approval", waiting.Phase, "the refused cancels stopped nothing")
	ok := bob.requireAccepted(t)
	assert.Equal(t, t0.Add(5*time.Minute).UTC(), ok.At)
	requireRecorded(t, tl, ok)

	assert.Equal(t, []string{"LoadPolicy", "PreCheck"}, h.steps())
	h.assertNotCalled("CreatePendingSecret", "ApplySecret")
	ev := requireEvent(t, tl, systemActor, "canceled", contract.OutcomeCanceled)
	assert.Equal(t, "canceled by bob: freeze week; before any change", ev.Detail)
	assert.Equal(t, t0.Add(5*time.Minute).UTC(), ev.At)
	s := h.status()
	assert.Equal(t, contract.OutcomeCanceled, s.Outcome)
	assert.Equal(t, "closed: canceled", s.Phase)
}

// An emergency run's requester may call it off while it waits for the go-ahead: nothing changed,
// and the canary session is cleaned up.
func TestEmergencyInvalidation_SignedCancelWhileWaiting(t *testing.T) {
	h := newInvHarness(t)
	dave := h.decideAt(time.Minute, contract.DecisionCancel, "dave", "let me")
	alice := h.decideAt(2*time.Minute, contract.DecisionCancel, "alice", "false alarm")
	h.run(invInput())

	err := h.env.GetWorkflowError()
	var canceled *temporal.CanceledError
	require.True(t, errors.As(err, &canceled), "want a CanceledError, got %v", err)
	var summary string
	require.NoError(t, canceled.Details(&summary))
	assert.Contains(t, summary, "canceled by alice: false alarm")
	tl := h.timeline()
	requireRecorded(t, tl, dave.requireDenied(t, "dave may not cancel this run"))
	requireRecorded(t, tl, alice.requireAccepted(t))
	assert.Equal(t, []string{"LoadPolicy", "PrepareCanary", "CleanupCanary"}, h.steps())
	h.assertNotRun("RevokeSessions", "RestrictRoutes", "SecretRotation")
	closed := requireEvent(t, tl, systemActor, "closed", contract.OutcomeCanceled)
	assert.Equal(t, t0.Add(2*time.Minute).UTC(), closed.At)
	assert.Contains(t, closed.Detail, "canceled by alice: false alarm")
}
