package workflows

// Runbook 1, AuthIncident, with time skipping: the first 15 minutes and their clocks, the owner
// and status clocks, containment with per-action approval and undo, child runs, bad input, the
// freeze, continue-as-new and the report. Fixtures are in incident_helpers_test.go.

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authops/authops/activities"
	"github.com/authops/authops/contract"
)

// The declaration runs the five immediate steps at once and announces the incident.
func TestIncident_Declare(t *testing.T) {
	h := newIncHarness(t)
	var st contract.IncidentStatus
	h.at(time.Minute, func() { st = h.incStatus() })
	h.resolveAt(2*time.Minute, "alice", incResolve())
	h.run(incInput())

	res := h.completed()
	assert.Equal(t, contract.OutcomeResolved, res.Outcome)
	assert.Equal(t, []string{"SnapshotTarget", "ConfirmAuth"}, h.steps()[1:3])
	assert.Equal(t, "declared", h.announceKinds()[0])
	assert.Equal(t, "alice", st.Owner, "the reporter owns the incident until someone takes it")
	assert.Equal(t, []string{"demo"}, st.Targets)
	require.Len(t, st.Snapshots, 1)
	assert.Equal(t, []string{incProbeFrom}, st.Snapshots[0].ProbeFrom)
	assertUTC(t, res.Timeline)
	assert.Equal(t, t0.UTC(), res.Timeline[0].At, "the timeline starts at the first second")
	for _, step := range []string{contract.StepFreeze, contract.StepSnapshot, contract.StepConfirm, contract.StepTimeline} {
		requireEvent(t, res.Timeline, systemActor, step, contract.StateDone)
	}
	requireEvent(t, res.Timeline, systemActor, contract.StepDeclare, contract.StateRunning)
}

// The 15-minute clock: it escalates, naming the missing steps, when steps 1–4 are not done, and
// says it was met when they are.
func TestIncident_FifteenMinuteClock(t *testing.T) {
	t.Run("nobody took ownership", func(t *testing.T) {
		h := newIncHarness(t)
		h.resolveAt(20*time.Minute, "alice", incResolve())
		h.run(incInput())

		res := h.completed()
		ev := requireEvent(t, res.Timeline, systemActor, "15-minute clock", "escalated")
		assert.Equal(t, at0(15*time.Minute), ev.At)
		assert.Contains(t, ev.Detail, contract.StepDeclare+" (running)")
		assert.NotContains(t, ev.Detail, contract.StepConfirm)
		assert.False(t, hasEvent(res.Timeline, systemActor, "15-minute clock", "met"))
		msgs := h.messages("escalation")
		require.Len(t, msgs, 2, "the owner clock at 5m, the 15-minute clock at 15m")
		assert.Contains(t, msgs[1].Text, "ESCALATION: incident "+incID)
		assert.Contains(t, msgs[1].Text, contract.StepDeclare)
		assert.Equal(t, []string{"alice", "bob", "carol"}, msgs[1].Mention, "the approvers are told")
	})

	t.Run("confirm failed", func(t *testing.T) {
		h := newIncHarness(t)
		h.confirm = func(in activities.IncidentTargetInput) (contract.ProbeResults, error) {
			rs := incProbesOK("confirm")
			rs[1].Got, rs[1].OK = 500, false
			return rs, nil
		}
		h.decideAt(time.Minute, contract.UpdateOwner, "bob", "")
		h.resolveAt(20*time.Minute, "bob", incResolve())
		h.run(incInput())

		res := h.completed()
		requireEvent(t, res.Timeline, systemActor, contract.StepConfirm, contract.StateFailed)
		ev := requireEvent(t, res.Timeline, systemActor, "15-minute clock", "escalated")
		assert.Equal(t, at0(15*time.Minute), ev.At)
		assert.Contains(t, ev.Detail, contract.StepConfirm+" (failed)")
		assert.NotContains(t, ev.Detail, contract.StepDeclare, "the owner was taken")
		msgs := h.messages("escalation")
		require.Len(t, msgs, 1, "no owner escalation: bob took it")
		assert.Contains(t, msgs[0].Text, contract.StepConfirm)
	})

	t.Run("steps done: owner taken early", func(t *testing.T) {
		h := newIncHarness(t)
		owner := h.decideAt(2*time.Minute, contract.UpdateOwner, "bob", "mine")
		h.resolveAt(30*time.Minute, "bob", incResolve())
		h.run(incInput())

		res := h.completed()
		owner.requireAccepted(t)
		met := requireEvent(t, res.Timeline, systemActor, "15-minute clock", "met")
		assert.Equal(t, at0(2*time.Minute), met.At)
		assert.False(t, hasEvent(res.Timeline, systemActor, "15-minute clock", "escalated"))
		assert.Empty(t, h.messages("escalation"))
	})
}

