package workflows

// Runbook 1, AuthIncident, with time skipping: the first 15 minutes and their clocks, the owner
// and status clocks, containment with per-action approval and undo, child runs, bad input, the
// freeze, continue-as-new and the report. Fixtures are in incident_helpers_test.go.

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

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
		h.confirm = func(in contract.IncidentTargetInput) (contract.ProbeResults, error) {
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

// Each containment action calls ApplyMeasure with its request on the target; at resolve the
// range deny and the log level are undone (the log level back to what it was), a TTL lifts its
// range on its own, and logouts and resets stay. The global logout needs its second person
// even at quorum 0 (bob approves it), and keeping a range needs bob too.
func TestIncident_ContainmentAndUndo(t *testing.T) {
	reqs := []contract.ContainRequest{
		{Kind: contract.ContainLogoutUsers, Users: []string{"u1", "u2"}, Reason: "high-risk accounts"},
		{Kind: contract.ContainDenyCIDR, CIDRs: []string{"203.0.113.0/24"}, Reason: "stuffing source"},
		{Kind: contract.ContainDenyCIDR, CIDRs: []string{"198.51.100.0/24", "2001:db8::/48"}, TTL: time.Hour, Reason: "second wave"},
		{Kind: contract.ContainLogLevel, Level: "debug", Reason: "more detail"},
		{Kind: contract.ContainRequireReset, Users: []string{"u1"}, Reason: "password reused"},
		{Kind: contract.ContainLogoutAll, Reason: "everyone out"},
	}
	run := func(t *testing.T, resolve contract.ResolveRequest) (*incHarness, contract.Report, []*decision) {
		h := newIncHarness(t)
		// Every action at once for the owner: the approval rules have their own test.
		for k, r := range h.ipolicy.Actions {
			r.Quorum = 0
			h.ipolicy.Actions[k] = r
		}
		var ds []*decision
		for n, r := range reqs {
			ds = append(ds, h.containAt(time.Duration(n+1)*time.Minute, "alice", r))
		}
		ds = append(ds, h.actionAt(time.Duration(len(reqs))*time.Minute+30*time.Second, contract.DecisionApprove, "bob", "a6"))
		h.resolveAt(3*time.Hour, "alice", resolve)
		if len(resolve.Keep) > 0 {
			h.actionAt(3*time.Hour+time.Minute, contract.DecisionApprove, "bob", contract.KeepAction)
		}
		h.run(incInput())
		return h, h.completed(), ds
	}

	t.Run("undone at resolve", func(t *testing.T) {
		h, res, ds := run(t, incResolve())
		for n, d := range ds[:len(reqs)-1] {
			ev := d.requireAccepted(t)
			assert.Contains(t, ev.Detail, "a"+string(rune('1'+n))+" "+reqs[n].Describe()+": demo: "+reqs[n].Kind+" in force")
		}
		assert.Contains(t, ds[5].requireAccepted(t).Detail, "a6 logout-all (needs a second person: a global logout locks everyone out) waits for approval")
		assert.Contains(t, ds[6].requireAccepted(t).Detail, "a6 approved by bob: logout-all: demo: logout-all in force")
		applied := h.measures("ApplyMeasure")
		require.Len(t, applied, len(reqs))
		for n, in := range applied {
			assert.Equal(t, contract.MeasureInput{Incident: incID, ActionID: "a" + string(rune('1'+n)), Target: "demo", Request: reqs[n]}, in)
		}
		undone := h.callsNamed("UndoMeasure")
		require.Len(t, undone, 3, "the two range denies and the log level; never a logout or a reset")
		// The TTL lifts a3 an hour after it was applied (at 3m), the rest at resolve.
		assert.Equal(t, "a3", undone[0].Measure.ActionID)
		assert.Equal(t, time.Hour+3*time.Minute, undone[0].At)
		assert.Equal(t, reqs[2], undone[0].Measure.Request)
		assert.Equal(t, []string{"a2", "a4"}, []string{undone[1].Measure.ActionID, undone[2].Measure.ActionID})
		assert.Equal(t, 3*time.Hour, undone[1].At)
		assert.Equal(t, "info", undone[2].Measure.Previous, "the log level goes back to what it was")
		assert.Equal(t, contract.ContainLogLevel, undone[2].Measure.Request.Kind)
		ttl := requireEvent(t, res.Timeline, systemActor, "undo a3", "undone")
		assert.Contains(t, ttl.Detail, "its TTL ended")
		assert.Contains(t, requireEvent(t, res.Timeline, systemActor, "undo a2", "undone").Detail, "resolved by alice")

		var st contract.IncidentStatus
		h.query(contract.QueryIncident, &st)
		for _, m := range st.Measures {
			assert.Equal(t, m.Request.Undoable(), !m.Undone.IsZero(), "%s %s", m.ActionID, m.Request.Kind)
			assert.False(t, m.Kept)
		}
		// The final verification no longer expects the lifted ranges, but still the reset.
		final := h.callsNamed("VerifyIncident")
		require.NotEmpty(t, final)
		assert.Empty(t, final[len(final)-1].Verify.DeniedCIDRs)
		assert.Equal(t, []string{"u1"}, final[len(final)-1].Verify.ResetUsers)
	})

	t.Run("--keep deny-cidr", func(t *testing.T) {
		keep := incResolve()
		keep.Keep = []string{contract.ContainDenyCIDR}
		h, res, _ := run(t, keep)
		undone := h.callsNamed("UndoMeasure")
		require.Len(t, undone, 2, "the TTL still lifts a3; resolve undoes only the log level")
		assert.Equal(t, "a3", undone[0].Measure.ActionID)
		assert.Equal(t, "a4", undone[1].Measure.ActionID)
		kept := requireEvent(t, res.Timeline, "alice", "keep a2", "kept")
		assert.Contains(t, kept.Detail, "deny-cidr 203.0.113.0/24 on demo stays in force")
		st := h.incStatus()
		assert.True(t, st.Measures[1].Kept)
		assert.True(t, st.Measures[1].Undone.IsZero())
		final := h.callsNamed("VerifyIncident")
		assert.Equal(t, []string{"203.0.113.0/24"}, final[len(final)-1].Verify.DeniedCIDRs, "the kept range is still checked")
	})
}

// A measure applies to every affected target when it names none, and to its own when it does.
func TestIncident_ContainEveryTarget(t *testing.T) {
	h := newIncHarness(t)
	h.ipolicy.Targets = []string{"demo", "shop"}
	in := incInput()
	in.Targets = []string{"demo", "shop"} // every target, as the starter declares with no --target
	h.containAt(time.Minute, "alice", contract.ContainRequest{Kind: contract.ContainLogLevel, Level: "debug"})
	h.containAt(2*time.Minute, "alice", contract.ContainRequest{Kind: contract.ContainDenyCIDR, CIDRs: []string{"203.0.113.0/24"}, Target: "shop"})
	h.resolveAt(time.Hour, "alice", incResolve())
	h.run(in)

	res := h.completed()
	assert.Equal(t, []string{"demo", "shop"}, res.Targets)
	assert.Equal(t, []string{"ApplyMeasure(a1 log-level on demo)", "ApplyMeasure(a1 log-level on shop)", "ApplyMeasure(a2 deny-cidr on shop)"},
		filterSteps(h.steps(), "ApplyMeasure"))
	assert.ElementsMatch(t, []string{"UndoMeasure(a1 log-level on demo)", "UndoMeasure(a1 log-level on shop)", "UndoMeasure(a2 deny-cidr on shop)"},
		filterSteps(h.steps(), "UndoMeasure"))
}

func filterSteps(steps []string, prefix string) []string {
	var out []string
	for _, s := range steps {
		if strings.HasPrefix(s, prefix) {
			out = append(out, s)
		}
	}
	return out
}

// The approval rules per action: quorum 0 applies at once; quorum 1 waits under its own id for
// an approver other than the asker, who names it when several wait; a reject stops it. Who may
// ask is the config's.
func TestIncident_ApprovalRules(t *testing.T) {
	logoutAll := contract.ContainRequest{Kind: contract.ContainLogoutAll, Reason: "everyone out"}
	reset := contract.ContainRequest{Kind: contract.ContainRequireReset, Users: []string{"u1"}, Reason: "reused password"}

	t.Run("quorum 0 applies at once", func(t *testing.T) {
		h := newIncHarness(t)
		d := h.containAt(time.Minute, "alice", contract.ContainRequest{Kind: contract.ContainLogoutUsers, Users: []string{"u1"}})
		h.resolveAt(time.Hour, "alice", incResolve())
		h.run(incInput())

		h.completed()
		assert.Contains(t, d.requireAccepted(t).Detail, "a1 logout-users u1: demo: logout-users in force")
		applied := h.callsNamed("ApplyMeasure")
		require.Len(t, applied, 1)
		assert.Equal(t, time.Minute, applied[0].At)
		assert.Empty(t, h.messages("approval"))
	})

	t.Run("quorum 1", func(t *testing.T) {
		h := newIncHarness(t)
		h.ipolicy.Actions[contract.ContainRequireReset] = contract.ActionRule{Who: []string{"owner"}, Quorum: 1}
		a1 := h.containAt(time.Minute, "alice", logoutAll)
		self := h.actionAt(2*time.Minute, contract.DecisionApprove, "alice", "a1")
		dave := h.actionAt(3*time.Minute, contract.DecisionApprove, "dave", "a1")
		a2 := h.containAt(4*time.Minute, "alice", reset)
		unnamed := h.actionAt(5*time.Minute, contract.DecisionApprove, "bob", "")
		unknown := h.actionAt(5*time.Minute+30*time.Second, contract.DecisionApprove, "bob", "a9")
		bob := h.actionAt(6*time.Minute, contract.DecisionApprove, "bob", "a2")
		var mid contract.IncidentStatus
		h.at(7*time.Minute, func() { mid = h.incStatus() })
		carol := h.actionAt(8*time.Minute, contract.DecisionReject, "carol", "")
		late := h.actionAt(9*time.Minute, contract.DecisionApprove, "bob", "a1")
		h.resolveAt(time.Hour, "alice", incResolve())
		h.run(incInput())

		res := h.completed()
		assert.Contains(t, a1.requireAccepted(t).Detail, "a1 logout-all (needs a second person: a global logout locks everyone out) waits for approval: approvals 0 of 1")
		assert.Contains(t, a2.requireAccepted(t).Detail, "a2 require-reset u1 waits for approval")
		self.requireDenied(t, "a1: alice asked for a1 and cannot approve it")
		dave.requireDenied(t, "a1: dave is not an approver")
		unnamed.requireDenied(t, "several actions wait for approval; name one with --action (a1, a2)")
		unknown.requireDenied(t, `no pending action "a9" (pending: a1, a2)`)
		assert.Contains(t, bob.requireAccepted(t).Detail, "a2 approved by bob: require-reset u1: demo: require-reset in force")
		// With a2 applied, the reject needs no --action: a1 is the only one left.
		assert.Contains(t, carol.requireAccepted(t).Detail, "a1 logout-all rejected; nothing changed")
		late.requireDenied(t, `no pending action "a1" (pending: none)`)

		applied := h.measures("ApplyMeasure")
		require.Len(t, applied, 1, "only the approved a2 ran")
		assert.Equal(t, "a2", applied[0].ActionID)
		assert.Equal(t, reset, applied[0].Request)
		assert.Equal(t, 6*time.Minute, h.callsNamed("ApplyMeasure")[0].At)

		require.Len(t, mid.Pending, 2)
		assert.Equal(t, "pending", mid.Pending[0].State)
		assert.Equal(t, "applied", mid.Pending[1].State)
		assert.Equal(t, []string{"bob"}, mid.Pending[1].Approvals)
		st := h.incStatus()
		assert.Equal(t, "rejected", st.Pending[0].State)
		assert.Equal(t, "rejected by carol", st.Pending[0].Detail)

		approvals := h.messages("approval")
		require.Len(t, approvals, 2)
		assert.Contains(t, approvals[0].Text, "starter approve "+incID+" --action a1")
		assert.Contains(t, approvals[1].Text, "--action a2")
		requireRecorded(t, res.Timeline, self.requireDenied(t, "cannot approve"))
	})

	t.Run("who may ask", func(t *testing.T) {
		h := newIncHarness(t)
		h.ipolicy.Actions[contract.ContainLogoutUsers] = contract.ActionRule{Who: []string{"owner", "carol"}, Quorum: 0}
		users := contract.ContainRequest{Kind: contract.ContainLogoutUsers, Users: []string{"u1"}}
		dave := h.containAt(time.Minute, "dave", users)
		bob := h.containAt(2*time.Minute, "bob", users)
		carol := h.containAt(3*time.Minute, "carol", users)
		bobDeny := h.containAt(4*time.Minute, "bob", contract.ContainRequest{Kind: contract.ContainDenyCIDR, CIDRs: []string{"203.0.113.0/24"}})
		// A kind the config does not name is the owner's, with one approver.
		h.ipolicy.Actions = map[string]contract.ActionRule{
			contract.ContainLogoutUsers: h.ipolicy.Actions[contract.ContainLogoutUsers],
			contract.ContainDenyCIDR:    h.ipolicy.Actions[contract.ContainDenyCIDR],
		}
		ownerLevel := h.containAt(5*time.Minute, "alice", contract.ContainRequest{Kind: contract.ContainLogLevel, Level: "debug"})
		h.resolveAt(time.Hour, "alice", incResolve())
		h.run(incInput())

		h.completed()
		dave.requireDenied(t, "dave may not ask for logout-users: it is for owner, carol (the owner is alice)")
		bob.requireDenied(t, "bob may not ask for logout-users")
		carol.requireAccepted(t)
		bobDeny.requireAccepted(t) // deny-cidr is for the owner and the approvers
		assert.Contains(t, ownerLevel.requireAccepted(t).Detail, "waits for approval: approvals 0 of 1")
		assert.Equal(t, []string{"a1", "a2"}, actionIDs(h.measures("ApplyMeasure")))
	})
}

func actionIDs(ms []contract.MeasureInput) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ActionID)
	}
	return out
}

