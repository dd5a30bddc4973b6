package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/authops/authops/contract"
)

func closedRun(workflowType string, status enumspb.WorkflowExecutionStatus) *workflowservice.DescribeWorkflowExecutionResponse {
	return &workflowservice.DescribeWorkflowExecutionResponse{WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{
		Type: &commonpb.WorkflowType{Name: workflowType}, Status: status, FirstRunId: "first-1",
		Execution: &commonpb.WorkflowExecution{RunId: "run-1"},
	}}
}

var rotationResult = contract.RotationResult{
	Target: "demo", Outcome: contract.OutcomeCompleted, Summary: "rotated demo's JWT secret; validation passed",
	Changes: []contract.ConfigChange{{At: at, Item: "JWT_SECRET", FromVersion: "v3", FromFingerprint: "fp3",
		ToVersion: "v4", ToFingerprint: "fp4", Reason: "key hygiene"}},
	Validations: []contract.Validation{{Stage: "post-deploy", OK: true, Results: contract.ProbeResults{
		{Name: "login", Method: "POST", Path: "/auth/token", Expected: 200, Got: 200, OK: true, At: at}}}},
	Timeline: []contract.Event{
		{At: at, Actor: "alice", Action: "start", Outcome: "accepted", Verified: true, Detail: "key hygiene"},
		{At: at, Actor: "bob", Action: "approve", Outcome: "accepted", Verified: true, Detail: "lgtm <b>|"},
		{At: at, Actor: "authops", Action: "deploy", Outcome: "done"},
	},
}

// TestReportRotation: a closed rotation's result becomes a report with every section.
func TestReportRotation(t *testing.T) {
	h, fc := incidentHarness(t)
	fc.desc = closedRun(contract.WorkflowSecretRotation, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED)
	fc.result = rotationResult
	out, err := h.runWith(fc, "report", "rotation-demo")
	require.NoError(t, err)
	for _, want := range []string{
		"# Report: rotation-demo", "**Runbook:** secret-rotation", "**Targets:** demo", "**Outcome:** completed",
		"> rotated demo's JWT secret; validation passed",
		"| 2026-11-28T21:30:00Z | bob | approve | accepted: lgtm &lt;b&gt;\\| |",
		"| 2026-11-28T21:30:00Z | JWT\\_SECRET | v3 | fp3 | v4 | fp4 | key hygiene |",
		"### Stage: post-deploy (passed)", "| login | POST /auth/token | 200 | 200 | passed |",
		"## Timeline (UTC)", "| authops | deploy | done |",
	} {
		require.Contains(t, out, want)
	}
	require.NotContains(t, out, "still open")
	require.Empty(t, fc.queries, "a closed run's result is enough")

	out, err = h.runWith(fc, "report", "rotation-demo", "--format", "json")
	require.NoError(t, err)
	var r contract.Report
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	require.Equal(t, "rotation-demo", r.WorkflowID)
	require.Len(t, r.Actions, 2)
	require.Equal(t, rotationResult.Changes, r.ConfigChanges)
}

// TestReportFailedRotation: a failed run's result is in its RunbookFailed error.
func TestReportFailedRotation(t *testing.T) {
	h, fc := incidentHarness(t)
	fc.desc = closedRun(contract.WorkflowSecretRotation, enumspb.WORKFLOW_EXECUTION_STATUS_FAILED)
	res := rotationResult
	res.Outcome, res.Summary = contract.OutcomeRolledBack, "validation failed; rolled back to v3"
	fc.resultErr = fmt.Errorf("workflow execution error: %w",
		temporal.NewNonRetryableApplicationError("rolled back", contract.ErrTypeRunbookFailed, nil, res))
	out, err := h.runWith(fc, "report", "rotation-demo")
	require.NoError(t, err)
	require.Contains(t, out, "**Outcome:** rolled\\_back")
	require.Contains(t, out, "> validation failed; rolled back to v3")
}

// TestReportIncident: a closed incident's result is its report, printed as it is.
func TestReportIncident(t *testing.T) {
	h, fc := incidentHarness(t)
	fc.desc = closedRun(contract.WorkflowAuthIncident, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED)
	fc.result = contract.Report{WorkflowID: "incident-x", Runbook: "auth-incident", Targets: []string{"demo"},
		Outcome: contract.OutcomeResolved, Summary: "contained", FollowUps: []string{"rate limit /auth/token"},
		Actions:   []contract.ReportAction{{At: at, Actor: "bob", Action: "contain", Detail: "deny-cidr 203.0.113.0/24"}},
		Artifacts: []contract.ArtifactRef{{Path: "var/artifacts/incident-x/snapshot-demo.json", Digest: "abc"}}}
	out, err := h.runWith(fc, "report", "incident-x")
	require.NoError(t, err)
	for _, want := range []string{"# Report: incident-x", "**Outcome:** resolved", "- rate limit /auth/token",
		"| bob | contain | deny-cidr 203.0.113.0/24 |", "## Artifacts", "snapshot-demo.json | abc |"} {
		require.Contains(t, out, want)
	}
}

// TestReportOpenRun: a running run's report comes from its queries and says it is open.
func TestReportOpenRun(t *testing.T) {
	h, fc := incidentHarness(t)
	fc.incident = contract.IncidentStatus{ID: "incident-x", Summary: "stuffing", Targets: []string{"demo"},
		Pending: []contract.PendingAction{{ID: "a2", Request: contract.ContainRequest{Kind: contract.ContainLogoutAll}, Quorum: 1, State: "pending"}}}
	fc.timeline = []contract.Event{{At: at, Actor: "alice", Action: "owner", Outcome: "accepted", Verified: true}}
	out, err := h.runWith(fc, "report", "incident-x")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(out, "**This run is still open.**"), out)
	for _, want := range []string{"**Runbook:** auth-incident", "**Outcome:** open", "> stuffing",
		"- Action a2 waits for approval: logout-all (0 of 1)", "| alice | owner | accepted |"} {
		require.Contains(t, out, want)
	}
	require.Contains(t, fc.queries, contract.QueryIncident)

	// A running rotation: status and timeline.
	fc.desc = running("first-1")
	fc.desc.WorkflowExecutionInfo.Type = &commonpb.WorkflowType{Name: contract.WorkflowSecretRotation}
	fc.status = contract.Status{Runbook: "secret-rotation", Target: "demo", Phase: "waiting for approval"}
	out, err = h.runWith(fc, "report", "rotation-demo", "--format", "json")
	require.NoError(t, err)
	var r contract.Report
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	require.Equal(t, "open", r.Outcome)
	require.Equal(t, []string{"demo"}, r.Targets)
	require.Equal(t, "phase: waiting for approval", r.Summary)
}

// TestReportUnknownOrBad: an unknown id and a bad format get clear errors.
func TestReportUnknownOrBad(t *testing.T) {
	h, fc := incidentHarness(t)
	fc.descErr = serviceerror.NewNotFound("workflow not found")
	_, err := h.runWith(fc, "report", "incident-nope")
	require.EqualError(t, err, "no run with id incident-nope")

	_, err = h.runWith(fc, "report", "incident-x", "--format", "html")
	require.EqualError(t, err, `--format must be md or json, got "html"`)
}
