package workflows

// The hand-over of a target from a rotation to the emergency run that preempts it, from both
// sides. The rotation's side: a pending run ends as preempted with nothing changed, a run that is
// changing the target rolls back first, an escalated run waiting for resolve is superseded; each
// then tells the emergency run (Preemption.By) that the target is free. The emergency run's side:
// it starts its own rotation only once told so, and a cancel while it waits ends it as canceled.

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/authops/authops/contract"
)

// preemptReason is why the emergency run of demo preempts the rotation.
const preemptReason = "stolen tokens replayed from 203.0.113.9"

// releaseStep is how the recorder lists the release signal among the activity calls.
const releaseStep = "signal " + contract.SignalRotationReleased

// releaseSent is one rotation-released signal the rotation sent.
type releaseSent struct {
	To  string // workflow id
	Run string // run id
	At  time.Duration
	Rel contract.Released
}

// preemptHarness is a rotation harness that captures the rotation-released signals the run sends
// to any workflow, and lists each in the recorder's steps, in order with the activities.
type preemptHarness struct {
	*rotationHarness
	releases []releaseSent // guarded by mu
}

func newPreemptHarness(t *testing.T) *preemptHarness {
	t.Helper()
	h := &preemptHarness{rotationHarness: newRotationHarness(t)}
	h.env.OnSignalExternalWorkflow(testNamespace, mock.Anything, mock.Anything, contract.SignalRotationReleased, mock.Anything).Return(
		func(_, id, runID, _ string, arg any) error {
			rel, ok := arg.(contract.Released)
			assert.True(t, ok, "release payload %T", arg)
			at := h.env.Now().Sub(t0)
			h.add(actCall{callInfo: callInfo{Name: releaseStep, At: at}})
			h.mu.Lock()
			defer h.mu.Unlock()
			h.releases = append(h.releases, releaseSent{To: id, Run: runID, At: at, Rel: rel})
			return nil
		})
	return h
}

// preemptAt has the emergency run of demo preempt the rotation at d, as its preempt does: the
// preempt signal, then (when cancel) a cancel request a second later.
func (h *preemptHarness) preemptAt(d time.Duration, cancel bool) {
	h.at(d, func() {
		h.env.SignalWorkflow(contract.SignalPreempt, sealedPreempt(h.id))
	})
	if cancel {
		h.at(d+time.Second, h.env.CancelWorkflow)
	}
}

func (h *preemptHarness) sent() []releaseSent {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]releaseSent(nil), h.releases...)
}

// requireReleased asserts the run told the emergency run of demo, once, at at, that it closed
// with outcome.
func (h *preemptHarness) requireReleased(outcome string, at time.Duration) {
	h.t.Helper()
	rs := h.sent()
	require.Len(h.t, rs, 1, "exactly one release signal")
	assert.Equal(h.t, contract.InvalidationID("demo"), rs[0].To, "sent to Preemption.By")
	assert.Empty(h.t, rs[0].Run, "to the emergency run's current run")
	rel := rs[0].Rel
	require.NotNil(h.t, rel.Seal, "the hand-over is sealed")
	assert.Equal(h.t, contract.SignalRotationReleased, rel.Seal.Kind)
	assert.Equal(h.t, contract.InvalidationID("demo"), rel.Seal.To)
	rel.Seal = nil
	assert.Equal(h.t, contract.Released{RotationID: contract.RotationID("demo"), Outcome: outcome}, rel)
	assert.Equal(h.t, at, rs[0].At)
}

// requireCanceledError asserts the run ended with a CanceledError (preempted and canceled runs do).
func requireCanceledError(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	var canceled *temporal.CanceledError
	require.True(t, errors.As(err, &canceled), "want a CanceledError, got %T %v", err, err)
}

