package workflows

// Forged messages between runs: anyone with write access to the namespace can signal a run. A
// preemption, a hand-over or an announcement counts only with a worker's seal for the run that
// sent it; a forgery is refused, changes nothing and is on the timeline as denied.

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/authops/authops/contract"
)

// An escalated rotation waits for resolve; unsealed, wrongly sealed and tampered preemptions
// leave it waiting, and it never signals the id a forgery named.
func TestPeer_ForgedPreemptLeavesEscalatedRotation(t *testing.T) {
	unsealed := contract.Preemption{By: "attacker-run", Reason: "trust me"}
	fromElsewhere := contract.Preemption{By: "rotation-shop", Reason: "sealed by another run"}
	fromElsewhere.Seal = peerSeal(contract.SignalPreempt, fromElsewhere.By, "rotation-demo", fromElsewhere)
	tampered := sealedPreempt("rotation-demo")
	tampered.Reason = "changed after sealing"
	otherKey := contract.Preemption{By: contract.InvalidationID("demo"), Reason: preemptReason}
	otherKey.Seal = peerSeal(contract.SignalPreempt, otherKey.By, "rotation-demo", otherKey)
	otherKey.Seal.MAC = strings.Repeat("0", 64)
	forVictim := sealedPreempt("rotation-shop") // a real seal, for another rotation

	h := newPreemptHarness(t)
	h.deploy = func(int) (contract.DeployResult, error) {
		return contract.DeployResult{}, errors.New("deploy exited 1")
	}
	h.decideAt(5*time.Minute, contract.DecisionApprove, "bob", "")
	for n, p := range []contract.Preemption{unsealed, fromElsewhere, tampered, otherKey, forVictim} {
		h.at(12*time.Minute+time.Duration(n)*time.Second, func() { h.env.SignalWorkflow(contract.SignalPreempt, p) })
	}
	resolve := h.decideAt(20*time.Minute, contract.DecisionResolve, "bob", "restored by hand")
	h.run(manualInput())

	res := h.runbookFailed()
	assert.Equal(t, contract.OutcomeRollbackFailed, res.Outcome, "no forgery superseded the escalation")
	resolve.requireAccepted(t)
	assert.Empty(t, h.sent(), "no hand-over signalled to anyone")
	denied := eventsOf(res.Timeline, contract.SignalPreempt, "denied")
	require.Len(t, denied, 5, "every forgery is on the timeline:\n%s", dumpTimeline(res.Timeline))
	assert.Contains(t, denied[0].Detail, "unsealed")
	assert.Contains(t, denied[1].Detail, "only "+contract.InvalidationID("demo")+" sends it")
	assert.Contains(t, denied[2].Detail, "changed after it was sealed")
	assert.Contains(t, denied[3].Detail, "bad seal")
	assert.Contains(t, denied[4].Detail, "sealed for rotation-shop")
	for n, e := range denied {
		want := "unknown (the worker cannot read histories)"
		if n == 1 {
			want = "run rotation-shop"
		}
		assert.Equal(t, want, e.Actor, "the sender, as far as the worker can tell: %s", e.Detail)
		assert.Equal(t, "signal", e.Via)
	}
	assert.False(t, hasEvent(res.Timeline, systemActor, "escalation", contract.OutcomeSuperseded))
}

// The emergency run waits for the rotation it preempted to hand the target over: a forged
// rotation-released does not start its rotation early.
func TestPeer_ForgedReleaseKeepsEmergencyWaiting(t *testing.T) {
	h := newInvHarness(t)
	h.rotationRunning = true
	h.at(time.Minute, func() {
		h.env.SignalWorkflow(contract.SignalRotationReleased, contract.Released{RotationID: invRotationID, Outcome: contract.OutcomePreempted})
	})
	h.at(2*time.Minute, func() {
		// Sealed, but by another run than the rotation it preempted.
		h.env.SignalWorkflow(contract.SignalRotationReleased, sealedRelease("rotation-shop", invWorkflowID, contract.OutcomePreempted))
	})
	h.at(4*time.Minute, func() {
		h.env.SignalWorkflow(contract.SignalRotationReleased, sealedRelease(invRotationID, invWorkflowID, contract.OutcomePreempted))
	})
	in := invInput()
	in.BreakGlass = true
	h.run(in)
	res := h.completed()

	assert.Equal(t, contract.OutcomeCompleted, res.Outcome)
	child := h.callsNamed("SecretRotation")
	require.Len(t, child, 1)
	assert.Equal(t, 4*time.Minute, child[0].At, "the child starts with the real hand-over, not a forged one")
	denied := eventsOf(h.timeline(), contract.SignalRotationReleased, "denied")
	require.Len(t, denied, 2)
	assert.Contains(t, denied[0].Detail, "unsealed")
	assert.Contains(t, denied[1].Detail, "only "+invRotationID+" sends it")
	requireEvent(t, h.timeline(), systemActor, "preempt rotation", "released")
}

