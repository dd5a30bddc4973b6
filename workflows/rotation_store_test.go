package workflows

// An emergency rotation that finds a pending version a closed run left behind, or an env sink
// that drifted from the store, takes the target over (supersede, adopt the live secret, rotate);
// an escalation that may leave a pending version says how to settle it; a resolve reads the
// store again and says what is left.

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/authops/authops/contract"
)

var (
	staleV = contract.VersionRef{ID: "v3-dead0001", Fingerprint: "fp-stale"}
	liveV  = contract.VersionRef{ID: "v4-11ve0002", Fingerprint: "fp-live"}
)

const staleRun = "rotation-demo/run-before"

// emergencyParent stands in for EmergencyInvalidation under its id: it starts the rotation of
// the target as its emergency-mode child and waits for it.
func emergencyParent(ctx workflow.Context, in contract.RotationInput) (contract.RotationResult, error) {
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{WorkflowID: contract.RotationID(in.Target)})
	var res contract.RotationResult
	err := workflow.ExecuteChildWorkflow(cctx, SecretRotation, in).Get(ctx, &res)
	return res, err
}

func emergencyInput() contract.RotationInput {
	return contract.RotationInput{Target: "demo", Reason: "emergency: tokens replayed", RequestedBy: "alice",
		Mode: contract.ModeEmergency, ApprovedBy: "bob"}
}

// emergencyHarness runs the rotation of demo as the child of invalidate-demo. It answers the
// store activities a takeover needs, and records their inputs.
type emergencyHarness struct {
	*rotationHarness
	prechecks  []contract.PreCheckInput
	supersedes []contract.SupersedeInput
	adopts     []contract.AdoptInput
	supersede  func(contract.SupersedeInput) (contract.SettleOutcome, error)
}

func newEmergencyHarness(t *testing.T) *emergencyHarness {
	t.Helper()
	h := &emergencyHarness{rotationHarness: newRotationHarness(t)}
	h.env.RegisterWorkflow(emergencyParent)
	h.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: contract.InvalidationID("demo")})
	h.child = true
	h.supersede = func(in contract.SupersedeInput) (contract.SettleOutcome, error) {
		return contract.SettleOutcome{Version: staleV, Run: staleRun, RunState: "closed (failed)"}, nil
	}
	h.env.OnActivity(acts.SupersedePending, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in contract.SupersedeInput) (contract.SettleOutcome, error) {
			h.mu.Lock()
			h.supersedes = append(h.supersedes, in)
			h.mu.Unlock()
			return h.supersede(in)
		})
	h.env.OnActivity(acts.AdoptLiveSecret, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in contract.AdoptInput) (contract.VersionRef, error) {
			h.mu.Lock()
			h.adopts = append(h.adopts, in)
			h.mu.Unlock()
			return liveV, nil
		})
	return h
}

// reportStaleAndDrift makes the pre-checks report a stale pending version and drift.
func (h *emergencyHarness) reportStaleAndDrift() {
	h.precheck = func(in contract.PreCheckInput) (contract.PreCheckResult, error) {
		h.mu.Lock()
		h.prechecks = append(h.prechecks, in)
		h.mu.Unlock()
		return contract.PreCheckResult{
			OK: true,
			Checks: []contract.Check{{Name: "env sink matches secret store", OK: true,
				Detail: "version v3-dead0001 is pending from run rotation-demo/run-before, which is closed (failed): it will be superseded"}},
			Stale: &staleV, StaleRun: staleRun,
			NeedsAdoption: true, LiveFingerprint: liveV.Fingerprint,
			Drift:      "env sink holds fingerprint fp-live but the store's current version v1 is fp-prev",
			Validation: okResults(),
		}, nil
	}
}

func (h *emergencyHarness) runEmergency() contract.RotationResult {
	h.t.Helper()
	h.mockActivities()
	h.execute(emergencyParent, emergencyInput())
	return h.result()
}

// result is the child's result, from the parent's result or its failure's details.
func (h *emergencyHarness) result() contract.RotationResult {
	h.t.Helper()
	var res contract.RotationResult
	if err := h.env.GetWorkflowError(); err != nil {
		var appErr *temporal.ApplicationError
		require.True(h.t, errors.As(err, &appErr), "%v", err)
		require.NoError(h.t, appErr.Details(&res))
		return res
	}
	require.NoError(h.t, h.env.GetWorkflowResult(&res))
	return res
}