// childClosedAt sends a child-closed Update at d and reports what became of it.
type updateOutcome struct {
	rejected, err error
	accepted      bool
	completed     bool
}

func (h *incHarness) childClosedAt(d time.Duration, c contract.ChildClosed) *updateOutcome {
	out := &updateOutcome{}
	h.at(d, func() {
		h.env.UpdateWorkflow(contract.UpdateChildClosed, "child-closed-"+c.WorkflowID, &testsuite.TestUpdateCallback{
			OnAccept:   func() { out.accepted = true },
			OnReject:   func(err error) { out.rejected = err },
			OnComplete: func(_ any, err error) { out.completed, out.err = true, err },
		}, c)
	})
	return out
}

// invalidate starts runbook 3 as a child under invalidate-<target>, linked to the incident and
// with the asker's signed start; its outcome comes back to the incident's timeline, and the
// incident cannot be resolved while it runs.
func TestIncident_InvalidateChild(t *testing.T) {
	req := contract.ContainRequest{Kind: contract.ContainInvalidate, Reason: "stolen refresh tokens", Restrict: []string{"/admin"}}

	t.Run("started, outcome on the timeline", func(t *testing.T) {
		h := newIncHarness(t)
		h.invalidation = func(ctx workflow.Context, in contract.InvalidationInput) (contract.InvalidationResult, error) {
			if err := workflow.Sleep(ctx, 30*time.Minute); err != nil {
				return contract.InvalidationResult{}, err
			}
			return contract.InvalidationResult{Target: in.Target, Outcome: contract.OutcomeCompleted,
				Summary: "Emergency invalidation of demo: completed; 42 sessions revoked."}, nil
		}
		var sent contract.Decision
		inv := h.childContainAt(time.Minute, "alice", req, "invalidate-demo", &sent)
		again := h.childContainAt(2*time.Minute, "alice", req, "invalidate-demo", nil)
		early := h.resolveAt(10*time.Minute, "alice", incResolve())
		stranger := h.childClosedAt(12*time.Minute, contract.ChildClosed{WorkflowID: "rotation-other", Outcome: "completed", Summary: "forged"})
		var mid contract.IncidentStatus
		h.at(15*time.Minute, func() { mid = h.incStatus() })
		resolve := h.resolveAt(40*time.Minute, "alice", incResolve())
		h.run(incInput())

		res := h.completed()
		assert.Contains(t, inv.requireAccepted(t).Detail, "a1 invalidate on demo: started invalidate-demo (emergency-invalidation, linked to "+incID+")")
		again.requireDenied(t, "invalidate-demo is already running for this incident")
		early.requireDenied(t, "runs the incident started are still open: invalidate-demo; resolve once they close")
		require.NoError(t, stranger.rejected, "judged and recorded, not dropped by the validator")
		require.True(t, stranger.completed)
		require.Error(t, stranger.err)
		assert.Contains(t, stranger.err.Error(), "the incident reads each run's outcome from the server")
		resolve.requireAccepted(t)

		children := h.callsNamed("EmergencyInvalidation")
		require.Len(t, children, 1)
		c := children[0]
		assert.Equal(t, "invalidate-demo", c.ChildID)
		assert.Equal(t, time.Minute, c.At)
		assert.Equal(t, incID, c.Inv.IncidentID)
		assert.Equal(t, "demo", c.Inv.Target)
		assert.Equal(t, "alice", c.Inv.RequestedBy)
		assert.Equal(t, req.Reason, c.Inv.Reason)
		assert.Equal(t, contract.TriggerTokenAbuse, c.Inv.Trigger)
		assert.Equal(t, []string{"/admin"}, c.Inv.Restrict)
		assert.Equal(t, time.Hour, c.Inv.RestrictTTL)
		require.NotNil(t, c.Inv.Statement)
		assert.JSONEq(t, argsJSON(t, sent.Start), argsJSON(t, c.Inv.Statement), "the decision's signed start is passed through")
		h.assertNotRun("ApplyMeasure")

		require.Len(t, mid.Children, 1)
		assert.Equal(t, contract.ChildRun{ActionID: "a1", WorkflowID: "invalidate-demo", Runbook: "emergency-invalidation", Target: "demo"}, mid.Children[0])
		closed := requireEvent(t, res.Timeline, systemActor, "emergency-invalidation invalidate-demo", contract.OutcomeCompleted)
		assert.Equal(t, at0(31*time.Minute), closed.At)
		assert.Equal(t, "run closed: Emergency invalidation of demo: completed; 42 sessions revoked.", closed.Detail)
		assert.False(t, strings.Contains(dumpTimeline(res.Timeline), "forged"), "the forged summary is never shown")
		forged := requireEvent(t, res.Timeline, "unknown (the worker cannot read histories)", contract.UpdateChildClosed, "denied")
		assert.Equal(t, at0(12*time.Minute), forged.At)
		assert.Contains(t, res.Actions, contract.ReportAction{At: t0.UTC(), Actor: "invalidate-demo", Action: "emergency-invalidation",
			Detail: "completed Emergency invalidation of demo: completed; 42 sessions revoked."})
	})

	// Anyone with namespace access can send child-closed: a report that the emergency run is
	// done, while it still works, is refused and on the timeline; the run's outcome comes from
	// its close, and the incident cannot be resolved before that.
	t.Run("a forged report is refused", func(t *testing.T) {
		h := newIncHarness(t)
		h.invalidation = func(ctx workflow.Context, in contract.InvalidationInput) (contract.InvalidationResult, error) {
			if err := workflow.Sleep(ctx, 10*time.Minute); err != nil {
				return contract.InvalidationResult{}, err
			}
			return contract.InvalidationResult{Target: in.Target, Outcome: contract.OutcomeRollbackFailed, Summary: "from the child's close"}, nil
		}
		h.childContainAt(time.Minute, "alice", req, "invalidate-demo", nil)
		report := h.childClosedAt(5*time.Minute, contract.ChildClosed{WorkflowID: "invalidate-demo", Outcome: contract.OutcomeCompleted, Summary: "all good"})
		early := h.resolveAt(6*time.Minute, "alice", incResolve())
		h.resolveAt(30*time.Minute, "alice", incResolve())
		h.run(incInput())

		res := h.completed()
		require.NoError(t, report.rejected)
		require.True(t, report.completed)
		require.Error(t, report.err, "the forged outcome is refused")
		early.requireDenied(t, "runs the incident started are still open: invalidate-demo")
		denied := requireEvent(t, res.Timeline, "unknown (the worker cannot read histories)", contract.UpdateChildClosed, "denied")
		assert.Equal(t, at0(5*time.Minute), denied.At)
		assert.False(t, hasEvent(res.Timeline, systemActor, "emergency-invalidation invalidate-demo", contract.OutcomeCompleted))
		evs := eventsOf(res.Timeline, "emergency-invalidation invalidate-demo", contract.OutcomeRollbackFailed)
		require.Len(t, evs, 1, "the outcome is recorded once, from the close")
		assert.Equal(t, "run closed: from the child's close", evs[0].Detail)
		assert.Equal(t, at0(11*time.Minute), evs[0].At)
		assert.Contains(t, res.Actions, contract.ReportAction{At: t0.UTC(), Actor: "invalidate-demo", Action: "emergency-invalidation",
			Detail: contract.OutcomeRollbackFailed + " from the child's close"})
	})

	t.Run("rotate", func(t *testing.T) {
		h := newIncHarness(t)
		rot := contract.ContainRequest{Kind: contract.ContainRotate, Reason: "rotate after the leak"}
		var sent contract.Decision
		d := h.childContainAt(time.Minute, "alice", rot, "rotation-demo", &sent)
		h.resolveAt(time.Hour, "alice", incResolve())
		h.run(incInput())

		res := h.completed()
		d.requireAccepted(t)
		rs := h.callsNamed("SecretRotation")
		require.Len(t, rs, 1)
		assert.Equal(t, "rotation-demo", rs[0].ChildID)
		got := rs[0].Rotation
		assert.Equal(t, contract.RotationInput{Target: "demo", Reason: rot.Reason, RequestedBy: "alice", Mode: contract.ModeManual,
			IncidentID: incID}, func() contract.RotationInput { c := got; c.Statement = nil; return c }())
		assert.JSONEq(t, argsJSON(t, sent.Start), argsJSON(t, got.Statement), "the decision's signed start is passed through")
		requireEvent(t, res.Timeline, systemActor, "secret-rotation rotation-demo", contract.OutcomeCompleted)
	})

	t.Run("refused", func(t *testing.T) {
		h := newIncHarness(t)
		h.ipolicy.Targets = []string{"demo", "shop"}
		in := incInput()
		in.Targets = []string{"demo", "shop"}
		noTarget := h.childContainAt(time.Minute, "alice", req, "invalidate-demo", nil)
		withTarget := req
		withTarget.Target = "demo"
		wrongStart := h.childContainAt(2*time.Minute, "alice", withTarget, "invalidate-shop", nil)
		noStart := h.containAt(3*time.Minute, "alice", withTarget)
		noReason := withTarget
		noReason.Reason = ""
		unreasoned := h.childContainAt(4*time.Minute, "alice", noReason, "invalidate-demo", nil)
		h.resolveAt(time.Hour, "alice", incResolve())
		h.run(in)

		h.completed()
		noTarget.requireDenied(t, "invalidate needs --target: the incident affects demo, shop")
		wrongStart.requireDenied(t, "invalidate needs a start for invalidate-demo signed by alice")
		noStart.requireDenied(t, "invalidate needs a start for invalidate-demo signed by alice")
		unreasoned.requireDenied(t, "invalidate needs a reason")
		h.assertNotRun("EmergencyInvalidation")
	})
}