// A rotation waiting for approval is preempted and canceled: it ends as preempted, nothing on the
// target changed, and it tells the emergency run the target is free.
func TestPreempt_PendingRotationEndsPreemptedAndReleases(t *testing.T) {
	h := newPreemptHarness(t)
	self := h.decideAt(5*time.Minute, contract.DecisionApprove, "alice", "") // denied: still waiting
	h.preemptAt(20*time.Minute, true)
	h.run(manualInput())
	self.requireDenied(t, "cannot approve it")

	requireCanceledError(t, h.env.GetWorkflowError())
	// Nothing that changes the target ran; the release is the last thing the run did.
	assert.Equal(t, []string{"LoadPolicy", "PreCheck", releaseStep}, h.steps())
	h.assertNotCalled("CreatePendingSecret", "ApplySecret", "Deploy", "Validate", "PromoteSecret", "RollBackSecret", "MarkSecretFailed")
	h.requireReleased(contract.OutcomePreempted, 20*time.Minute+time.Second)

	tl := h.timeline()
	ev := requireEvent(t, tl, systemActor, "canceled", contract.OutcomePreempted)
	assert.Equal(t, "preempted by "+contract.InvalidationID("demo")+" ("+preemptReason+") before any change", ev.Detail)
	assert.Equal(t, t0.Add(20*time.Minute+time.Second).UTC(), ev.At)
	closed := requireEvent(t, tl, systemActor, "closed", contract.OutcomePreempted)
	assert.Contains(t, closed.Detail, contract.InvalidationID("demo"), "the cause names the emergency run")
	assert.False(t, hasEvent(tl, systemActor, "canceled", contract.OutcomeCanceled))
	assert.False(t, hasEvent(tl, systemActor, "tell "+contract.InvalidationID("demo")+" the target is free", contract.StateFailed))

	s := h.status()
	assert.Equal(t, contract.OutcomePreempted, s.Outcome)
	assert.Equal(t, "closed: "+contract.OutcomePreempted, s.Phase)
	assert.Equal(t, contract.StatePending, checklist(s)[stepGenerate])
}

// The control: a plain cancel, with no emergency run behind it, ends as canceled and signals
// nobody. Without it the test above could pass on a rotation that releases on every cancel.
func TestPreempt_PlainCancelSendsNoRelease(t *testing.T) {
	h := newPreemptHarness(t)
	h.at(20*time.Minute, h.env.CancelWorkflow)
	h.run(manualInput())

	requireCanceledError(t, h.env.GetWorkflowError())
	assert.Empty(t, h.sent(), "no emergency run to tell")
	assert.Equal(t, contract.OutcomeCanceled, h.status().Outcome)
	requireEvent(t, h.timeline(), systemActor, "closed", contract.OutcomeCanceled)
}