// The sequence, emergency side: a pending version of a closed run and drift no longer
// stop the emergency. The stale version is superseded, the drift recorded, the live secret
// adopted as current, and the rotation goes from there.
func TestRotation_EmergencySupersedesStalePendingAndAdoptsDrift(t *testing.T) {
	h := newEmergencyHarness(t)
	h.reportStaleAndDrift()
	res := h.runEmergency()

	assert.Equal(t, contract.OutcomeCompleted, res.Outcome)
	assert.Equal(t, liveV, res.Previous, "the rotation starts from what was live")
	assert.Equal(t, concat([]string{"LoadPolicy", "PreCheck", "SupersedePending", "AdoptLiveSecret", "CreatePendingSecret",
		"ApplySecret(v2)", "Deploy", "Validate(live=v2,retired=" + liveV.ID + ")", "PromoteSecret(v2)"}), h.steps())

	require.Len(t, h.prechecks, 1)
	assert.Equal(t, contract.ModeEmergency, h.prechecks[0].Mode, "the pre-checks know it is an emergency")
	require.Len(t, h.supersedes, 1)
	assert.Equal(t, staleV.ID, h.supersedes[0].VersionID)
	assert.True(t, strings.HasPrefix(h.supersedes[0].IdempotencyKey, "rotation-demo/"), h.supersedes[0].IdempotencyKey)
	require.Len(t, h.adopts, 1)
	assert.True(t, h.adopts[0].ReplaceCurrent, "drift: the live secret replaces the drifted current version")

	tl := res.Timeline
	sup := requireEvent(t, tl, systemActor, "supersede stale pending version", contract.StateDone)
	assert.True(t, strings.HasPrefix(sup.Detail, "superseded stale pending version v3-dead0001 of closed run rotation-demo/run-before"), sup.Detail)
	drift := requireEvent(t, tl, systemActor, "env sink drift", "recorded")
	assert.Contains(t, drift.Detail, "env sink holds fingerprint fp-live but the store's current version v1 is fp-prev")
	assert.Contains(t, drift.Detail, "so that a rollback restores it")
	adopt := requireEvent(t, tl, systemActor, "adopt live secret into store", contract.StateDone)
	assert.Contains(t, adopt.Detail, "version "+liveV.ID+" fingerprint fp-live; replaces the drifted current version")
	pre := requireEvent(t, tl, systemActor, stepPrecheck, contract.StateDone)
	assert.Equal(t, "current version "+liveV.ID+" (fingerprint fp-live)", pre.Detail)
	assertUTC(t, tl)
}

// After a takeover, a failed rotation restores the adopted live secret, not the drifted version.
func TestRotation_EmergencyRollbackRestoresTheLiveSecret(t *testing.T) {
	h := newEmergencyHarness(t)
	h.reportStaleAndDrift()
	h.deploy = func(n int) (contract.DeployResult, error) {
		if n <= 2 {
			return contract.DeployResult{}, errors.New("deploy exited 1")
		}
		return contract.DeployResult{ReadyMS: 1}, nil
	}
	res := h.runEmergency()

	assert.Equal(t, contract.OutcomeRolledBack, res.Outcome)
	assert.Contains(t, h.steps(), "ApplySecret("+liveV.ID+")")
	assert.Contains(t, h.steps(), "Validate(live="+liveV.ID+",retired=v2)")
	assert.NotContains(t, h.steps(), "ApplySecret(v1)", "the drifted version was never live")
}

// A pending version whose run still runs still blocks the emergency, naming that run; nothing is
// superseded or adopted.
func TestRotation_EmergencyBlockedByPendingOfRunningRun(t *testing.T) {
	h := newEmergencyHarness(t)
	h.precheck = func(contract.PreCheckInput) (contract.PreCheckResult, error) {
		return contract.PreCheckResult{Checks: []contract.Check{{Name: "env sink matches secret store",
			Detail: "version v3-dead0001 is pending from run rotation-demo/run-before, which is still running; it must close (or be canceled) before its version can be superseded"}},
			Validation: okResults()}, nil
	}
	res := h.runEmergency()

	assert.Equal(t, contract.OutcomePrecheckFailed, res.Outcome)
	assert.Contains(t, res.Cause, "pending from run rotation-demo/run-before, which is still running")
	h.assertNotRun("SupersedePending", "AdoptLiveSecret", "CreatePendingSecret")
}

// The version's run turned out to be running after all when the emergency asked again: the
// supersede is refused and the rotation stops before any change.
func TestRotation_EmergencySupersedeRefused(t *testing.T) {
	h := newEmergencyHarness(t)
	h.reportStaleAndDrift()
	h.supersede = func(contract.SupersedeInput) (contract.SettleOutcome, error) {
		return contract.SettleOutcome{}, temporal.NewNonRetryableApplicationError(
			"version v3-dead0001 of demo is pending from run rotation-demo/run-before, which is still running", contract.ErrTypeConflict, nil)
	}
	res := h.runEmergency()

	assert.Equal(t, contract.OutcomePrecheckFailed, res.Outcome)
	assert.Contains(t, res.Cause, "supersede stale pending version v3-dead0001 of run rotation-demo/run-before")
	requireEvent(t, res.Timeline, systemActor, "supersede stale pending version", contract.StateFailed)
	h.assertNotRun("AdoptLiveSecret", "CreatePendingSecret")
}