// Bad decisions: each gets a clear denial, recorded on the timeline, and changes nothing.
func TestIncident_BadInput(t *testing.T) {
	deny := func(cidr string, force bool) contract.ContainRequest {
		return contract.ContainRequest{Kind: contract.ContainDenyCIDR, CIDRs: []string{cidr}, Force: force}
	}
	cases := []struct {
		name string
		send func(h *incHarness, d time.Duration) *decision
		why  string
	}{
		{"invalid CIDR", func(h *incHarness, d time.Duration) *decision {
			return h.containAt(d, "alice", deny("10.0.0.300/8", false))
		},
			`invalid CIDR "10.0.0.300/8"`},
		{"host bits set", func(h *incHarness, d time.Duration) *decision {
			return h.containAt(d, "alice", deny("10.0.0.1/8", false))
		},
			"CIDR 10.0.0.1/8 has host bits set; did you mean 10.0.0.0/8?"},
		{"host bits set, even with force", func(h *incHarness, d time.Duration) *decision {
			return h.containAt(d, "alice", deny("10.0.0.1/8", true))
		}, "has host bits set"},
		{"0.0.0.0/0", func(h *incHarness, d time.Duration) *decision {
			return h.containAt(d, "alice", deny("0.0.0.0/0", false))
		},
			"CIDR 0.0.0.0/0 would lock everyone out"},
		{"::/0", func(h *incHarness, d time.Duration) *decision { return h.containAt(d, "alice", deny("::/0", false)) },
			"CIDR ::/0 would lock everyone out"},
		{"::ffff:0:0/96", func(h *incHarness, d time.Duration) *decision {
			return h.containAt(d, "alice", deny("::ffff:0:0/96", false))
		},
			"CIDR ::ffff:0:0/96 would lock everyone out"},
		{"one bad CIDR of several", func(h *incHarness, d time.Duration) *decision {
			return h.containAt(d, "alice", contract.ContainRequest{Kind: contract.ContainDenyCIDR, CIDRs: []string{"203.0.113.0/24", "nope"}})
		}, `invalid CIDR "nope"`},
		{"range holding the probes' address", func(h *incHarness, d time.Duration) *decision {
			return h.containAt(d, "alice", deny("127.0.0.0/8", false))
		}, "CIDR 127.0.0.0/8 holds 127.0.0.1, the address the worker's probes come from; add --force"},
		{"unknown action", func(h *incHarness, d time.Duration) *decision {
			return h.containAt(d, "alice", contract.ContainRequest{Kind: "nuke-from-orbit"})
		}, `unknown action "nuke-from-orbit"`},
		{"unknown target", func(h *incHarness, d time.Duration) *decision {
			return h.containAt(d, "alice", contract.ContainRequest{Kind: contract.ContainLogLevel, Level: "debug", Target: "shop"})
		}, `unknown target "shop": the incident affects demo`},
		{"not a user name", func(h *incHarness, d time.Duration) *decision {
			return h.containAt(d, "alice", contract.ContainRequest{Kind: contract.ContainLogoutUsers, Users: []string{"bob; rm -rf"}})
		}, `user "bob; rm -rf" is not a user name`},
		{"unknown log level", func(h *incHarness, d time.Duration) *decision {
			return h.containAt(d, "alice", contract.ContainRequest{Kind: contract.ContainLogLevel, Level: "trace"})
		}, "log level must be one of"},
		{"no request", func(h *incHarness, d time.Duration) *decision {
			return h.decideWith(d, contract.UpdateContain, func() contract.Decision { return h.signed(contract.UpdateContain, "alice", "deny") })
		}, "contain needs a containment request"},
		{"neither owner nor allowed", func(h *incHarness, d time.Duration) *decision {
			return h.containAt(d, "dave", contract.ContainRequest{Kind: contract.ContainLogLevel, Level: "debug"})
		}, "dave may not ask for log-level"},
		{"resolve without summary", func(h *incHarness, d time.Duration) *decision {
			return h.resolveAt(d, "alice", contract.ResolveRequest{Summary: "  "})
		}, "resolve needs a final summary (--summary)"},
		{"resolve keeping the freeze", func(h *incHarness, d time.Duration) *decision {
			return h.resolveAt(d, "alice", contract.ResolveRequest{Summary: "done", Keep: []string{"freeze"}})
		}, "the freeze always lifts at resolve"},
		{"resolve by someone else", func(h *incHarness, d time.Duration) *decision {
			return h.resolveAt(d, "dave", incResolve())
		}, "dave is neither the owner (alice) nor an approver"},
		{"note over 4 KiB", func(h *incHarness, d time.Duration) *decision {
			return h.noteAt(d, "bob", strings.Repeat("a", contract.MaxNote+1), false)
		}, "note refused: text is 4097 bytes; the limit is 4096 (4 KiB)"},
		{"note with control characters", func(h *incHarness, d time.Duration) *decision {
			return h.noteAt(d, "bob", "all clear\x1b[2K\rroot cause: nobody", false)
		}, "note refused: text holds a control character"},
		{"empty note", func(h *incHarness, d time.Duration) *decision { return h.noteAt(d, "bob", " ", false) },
			"a note needs text"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newIncHarness(t)
			d := tc.send(h, time.Minute)
			var st contract.IncidentStatus
			h.at(2*time.Minute, func() { st = h.incStatus() })
			h.resolveAt(time.Hour, "alice", incResolve())
			h.run(incInput())

			res := h.completed()
			ev := d.requireDenied(t, tc.why)
			requireRecorded(t, res.Timeline, ev)
			h.assertNotRun("ApplyMeasure", "UndoMeasure", "EmergencyInvalidation", "SecretRotation")
			assert.Empty(t, st.Pending, "no action was registered")
			assert.Empty(t, st.Measures)
			assert.Equal(t, contract.OutcomeResolved, res.Outcome, "the incident goes on")
		})
	}

	// Force lets a range through, with a second person: it can lock out everyone.
	t.Run("force lets a range through", func(t *testing.T) {
		h := newIncHarness(t)
		probes := h.containAt(time.Minute, "alice", deny("127.0.0.0/8", true))
		h.actionAt(90*time.Second, contract.DecisionApprove, "bob", "a1")
		all := h.containAt(2*time.Minute, "alice", deny("0.0.0.0/0", true))
		h.actionAt(150*time.Second, contract.DecisionApprove, "carol", "a2")
		h.resolveAt(time.Hour, "alice", incResolve())
		h.run(incInput())

		h.completed()
		assert.Contains(t, probes.requireAccepted(t).Detail, "needs a second person: --force lets through a range")
		all.requireAccepted(t)
		applied := h.measures("ApplyMeasure")
		require.Len(t, applied, 2)
		assert.Equal(t, []string{"127.0.0.0/8"}, applied[0].Request.CIDRs)
		assert.True(t, applied[0].Request.Force)
		assert.Equal(t, []string{"0.0.0.0/0"}, applied[1].Request.CIDRs)
	})

	t.Run("the probes' address is the snapshot's", func(t *testing.T) {
		h := newIncHarness(t)
		snap := h.snapshot
		h.snapshot = func(in contract.IncidentTargetInput) (contract.Snapshot, error) {
			s, err := snap(in)
			s.ProbeFrom = []string{"192.0.2.10"}
			return s, err
		}
		loopback := h.containAt(time.Minute, "alice", deny("127.0.0.0/16", false))
		probes := h.containAt(2*time.Minute, "alice", deny("192.0.2.0/24", false))
		h.resolveAt(time.Hour, "alice", incResolve())
		h.run(incInput())

		h.completed()
		loopback.requireAccepted(t)
		probes.requireDenied(t, "CIDR 192.0.2.0/24 holds 192.0.2.10")
		assert.Equal(t, []string{"a1"}, actionIDs(h.measures("ApplyMeasure")))
	})
}

