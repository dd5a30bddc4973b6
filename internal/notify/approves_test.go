package notify_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/notify"
)

// TestParentApprovalNamesWhatItApproves: the message above an incident action's Approve button
// names the ranges, the users and the target that a click approves.
func TestParentApprovalNamesWhatItApproves(t *testing.T) {
	inc := notify.RunView{WorkflowID: "incident-1", FirstRunID: "r0",
		Status: contract.Status{Runbook: "auth-incident", Target: "demo,staging", Phase: "contain", RequestedBy: "alice"},
		Incident: &contract.IncidentStatus{Severity: "high", Owner: "bob", Summary: "s", Targets: []string{"demo", "staging"},
			Pending: []contract.PendingAction{
				{ID: "a1", Request: contract.ContainRequest{Kind: contract.ContainDenyCIDR, CIDRs: []string{"203.0.113.0/24"}, Target: "demo"}, Asker: "bob", Quorum: 1, State: "pending"},
				{ID: "a2", Request: contract.ContainRequest{Kind: contract.ContainRequireReset, Users: []string{"admin", "carol"}}, Asker: "bob", Quorum: 1, State: "pending"},
			}}}
	_, blocks := notify.Parent(inc)
	raw := blocksJSON(blocks)
	require.Contains(t, raw, "deny-cidr 203.0.113.0/24 (1 range) on target demo asked by bob")
	require.Contains(t, raw, "require-reset of 2 users: admin, carol on every affected target: demo, staging asked by bob")
}