// A manual rotation keeps the pre-checks of before: no mode, nothing superseded.
func TestRotation_ManualPreCheckHasNoMode(t *testing.T) {
	h := newRotationHarness(t)
	var modes []string
	h.precheck = func(in contract.PreCheckInput) (contract.PreCheckResult, error) {
		modes = append(modes, in.Mode)
		return contract.PreCheckResult{OK: true, Current: prevV, Validation: okResults()}, nil
	}
	h.decideAt(5*time.Minute, contract.DecisionApprove, "bob", "")
	h.run(manualInput())
	assert.Equal(t, []string{"", ""}, modes)
	h.assertNotRun("SupersedePending")
}

// A failed rollback that could not mark the new version failed names it in the escalation, with
// the command that settles it; the resolve reads the store and says what is left.
func TestRotation_ResolveReportsWhatTheStoreHolds(t *testing.T) {
	h := newRotationHarness(t)
	h.deploy = func(int) (contract.DeployResult, error) {
		return contract.DeployResult{}, errors.New("deploy exited 1")
	}
	var key string
	h.env.OnActivity(acts.CreatePendingSecret, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in contract.SecretInput) (contract.VersionRef, error) {
			h.mu.Lock()
			key = in.IdempotencyKey
			h.mu.Unlock()
			return newV, nil
		})
	h.env.OnActivity(acts.RollBackSecret, mock.Anything, mock.Anything).Return(
		temporal.NewNonRetryableApplicationError("secret store is read-only", contract.ErrTypeConflict, nil))
	h.env.OnActivity(acts.StoreStatus, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in contract.SecretStatusInput) (contract.SecretStatus, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			return contract.SecretStatus{Target: in.Target, LiveFingerprint: prevV.Fingerprint, LiveVersion: prevV.ID,
				Versions: []contract.SecretVersion{
					{ID: prevV.ID, Stage: "current", Fingerprint: prevV.Fingerprint, Live: true},
					{ID: newV.ID, Stage: "pending", Fingerprint: newV.Fingerprint, IdempotencyKey: key + "/create", RunState: "running"},
				}}, nil
		})
	h.decideAt(5*time.Minute, contract.DecisionApprove, "bob", "")
	bob := h.decideAt(30*time.Minute, contract.DecisionResolve, "bob", "env file restored by hand")
	h.run(manualInput())

	res := h.runbookFailed()
	assert.Equal(t, contract.OutcomeRollbackFailed, res.Outcome)
	bob.requireAccepted(t)
	esc := h.messages("escalation")
	require.NotEmpty(t, esc)
	assert.Contains(t, esc[0].Text, "The secret store may still hold version v2 (fingerprint fp-new) as pending")
	assert.Contains(t, esc[0].Text, "`starter secret settle --target demo --as <approver>` (approvers: alice, bob, carol")
	requireEvent(t, res.Timeline, systemActor, "compensate: mark new version failed", contract.StateFailed)
	e := requireEvent(t, res.Timeline, systemActor, "escalation", "waiting for resolve")
	assert.Contains(t, e.Detail, "starter secret settle --target demo")

	store := requireEvent(t, res.Timeline, systemActor, "store after resolve", "needs attention")
	assert.True(t, strings.HasPrefix(store.Detail, "store: current v1 (fingerprint fp-prev), pending v2 (fingerprint fp-new, left by this run)"), store.Detail)
	assert.Contains(t, store.Detail, "starter secret settle --target demo --as <approver>")
	assert.Equal(t, t0.Add(30*time.Minute).UTC(), store.At, "read right after the resolve")
	closed := requireEvent(t, res.Timeline, systemActor, "closed", contract.OutcomeRollbackFailed)
	assert.False(t, closed.At.Before(store.At))
	assert.Equal(t, []string{"StoreStatus"}, lastSteps(h.steps(), 1))
}