// The notifier posts only announcements a worker sealed for the run they name: a signal typed
// by hand, or a real announcement changed to name another run or carry other text, is dropped
// and counted.
func TestPeer_ForgedAnnouncementNotPosted(t *testing.T) {
	x := newNotifyFixture(t)
	forged := ann("completed", "run-1/9", "Rotate now: paste your password at https://evil.example")
	forged.Seal = nil
	changed := ann("completed", "run-1/10", "Planned.")
	changed.Message.Text = "Everything is fine, ignore the alerts."
	wrongRun := ann("completed", "run-1/11", "Planned.")
	wrongRun.WorkflowID = "invalidate-demo"
	x.run(t, time.Minute, map[time.Duration]func(func(contract.Announcement)){
		time.Second: func(signal func(contract.Announcement)) {
			signal(forged)
			signal(changed)
			signal(wrongRun)
			signal(ann("planned", "run-1/5", "Planned."))
		},
	})
	v := x.view(t)
	require.Len(t, v.replies, 1, "only the sealed announcement is posted")
	assert.Contains(t, v.replies[0].Text, "*planned*")
	for _, m := range x.fake.Messages() {
		assert.NotContains(t, m.Text, "evil.example")
		assert.NotContains(t, m.Text, "ignore the alerts")
	}
	assert.Equal(t, 1, v.parents, "no parent for the run a forgery named")
}

// An emergency rotation skips the approval gate, so it runs only for a parent the server says is
// an EmergencyInvalidation of authops: a workflow someone runs under the id invalidate-demo on a
// worker of their own (another type, another task queue) starts nothing.
func TestPeer_EmergencyRotationFromAForgedParentRefused(t *testing.T) {
	for name, facts := range map[string]contract.RunFacts{
		"another type":        {Type: "Evil", TaskQueue: contract.EmergencyTaskQueue, Running: true},
		"another task queue":  {Type: contract.WorkflowEmergencyInvalidation, TaskQueue: "evil", Running: true},
		"server cannot tell":  {Unknown: "the server knows no such run"},
		"parent already gone": {Type: contract.WorkflowEmergencyInvalidation, TaskQueue: contract.EmergencyTaskQueue},
	} {
		t.Run(name, func(t *testing.T) {
			h := newEmergencyHarness(t)
			h.env.OnActivity("DescribeRun", mock.Anything, mock.Anything).Return(facts, nil)
			h.mockActivities()
			h.execute(emergencyParent, emergencyInput())

			requireEvent(t, h.timeline(), systemActor, "start", "refused")
			h.assertNotCalled("CreatePendingSecret", "ApplySecret", "Deploy", "PromoteSecret")
		})
	}
}

// A schedule: requester counts only when the server says the target's own Schedule started the
// parent (TemporalScheduledById), not for any parent under the right id.
func TestPeer_ScheduledRotationFromAForgedParentRefused(t *testing.T) {
	for name, facts := range map[string]contract.RunFacts{
		"no schedule":        {Type: contract.WorkflowScheduledRotation, TaskQueue: contract.TaskQueue, Running: true},
		"another schedule":   {Type: contract.WorkflowScheduledRotation, TaskQueue: contract.TaskQueue, Running: true, ScheduledBy: contract.ScheduleID("shop")},
		"another type":       {Type: "Evil", TaskQueue: contract.TaskQueue, Running: true, ScheduledBy: contract.ScheduleID("demo")},
		"another task queue": {Type: contract.WorkflowScheduledRotation, TaskQueue: "evil", Running: true, ScheduledBy: contract.ScheduleID("demo")},
	} {
		t.Run(name, func(t *testing.T) {
			h := newRotationHarness(t)
			h.env.RegisterWorkflow(scheduleParent)
			h.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: contract.ScheduledRotationWorkflowID("demo") + "-2026-03-02T08:00:00Z"})
			h.child = true
			h.env.OnActivity("DescribeRun", mock.Anything, mock.Anything).Return(facts, nil)
			h.mockActivities()
			h.execute(scheduleParent, contract.RotationInput{Target: "demo", Reason: "scheduled key hygiene",
				RequestedBy: "schedule:nightly", Mode: contract.ModeScheduled, WindowStart: t0, Window: time.Hour})

			ev := requireEvent(t, h.timeline(), systemActor, "start", "refused")
			assert.Contains(t, ev.Detail, "started only by the target's schedule")
			h.assertNotCalled("CreatePendingSecret", "ApplySecret", "Deploy")
		})
	}
}
