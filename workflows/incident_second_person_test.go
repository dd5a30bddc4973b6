package workflows

// No one person locks everyone out (issue 17): who may own an incident, the measures that need a
// second person whatever the config says, approvers of another target, and keeping a measure
// past the incident. Fixtures are in incident_helpers_test.go.

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authops/authops/contract"
)

// Taking an incident is for the approvers of an affected target and the people in
// incident.owners; a refused owner changes nothing and is on the timeline. Each change of owner
// names both people on the timeline and is announced to both.
func TestIncident_OwnerMustBeAnApprover(t *testing.T) {
	t.Run("a person who approves nothing is refused", func(t *testing.T) {
		h := newIncHarness(t)
		dave := h.decideAt(time.Minute, contract.UpdateOwner, "dave", "mine")
		var st contract.IncidentStatus
		h.at(2*time.Minute, func() { st = h.incStatus() })
		h.resolveAt(time.Hour, "alice", incResolve())
		h.run(incInput())

		res := h.completed()
		ev := dave.requireDenied(t, "dave may not own "+incID+": it is for the approvers of demo (alice, bob, carol) and the people in incident.owners (none)")
		requireRecorded(t, res.Timeline, ev)
		assert.Equal(t, "alice", st.Owner, "nothing changed")
		assert.Empty(t, h.messages("owner"))
		requireEvent(t, res.Timeline, systemActor, "owner", "escalated") // still nobody took it
	})

	t.Run("incident.owners may own", func(t *testing.T) {
		h := newIncHarness(t)
		h.ipolicy.Owners = []string{"dave"}
		dave := h.decideAt(time.Minute, contract.UpdateOwner, "dave", "")
		deny := h.containAt(2*time.Minute, "dave", contract.ContainRequest{Kind: contract.ContainDenyCIDR, CIDRs: []string{"203.0.113.0/24"}})
		h.resolveAt(time.Hour, "dave", incResolve())
		h.run(incInput())

		h.completed()
		assert.Equal(t, "owner: alice → dave", dave.requireAccepted(t).Detail)
		deny.requireAccepted(t)
		assert.Equal(t, []string{"a1"}, actionIDs(h.measures("ApplyMeasure")))
	})

	t.Run("a change of owner names both and is announced", func(t *testing.T) {
		h := newIncHarness(t)
		bob := h.decideAt(time.Minute, contract.UpdateOwner, "bob", "")
		carol := h.decideAt(2*time.Minute, contract.UpdateOwner, "carol", "bob is off shift")
		h.resolveAt(time.Hour, "carol", incResolve())
		h.run(incInput())

		res := h.completed()
		assert.Equal(t, "owner: alice → bob", bob.requireAccepted(t).Detail)
		ev := carol.requireAccepted(t)
		assert.Equal(t, "owner: bob → carol; bob is off shift", ev.Detail)
		assert.Equal(t, "carol", ev.Actor)
		requireRecorded(t, res.Timeline, ev)
		msgs := h.messages("owner")
		require.Len(t, msgs, 2)
		assert.Equal(t, "Incident "+incID+": owner alice → bob.", msgs[0].Text)
		assert.Equal(t, "Incident "+incID+": owner bob → carol.", msgs[1].Text)
		assert.Equal(t, []string{"carol", "bob"}, msgs[1].Mention, "both are told")
	})

	t.Run("a reporter who may not own holds the incident only until someone takes it", func(t *testing.T) {
		h := newIncHarness(t)
		in := incInput()
		in.Reporter = "dave"
		contain := h.containAt(time.Minute, "dave", contract.ContainRequest{Kind: contract.ContainLogLevel, Level: "debug"})
		sev := h.decideAt(2*time.Minute, contract.UpdateSeverity, "dave", "low")
		early := h.resolveAt(3*time.Minute, "dave", incResolve())
		h.decideAt(4*time.Minute, contract.UpdateOwner, "bob", "")
		h.resolveAt(time.Hour, "bob", incResolve())
		h.run(in)

		h.completed()
		contain.requireDenied(t, "dave may not ask for log-level: it is for owner (the owner is dave, who holds it only until an approver of demo or one of incident.owners takes it)")
		sev.requireDenied(t, "dave is neither the owner (dave) nor an approver of demo")
		early.requireDenied(t, "dave is neither the owner (dave) nor an approver of demo")
		h.assertNotRun("ApplyMeasure")
	})
}