// An escalation whose compensation marked the new version failed says nothing about settling.
func TestRotation_EscalationWithoutPendingLeftHasNoSettleHint(t *testing.T) {
	h := newRotationHarness(t)
	h.deploy = func(int) (contract.DeployResult, error) {
		return contract.DeployResult{}, errors.New("deploy exited 1")
	}
	h.env.OnActivity(acts.StoreStatus, mock.Anything, mock.Anything).Return(contract.SecretStatus{Target: "demo",
		LiveFingerprint: prevV.Fingerprint, LiveVersion: prevV.ID,
		Versions: []contract.SecretVersion{{ID: prevV.ID, Stage: "current", Fingerprint: prevV.Fingerprint, Live: true},
			{ID: newV.ID, Stage: "failed", Fingerprint: newV.Fingerprint}}}, nil)
	h.decideAt(5*time.Minute, contract.DecisionApprove, "bob", "")
	h.decideAt(30*time.Minute, contract.DecisionResolve, "bob", "fixed")
	h.run(manualInput())

	res := h.runbookFailed()
	for _, m := range h.messages("escalation") {
		assert.NotContains(t, m.Text, "settle")
	}
	store := requireEvent(t, res.Timeline, systemActor, "store after resolve", "clean")
	assert.Equal(t, "store clean: current v1 (fingerprint fp-prev) is live in the env sink, nothing pending", store.Detail)
}

func TestStoreSummary(t *testing.T) {
	cur := contract.SecretVersion{ID: "v1", Stage: "current", Fingerprint: "a", Live: true}
	for _, tc := range []struct {
		name          string
		st            contract.SecretStatus
		outcome, want string
	}{
		{"clean", contract.SecretStatus{LiveFingerprint: "a", LiveVersion: "v1", Versions: []contract.SecretVersion{cur}},
			"clean", "store clean: current v1 (fingerprint a) is live in the env sink, nothing pending"},
		{"another run's pending, live", contract.SecretStatus{LiveFingerprint: "b", LiveVersion: "v2", Versions: []contract.SecretVersion{
			{ID: "v1", Stage: "current", Fingerprint: "a"},
			{ID: "v2", Stage: "pending", Fingerprint: "b", Live: true, Run: "rotation-demo/old", IdempotencyKey: "rotation-demo/old/create", RunState: "closed (failed)"}}},
			"needs attention", "store: current v1 (fingerprint a), pending v2 (fingerprint b, left by run rotation-demo/old, closed (failed)); " +
				"the env sink holds v2 (fingerprint b), not the current version; pending v2 is live: bring the target back to the current version, or start an emergency invalidation; " +
				"the next rotation refuses to start until it is settled: `starter secret settle --target demo --as <approver>` once its run has closed"},
		{"drift to an unknown value", contract.SecretStatus{LiveFingerprint: "z", Versions: []contract.SecretVersion{{ID: "v1", Stage: "current", Fingerprint: "a"}}},
			"needs attention", "store: current v1 (fingerprint a); the env sink holds fingerprint z, which no version of the store has"},
		{"empty", contract.SecretStatus{}, "needs attention", "store: no current version; the env sink holds no secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			outcome, detail := storeSummary(tc.st, "rotation-demo/this", "demo")
			assert.Equal(t, tc.outcome, outcome)
			assert.Equal(t, tc.want, detail)
		})
	}
}

func lastSteps(steps []string, n int) []string {
	if len(steps) < n {
		return steps
	}
	return steps[len(steps)-n:]
}

// An emergency child runs its quick steps as local activities, back to back in its workflow
// tasks; the redeploy, which can take minutes and heartbeats, stays an activity. Its completion
// is announced by the emergency run, once verified, not by the child.
func TestRotation_EmergencyRunsQuickStepsLocally(t *testing.T) {
	h := newEmergencyHarness(t)
	res := h.runEmergency()
	require.Equal(t, contract.OutcomeCompleted, res.Outcome)

	local := map[string]bool{}
	for _, c := range h.recorded() {
		local[c.Name] = c.Local
	}
	for _, name := range []string{"LoadPolicy", "PreCheck", "CreatePendingSecret", "ApplySecret", "Validate", "PromoteSecret"} {
		assert.True(t, local[name], "%s runs locally", name)
	}
	deploy, ran := local["Deploy"]
	assert.True(t, ran && !deploy, "the redeploy runs as an activity")
	assert.Empty(t, h.announced("completed"))
	skipped := false
	for _, ev := range res.Timeline {
		skipped = skipped || (ev.Action == stepAnnounceDone && ev.Outcome == contract.StateSkipped)
	}
	assert.True(t, skipped, "the completion step says who announces it")

	// A routine rotation reads (policy, freezes, pre-checks and the re-check) locally; every
	// step that writes stays an activity, so a kill between two writes is seen on the timeline.
	r := newRotationHarness(t)
	r.decideAt(5*time.Minute, contract.DecisionApprove, "bob", "lgtm")
	r.run(manualInput())
	require.Equal(t, contract.OutcomeCompleted, r.completed().Outcome)
	require.Len(t, r.callsNamed("PreCheck"), 2, "pre-checks and the re-check")
	reads := map[string]bool{"LoadPolicy": true, "FrozenBy": true, "PreCheck": true}
	for _, c := range r.recorded() {
		assert.Equal(t, reads[c.Name], c.Local, "%s", c.Name)
	}
}
