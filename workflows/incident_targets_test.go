package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authops/authops/contract"
)

// targetsAt has actor name the incident's targets at d, as the starter sends it.
func (h *incHarness) targetsAt(d time.Duration, actor string, targets ...string) *decision {
	args := argsJSON(h.t, contract.TargetsRequest{Targets: targets})
	return h.decideWith(d, contract.UpdateTargets, func() contract.Decision {
		return h.signedArgs(contract.UpdateTargets, actor, "", args)
	})
}

// twoTargets is the policy of two targets, demo (alice, bob, carol) and shop (bob alone).
func twoTargets(h *incHarness) {
	h.ipolicy.Targets = []string{"demo", "shop"}
	h.ipolicy.TargetApprovers = map[string][]string{"demo": {"alice", "bob", "carol"}, "shop": {"bob"}}
}

// TestIncident_NoTargetsFreezesNothing: an incident declared with no targets (an alert with no
// target label) affects, freezes, snapshots and checks nothing, and takes no containment action,
// until the owner or an approver of the targets names them; the run then freezes, snapshots and
// confirms exactly those, once.
func TestIncident_NoTargetsFreezesNothing(t *testing.T) {
	h := newIncHarness(t)
	twoTargets(h)
	in := incInput()
	in.Targets = nil
	var before contract.IncidentStatus
	var frozenBefore, frozenAfter []string
	h.at(time.Minute, func() { before, frozenBefore = h.incStatus(), h.frozen() })
	contain := h.containAt(2*time.Minute, "alice", contract.ContainRequest{Kind: contract.ContainLogLevel, Level: "debug"})
	notApprover := h.targetsAt(3*time.Minute, "dave", "shop")
	ofAnother := h.targetsAt(3*time.Minute+time.Second, "carol", "shop")
	unknown := h.targetsAt(3*time.Minute+2*time.Second, "alice", "shop", "prod")
	twice := h.targetsAt(3*time.Minute+3*time.Second, "alice", "shop", "shop")
	named := h.targetsAt(4*time.Minute, "bob", "shop")
	again := h.targetsAt(5*time.Minute, "alice", "demo")
	h.at(6*time.Minute, func() { frozenAfter = h.frozen() })
	h.decideAt(6*time.Minute+time.Second, contract.UpdateOwner, "bob", "")
	after := h.containAt(7*time.Minute, "bob", contract.ContainRequest{Kind: contract.ContainLogLevel, Level: "debug"})
	h.resolveAt(time.Hour, "bob", incResolve())
	h.run(in)

	res := h.completed()
	assert.Empty(t, before.Targets)
	assert.Empty(t, before.Frozen)
	assert.Empty(t, frozenBefore, "nothing frozen before the targets are named")
	requireEvent(t, res.Timeline, systemActor, "targets", "none")
	contain.requireDenied(t, "the incident names no target yet")
	notApprover.requireDenied(t, "dave is neither the owner (alice) nor an approver of shop")
	ofAnother.requireDenied(t, "carol is neither the owner (alice) nor an approver of shop")
	unknown.requireDenied(t, `unknown target "prod" (known: demo, shop)`)
	twice.requireDenied(t, "target shop is named twice")
	ev := named.requireAccepted(t)
	assert.Equal(t, "bob", ev.Actor)
	assert.Contains(t, ev.Detail, "targets: shop; frozen: shop")
	again.requireDenied(t, "the incident already affects shop")

	assert.Equal(t, []string{"shop"}, frozenAfter, "exactly the targets named")
	assert.Equal(t, []string{"shop"}, res.Targets)
	for _, name := range []string{"SnapshotTarget", "ConfirmAuth"} {
		calls := h.callsNamed(name)
		require.Len(t, calls, 1, "%s once, for the named target only", name)
		assert.Equal(t, "shop", calls[0].Target.Target)
		assert.Equal(t, 4*time.Minute, calls[0].At, "%s when the targets are named", name)
	}
	require.NotEmpty(t, h.upserts)
	frozen, ok := h.upserts[0].GetKeywordList(contract.AttrFrozenTargets)
	require.True(t, ok)
	assert.Equal(t, []string{"shop"}, frozen, "the first freeze is the named target's")
	for _, step := range []string{contract.StepFreeze, contract.StepSnapshot, contract.StepConfirm} {
		assert.Equal(t, at0(4*time.Minute), requireEvent(t, res.Timeline, systemActor, step, contract.StateDone).At, step)
	}
	assert.Contains(t, h.announceKinds(), "targets")
	after.requireAccepted(t)
	assert.Equal(t, []string{"ApplyMeasure(a1 log-level on shop)"}, filterSteps(h.steps(), "ApplyMeasure"))
}
