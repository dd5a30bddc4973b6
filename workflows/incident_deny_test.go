package workflows

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"

	"github.com/authops/authops/contract"
)

// A mapped range is taken in its IPv4 form: the run applies, stores, shows, verifies and
// reports 192.0.2.0/24, never the form as written, which no backend matches.
func TestIncident_DenyMappedRangeStoredNormalised(t *testing.T) {
	h := newIncHarness(t)
	d := h.containAt(time.Minute, "alice", contract.ContainRequest{Kind: contract.ContainDenyCIDR,
		CIDRs: []string{"::ffff:192.0.2.0/120", "192.0.2.0/24", "2001:db8:1::/48"}, Reason: "stuffing source"})
	var st contract.IncidentStatus
	h.at(2*time.Minute, func() { st = h.incStatus() })
	h.decideAt(3*time.Minute, contract.UpdateVerify, "bob", "")
	h.resolveAt(time.Hour, "alice", incResolve())
	h.run(incInput())
	res := h.completed()

	ev := d.requireAccepted(t)
	assert.Contains(t, ev.Detail, "a1 deny-cidr 192.0.2.0/24,2001:db8:1::/48: demo:")
	assert.NotContains(t, ev.Detail, "::ffff:")
	normal := []string{"192.0.2.0/24", "2001:db8:1::/48"}
	applied := h.measures("ApplyMeasure")
	require.Len(t, applied, 1)
	assert.Equal(t, normal, applied[0].Request.CIDRs, "the activity gets the normal form, each range once")
	require.Len(t, st.Measures, 1)
	assert.Equal(t, normal, st.Measures[0].Request.CIDRs)
	assert.Equal(t, normal, st.Pending[0].Request.CIDRs)
	verify := h.callsNamed("VerifyIncident")
	require.NotEmpty(t, verify)
	assert.Equal(t, normal, verify[0].Verify.DeniedCIDRs)
	undone := h.measures("UndoMeasure")
	require.Len(t, undone, 1)
	assert.Equal(t, normal, undone[0].Request.CIDRs, "the undo lifts what was denied")
	require.NotEmpty(t, res.ConfigChanges)
	assert.Equal(t, "deny 192.0.2.0/24,2001:db8:1::/48", res.ConfigChanges[0].ToVersion)
}

// Ranges that each pass lock everyone out together: the guard judges the union with the ranges
// in force and those waiting for approval, refuses, and nothing changes.
func TestIncident_DenyUnionLockingEveryoneOutRefused(t *testing.T) {
	h := newIncHarness(t)
	probeFromV6(h)
	r := h.ipolicy.Actions[contract.ContainDenyCIDR]
	r.Quorum = 1 // a1 waits for bob, so the second half meets it pending and then applied
	h.ipolicy.Actions[contract.ContainDenyCIDR] = r
	deny := func(cidrs ...string) contract.ContainRequest {
		return contract.ContainRequest{Kind: contract.ContainDenyCIDR, CIDRs: cidrs, Reason: "wave"}
	}
	first := h.containAt(time.Minute, "alice", deny("0.0.0.0/1"))
	whilePending := h.containAt(2*time.Minute, "alice", deny("128.0.0.0/1"))
	approve := h.actionAt(3*time.Minute, contract.DecisionApprove, "bob", "a1")
	whileApplied := h.containAt(4*time.Minute, "alice", deny("128.0.0.0/1"))
	mapped := h.containAt(5*time.Minute, "alice", deny("::ffff:128.0.0.0/97"))
	bothInOne := h.containAt(6*time.Minute, "alice", deny("::/1", "8000::/1"))
	partial := h.containAt(7*time.Minute, "alice", deny("::ffff:0:0/95"))
	hole := h.containAt(8*time.Minute, "alice", deny("128.0.0.0/2"))
	var st contract.IncidentStatus
	h.at(9*time.Minute, func() { st = h.incStatus() })
	h.resolveAt(time.Hour, "alice", incResolve())
	h.run(incInput())
	res := h.completed()

	first.requireAccepted(t)
	approve.requireAccepted(t)
	for _, d := range []*decision{whilePending, whileApplied} {
		ev := d.requireDenied(t, "CIDR 128.0.0.0/1 with the ranges already denied (0.0.0.0/1) would lock everyone out (together they cover all of IPv4, 0.0.0.0/0); add --force")
		requireRecorded(t, res.Timeline, ev)
	}
	mapped.requireDenied(t, "CIDR ::ffff:128.0.0.0/97 with the ranges already denied (0.0.0.0/1) would lock everyone out")
	bothInOne.requireDenied(t, "CIDRs ::/1, 8000::/1 would lock everyone out (together they cover all of IPv6")
	partial.requireDenied(t, "CIDR ::ffff:0:0/95 is an IPv4-mapped range shorter than /96, so it is not a whole IPv4 range")
	hole.requireAccepted(t) // a range that leaves a hole is no lock-out

	applied := h.measures("ApplyMeasure")
	require.Len(t, applied, 1, "only a1 reached the backend")
	assert.Equal(t, []string{"0.0.0.0/1"}, applied[0].Request.CIDRs)
	require.Len(t, st.Measures, 1)
	var ids []string
	for _, pa := range st.Pending {
		ids = append(ids, pa.ID+" "+pa.State+" "+strings.Join(pa.Request.CIDRs, ","))
	}
	assert.Equal(t, []string{"a1 applied 0.0.0.0/1", "a2 pending 128.0.0.0/2"}, ids, "no action was registered for a refused deny")
}