// A declaration that is wrong is refused before anything happens: no announcement, no freeze,
// no snapshot.
func TestIncident_BadDeclaration(t *testing.T) {
	cases := []struct {
		name   string
		id     string
		mutate func(*contract.IncidentInput)
		why    string
		// loaded: the policy was read before the refusal (the target and start checks need it).
		loaded bool
	}{
		// The id is checked with the signed start, recorded: a replayer runs under another id.
		{name: "id of another runbook", id: "rotation-demo", why: `incident id "rotation-demo" must match incident-[a-z0-9-]{1,40}`, loaded: true},
		{name: "id with capitals", id: "incident-ABC", why: "must match incident-[a-z0-9-]{1,40}", loaded: true},
		{name: "id too long", id: "incident-" + strings.Repeat("a", 41), why: "must match", loaded: true},
		{name: "unknown trigger", mutate: func(in *contract.IncidentInput) { in.Trigger = "aliens" }, why: `trigger must be one of`},
		{name: "unknown severity", mutate: func(in *contract.IncidentInput) { in.Severity = "sev0" }, why: `severity must be one of`},
		{name: "no summary", mutate: func(in *contract.IncidentInput) { in.Summary = "" }, why: "summary is required"},
		{name: "unknown target", mutate: func(in *contract.IncidentInput) { in.Targets = []string{"demo", "shop"} },
			why: `unknown target "shop" (known: demo)`, loaded: true},
		{name: "unsigned", mutate: func(in *contract.IncidentInput) { in.Statement = &contract.SignedStatement{} },
			why: "start refused", loaded: true},
		{name: "carried state from outside", mutate: func(in *contract.IncidentInput) {
			in.State = &contract.IncidentState{Status: contract.IncidentStatus{Owner: "mallory", Targets: []string{"demo"}}}
		}, why: "carried incident state is accepted only from the incident's own continue-as-new"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := tc.id
			if id == "" {
				id = incID
			}
			h := newIncHarnessID(t, id)
			in := incInput()
			if tc.mutate != nil {
				tc.mutate(&in)
			}
			h.run(in)

			appErr := requireAppError(t, h.env.GetWorkflowError())
			assert.Equal(t, contract.ErrTypeInvalidInput, appErr.Type())
			assert.True(t, appErr.NonRetryable())
			assert.Contains(t, appErr.Error(), tc.why)
			if tc.loaded {
				assert.Equal(t, []string{"LoadIncidentPolicy"}, h.steps())
			} else {
				assert.Empty(t, h.steps())
			}
			h.assertNotRun("Announce", "SnapshotTarget", "ConfirmAuth", "ApplyMeasure")
			assert.Empty(t, h.upserts, "nothing frozen")
			tl := h.timeline()
			assert.Contains(t, tl[len(tl)-1].Detail, tc.why)
			assert.Equal(t, "refused", tl[len(tl)-1].Outcome)
		})
	}
}

