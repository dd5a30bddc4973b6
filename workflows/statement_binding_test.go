package workflows

// What a signed statement binds: an approval its action's content, a start its whole input; a
// refused start still spends its nonce; a scheduled start needs the server's word that the
// target's schedule started it.

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/statement"
)

// approveWith has actor approve with the ActionRef ref, signed as the starter signs it.
func (h *incHarness) approveWith(d time.Duration, actor string, ref func() contract.ActionRef) *decision {
	return h.decideWith(d, contract.DecisionApprove, func() contract.Decision {
		return h.signedArgs(contract.DecisionApprove, actor, "", argsJSON(h.t, ref()))
	})
}

// An approval names its action and the digest of the content the approver saw: one bound to
// another action, to changed content, or to no action at all is refused, on the timeline, and
// applies nothing; the one bound to the action as it is applies it, and so does one that names
// the action alone.
func TestIncident_ApprovalBoundToAction(t *testing.T) {
	h := newIncHarness(t)
	h.ipolicy.Actions[contract.ContainDenyCIDR] = contract.ActionRule{Who: []string{"owner"}, Quorum: 1}
	narrow := contract.ContainRequest{Kind: contract.ContainDenyCIDR, CIDRs: []string{"203.0.113.0/24"}, Reason: "stuffing source"}
	other := contract.ContainRequest{Kind: contract.ContainDenyCIDR, CIDRs: []string{"198.51.100.0/24"}, Reason: "second source"}
	a1 := h.containAt(time.Minute, "alice", narrow)
	a2 := h.containAt(2*time.Minute, "alice", other)
	// bob saw a2 and signs its content, but the approval names a1.
	crossed := h.approveWith(3*time.Minute, "bob", func() contract.ActionRef {
		return contract.ActionRef{Action: "a1", Digest: h.digestOf("a2")}
	})
	// a1 as bob was shown it with another range.
	changed := narrow
	changed.CIDRs = []string{"0.0.0.0/0"}
	wrongContent := h.approveWith(4*time.Minute, "bob", func() contract.ActionRef {
		return contract.ActionRef{Action: "a1", Digest: changed.Digest()}
	})
	right := h.actionAt(6*time.Minute, contract.DecisionApprove, "bob", "a1")
	// With a1 applied, a2 is the only one left, but an approval still names it.
	unnamed := h.actionAt(7*time.Minute, contract.DecisionApprove, "carol", "")
	// A client that could not read a2's content (no worker answered) names it alone: the id,
	// never reused within the incident, binds it.
	byName := h.approveWith(8*time.Minute, "carol", func() contract.ActionRef { return contract.ActionRef{Action: "a2"} })
	h.resolveAt(time.Hour, "alice", incResolve())
	h.run(incInput())

	res := h.completed()
	a1.requireAccepted(t)
	a2.requireAccepted(t)
	for _, d := range []*decision{crossed, wrongContent} {
		ev := d.requireDenied(t, "a1 is not what this approval was signed for (deny-cidr 203.0.113.0/24")
		requireRecorded(t, res.Timeline, ev)
		assert.Equal(t, "bob", ev.Actor, "the verified actor is on the timeline")
	}
	assert.Contains(t, right.requireAccepted(t).Detail, "a1 approved by bob")
	ev := unnamed.requireDenied(t, "an approval names the action it approves and its content: starter approve "+incID+" --action a2")
	requireRecorded(t, res.Timeline, ev)

	assert.Contains(t, byName.requireAccepted(t).Detail, "a2 approved by carol")

	applied := h.measures("ApplyMeasure")
	require.Len(t, applied, 2, "only the approvals bound to a1's content and to a2 applied anything")
	assert.Equal(t, "a1", applied[0].ActionID)
	assert.Equal(t, narrow.CIDRs, applied[0].Request.CIDRs)
	assert.Equal(t, 6*time.Minute, h.callsNamed("ApplyMeasure")[0].At)
	assert.Equal(t, "a2", applied[1].ActionID)
	assert.Equal(t, 8*time.Minute, h.callsNamed("ApplyMeasure")[1].At)
}

// The child run's start that the starter signs binds exactly the input the incident builds.
func TestIncident_ChildStartBindsItsInput(t *testing.T) {
	h := newIncHarness(t)
	req := contract.ContainRequest{Kind: contract.ContainInvalidate, Reason: "tokens replayed", Restrict: []string{"/admin"}}
	inv := h.childContainAt(time.Minute, "alice", req, "invalidate-demo", nil)
	h.resolveAt(time.Hour, "alice", incResolve())
	h.run(incInput())

	h.completed()
	inv.requireAccepted(t)
	children := h.callsNamed("EmergencyInvalidation")
	require.Len(t, children, 1)
	in := children[0].Inv
	require.NotNil(t, in.Statement)
	assert.Equal(t, statement.HashArgs(in.StartArgs()), in.Statement.Statement.ArgsHash,
		"the emergency run verifies its start against the input the incident gave it")
}