// probeFromV6 has the worker's probes come from an IPv6 address, so that half of IPv4 holds
// none of them: any set covering all of IPv4 holds an IPv4 probe address, which the guard
// refuses on its own.
func probeFromV6(h *incHarness) {
	snap := h.snapshot
	h.snapshot = func(in contract.IncidentTargetInput) (contract.Snapshot, error) {
		s, err := snap(in)
		s.ProbeFrom = []string{"2001:db8:ffff::10"}
		return s, err
	}
}

// A range undone no longer counts: once a1 is lifted, the other half is no lock-out.
func TestIncident_DenyUnionCountsRangesInForceOnly(t *testing.T) {
	h := newIncHarness(t)
	probeFromV6(h)
	r := h.ipolicy.Actions[contract.ContainDenyCIDR]
	r.Quorum = 1
	h.ipolicy.Actions[contract.ContainDenyCIDR] = r
	h.containAt(time.Minute, "alice", contract.ContainRequest{Kind: contract.ContainDenyCIDR, CIDRs: []string{"0.0.0.0/1"}, TTL: 10 * time.Minute})
	h.actionAt(2*time.Minute, contract.DecisionApprove, "bob", "a1")
	later := h.containAt(30*time.Minute, "alice", contract.ContainRequest{Kind: contract.ContainDenyCIDR, CIDRs: []string{"128.0.0.0/1"}})
	h.resolveAt(time.Hour, "alice", incResolve())
	h.run(incInput())
	h.completed()

	require.Len(t, h.measures("UndoMeasure"), 1, "the TTL lifted a1 at 12m")
	assert.Contains(t, later.requireAccepted(t).Detail, "a2 deny-cidr 128.0.0.0/1")
}

// The verification on the timeline names where each denied range was probed from, and lists what
// was not probed apart from what passed.
func TestIncident_VerifyShowsProbesAndNotProbed(t *testing.T) {
	h := newIncHarness(t)
	// Registered before the harness's own mock, so it answers first.
	h.env.OnActivity(acts.VerifyIncident, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in contract.IncidentVerifyInput) (contract.ProbeResults, error) {
			rs := incProbesOK("verify")
			for _, c := range in.DeniedCIDRs {
				r := contract.ProbeResult{Name: "denied_range_refused " + c, Method: "POST", Path: "/auth/token", Expected: 403}
				if c == "127.0.0.2/32" {
					r.Got, r.OK, r.Detail = 403, true, "cidr_denied; from 127.0.0.2"
				} else {
					r.NotProbed, r.Detail = true, "not probed: no local address in range to probe from; the backend's deny list holds it"
				}
				rs = append(rs, r)
			}
			return rs, nil
		})
	h.containAt(time.Minute, "alice", contract.ContainRequest{Kind: contract.ContainDenyCIDR, CIDRs: []string{"::ffff:127.0.0.2/128", "203.0.113.0/24"}})
	h.decideAt(2*time.Minute, contract.UpdateVerify, "bob", "")
	h.resolveAt(time.Hour, "alice", incResolve())
	h.run(incInput())
	res := h.completed()

	var verify contract.Event
	for _, ev := range eventsOf(res.Timeline, contract.StepVerify, contract.StateDone) {
		if strings.HasPrefix(ev.Detail, "verify 1") {
			verify = ev
		}
	}
	require.NotEmpty(t, verify.Detail, dumpTimeline(res.Timeline))
	// Three checks, the probe from 127.0.0.2 and the timeline's check pass; the other range is
	// not probed.
	assert.Contains(t, verify.Detail, "demo: 5 of 6 checks pass")
	assert.Contains(t, verify.Detail, "probed: denied_range_refused 127.0.0.2/32: 403: cidr_denied; from 127.0.0.2")
	assert.Contains(t, verify.Detail, "1 not probed (not counted as passed): denied_range_refused 203.0.113.0/24: not probed")
	var v contract.Validation
	for _, x := range res.Validations {
		if strings.HasPrefix(x.Stage, "verify 1") {
			v = x
		}
	}
	require.Len(t, v.Results.NotProbed(), 1)
	assert.True(t, v.OK, "a range not probed fails nothing")
}