// The freeze: the declaration writes the affected targets to AuthopsFrozenTargets and the
// frozen query; resolve lifts it.
func TestIncident_Freeze(t *testing.T) {
	h := newIncHarness(t)
	h.ipolicy.Targets = []string{"demo", "shop"}
	in := incInput()
	in.Targets = []string{"demo", "shop"}
	var during []string
	h.at(10*time.Minute, func() { during = h.frozen() })
	h.resolveAt(20*time.Minute, "alice", incResolve())
	h.run(in)

	res := h.completed()
	assert.Equal(t, []string{"demo", "shop"}, during)
	assert.Empty(t, h.frozen(), "resolve lifts the freeze")
	require.Len(t, h.upserts, 2, "frozen at declaration, lifted at resolve")
	frozen, ok := h.upserts[0].GetKeywordList(contract.AttrFrozenTargets)
	require.True(t, ok)
	assert.Equal(t, []string{"demo", "shop"}, frozen)
	runbook, _ := h.upserts[0].GetKeyword(contract.AttrRunbook)
	assert.Equal(t, "auth-incident", runbook)
	_, ok = h.upserts[1].GetKeywordList(contract.AttrFrozenTargets)
	assert.False(t, ok, "the lift unsets the attribute")
	lifted := requireEvent(t, res.Timeline, systemActor, "freeze", "lifted")
	assert.Equal(t, at0(20*time.Minute), lifted.At)
	assert.Equal(t, "demo, shop (resolved by alice)", lifted.Detail)
	assert.Equal(t, contract.OutcomeResolved, h.incStatus().Outcome)
	assert.Empty(t, h.incStatus().Frozen)
}