// A rotation that is changing the target (its deploy hangs) is preempted and canceled: it first
// restores the previous secret, redeploys and re-validates, then ends as preempted and only then
// tells the emergency run the target is free.
func TestPreempt_RotationInProgressCompensatesBeforeRelease(t *testing.T) {
	h := newPreemptHarness(t)
	h.firstDeployDelay = 10 * time.Minute // the rotation's deploy hangs
	h.decideAt(5*time.Minute, contract.DecisionApprove, "bob", "")
	h.preemptAt(7*time.Minute, true)
	h.run(manualInput())

	requireCanceledError(t, h.env.GetWorkflowError())
	// The compensation undoes the pending version: RollBackSecret since "compensate-with-rollback"
	// (MarkSecretFailed only for a version whose create never answered).
	assert.Equal(t, concat(rotationSteps[:6], restoreSteps, []string{"RollBackSecret(v2)", releaseStep}), h.steps())
	h.assertNotCalled("PromoteSecret", "MarkSecretFailed")

	cancelAt := 7*time.Minute + time.Second
	applies := h.callsNamed("ApplySecret")
	require.Len(t, applies, 2)
	assert.Equal(t, "v1", applies[1].Version, "the previous secret is restored")
	assert.GreaterOrEqual(t, applies[1].At, cancelAt, "restore runs after the cancel")
	lastUndo := h.callsNamed("RollBackSecret")
	require.Len(t, lastUndo, 1)
	rs := h.sent()
	require.Len(t, rs, 1)
	assert.GreaterOrEqual(t, rs[0].At, lastUndo[0].At, "released only once the compensation is done")
	h.requireReleased(contract.OutcomePreempted, rs[0].At)

	tl := h.timeline()
	started := requireEvent(t, tl, systemActor, "rollback", "started")
	assert.Equal(t, "preempted by "+contract.InvalidationID("demo")+" ("+preemptReason+")", started.Detail)
	requireEvent(t, tl, systemActor, "compensate: restore previous secret", contract.StateDone)
	requireEvent(t, tl, systemActor, "compensate: mark new version failed", contract.StateDone)
	closed := requireEvent(t, tl, systemActor, "closed", contract.OutcomePreempted)
	assert.Contains(t, closed.Detail, "Cause: preempted by "+contract.InvalidationID("demo"))
	assert.Subset(t, h.announceKinds(), []string{"rollback", "rolled-back"})

	s := h.status()
	assert.Equal(t, contract.OutcomePreempted, s.Outcome)
	assert.Equal(t, "closed: "+contract.OutcomePreempted, s.Phase)
	assert.Equal(t, contract.StateFailed, checklist(s)[stepRedeploy])
	assert.Equal(t, contract.StatePending, checklist(s)[stepPromote])
}

// A rotation whose rollback failed waits for resolve; an emergency run that takes the target
// supersedes it at once: nobody resolves, the cause says the emergency run takes the target over,
// and the emergency run is told the target is free.
func TestSupersede_EscalatedRotationHandsOver(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cancel bool
	}{
		{name: "preempt signal", cancel: false},
		// The emergency run also requests a cancel; the escalation waits on a disconnected context.
		{name: "preempt signal and cancel", cancel: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newPreemptHarness(t)
			h.deploy = func(int) (contract.DeployResult, error) {
				return contract.DeployResult{}, errors.New("deploy exited 1")
			}
			h.decideAt(5*time.Minute, contract.DecisionApprove, "bob", "")
			var escalated contract.Status
			h.at(10*time.Minute, func() { escalated = h.status() })
			h.preemptAt(12*time.Minute, tc.cancel)
			h.run(manualInput())

			assert.True(t, strings.HasPrefix(escalated.Phase, "escalated"), "phase %q", escalated.Phase)
			res := h.runbookFailed()
			assert.Equal(t, contract.OutcomeSuperseded, res.Outcome)
			assert.Contains(t, res.Cause, "rollback failed")
			assert.Contains(t, res.Cause, "superseded by "+contract.InvalidationID("demo")+" ("+preemptReason+"): its rotation takes the target over")
			assert.NotContains(t, res.Cause, "resolved by")
			assert.Contains(t, res.Summary, contract.OutcomeSuperseded)

			assert.Equal(t, concat(rotationSteps[:6], []string{"Deploy#2", "ApplySecret(v1)", "Deploy", "Deploy#2", "RollBackSecret(v2)", releaseStep}), h.steps())
			h.assertNotCalled("PromoteSecret", "MarkSecretFailed")
			h.requireReleased(contract.OutcomeSuperseded, 12*time.Minute)

			requireEvent(t, res.Timeline, systemActor, "escalation", "waiting for resolve")
			sup := requireEvent(t, res.Timeline, systemActor, "escalation", contract.OutcomeSuperseded)
			assert.Equal(t, "the emergency run "+contract.InvalidationID("demo")+" takes the target over", sup.Detail)
			assert.Equal(t, t0.Add(12*time.Minute).UTC(), sup.At, "superseded when the preemption arrives")
			for _, e := range res.Timeline {
				assert.NotEqual(t, contract.DecisionResolve, e.Action, "nobody resolved: %+v", e)
			}
			closed := requireEvent(t, res.Timeline, systemActor, "closed", contract.OutcomeSuperseded)
			assert.Equal(t, t0.Add(12*time.Minute).UTC(), closed.At)
			assert.Len(t, h.announced("escalation"), 1, "no reminder: it closed before the next one")

			s := h.status()
			assert.Equal(t, contract.OutcomeSuperseded, s.Outcome)
			assert.Equal(t, "closed: "+contract.OutcomeSuperseded, s.Phase)
		})
	}
}