// Every measure that can lock out many people needs one approver besides the asker, even where
// the config says quorum 0: held without one, applied with one. Narrower measures still apply
// at once.
func TestIncident_SecondPersonMeasures(t *testing.T) {
	many := []string{"u1", "u2", "u3", "u4", "u5", "u6"}
	cases := []struct {
		name string
		req  contract.ContainRequest
		why  string
	}{
		{"logout-all", contract.ContainRequest{Kind: contract.ContainLogoutAll}, "a global logout locks everyone out"},
		{"reset of more than 5", contract.ContainRequest{Kind: contract.ContainRequireReset, Users: many},
			"it resets 6 account(s), more than incident.reset_without_quorum (5)"},
		{"reset of an admin", contract.ContainRequest{Kind: contract.ContainRequireReset, Users: []string{"u1", "admin"}}, "admin is an admin account"},
		{"reset of the probes' admin, any case", contract.ContainRequest{Kind: contract.ContainRequireReset, Users: []string{"Probe-Admin"}},
			"Probe-Admin is an admin account"},
		{"deny with --force", contract.ContainRequest{Kind: contract.ContainDenyCIDR, CIDRs: []string{"0.0.0.0/0", "::/0"}, Force: true},
			"--force lets through a range that locks out everyone or the worker's probes"},
		{"deny of a /8", contract.ContainRequest{Kind: contract.ContainDenyCIDR, CIDRs: []string{"203.0.113.0/24", "10.0.0.0/8"}},
			"10.0.0.0/8 is wider than /16 (incident.deny_without_quorum.ipv4)"},
		{"deny of an IPv6 /32", contract.ContainRequest{Kind: contract.ContainDenyCIDR, CIDRs: []string{"2001:db8::/32"}},
			"2001:db8::/32 is wider than /48 (incident.deny_without_quorum.ipv6)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newIncHarness(t)
			for k, r := range h.ipolicy.Actions {
				r.Quorum = 0 // the config asks for no one: the rule raises it
				h.ipolicy.Actions[k] = r
			}
			ask := h.containAt(time.Minute, "alice", tc.req)
			self := h.actionAt(2*time.Minute, contract.DecisionApprove, "alice", "a1")
			dave := h.actionAt(3*time.Minute, contract.DecisionApprove, "dave", "a1")
			var held contract.IncidentStatus
			h.at(4*time.Minute, func() { held = h.incStatus() })
			bob := h.actionAt(5*time.Minute, contract.DecisionApprove, "bob", "a1")
			h.resolveAt(time.Hour, "alice", incResolve())
			h.run(incInput())

			res := h.completed()
			assert.Contains(t, ask.requireAccepted(t).Detail, "a1 "+tc.req.Describe()+" (needs a second person: "+tc.why+") waits for approval: approvals 0 of 1")
			requireRecorded(t, res.Timeline, self.requireDenied(t, "alice asked for a1 and cannot approve it"))
			requireRecorded(t, res.Timeline, dave.requireDenied(t, "dave is not an approver"))
			require.Len(t, held.Pending, 1)
			assert.Equal(t, "pending", held.Pending[0].State, "held without a second person")
			assert.Equal(t, 1, held.Pending[0].Quorum)
			assert.Equal(t, tc.why, held.Pending[0].Why)
			assert.Empty(t, held.Measures)
			approvals := h.messages("approval")
			require.Len(t, approvals, 1)
			assert.Contains(t, approvals[0].Text, "needs a second person: "+tc.why)

			assert.Contains(t, bob.requireAccepted(t).Detail, "a1 approved by bob: "+tc.req.Describe())
			applied := h.callsNamed("ApplyMeasure")
			require.Len(t, applied, 1, "applied with a second person")
			assert.Equal(t, 5*time.Minute, applied[0].At)
			assert.Equal(t, tc.req, applied[0].Measure.Request)
		})
	}

	t.Run("narrower measures apply at once", func(t *testing.T) {
		h := newIncHarness(t)
		reqs := []contract.ContainRequest{
			{Kind: contract.ContainRequireReset, Users: []string{"u1", "u2", "u3", "u4", "u5"}},
			{Kind: contract.ContainDenyCIDR, CIDRs: []string{"198.51.0.0/16", "2001:db8::/48"}},
			{Kind: contract.ContainLogoutUsers, Users: []string{"admin"}}, // a logout is no lock-out
		}
		var ds []*decision
		for n, r := range reqs {
			ds = append(ds, h.containAt(time.Duration(n+1)*time.Minute, "alice", r))
		}
		h.resolveAt(time.Hour, "alice", incResolve())
		h.run(incInput())

		h.completed()
		for _, d := range ds {
			assert.NotContains(t, d.requireAccepted(t).Detail, "waits for approval")
		}
		assert.Equal(t, []string{"a1", "a2", "a3"}, actionIDs(h.measures("ApplyMeasure")))
	})

	t.Run("the config may ask for more, never less", func(t *testing.T) {
		h := newIncHarness(t)
		h.ipolicy.Actions[contract.ContainLogoutAll] = contract.ActionRule{Who: []string{"owner"}, Quorum: 2}
		ask := h.containAt(time.Minute, "alice", contract.ContainRequest{Kind: contract.ContainLogoutAll})
		bob := h.actionAt(2*time.Minute, contract.DecisionApprove, "bob", "a1")
		carol := h.actionAt(3*time.Minute, contract.DecisionApprove, "carol", "a1")
		h.resolveAt(time.Hour, "alice", incResolve())
		h.run(incInput())

		h.completed()
		assert.Contains(t, ask.requireAccepted(t).Detail, "approvals 0 of 2")
		assert.Equal(t, "a1 approvals 1 of 2: bob; waiting for one more of: carol", bob.requireAccepted(t).Detail)
		carol.requireAccepted(t)
		assert.Equal(t, 3*time.Minute, h.callsNamed("ApplyMeasure")[0].At)
	})

	t.Run("no approver besides the asker: refused, nothing changed", func(t *testing.T) {
		h := newIncHarness(t)
		h.ipolicy.TargetApprovers = map[string][]string{"demo": {"alice"}}
		ask := h.containAt(time.Minute, "alice", contract.ContainRequest{Kind: contract.ContainDenyCIDR, CIDRs: []string{"10.0.0.0/8"}})
		var st contract.IncidentStatus
		h.at(2*time.Minute, func() { st = h.incStatus() })
		h.resolveAt(time.Hour, "alice", incResolve())
		h.run(incInput())

		res := h.completed()
		ev := ask.requireDenied(t, "deny-cidr 10.0.0.0/8 (10.0.0.0/8 is wider than /16 (incident.deny_without_quorum.ipv4)) needs 1 approvers besides alice, and there are 0 (approvers: alice); nothing was changed")
		requireRecorded(t, res.Timeline, ev)
		assert.Empty(t, st.Pending)
		h.assertNotRun("ApplyMeasure")
	})
}