// A canceled incident leaves nothing behind: its temporary measures are undone and the freeze
// lifted.
func TestIncident_CanceledUndoes(t *testing.T) {
	h := newIncHarness(t)
	h.containAt(time.Minute, "alice", contract.ContainRequest{Kind: contract.ContainDenyCIDR, CIDRs: []string{"203.0.113.0/24"}})
	h.containAt(2*time.Minute, "alice", contract.ContainRequest{Kind: contract.ContainRequireReset, Users: []string{"u1"}})
	h.at(10*time.Minute, func() { h.env.CancelWorkflow() })
	h.run(incInput())

	var canceled *temporal.CanceledError
	require.True(t, errors.As(h.env.GetWorkflowError(), &canceled), "%v", h.env.GetWorkflowError())
	assert.Equal(t, []string{"UndoMeasure(a1 deny-cidr on demo)"}, filterSteps(h.steps(), "UndoMeasure"))
	assert.Empty(t, h.frozen())
	requireEvent(t, h.timeline(), systemActor, "freeze", "lifted")
}

// freezeAnswers makes FrozenBy answer by, n times, then "": the first mock registered wins, so
// this goes before the harness's own.
func (h *rotationHarness) freezeAnswers(by string, n int) {
	calls := 0
	h.env.OnActivity(acts.FrozenBy, mock.Anything, mock.Anything).Return(
		func(context.Context, contract.FreezeInput) (string, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			calls++
			if n < 0 || calls <= n {
				return by, nil
			}
			return "", nil
		})
}

// A rotation on a target an incident froze refuses, or waits if its config says so; an
// emergency rotation is never frozen.
func TestRotation_IncidentFreeze(t *testing.T) {
	t.Run("refuse", func(t *testing.T) {
		h := newRotationHarness(t)
		h.policy.Freeze = contract.FreezeRefuse
		h.freezeAnswers("incident-x", -1)
		h.run(manualInput())

		res := h.runbookFailed()
		assert.Equal(t, contract.OutcomeFrozen, res.Outcome)
		ev := requireEvent(t, res.Timeline, systemActor, "freeze check at pre-checks", "refused")
		assert.Equal(t, "frozen by incident-x", ev.Detail)
		assert.Contains(t, res.Cause, "frozen by incident-x")
		assert.Equal(t, []string{"LoadPolicy"}, h.steps())
		h.assertNotRun("PreCheck", "CreatePendingSecret", "ApplySecret", "Deploy")
		frozen := h.callsNamed("FrozenBy")
		require.Len(t, frozen, 1)
	})

	t.Run("wait", func(t *testing.T) {
		h := newRotationHarness(t)
		h.policy.Freeze = contract.FreezeWait
		h.freezeAnswers("incident-x", 5) // frozen at 0..4m, lifted at 5m
		var waiting contract.Status
		h.at(3*time.Minute, func() { waiting = h.status() })
		h.decideAt(10*time.Minute, contract.DecisionApprove, "bob", "go")
		h.run(manualInput())

		res := h.completed()
		assert.Equal(t, contract.OutcomeCompleted, res.Outcome)
		assert.Equal(t, "waiting: frozen by incident-x", waiting.Phase)
		wait := requireEvent(t, res.Timeline, systemActor, "freeze check at pre-checks", "waiting")
		assert.Contains(t, wait.Detail, "frozen by incident-x")
		assert.Len(t, eventsOf(res.Timeline, "freeze check at pre-checks", "waiting"), 1, "said once")
		lifted := requireEvent(t, res.Timeline, systemActor, "freeze check at pre-checks", "lifted")
		assert.Equal(t, at0(5*time.Minute), lifted.At)
		pre := h.callsNamed("PreCheck")
		require.NotEmpty(t, pre)
		assert.Equal(t, 5*time.Minute, pre[0].At, "no pre-check before the freeze lifted")
		// Checked again before the change.
		frozen := h.callsNamed("FrozenBy")
		require.Len(t, frozen, 7)
		assert.GreaterOrEqual(t, frozen[6].At, 10*time.Minute)
	})

	t.Run("refused at the re-check before change", func(t *testing.T) {
		h := newRotationHarness(t)
		h.policy.Freeze = contract.FreezeRefuse
		calls := 0
		h.env.OnActivity(acts.FrozenBy, mock.Anything, mock.Anything).Return(
			func(context.Context, contract.FreezeInput) (string, error) {
				h.mu.Lock()
				defer h.mu.Unlock()
				calls++
				if calls == 1 {
					return "", nil
				}
				return "incident-y", nil
			})
		h.decideAt(10*time.Minute, contract.DecisionApprove, "bob", "go")
		h.run(manualInput())

		res := h.runbookFailed()
		assert.Equal(t, contract.OutcomeFrozen, res.Outcome)
		requireEvent(t, res.Timeline, systemActor, "freeze check before change", "refused")
		h.assertNotRun("CreatePendingSecret", "ApplySecret", "Deploy")
	})

	t.Run("a rotation on its own exempts no incident", func(t *testing.T) {
		h := newRotationHarness(t)
		var asked []contract.FreezeInput
		h.env.OnActivity(acts.FrozenBy, mock.Anything, mock.Anything).Return(
			func(_ context.Context, in contract.FreezeInput) (string, error) {
				h.mu.Lock()
				defer h.mu.Unlock()
				asked = append(asked, in)
				return "", nil
			})
		h.decideAt(10*time.Minute, contract.DecisionApprove, "bob", "go")
		h.run(manualInput())

		h.completed()
		require.NotEmpty(t, asked)
		assert.Equal(t, contract.FreezeInput{Target: "demo"}, asked[0], "no parent, nothing exempt")
	})

	t.Run("emergency never asks", func(t *testing.T) {
		h := newEmergencyHarness(t)
		h.freezeAnswers("incident-x", -1)
		res := h.runEmergency()

		assert.Equal(t, contract.OutcomeCompleted, res.Outcome)
		assert.Empty(t, h.callsNamed("FrozenBy"), "a compromised secret must always be replaceable")
		assert.False(t, strings.Contains(dumpTimeline(res.Timeline), "frozen"))
	})
}