// A start statement binds the whole start input: replayed with another window, owner, route TTL
// or target, it is refused, and the run does nothing.
func TestStart_ReplayedWithOtherInputRefused(t *testing.T) {
	const why = "start refused: arguments do not match the signed ones"
	t.Run("rotation with another window", func(t *testing.T) {
		h := newRotationHarness(t)
		in := manualInput()
		in.WindowStart, in.Window = t0.Add(time.Hour), time.Hour
		st := h.signedStart("alice", contract.ActionStartRotation, in.Reason, in.StartArgs())
		in.WindowStart = t0.Add(2 * time.Hour)
		in.Statement = st
		h.runRaw(in)

		appErr := requireAppError(t, h.env.GetWorkflowError())
		assert.Equal(t, contract.ErrTypeInvalidInput, appErr.Type())
		assert.Contains(t, appErr.Error(), why)
		assert.Equal(t, []string{"LoadPolicy"}, h.steps())
		assert.Contains(t, requireEvent(t, h.timeline(), systemActor, "start", "refused").Detail, why)
	})
	t.Run("rotation with another rollback owner", func(t *testing.T) {
		h := newRotationHarness(t)
		in := manualInput()
		in.Statement = h.signedStart("alice", contract.ActionStartRotation, in.Reason, in.StartArgs())
		in.RollbackOwner = "dave"
		h.runRaw(in)
		assert.Contains(t, requireAppError(t, h.env.GetWorkflowError()).Error(), why)
	})
	t.Run("emergency run with a longer restriction", func(t *testing.T) {
		h := newInvHarness(t)
		in := invInput()
		in.Statement = h.signedStart("alice", in.StartAction(), in.Reason, in.StartArgs())
		in.RestrictTTL = 24 * time.Hour
		h.runRaw(in)
		assert.Contains(t, requireAppError(t, h.env.GetWorkflowError()).Error(), why)
		h.assertNotRun("RevokeSessions", "RestrictRoutes")
	})
	t.Run("incident with other targets", func(t *testing.T) {
		h := newIncHarness(t)
		h.ipolicy.Targets = []string{"demo", "shop"}
		in := incInput()
		in.Statement = h.signedStart(in.Reporter, contract.ActionStartIncident, in.Summary, in.StartArgs())
		in.Targets = []string{"shop"}
		h.runRaw(in)
		assert.Contains(t, requireAppError(t, h.env.GetWorkflowError()).Error(), why)
	})
}

// twoStarts starts the rotation of demo twice, one after the other, and returns both errors.
func twoStarts(ctx workflow.Context, ins []contract.RotationInput) ([]string, error) {
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{WorkflowID: contract.RotationID("demo")})
	var out []string
	for _, in := range ins {
		err := workflow.ExecuteChildWorkflow(cctx, SecretRotation, in).Get(ctx, nil)
		out = append(out, fmt.Sprint(err))
	}
	return out, nil
}

// A start refused by its input's validation spends its nonce all the same: the statement cannot
// start a valid run afterwards.
func TestStart_RefusedByValidationSpendsItsNonce(t *testing.T) {
	h := newRotationHarnessID(t, "driver")
	h.env.RegisterWorkflow(twoStarts)
	h.mockActivities()
	good := manualInput()
	st := contract.Statement{Namespace: testNamespace, WorkflowID: contract.RotationID("demo"), Action: contract.ActionStartRotation,
		Actor: "alice", CommentHash: statement.HashComment(good.Reason), ArgsHash: statement.HashArgs(good.StartArgs()),
		IssuedAt: t0, Nonce: newNonce(t), Client: "test"}
	good.Statement = signAs(t, "alice", st)
	// Cutover checks are the emergency parent's: validation refuses them in a manual run. The
	// field is none of the start's arguments, so the statement would verify for good.
	bad := good
	bad.CutoverOf = contract.InvalidationID("demo")
	h.execute(twoStarts, []contract.RotationInput{bad, good})

	require.NoError(t, h.env.GetWorkflowError())
	var errs []string
	require.NoError(t, h.env.GetWorkflowResult(&errs))
	require.Len(t, errs, 2)
	assert.Contains(t, errs[0], "cutover checks run only for the parent emergency run")
	assert.Contains(t, errs[1], "start refused: replayed statement: it already started a run")
	h.assertNotRun("PreCheck", "CreatePendingSecret")
}

// ScheduledRotation starts a rotation only when the server says the target's own schedule
// started it (TemporalScheduledById); a run started by hand under the schedule's id form, or by
// another target's schedule, starts nothing.
func TestScheduledRotation_OnlyFromTheTargetsSchedule(t *testing.T) {
	in := contract.ScheduledRotationInput{Target: "demo", Window: time.Hour, Schedule: contract.ScheduleID("demo")}
	for _, tc := range []struct {
		name, scheduledBy, why string
	}{
		{name: "started by hand", why: "the server says no schedule started this run"},
		{name: "another target's schedule", scheduledBy: contract.ScheduleID("shop"),
			why: "started only by its schedule rotation-schedule-demo, not by rotation-schedule-shop"},
		{name: "the target's schedule", scheduledBy: contract.ScheduleID("demo")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newTestEnv(ScheduledRotation)
			env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: contract.ScheduledRotationWorkflowID("demo") + "-2026-03-02T08:00:00Z"})
			if tc.scheduledBy != "" {
				require.NoError(t, env.SetTypedSearchAttributesOnStart(temporal.NewSearchAttributes(AttrScheduledByID.ValueSet(tc.scheduledBy))))
			}
			var started []contract.RotationInput
			env.RegisterWorkflow(SecretRotation)
			env.OnWorkflow(SecretRotation, mock.Anything, mock.Anything).Return(
				func(_ workflow.Context, in contract.RotationInput) (contract.RotationResult, error) {
					started = append(started, in)
					return contract.RotationResult{}, nil
				}).Maybe()
			env.ExecuteWorkflow(ScheduledRotation, in)
			require.True(t, env.IsWorkflowCompleted())

			if tc.why == "" {
				require.NoError(t, env.GetWorkflowError())
				require.Len(t, started, 1)
				assert.Equal(t, contract.ModeScheduled, started[0].Mode)
				return
			}
			err := env.GetWorkflowError()
			var appErr *temporal.ApplicationError
			require.True(t, errors.As(err, &appErr), "%v", err)
			assert.Equal(t, contract.ErrTypeInvalidInput, appErr.Type())
			assert.Contains(t, appErr.Error(), tc.why)
			assert.Empty(t, started, "no rotation was started")
		})
	}
}
