package workflows

// The rotation of an emergency run runs that run's cutover checks with its own validation after
// the redeploy (CutoverOf), and its pre-check may trust the canary session's recent login
// (LoginProbedAt). Only the rotation's own checks decide its rollback.

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"

	"github.com/authops/authops/contract"
)

// cutoverChild is an emergency harness whose ValidateCutover is answered by answer, and whose
// pre-check inputs and ValidateCutover inputs are kept.
type cutoverChild struct {
	*emergencyHarness
	answer func(contract.ValidateInput) contract.CutoverValidation
	asked  []contract.ValidateInput // guarded by mu
}

func newCutoverChild(t *testing.T) *cutoverChild {
	t.Helper()
	h := &cutoverChild{emergencyHarness: newEmergencyHarness(t)}
	ok := h.precheck
	h.precheck = func(in contract.PreCheckInput) (contract.PreCheckResult, error) {
		h.mu.Lock()
		h.prechecks = append(h.prechecks, in)
		h.mu.Unlock()
		return ok(in)
	}
	h.env.OnActivity(acts.ValidateCutover, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in contract.ValidateInput) (contract.CutoverValidation, error) {
			h.mu.Lock()
			h.asked = append(h.asked, in)
			h.mu.Unlock()
			return h.answer(in), nil
		})
	return h
}

// cutoverInput is the child input of invalidate-demo from the fast-cutover version on.
func cutoverInput() contract.RotationInput {
	in := emergencyInput()
	in.CutoverOf = contract.InvalidationID("demo")
	in.LoginProbedAt = t0.Add(-30 * time.Second)
	in.Restricted = []contract.RouteRestriction{{Prefix: "/admin", Status: 503}}
	return in
}

func (h *cutoverChild) run(in contract.RotationInput) contract.RotationResult {
	h.t.Helper()
	h.mockActivities()
	h.execute(emergencyParent, in)
	return h.result()
}

// A failed cutover check is the emergency run's to judge: the rotation keeps its new secret,
// hands the checks back, and its own passed checks are its validation.
func TestRotation_EmergencyRunsParentsCutoverChecks(t *testing.T) {
	h := newCutoverChild(t)
	critical := contract.ProbeResults{
		{Name: "old_access_token_rejected", Method: "GET", Path: "/auth/me", Expected: 401, Got: 401, OK: true},
		{Name: "critical GET /admin/users as admin", Method: "GET", Path: "/admin/users", Expected: 200, Got: 500, Detail: "boom"},
	}
	h.answer = func(contract.ValidateInput) contract.CutoverValidation {
		return contract.CutoverValidation{Rotation: okResults(), Cutover: critical}
	}
	res := h.run(cutoverInput())

	assert.Equal(t, contract.OutcomeCompleted, res.Outcome, "a failed cutover check never rolls the new secret back")
	assert.Equal(t, critical, res.Cutover)
	assert.Equal(t, concat([]string{"LoadPolicy", "PreCheck", "CreatePendingSecret", "ApplySecret(v2)", "Deploy",
		"ValidateCutover", "PromoteSecret(v2)"}), h.steps())
	assert.True(t, h.callsNamed("ValidateCutover")[0].Local)
	require.Len(t, h.asked, 1)
	assert.Equal(t, contract.ValidateInput{Target: "demo", LiveVersionID: newV.ID, RetiredVersionID: prevV.ID,
		Restricted: []contract.RouteRestriction{{Prefix: "/admin", Status: 503}}, CutoverOf: "invalidate-demo"}, h.asked[0])
	last := res.Validations[len(res.Validations)-1]
	assert.Equal(t, stageAfterRotation, last.Stage)
	assert.Equal(t, okResults(), last.Results, "only the rotation's own checks are its validation")

	require.Len(t, h.prechecks, 1)
	assert.True(t, h.prechecks[0].LoginProbedAt.Equal(t0.Add(-30*time.Second)), "the canary login reaches the pre-check")
	ev := requireEvent(t, res.Timeline, systemActor, "cutover checks", "2 run")
	assert.Contains(t, ev.Detail, "for invalidate-demo, which judges them")
}

// When the rotation's own checks fail in that pass, it rolls back as after any failed
// validation; the restored secret is validated on its own.
func TestRotation_EmergencyRollsBackOnItsOwnChecksInCutoverPass(t *testing.T) {
	h := newCutoverChild(t)
	h.answer = func(contract.ValidateInput) contract.CutoverValidation {
		rot := okResults()
		rot[1].OK, rot[1].Got = false, 500
		return contract.CutoverValidation{Rotation: rot, Cutover: contract.ProbeResults{{Name: "old_access_token_rejected", OK: true}}}
	}
	res := h.run(cutoverInput())

	assert.Equal(t, contract.OutcomeRolledBack, res.Outcome)
	assert.Equal(t, concat([]string{"LoadPolicy", "PreCheck", "CreatePendingSecret", "ApplySecret(v2)", "Deploy", "ValidateCutover"},
		restoreSteps, []string{"RollBackSecret(v2)"}), h.steps())
	require.Len(t, h.asked, 1, "the restore is validated without the cutover checks")
}

// Cutover checks are only for the parent emergency run: a routine rotation, or an emergency
// child naming another run, is refused before anything runs.
func TestRotation_CutoverOfOnlyForTheParent(t *testing.T) {
	t.Run("other run", func(t *testing.T) {
		h := newCutoverChild(t)
		in := cutoverInput()
		in.CutoverOf = contract.InvalidationID("other")
		h.mockActivities()
		h.execute(emergencyParent, in)
		require.Error(t, h.env.GetWorkflowError())
		assert.Contains(t, h.env.GetWorkflowError().Error(), "cutover checks run only for the parent emergency run")
		h.assertNotRun("PreCheck", "CreatePendingSecret", "ValidateCutover")
	})
	t.Run("routine rotation", func(t *testing.T) {
		h := newRotationHarness(t)
		in := manualInput()
		in.CutoverOf = contract.InvalidationID("demo")
		h.run(in)
		require.Error(t, h.env.GetWorkflowError())
		assert.Contains(t, h.env.GetWorkflowError().Error(), "cutover checks run only for the parent emergency run")
		h.assertNotRun("PreCheck", "CreatePendingSecret")
	})
}