// Gates count only the approvers of the targets the measure acts on: an approver of another
// target approves nothing there, and cannot resolve, own or change the severity of an incident
// that does not affect their target.
func TestIncident_ApproverOfAnotherTarget(t *testing.T) {
	twoTargets := func(h *incHarness) {
		h.ipolicy.Targets = []string{"demo", "shop"}
		h.ipolicy.TargetApprovers = map[string][]string{"demo": {"alice", "bob"}, "shop": {"carol", "alice"}}
	}

	t.Run("incident on demo, carol approves shop", func(t *testing.T) {
		h := newIncHarness(t)
		twoTargets(h)
		ask := h.containAt(time.Minute, "alice", contract.ContainRequest{Kind: contract.ContainLogoutAll})
		carol := h.actionAt(2*time.Minute, contract.DecisionApprove, "carol", "a1")
		resolve := h.resolveAt(3*time.Minute, "carol", incResolve())
		owner := h.decideAt(4*time.Minute, contract.UpdateOwner, "carol", "")
		sev := h.decideAt(5*time.Minute, contract.UpdateSeverity, "carol", "low")
		var held contract.IncidentStatus
		h.at(6*time.Minute, func() { held = h.incStatus() })
		bob := h.actionAt(7*time.Minute, contract.DecisionApprove, "bob", "a1")
		byBob := h.resolveAt(time.Hour, "bob", incResolve())
		h.run(incInput()) // demo only

		res := h.completed()
		assert.Contains(t, ask.requireAccepted(t).Detail, "waiting for one more of: bob")
		for _, ev := range []contract.Event{
			carol.requireDenied(t, "a1: carol is not an approver for this target (approvers: alice, bob)"),
			resolve.requireDenied(t, "carol is neither the owner (alice) nor an approver of demo"),
			owner.requireDenied(t, "carol may not own "+incID+": it is for the approvers of demo (alice, bob)"),
			sev.requireDenied(t, "carol is neither the owner (alice) nor an approver of demo"),
		} {
			requireRecorded(t, res.Timeline, ev)
		}
		assert.Equal(t, "pending", held.Pending[0].State)
		assert.Equal(t, "alice", held.Owner)
		assert.Equal(t, "high", held.Severity)
		assert.Equal(t, []string{"alice", "bob"}, held.Pending[0].Approvers)
		approvals := h.messages("approval")
		require.Len(t, approvals, 1)
		assert.Equal(t, []string{"alice", "bob"}, approvals[0].Mention, "only demo's approvers are asked")
		bob.requireAccepted(t)
		assert.Equal(t, "resolving (taking over from alice); "+incResolve().Summary, byBob.requireAccepted(t).Detail)
		assert.Equal(t, []string{"a1"}, actionIDs(h.measures("ApplyMeasure")))
	})

	t.Run("a measure on two targets needs an approver of both", func(t *testing.T) {
		h := newIncHarness(t)
		twoTargets(h)
		in := incInput()
		in.Targets = []string{"demo", "shop"}
		both := h.containAt(time.Minute, "alice", contract.ContainRequest{Kind: contract.ContainLogoutAll})
		shop := h.containAt(2*time.Minute, "alice", contract.ContainRequest{Kind: contract.ContainLogoutAll, Target: "shop"})
		bob := h.actionAt(3*time.Minute, contract.DecisionApprove, "bob", "a1")
		carol := h.actionAt(4*time.Minute, contract.DecisionApprove, "carol", "a1")
		h.resolveAt(time.Hour, "alice", incResolve())
		h.run(in)

		h.completed()
		both.requireDenied(t, "logout-all (a global logout locks everyone out) needs 1 approvers besides alice, and there are 0 (approvers: alice)")
		assert.Contains(t, shop.requireAccepted(t).Detail, "a1 logout-all on shop (needs a second person")
		bob.requireDenied(t, "a1: bob is not an approver for this target (approvers: carol, alice)")
		carol.requireAccepted(t)
		assert.Equal(t, []string{"ApplyMeasure(a1 logout-all on shop)"}, filterSteps(h.steps(), "ApplyMeasure"))
	})
}