// Owner escalation: after owner_ack with nobody taking the incident, the run escalates; not when
// someone took it. Every change of owner is on the timeline.
func TestIncident_OwnerClock(t *testing.T) {
	t.Run("nobody ran owner", func(t *testing.T) {
		h := newIncHarness(t)
		h.resolveAt(10*time.Minute, "alice", incResolve())
		h.run(incInput())

		res := h.completed()
		ev := requireEvent(t, res.Timeline, systemActor, "owner", "escalated")
		assert.Equal(t, at0(5*time.Minute), ev.At)
		assert.Contains(t, ev.Detail, "nobody took ownership within 5m0s; alice still holds it")
		msgs := h.messages("escalation")
		require.Len(t, msgs, 1)
		assert.Contains(t, msgs[0].Text, "starter incident owner "+incID)
		assert.Equal(t, []string{"alice", "bob", "carol"}, msgs[0].Mention)
	})

	t.Run("someone took it", func(t *testing.T) {
		h := newIncHarness(t)
		bob := h.decideAt(3*time.Minute, contract.UpdateOwner, "bob", "")
		carol := h.decideAt(8*time.Minute, contract.UpdateOwner, "carol", "bob is off shift")
		again := h.decideAt(9*time.Minute, contract.UpdateOwner, "carol", "")
		mallory := h.decideAt(9*time.Minute, contract.UpdateOwner, "mallory", "")
		var st contract.IncidentStatus
		h.at(10*time.Minute, func() { st = h.incStatus() })
		h.resolveAt(20*time.Minute, "carol", incResolve())
		h.run(incInput())

		res := h.completed()
		assert.Equal(t, "owner: alice → bob", bob.requireAccepted(t).Detail)
		assert.Equal(t, "owner: bob → carol; bob is off shift", carol.requireAccepted(t).Detail)
		again.requireDenied(t, "carol already owns "+incID)
		// mallory has a key but is no person of the config: the signature does not verify.
		mallory.requireDenied(t, `unknown person "mallory"`)
		assert.Equal(t, "carol", st.Owner)
		assert.False(t, hasEvent(res.Timeline, systemActor, "owner", "escalated"))
		assert.Empty(t, h.messages("escalation"))
		requireRecorded(t, res.Timeline, bob.ev)
		requireRecorded(t, res.Timeline, carol.ev)
		done := requireEvent(t, res.Timeline, systemActor, contract.StepDeclare, contract.StateDone)
		assert.Equal(t, "owner: bob", done.Detail)
	})
}

// The status-update reminder: due at the severity's cadence, pushed back by a --status note,
// and the cadence follows the severity.
func TestIncident_StatusReminder(t *testing.T) {
	reminders := func(h *incHarness, tl []contract.Event) []time.Duration {
		var at []time.Duration
		for _, e := range eventsOf(tl, "status update", "reminded") {
			at = append(at, e.At.Sub(t0.UTC()))
		}
		assert.Len(h.t, h.messages("reminder"), len(at), "each reminder is announced")
		return at
	}

	t.Run("due every 30m at high", func(t *testing.T) {
		h := newIncHarness(t)
		h.decideAt(time.Minute, contract.UpdateOwner, "bob", "")
		h.resolveAt(65*time.Minute, "bob", incResolve())
		h.run(incInput())

		res := h.completed()
		assert.Equal(t, []time.Duration{30 * time.Minute, 60 * time.Minute}, reminders(h, res.Timeline))
		msgs := h.messages("reminder")
		assert.Equal(t, []string{"bob"}, msgs[0].Mention, "the owner is reminded")
		assert.Contains(t, msgs[0].Text, "starter incident note "+incID+" --status")
		assert.Contains(t, msgs[0].Text, "(last: none yet)")
	})

	t.Run("a status note pushes it back; a plain note does not", func(t *testing.T) {
		h := newIncHarness(t)
		status := h.noteAt(20*time.Minute, "bob", "blocked the range, watching", true)
		plain := h.noteAt(40*time.Minute, "carol", "saw more attempts", false)
		h.resolveAt(65*time.Minute, "alice", incResolve())
		h.run(incInput())

		res := h.completed()
		assert.Equal(t, "status update; blocked the range, watching", status.requireAccepted(t).Detail)
		assert.Equal(t, "note; saw more attempts", plain.requireAccepted(t).Detail)
		assert.Equal(t, []time.Duration{50 * time.Minute}, reminders(h, res.Timeline))
		assert.Contains(t, h.messages("reminder")[0].Text, "(last: "+at0(20*time.Minute).Format(time.RFC3339)+")")
	})

	t.Run("severity changes the cadence", func(t *testing.T) {
		h := newIncHarness(t)
		sev := h.decideAt(10*time.Minute, contract.UpdateSeverity, "alice", "critical")
		h.resolveAt(50*time.Minute, "alice", incResolve())
		h.run(incInput())

		res := h.completed()
		assert.Equal(t, "severity high → critical; status updates every 15m0s; critical", sev.requireAccepted(t).Detail)
		assert.Equal(t, []time.Duration{15 * time.Minute, 30 * time.Minute, 45 * time.Minute}, reminders(h, res.Timeline))
	})

	t.Run("no cadence at low", func(t *testing.T) {
		h := newIncHarness(t)
		sev := h.decideAt(10*time.Minute, contract.UpdateSeverity, "bob", "low")
		dave := h.decideAt(11*time.Minute, contract.UpdateSeverity, "dave", "critical")
		h.resolveAt(3*time.Hour, "alice", incResolve())
		h.run(incInput())

		res := h.completed()
		sev.requireAccepted(t)
		dave.requireDenied(t, "dave is neither the owner (alice) nor an approver")
		assert.Empty(t, reminders(h, res.Timeline))
	})
}