// A preemption that arrives while the failing rollback is still running supersedes the
// escalation before it waits at all.
func TestSupersede_PreemptedDuringRollbackNeverWaits(t *testing.T) {
	h := newPreemptHarness(t)
	// The rotation's deploy fails at once; the restore's first deploy hangs 3m, then fails too.
	h.deploy = func(int) (contract.DeployResult, error) {
		return contract.DeployResult{}, errors.New("deploy exited 1")
	}
	h.env.OnActivity(acts.Deploy, mock.Anything, mock.Anything).Return(contract.DeployResult{}, errors.New("deploy exited 1")).Times(2)
	h.env.OnActivity(acts.Deploy, mock.Anything, mock.Anything).After(3*time.Minute).Return(contract.DeployResult{}, errors.New("restore deploy exited 1")).Once()
	h.decideAt(5*time.Minute, contract.DecisionApprove, "bob", "")
	h.preemptAt(6*time.Minute, false)
	h.run(manualInput())

	res := h.runbookFailed()
	assert.Equal(t, contract.OutcomeSuperseded, res.Outcome)
	assert.Contains(t, res.Cause, "superseded by "+contract.InvalidationID("demo"))
	rs := h.sent()
	require.Len(t, rs, 1)
	assert.Greater(t, rs[0].At, 8*time.Minute, "released after the failed restore, not on the preemption")
	assert.Less(t, rs[0].At, 15*time.Minute, "without waiting for a resolve or a reminder")
	h.requireReleased(contract.OutcomeSuperseded, rs[0].At)
	requireEvent(t, res.Timeline, systemActor, "escalation", contract.OutcomeSuperseded)
	assert.Len(t, h.announced("escalation"), 1)
}

// From the emergency run's side: with a rotation of the target running, it preempts it, waits for
// the rotation's release, and starts its own rotation only then.
func TestHandover_EmergencyWaitsForReleaseBeforeChild(t *testing.T) {
	h := newInvHarness(t)
	h.rotationRunning = true
	var waiting contract.Status
	var childrenBefore int
	h.at(4*time.Minute-time.Second, func() {
		waiting = h.status()
		childrenBefore = len(h.callsNamed("SecretRotation"))
	})
	h.at(4*time.Minute, func() {
		h.env.SignalWorkflow(contract.SignalRotationReleased, sealedRelease(invRotationID, invWorkflowID, contract.OutcomePreempted))
	})
	in := invInput()
	in.BreakGlass = true
	h.run(in)
	res := h.completed()

	assert.Equal(t, contract.OutcomeCompleted, res.Outcome)
	assert.Equal(t, 0, childrenBefore, "no child rotation before the release")
	assert.Equal(t, "rotating secret", waiting.Phase)
	assert.Equal(t, []contract.Preemption{{By: invWorkflowID, Reason: in.Reason}}, h.preempts)
	assert.Equal(t, []string{invRotationID}, h.cancels)

	child := h.callsNamed("SecretRotation")
	require.Len(t, child, 1)
	assert.Equal(t, 4*time.Minute, child[0].At, "the child starts when the release arrives")
	assert.Equal(t, invRotationID, child[0].ChildID)
	assert.Equal(t, contract.ModeEmergency, child[0].Child.Mode)
	// Controls first, then the wait, then the child.
	steps := h.steps()
	assert.Less(t, slices.Index(steps, "RevokeSessions"), slices.Index(steps, "SecretRotation"))

	tl := h.timeline()
	wait := requireEvent(t, tl, systemActor, "preempt rotation", "waiting")
	assert.Equal(t, t0.UTC(), wait.At)
	rel := requireEvent(t, tl, systemActor, "preempt rotation", "released")
	assert.Equal(t, invRotationID+" closed as "+contract.OutcomePreempted, rel.Detail)
	assert.Equal(t, t0.Add(4*time.Minute).UTC(), rel.At)
	assert.Equal(t, invRotationID, res.Rotation)
}