// Continue-as-new keeps the whole timeline: past the history limit the run archives the older
// events, carries the recent ones with its owner, measures, pending actions, freeze and live
// nonces, and the new run goes on from there to the report.
func TestIncident_ContinueAsNew(t *testing.T) {
	h := newIncHarness(t)
	h.ipolicy.HistoryLimit = 60
	pending := h.containAt(time.Minute, "alice", contract.ContainRequest{Kind: contract.ContainLogoutAll, Reason: "everyone out"})
	h.containAt(2*time.Minute, "alice", contract.ContainRequest{Kind: contract.ContainDenyCIDR, CIDRs: []string{"203.0.113.0/24"}})
	h.decideAt(3*time.Minute, contract.UpdateOwner, "bob", "")
	var notes []*decision
	for n := range 60 {
		notes = append(notes, h.noteAt(4*time.Minute+time.Duration(n)*30*time.Second, "carol", "scribe note "+strconv.Itoa(n), false))
	}
	h.at(34*time.Minute, func() { h.env.SetCurrentHistoryLength(61) })
	var last contract.Decision
	lastNote := &decision{}
	h.at(35*time.Minute, func() {
		last = h.signed(contract.UpdateNote, "carol", "the note that crosses the limit")
		h.send(lastNote, contract.UpdateNote, last)
	})
	h.run(incInput())

	pending.requireAccepted(t)
	for _, n := range notes {
		n.requireAccepted(t)
	}
	lastNote.requireAccepted(t)
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(h.env.GetWorkflowError(), &can), "want continue-as-new, got %v", h.env.GetWorkflowError())
	assert.Equal(t, "AuthIncident", can.WorkflowType.Name)
	var carried contract.IncidentInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &carried))
	require.NotNil(t, carried.State)
	st := *carried.State
	raw, err := json.Marshal(carried)
	require.NoError(t, err)
	assert.Less(t, len(raw), 512<<10, "carried state stays under 512 KiB")

	// The older events went to the archive, the recent ones are carried: together, the whole
	// timeline.
	full := h.timeline()
	require.Greater(t, len(full), 60)
	archives := h.callsNamed("ArchiveTimeline")
	require.Len(t, archives, 1)
	assert.Equal(t, contract.ArchiveInput{Incident: incID, Part: 1, Events: full[:len(full)-50]}, archives[0].Archive)
	assert.Equal(t, full[len(full)-50:], st.Timeline)
	assert.Equal(t, []contract.ArtifactRef{{Path: "var/artifacts/" + incID + "/timeline-1.json", Digest: "sha-1", Events: len(full) - 50}}, st.Archived)
	requireRecorded(t, st.Timeline, lastNote.ev)

	assert.Equal(t, "bob", st.Status.Owner)
	assert.Equal(t, []string{"demo"}, st.Status.Frozen)
	require.Len(t, st.Status.Pending, 2)
	assert.Equal(t, "pending", st.Status.Pending[0].State)
	require.Len(t, st.Status.Measures, 1)
	assert.Equal(t, "a2", st.Status.Measures[0].ActionID)
	assert.Equal(t, 2, st.NextID)
	assert.ElementsMatch(t, []string{clockFirstSteps}, st.Escalated, "the 15-minute clock was met; the owner clock never fired")
	assert.Contains(t, st.Nonces, last.Statement.Statement.Nonce, "a live nonce is carried")
	// Only the nonces that could still verify (issued within MaxAge+MaxSkew, 6m): the notes from
	// 29m on, and the last one; the start and the older notes are refused for their age anyway.
	assert.Len(t, st.Nonces, 11)
	assert.NotNil(t, carried.Statement, "the declaration is carried as it was")

	// The new run.
	end := h.env.Now()
	h2 := newIncHarness(t)
	h2.ipolicy.HistoryLimit = 60
	h2.env.SetStartTime(end)
	h2.env.SetContinuedExecutionRunID("run-1")
	replay := &decision{}
	h2.at(time.Minute, func() { h2.send(replay, contract.UpdateNote, last) })
	approve := h2.actionAt(2*time.Minute, contract.DecisionApprove, "carol", "a1")
	var status contract.IncidentStatus
	h2.at(2*time.Minute+time.Second, func() { status = h2.incStatus() })
	h2.resolveAt(3*time.Minute, "bob", incResolve())
	h2.runRaw(carried)

	res := h2.completed()
	replay.requireDenied(t, "replayed statement")
	assert.Contains(t, approve.requireAccepted(t).Detail, "a1 approved by carol: logout-all")
	assert.Equal(t, "bob", status.Owner)
	assert.Equal(t, []string{"a1"}, actionIDs(h2.measures("ApplyMeasure")))
	assert.Equal(t, []string{"a2"}, actionIDs(h2.measures("UndoMeasure")), "the carried range deny is undone at resolve")
	assert.Empty(t, h2.callsNamed("SnapshotTarget"), "no second declaration")
	require.NotEmpty(t, h2.upserts)
	frozen, _ := h2.upserts[0].GetKeywordList(contract.AttrFrozenTargets)
	assert.Equal(t, []string{"demo"}, frozen, "the freeze is carried")

	assert.Equal(t, st.Timeline, res.Timeline[:len(st.Timeline)], "the report's timeline goes on from the carried one")
	cont := requireEvent(t, res.Timeline, systemActor, "continued as new", contract.StateDone)
	assert.Equal(t, strconv.Itoa(len(full)-50)+" earlier timeline events archived in 1 parts", cont.Detail)
	assert.Equal(t, st.Archived, res.Archived, "the report names the archived parts")
	written := h2.callsNamed("WriteReport")
	require.Len(t, written, 1)
	assert.Equal(t, st.Archived, written[0].Report.Report.Archived)
	final := res.Validations[len(res.Validations)-1]
	assert.True(t, final.OK, "the final verification finds every measure's decision, archived ones included: %+v", final)
}