// resolve --keep keeps a measure past the incident only with an approver of its target besides
// the one who resolves; the kept measure carries its owner and expiry, and the report names them.
func TestIncident_ResolveKeep(t *testing.T) {
	deny := contract.ContainRequest{Kind: contract.ContainDenyCIDR, CIDRs: []string{"203.0.113.0/24"}, Reason: "source"}
	level := contract.ContainRequest{Kind: contract.ContainLogLevel, Level: "debug"}
	keep := func(d time.Duration) contract.ResolveRequest {
		r := incResolve()
		r.Keep, r.KeepFor = []string{contract.ContainDenyCIDR}, d
		return r
	}

	t.Run("held without an approver; a reject keeps the incident open", func(t *testing.T) {
		h := newIncHarness(t)
		h.containAt(time.Minute, "alice", deny)
		ask := h.resolveAt(10*time.Minute, "alice", keep(0))
		self := h.actionAt(11*time.Minute, contract.DecisionApprove, "alice", contract.KeepAction)
		dave := h.actionAt(12*time.Minute, contract.DecisionApprove, "dave", contract.KeepAction)
		other := h.resolveAt(13*time.Minute, "bob", incResolve())
		var held contract.IncidentStatus
		h.at(14*time.Minute, func() { held = h.incStatus() })
		reject := h.actionAt(15*time.Minute, contract.DecisionReject, "carol", contract.KeepAction)
		final := h.resolveAt(20*time.Minute, "alice", incResolve())
		h.run(incInput())

		res := h.completed()
		until := at0(10*time.Minute + contract.DefaultKeepFor).Format(time.RFC3339)
		assert.Equal(t, "resolve waits for approval to keep a1 deny-cidr 203.0.113.0/24 on demo until "+until+
			": approvals 0 of 1; waiting for one more of: bob, carol; "+incResolve().Summary, ask.requireAccepted(t).Detail)
		requireRecorded(t, res.Timeline, self.requireDenied(t, "keep: alice asked to keep a1 and cannot approve it"))
		requireRecorded(t, res.Timeline, dave.requireDenied(t, "keep: dave is not an approver"))
		other.requireDenied(t, "alice's resolve waits for approval to keep a1 (starter approve "+incID+" --action keep)")
		require.NotNil(t, held.Keeping)
		assert.Equal(t, "pending", held.Keeping.State)
		assert.Equal(t, []string{"a1"}, held.Keeping.Measures)
		assert.Empty(t, held.Outcome, "the incident is still open")
		assert.Contains(t, reject.requireAccepted(t).Detail, "resolve keeping a1 rejected by carol; nothing changed, the incident stays open")
		final.requireAccepted(t)
		undone := h.callsNamed("UndoMeasure")
		require.Len(t, undone, 1)
		assert.Equal(t, 20*time.Minute, undone[0].At, "undone at the resolve that keeps nothing")
		assert.Empty(t, res.Kept)
		approvals := h.messages("approval")
		require.Len(t, approvals, 1)
		assert.Contains(t, approvals[0].Text, "starter approve "+incID+" --action keep")
		assert.Equal(t, []string{"alice", "bob", "carol"}, approvals[0].Mention)
	})

	t.Run("kept with an approver, with owner and expiry in the report", func(t *testing.T) {
		h := newIncHarness(t)
		h.decideAt(30*time.Second, contract.UpdateOwner, "bob", "")
		h.containAt(time.Minute, "bob", deny)
		h.containAt(2*time.Minute, "bob", level)
		ask := h.resolveAt(10*time.Minute, "bob", keep(48*time.Hour))
		carol := h.actionAt(12*time.Minute, contract.DecisionApprove, "carol", contract.KeepAction)
		h.run(incInput())

		res := h.completed()
		until := at0(10*time.Minute + 48*time.Hour)
		ask.requireAccepted(t)
		assert.Equal(t, "keep approved by carol: a1 stay in force until "+until.Format(time.RFC3339)+", owned by bob; resolving",
			carol.requireAccepted(t).Detail)
		assert.Equal(t, []string{"UndoMeasure(a2 log-level on demo)"}, filterSteps(h.steps(), "UndoMeasure"), "only the log level is undone")
		kept := requireEvent(t, res.Timeline, "bob", "keep a1", "kept")
		assert.Equal(t, "deny-cidr 203.0.113.0/24 on demo stays in force until "+until.Format(time.RFC3339)+", owned by bob, approved by carol", kept.Detail)
		st := h.incStatus()
		require.Len(t, st.Measures, 2)
		m := st.Measures[0]
		assert.True(t, m.Kept)
		assert.Equal(t, "bob", m.KeptBy)
		assert.Equal(t, "carol", m.KeptApprovedBy)
		assert.Equal(t, until, m.KeptUntil)
		want := []contract.KeptMeasure{{ActionID: "a1", Item: "deny-cidr 203.0.113.0/24 on demo", Target: "demo", Owner: "bob", ApprovedBy: "carol", Until: until}}
		assert.Equal(t, want, res.Kept)
		assert.Equal(t, "asked by bob (a1); kept at resolve by bob, approved by carol, until "+until.Format(time.RFC3339), res.ConfigChanges[0].Reason)
		written := h.callsNamed("WriteReport")
		require.Len(t, written, 1)
		assert.Equal(t, want, written[0].Report.Report.Kept, "the written report names the owner and the expiry")
		resolved := h.messages("resolved")
		require.Len(t, resolved, 1)
		assert.Contains(t, resolved[0].Text, "Kept in force: deny-cidr 203.0.113.0/24 on demo until "+until.Format(time.RFC3339)+" (owner bob)")
	})

	t.Run("an approval signed for another keep is refused", func(t *testing.T) {
		h := newIncHarness(t)
		h.containAt(time.Minute, "alice", deny)
		h.resolveAt(10*time.Minute, "alice", keep(0))
		stale := h.decideWith(11*time.Minute, contract.DecisionApprove, func() contract.Decision {
			return h.signedArgs(contract.DecisionApprove, "bob", "", argsJSON(t, contract.ActionRef{Action: contract.KeepAction, Digest: "0123"}))
		})
		var held contract.IncidentStatus
		h.at(12*time.Minute, func() { held = h.incStatus() })
		h.actionAt(13*time.Minute, contract.DecisionApprove, "bob", contract.KeepAction)
		h.run(incInput())

		res := h.completed()
		requireRecorded(t, res.Timeline, stale.requireDenied(t, "keep: this decision was not signed for the keep waiting now (a1 until "))
		require.NotNil(t, held.Keeping)
		assert.Equal(t, "pending", held.Keeping.State)
		require.Len(t, res.Kept, 1)
		assert.Equal(t, "bob", res.Kept[0].ApprovedBy)
	})

	t.Run("nothing to keep resolves at once", func(t *testing.T) {
		h := newIncHarness(t)
		h.containAt(time.Minute, "alice", level)
		ask := h.resolveAt(10*time.Minute, "alice", keep(0))
		h.run(incInput())

		res := h.completed()
		assert.Contains(t, ask.requireAccepted(t).Detail, "resolving; nothing to keep: no deny-cidr measure is in force")
		assert.Empty(t, res.Kept)
		assert.Empty(t, h.messages("approval"))
	})

	t.Run("bad keep requests change nothing", func(t *testing.T) {
		h := newIncHarness(t)
		h.containAt(time.Minute, "alice", deny)
		long := h.resolveAt(2*time.Minute, "alice", keep(31*24*time.Hour))
		negative := h.resolveAt(3*time.Minute, "alice", keep(-time.Hour))
		noKeep := incResolve()
		noKeep.KeepFor = time.Hour
		without := h.resolveAt(4*time.Minute, "alice", noKeep)
		var st contract.IncidentStatus
		h.at(5*time.Minute, func() { st = h.incStatus() })
		h.resolveAt(time.Hour, "alice", incResolve())
		h.run(incInput())

		res := h.completed()
		for d, why := range map[*decision]string{
			long:     "--keep-for is at most 720h0m0s (30 days), got 744h0m0s",
			negative: "--keep-for must not be negative",
			without:  "--keep-for needs --keep",
		} {
			requireRecorded(t, res.Timeline, d.requireDenied(t, why))
		}
		assert.Nil(t, st.Keeping)
		assert.Empty(t, st.Outcome)
	})
}