// A rotation that never says it closed (one started before the hand-over existed) does not make
// the emergency run fail: after the wait it records that and starts its child once the id is free.
func TestHandover_EmergencyPollsWithoutRelease(t *testing.T) {
	h := newInvHarness(t)
	h.rotationRunning = true
	in := invInput()
	in.BreakGlass = true
	h.run(in)

	res := h.completed()
	assert.Equal(t, contract.OutcomeCompleted, res.Outcome)
	requireEvent(t, res.Timeline, systemActor, "preempt rotation", "no hand-over")
	assert.False(t, hasEvent(res.Timeline, systemActor, "preempt rotation", "released"))
	child := h.callsNamed("SecretRotation")
	require.Len(t, child, 1)
	assert.Equal(t, 5*time.Minute, child[0].At, "the child starts after the wait for a release")
}

// Canceling the emergency run while it waits for the release ends it as canceled, not as a failed
// rotation: no child starts, and its route restriction is lifted.
func TestHandover_EmergencyCanceledWhileWaitingForRelease(t *testing.T) {
	h := newInvHarness(t)
	h.rotationRunning = true
	h.at(time.Minute, h.env.CancelWorkflow)
	in := invInput()
	in.BreakGlass = true
	h.run(in)

	requireCanceledError(t, h.env.GetWorkflowError())
	h.assertNotRun("SecretRotation")
	lifts := h.callsNamed("LiftRoutes")
	require.Len(t, lifts, 1, "the restriction is compensated")
	assert.Equal(t, time.Minute, lifts[0].At)

	s := h.status()
	assert.Equal(t, contract.OutcomeCanceled, s.Outcome)
	assert.Equal(t, "closed: "+contract.OutcomeCanceled, s.Phase)
	tl := h.timeline()
	requireEvent(t, tl, systemActor, "preempt rotation", "waiting")
	assert.False(t, hasEvent(tl, systemActor, "preempt rotation", "released"))
	closed := requireEvent(t, tl, systemActor, "closed", contract.OutcomeCanceled)
	assert.Equal(t, t0.Add(time.Minute).UTC(), closed.At)
	assert.False(t, hasEvent(tl, systemActor, "closed", contract.OutcomeRotationFailed))
}

// A rotation canceled (here: preempted) while its pre-checks run ends as preempted, not as a
// failed pre-check, and still tells the emergency run.
func TestPreempt_DuringPrecheckEndsPreempted(t *testing.T) {
	h := newPreemptHarness(t)
	h.precheck = func(contract.PreCheckInput) (contract.PreCheckResult, error) {
		// The emergency run takes the target while the checks run; the check then fails.
		h.env.SignalWorkflow(contract.SignalPreempt, sealedPreempt(h.id))
		h.env.CancelWorkflow()
		return contract.PreCheckResult{}, errors.New("backend probe interrupted")
	}
	h.run(manualInput())

	requireCanceledError(t, h.env.GetWorkflowError())
	assert.Equal(t, contract.OutcomePreempted, h.status().Outcome)
	sent := h.sent()
	require.Len(t, sent, 1)
	assert.Equal(t, contract.OutcomePreempted, sent[0].Rel.Outcome)
	assert.False(t, slices.Contains(h.steps(), "CreatePendingSecret"))
}