// Resolve produces the full report: outcome, summary, follow-ups, who did each action, the
// config changed, the validations and the timeline; WriteReport writes it.
func TestIncident_ResolveReport(t *testing.T) {
	h := newIncHarness(t)
	h.decideAt(time.Minute, contract.UpdateOwner, "bob", "taking it")
	h.containAt(2*time.Minute, "bob", contract.ContainRequest{Kind: contract.ContainDenyCIDR, CIDRs: []string{"203.0.113.0/24"}, Reason: "source"})
	h.containAt(3*time.Minute, "bob", contract.ContainRequest{Kind: contract.ContainLogLevel, Level: "debug"})
	h.containAt(4*time.Minute, "bob", contract.ContainRequest{Kind: contract.ContainRequireReset, Users: []string{"u1"}})
	h.containAt(5*time.Minute, "bob", contract.ContainRequest{Kind: contract.ContainLogoutAll})
	// An approval names the action it approves (approval-bound-to-action).
	h.actionAt(6*time.Minute, contract.DecisionApprove, "carol", "a4")
	h.noteAt(7*time.Minute, "dave", "attack stopped", true)
	h.decideAt(10*time.Minute, contract.UpdateVerify, "alice", "")
	h.decideAt(11*time.Minute, contract.UpdateVerify, "dave", "again")
	req := incResolve()
	// An approver may take over from the owner.
	resolve := h.resolveAt(30*time.Minute, "carol", req)
	h.run(incInput())

	res := h.completed()
	assert.Equal(t, "resolving (taking over from bob); "+req.Summary, resolve.requireAccepted(t).Detail)
	assert.Equal(t, incID, res.WorkflowID)
	assert.Equal(t, "auth-incident", res.Runbook)
	assert.Equal(t, []string{"demo"}, res.Targets)
	assert.Equal(t, contract.OutcomeResolved, res.Outcome)
	assert.Equal(t, req.Summary, res.Summary)
	assert.Equal(t, req.FollowUps, res.FollowUps)

	type who struct{ actor, action string }
	var actions []who
	for _, a := range res.Actions {
		actions = append(actions, who{a.Actor, a.Action})
	}
	assert.Equal(t, []who{{"alice", "start"}, {"bob", "owner"}, {"bob", "contain"}, {"bob", "contain"}, {"bob", "contain"}, {"bob", "contain"},
		{"carol", "approve"}, {"dave", "note"}, {"alice", "verify"}, {"dave", "verify"}, {"carol", "resolve"},
		{systemActor, "undo a1"}, {systemActor, "undo a2"}}, actions)

	require.Len(t, res.ConfigChanges, 4)
	assert.Equal(t, contract.ConfigChange{At: at0(2 * time.Minute), Item: "deny-cidr 203.0.113.0/24 on demo", ToVersion: "deny 203.0.113.0/24",
		Reason: "asked by bob (a1); undone at " + at0(30*time.Minute).Format("2006-01-02T15:04:05Z")}, res.ConfigChanges[0])
	assert.Equal(t, "info", res.ConfigChanges[1].FromVersion, "the log level before")
	assert.Equal(t, "debug", res.ConfigChanges[1].ToVersion)
	assert.Equal(t, "reset required: u1", res.ConfigChanges[2].ToVersion)
	assert.Contains(t, res.ConfigChanges[2].Reason, "permanent")
	assert.Equal(t, "logout-all on demo", res.ConfigChanges[3].Item)
	assert.Equal(t, "asked by bob (a4); permanent", res.ConfigChanges[3].Reason)

	var stages []string
	for _, v := range res.Validations {
		stages = append(stages, v.Stage)
		assert.True(t, v.OK, v.Stage)
	}
	assert.Equal(t, []string{"confirm demo", "verify 1 (asked by alice) demo", "verify 2 (asked by dave) demo", "final verification demo"}, stages)
	final := res.Validations[3].Results
	assert.Equal(t, "timeline holds every mitigation with its actor", final[len(final)-1].Name)
	assert.Equal(t, "4 measures, each with its verified actor", final[len(final)-1].Detail)

	assertUTC(t, res.Timeline)
	requireEvent(t, res.Timeline, systemActor, "closed", contract.OutcomeResolved)
	assert.Equal(t, contract.StateDone, checklist(h.status())[contract.StepResolve])
	assert.Equal(t, contract.StateDone, checklist(h.status())[contract.StepContain])
	assert.Equal(t, []contract.ArtifactRef{{Path: "var/artifacts/" + incID + "/report.md", Digest: "d1"},
		{Path: "var/artifacts/" + incID + "/report.json", Digest: "d2"}}, res.Artifacts)

	written := h.callsNamed("WriteReport")
	require.Len(t, written, 1)
	w := written[0].Report
	assert.Equal(t, incID, w.WorkflowID)
	got := w.Report
	assert.Equal(t, res.Actions, got.Actions)
	assert.Equal(t, res.ConfigChanges, got.ConfigChanges)
	assert.Equal(t, res.Validations, got.Validations)
	assert.Equal(t, res.Summary, got.Summary)
	assert.Equal(t, res.FollowUps, got.FollowUps)
	assert.Equal(t, res.Timeline[:len(got.Timeline)], got.Timeline, "the written timeline is the run's up to the report")
	assert.Equal(t, "resolved", h.announceKinds()[len(h.announceKinds())-1])
}
