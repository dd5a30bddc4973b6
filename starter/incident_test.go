package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/runs"
	"github.com/authops/authops/internal/statement"
)

// runningIncident describes a running AuthIncident.
func runningIncident(firstRunID string) *workflowservice.DescribeWorkflowExecutionResponse {
	d := running(firstRunID)
	d.WorkflowExecutionInfo.Type = &commonpb.WorkflowType{Name: contract.WorkflowAuthIncident}
	d.WorkflowExecutionInfo.Execution = &commonpb.WorkflowExecution{WorkflowId: "incident-x", RunId: "run-3"}
	return d
}

func incidentHarness(t *testing.T, targets ...string) (*harness, *incidentFake) {
	h := newHarness(t)
	fc := newIncidentFake()
	fc.desc = runningIncident("first-1")
	fc.incident = contract.IncidentStatus{ID: "incident-x", Targets: targets, Owner: "alice"}
	fc.answer = contract.Event{At: at, Actor: "alice", Outcome: "accepted"}
	return h, fc
}

// TestIncidentBadInputSendsNothing: each bad input of runbook 1 that the CLI can catch gets a
// clear error, and no run is started and no decision sent.
func TestIncidentBadInputSendsNothing(t *testing.T) {
	long := strings.Repeat("x", contract.MaxNote+1)
	declare := []string{"incident", "declare", "--trigger", "credential-stuffing", "--severity", "high", "--summary", "stuffing", "--reporter", "alice"}
	contain := func(args ...string) []string {
		return append([]string{"incident", "contain", "incident-x", "--as", "alice"}, args...)
	}
	for _, tc := range []struct {
		name    string
		args    []string
		want    string
		missing bool // the incident id names no run
		targets []string
	}{
		{"bad --id", append(declare, "--id", "rotation-demo"), `incident id "rotation-demo" must match incident-[a-z0-9-]{1,40}`, false, nil},
		{"bad --id upper case", append(declare, "--id", "incident-ABC"), "must match incident-", false, nil},
		{"unknown target", append(declare, "--target", "prod"), `--target: unknown target "prod" (known: demo)`, false, nil},
		{"unknown trigger", []string{"incident", "declare", "--trigger", "boom", "--severity", "high", "--summary", "s", "--reporter", "alice"}, "trigger must be one of", false, nil},
		{"summary over 4 KiB", []string{"incident", "declare", "--trigger", "other", "--severity", "low", "--summary", long, "--reporter", "alice"}, "the limit is 4096", false, nil},
		{"invalid CIDR", contain("deny-cidr", "10.0.0.300/8"), `invalid CIDR "10.0.0.300/8"`, false, nil},
		{"not a CIDR", contain("deny-cidr", "nonsense"), `invalid CIDR "nonsense"`, false, nil},
		{"host bits", contain("deny-cidr", "10.0.0.1/8"), "CIDR 10.0.0.1/8 has host bits set; did you mean 10.0.0.0/8?", false, nil},
		{"everyone v4", contain("deny-cidr", "0.0.0.0/0"), "CIDR 0.0.0.0/0 would lock everyone out", false, nil},
		{"everyone v6", contain("deny-cidr", "203.0.113.0/24,::/0"), "CIDR ::/0 would lock everyone out", false, nil},
		{"every mapped v4", contain("deny-cidr", "::ffff:0:0/96"), "would lock everyone out", false, nil},
		{"halves of v4", contain("deny-cidr", "0.0.0.0/1,128.0.0.0/1"), "CIDRs 0.0.0.0/1, 128.0.0.0/1 would lock everyone out (together they cover all of IPv4", false, nil},
		{"partial mapped", contain("deny-cidr", "::ffff:0:0/95", "--force"), "not a whole IPv4 range", false, nil},
		{"empty CIDR item", contain("deny-cidr", "203.0.113.0/24,"), "empty item in the list", false, nil},
		{"deny-cidr without range", contain("deny-cidr"), "deny-cidr needs at least one CIDR", false, nil},
		{"unknown action", contain("shutdown-everything"), `unknown action "shutdown-everything"`, false, nil},
		{"bad user", contain("logout-users", "bob;rm"), `user "bob;rm" is not a user name`, false, nil},
		{"bad log level", contain("log-level", "trace"), "log level must be one of", false, nil},
		{"unknown contain target", contain("logout-all", "--target", "prod"), `unknown target "prod"`, false, nil},
		{"argument to logout-all", contain("logout-all", "everyone"), "logout-all takes no argument", false, nil},
		{"bad restrict", contain("invalidate", "--reason", "r", "--restrict", "admin"), "restrict:", false, nil},
		{"invalidate without reason", contain("invalidate", "--target", "demo"), "invalidate needs --reason", false, nil},
		{"several targets", contain("invalidate", "--reason", "leak"), "--target is required for invalidate: incident-x affects demo, other; nothing was sent", false, []string{"demo", "other"}},
		{"note over 4 KiB", []string{"incident", "note", "incident-x", "--as", "alice", long}, "note refused, nothing was sent: text is 4097 bytes; the limit is 4096 (4 KiB)", false, nil},
		{"note control char", []string{"incident", "note", "incident-x", "--as", "alice", "ok\x1b[2K\nowner accepted"}, "text holds a control character", false, nil},
		{"empty note", []string{"incident", "note", "incident-x", "--as", "alice", " "}, "the note is empty", false, nil},
		{"bad severity", []string{"incident", "severity", "incident-x", "--as", "alice", "apocalyptic"}, "severity must be one of low, medium, high, critical", false, nil},
		{"resolve without summary", []string{"incident", "resolve", "incident-x", "--as", "alice"}, "resolve needs a final summary (--summary)", false, nil},
		{"resolve keep freeze", []string{"incident", "resolve", "incident-x", "--as", "alice", "--summary", "done", "--keep", "freeze"}, "the freeze always lifts at resolve", false, nil},
		{"resolve keep unknown", []string{"incident", "resolve", "incident-x", "--as", "alice", "--summary", "done", "--keep", "logout-all"}, "--keep takes", false, nil},
		{"resolve keep too long", []string{"incident", "resolve", "incident-x", "--as", "alice", "--summary", "done", "--keep", "deny-cidr", "--keep-for", "721h"}, "--keep-for is at most 720h0m0s", false, nil},
		{"resolve keep-for without keep", []string{"incident", "resolve", "incident-x", "--as", "alice", "--summary", "done", "--keep-for", "1h"}, "--keep-for needs --keep", false, nil},
		{"approve empty action", []string{"approve", "incident-x", "--as", "bob", "--action", ""}, "--action needs the id of a pending action", false, nil},
		{"nonexistent id note", []string{"incident", "note", "incident-nope", "--as", "alice", "hello"}, "no run with id incident-nope; nothing was sent", true, nil},
		{"nonexistent id contain", contain("rotate"), "no run with id incident-x; nothing was sent", true, nil},
		{"nonexistent id owner", []string{"incident", "owner", "incident-nope", "--as", "bob"}, "no run with id incident-nope; nothing was sent", true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, fc := incidentHarness(t, tc.targets...)
			if len(tc.targets) == 0 {
				fc.incident.Targets = []string{"demo"}
			}
			args := tc.args
			if strings.Contains(strings.Join(args, " "), "alice") {
				args = append(append([]string{}, args...), "--key", h.f.aliceKey)
			}
			if tc.missing {
				fc.descErr = serviceerror.NewNotFound("workflow not found")
				fc.queryErr = serviceerror.NewNotFound("workflow not found")
			}
			out, err := h.runWith(fc, args...)
			require.Error(t, err, out)
			require.Contains(t, err.Error(), tc.want)
			require.Empty(t, fc.starts, "nothing is started")
			require.Empty(t, fc.updates, "nothing is sent")
			require.Empty(t, fc.signals, "nothing is sent")
		})
	}
}

// TestIncidentDeclare: a signed start of an AuthIncident with a fresh incident id, on the
// task queue, refusing a duplicate id, running or closed.
func TestIncidentDeclare(t *testing.T) {
	h, fc := incidentHarness(t)
	out, err := h.runWith(fc, "incident", "declare", "--trigger", "credential-stuffing", "--severity", "high",
		"--summary", "login failures x40 from one ASN", "--reporter", "alice", "--key", h.f.aliceKey, "--target", "demo")
	require.NoError(t, err, out)
	id := strings.SplitN(out, "\n", 2)[0]
	require.Regexp(t, regexp.MustCompile(`^incident-[0-9a-f]{8}$`), id)
	require.NoError(t, contract.CheckIncidentID(id))
	require.Contains(t, out, "starter status "+id)

	require.Len(t, fc.starts, 1)
	o := fc.starts[0]
	require.Equal(t, id, o.ID)
	require.Equal(t, contract.TaskQueue, o.TaskQueue)
	require.Equal(t, enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL, o.WorkflowIDConflictPolicy)
	require.Equal(t, enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE, o.WorkflowIDReusePolicy)
	require.True(t, o.WorkflowExecutionErrorWhenAlreadyStarted)
	rb, ok := o.TypedSearchAttributes.GetKeyword(contract.AttrRunbook)
	require.True(t, ok)
	require.Equal(t, "auth-incident", rb)

	in := fc.startArgs[0].(contract.IncidentInput)
	require.Equal(t, contract.IncidentInput{Trigger: "credential-stuffing", Severity: "high", Summary: "login failures x40 from one ASN",
		Reporter: "alice", Source: "cli", Targets: []string{"demo"}, Statement: in.Statement}, in)
	v := h.f.verify(t, in.Statement, statement.Expect{Namespace: "default", WorkflowID: id,
		Action: contract.ActionStartIncident, Comment: "login failures x40 from one ASN", Args: in.StartArgs()})
	require.Equal(t, "alice", v.Person)
}

// TestIncidentDeclareDeduplicates: an alert declaring with --id twice finds the first incident.
func TestIncidentDeclareDeduplicates(t *testing.T) {
	h, fc := incidentHarness(t)
	fc.startErr = serviceerror.NewWorkflowExecutionAlreadyStarted("already started", "req", "R1")
	_, err := h.runWith(fc, "incident", "declare", "--trigger", "auth-error-spike", "--severity", "medium",
		"--summary", "5xx on /auth/token", "--reporter", "bob", "--id", "incident-alert-42", "--source", "alert")
	require.EqualError(t, err, "incident incident-alert-42 already exists (run R1); nothing was started: follow it with `starter status incident-alert-42`")
	require.Equal(t, "incident-alert-42", fc.starts[0].ID)
	require.Equal(t, "alert", fc.startArgs[0].(contract.IncidentInput).Source)
}

// decisionOf returns the one decision sent and checks its statement covers comment and Args.
func decisionOf(t *testing.T, h *harness, fc *incidentFake, name, actor string) contract.Decision {
	t.Helper()
	require.Len(t, fc.updates, 1)
	u := fc.updates[0]
	require.Equal(t, "incident-x", u.WorkflowID)
	require.Equal(t, name, u.UpdateName)
	d := u.Args[0].(contract.Decision)
	v := h.f.verify(t, d.Statement, statement.Expect{Namespace: "default", WorkflowID: "incident-x", FirstRunID: "first-1",
		Action: name, Comment: d.Comment, Args: d.Args})
	require.Equal(t, actor, v.Person)
	return d
}

// TestIncidentContainSignsArgs: the request goes as canonical JSON in Args, and the statement
// covers it, so it cannot be swapped under the signature.
func TestIncidentContainSignsArgs(t *testing.T) {
	h, fc := incidentHarness(t, "demo")
	out, err := h.runWith(fc, "incident", "contain", "incident-x", "--as", "bob", "deny-cidr", "203.0.113.0/24,2001:db8::/32",
		"--ttl", "2h", "--reason", "stuffing source")
	require.NoError(t, err, out)
	require.Equal(t, "contain accepted by alice at 2026-11-28T21:30:00Z\n", out)
	d := decisionOf(t, h, fc, contract.UpdateContain, "bob")
	require.Equal(t, "stuffing source", d.Comment)
	require.Nil(t, d.Start)
	var req contract.ContainRequest
	require.NoError(t, json.Unmarshal([]byte(d.Args), &req))
	require.Equal(t, contract.ContainRequest{Kind: contract.ContainDenyCIDR, CIDRs: []string{"203.0.113.0/24", "2001:db8::/32"},
		TTL: 2 * time.Hour, Reason: "stuffing source"}, req)
	require.Equal(t, runs.Canonical(req), d.Args)
	// A swapped request fails the signature.
	people, err := h.f.cfg.People()
	require.NoError(t, err)
	_, err = statement.Verify(d.Statement, people, nil, statement.Expect{Namespace: "default", WorkflowID: "incident-x",
		FirstRunID: "first-1", Action: contract.UpdateContain, Now: time.Now(),
		Comment: d.Comment, Args: strings.Replace(d.Args, "203.0.113.0/24", "0.0.0.0/0", 1)})
	require.Error(t, err)

	// --force lets a lock-out range through the local check; the run still judges it.
	h, fc = incidentHarness(t, "demo")
	_, err = h.runWith(fc, "incident", "contain", "incident-x", "--as", "bob", "deny-cidr", "0.0.0.0/0", "--force")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal([]byte(fc.updates[0].Args[0].(contract.Decision).Args), &req))
	require.True(t, req.Force)
}

// TestIncidentContainInvalidateCarriesStart: an invalidate carries the signed start of the
// child run invalidate-<target>, the incident's only target when --target is not given.
func TestIncidentContainInvalidateCarriesStart(t *testing.T) {
	h, fc := incidentHarness(t, "demo")
	_, err := h.runWith(fc, "incident", "contain", "incident-x", "--as", "alice", "--key", h.f.aliceKey, "invalidate",
		"--reason", "tokens replayed", "--restrict", "/admin,/billing")
	require.NoError(t, err)
	require.Contains(t, fc.queries, contract.QueryIncident)
	d := decisionOf(t, h, fc, contract.UpdateContain, "alice")
	var req contract.ContainRequest
	require.NoError(t, json.Unmarshal([]byte(d.Args), &req))
	require.Equal(t, contract.ContainRequest{Kind: contract.ContainInvalidate, Target: "demo", Restrict: []string{"/admin", "/billing"},
		RestrictTTL: 30 * time.Minute, Reason: "tokens replayed"}, req)
	require.NotNil(t, d.Start)
	// The start binds the emergency run's input as the incident builds it, trigger included.
	v := h.f.verify(t, d.Start, statement.Expect{Namespace: "default", WorkflowID: contract.InvalidationID("demo"),
		Action: contract.ActionStartInvalidation, Comment: "tokens replayed",
		Args: contract.IncidentInvalidation("incident-x", fc.incident.Trigger, "alice", req).StartArgs()})
	require.Equal(t, "alice", v.Person)
	require.Empty(t, d.Start.Statement.FirstRunID)

	// rotate on a multi-target incident with --target: no query needed, rotation-<target>.
	h, fc = incidentHarness(t, "demo", "other")
	_, err = h.runWith(fc, "incident", "contain", "incident-x", "--as", "bob", "rotate", "--target", "demo", "--reason", "rotate after leak")
	require.NoError(t, err)
	require.NotContains(t, fc.queries, contract.QueryIncident)
	d = decisionOf(t, h, fc, contract.UpdateContain, "bob")
	req = contract.ContainRequest{}
	require.NoError(t, json.Unmarshal([]byte(d.Args), &req))
	h.f.verify(t, d.Start, statement.Expect{Namespace: "default", WorkflowID: contract.RotationID("demo"),
		Action: contract.ActionStartRotation, Comment: "rotate after leak",
		Args: contract.IncidentRotation("incident-x", "bob", req).StartArgs()})
}

// TestIncidentDecisions: owner, note, status note, severity, verify, resolve and approve --action
// each send their Update with the comment and Args the run expects.
func TestIncidentDecisions(t *testing.T) {
	for _, tc := range []struct {
		args           []string
		name, actor    string
		comment, args2 string
	}{
		{[]string{"incident", "owner", "incident-x", "--as", "bob"}, contract.UpdateOwner, "bob", "", ""},
		{[]string{"incident", "note", "incident-x", "--as", "bob", "blocked the ASN upstream"}, contract.UpdateNote, "bob", "blocked the ASN upstream", ""},
		{[]string{"incident", "note", "incident-x", "--as", "bob", "--status", "contained, watching"}, contract.UpdateNote, "bob", "contained, watching", `{"status":true}`},
		{[]string{"incident", "severity", "incident-x", "--as", "bob", "critical"}, contract.UpdateSeverity, "bob", "critical", ""},
		{[]string{"incident", "verify", "incident-x", "--as", "carol"}, contract.UpdateVerify, "carol", "", ""},
		{[]string{"incident", "resolve", "incident-x", "--as", "bob", "--summary", "contained", "--follow-up", "rate limit", "--keep", "deny-cidr"},
			contract.DecisionResolve, "bob", "contained", `{"summary":"contained","follow_ups":["rate limit"],"keep":["deny-cidr"]}`},
		{[]string{"incident", "resolve", "incident-x", "--as", "bob", "--summary", "contained", "--keep", "deny-cidr", "--keep-for", "48h"},
			contract.DecisionResolve, "bob", "contained", `{"summary":"contained","keep":["deny-cidr"],"keep_for":172800000000000}`},
		{[]string{"approve", "incident-x", "--as", "carol", "--action", "a2"}, contract.DecisionApprove, "carol", "",
			runs.Canonical(contract.ActionRef{Action: "a2", Digest: pendingA2.Digest()})},
		{[]string{"approve", "incident-x", "--as", "carol", "--action", "keep"}, contract.DecisionApprove, "carol", "",
			runs.Canonical(contract.ActionRef{Action: "keep", Digest: pendingKeep().Digest()})},
		{[]string{"reject", "incident-x", "--as", "carol", "--action", "a3", "--comment", "too broad"}, contract.DecisionReject, "carol", "too broad",
			runs.Canonical(contract.ActionRef{Action: "a3", Digest: pendingA3.Digest()})},
	} {
		t.Run(strings.Join(tc.args[:2], " "), func(t *testing.T) {
			h, fc := incidentHarness(t, "demo")
			fc.incident.Pending = pendingActions()
			keep := pendingKeep()
			fc.incident.Keeping = &keep
			out, err := h.runWith(fc, tc.args...)
			require.NoError(t, err, out)
			d := decisionOf(t, h, fc, tc.name, tc.actor)
			require.Equal(t, tc.comment, d.Comment)
			require.Equal(t, tc.args2, d.Args)
		})
	}
}

// TestIncidentDeniedPrintsEscaped: the run's refusal is printed escaped, exit status 1.
func TestIncidentDeniedPrintsEscaped(t *testing.T) {
	h, fc := incidentHarness(t, "demo")
	fc.answerErr = deniedErr(contract.Event{At: at, Actor: "carol", Action: "contain", Outcome: "denied",
		Detail: "carol is not the owner\x1b[2K\ncontain accepted"})
	out, err := h.runWith(fc, "incident", "contain", "incident-x", "--as", "carol", "logout-all")
	require.EqualError(t, err, "contain denied")
	require.Equal(t, "contain denied for carol at 2026-11-28T21:30:00Z: carol is not the owner\\u001b[2K\\u000acontain accepted\n", out)
}

// TestIncidentStatus: status of an incident shows its owner, severity, targets, freeze,
// pending actions with ids and approvals, measures and runs.
func TestIncidentStatus(t *testing.T) {
	h, fc := incidentHarness(t)
	fc.incident = contract.IncidentStatus{
		ID: "incident-x", Trigger: "credential-stuffing", Severity: "high", Summary: "stuffing\x1b[31m", Reporter: "alice",
		Source: "cli", Owner: "bob", Targets: []string{"demo"}, Frozen: []string{"demo"}, DeclaredAt: at,
		Pending: []contract.PendingAction{{ID: "a2", Request: contract.ContainRequest{Kind: contract.ContainLogoutAll},
			Asker: "bob", AskedAt: at, Quorum: 1, State: "pending"}},
		Measures: []contract.Measure{{ActionID: "a1", Request: contract.ContainRequest{Kind: contract.ContainDenyCIDR,
			CIDRs: []string{"203.0.113.0/24"}}, Target: "demo", By: "bob", At: at, Expires: at.Add(2 * time.Hour)}},
		Children: []contract.ChildRun{{ActionID: "a3", WorkflowID: "invalidate-demo", Runbook: "emergency-invalidation", Target: "demo"}},
		Channel: &contract.IncidentChannel{Name: "inc-incident-x", ID: "C123", Invited: []string{"alice", "bob"},
			Skipped: []string{"carol: no slack_id in people:"}},
	}
	out, err := h.runWith(fc, "status", "incident-x")
	require.NoError(t, err)
	for _, want := range []string{
		"incident-x  auth-incident  severity=high  trigger=credential-stuffing\n", "run run-3\n",
		"declared 2026-11-28T21:30:00Z by alice (cli): stuffing\\u001b[31m\n", "owner: bob\n", "targets: demo\n", "frozen: demo\n",
		"a2", "logout-all", "pending", "approvals 0 of 1",
		"a1", "deny-cidr 203.0.113.0/24", "in force until 2026-11-28T23:30:00Z",
		"invalidate-demo", "running",
		"slack channel: #inc-incident-x (C123), invited alice, bob; not invited: carol: no slack_id in people:\n",
	} {
		require.Contains(t, out, want)
	}
	require.NotContains(t, fc.queries, contract.QueryStatus)

	out, err = h.runWith(fc, "status", "incident-x", "--json")
	require.NoError(t, err)
	var st contract.IncidentStatus
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	require.Equal(t, "bob", st.Owner)
}

// TestFreezeStatus: one line per incident, "no freezes" when none.
func TestFreezeStatus(t *testing.T) {
	h, fc := incidentHarness(t)
	out, err := h.runWith(fc, "freeze", "status")
	require.NoError(t, err)
	require.Equal(t, "no freezes\n", out)
	out, err = h.runWith(fc, "freeze", "status", "--json")
	require.NoError(t, err)
	require.Equal(t, "[]\n", out)

	p, err := converter.GetDefaultDataConverter().ToPayload([]string{"demo", "other"})
	require.NoError(t, err)
	fc.list = &workflowservice.ListWorkflowExecutionsResponse{Executions: []*workflowpb.WorkflowExecutionInfo{{
		Execution:        &commonpb.WorkflowExecution{WorkflowId: "incident-x"},
		SearchAttributes: &commonpb.SearchAttributes{IndexedFields: map[string]*commonpb.Payload{contract.AttrFrozenTargets.GetName(): p}},
	}}}
	out, err = h.runWith(fc, "freeze", "status")
	require.NoError(t, err)
	require.Equal(t, "incident-x freezes demo, other\n", out)

	var b bytes.Buffer
	require.NoError(t, writeFreezes(&b, nil))
	require.Equal(t, "no freezes\n", b.String())
}

func deniedErr(ev contract.Event) error {
	return temporal.NewApplicationErrorWithOptions(ev.Action+" denied: "+ev.Detail, contract.ErrTypeDecisionDenied,
		temporal.ApplicationErrorOptions{NonRetryable: true, Details: []any{ev}})
}

var (
	pendingA2 = contract.ContainRequest{Kind: contract.ContainDenyCIDR, CIDRs: []string{"203.0.113.0/24"}, Reason: "stuffing"}
	pendingA3 = contract.ContainRequest{Kind: contract.ContainLogoutAll, Reason: "everyone out"}
)

// pendingActions are the actions a2 and a3 waiting for approval, and a1 already applied.
func pendingActions() []contract.PendingAction {
	return []contract.PendingAction{
		{ID: "a1", Request: contract.ContainRequest{Kind: contract.ContainLogLevel, Level: "debug"}, State: "applied"},
		{ID: "a2", Request: pendingA2, State: "pending"},
		{ID: "a3", Request: pendingA3, State: "pending"},
	}
}

// pendingKeep is a resolve by bob that waits for approval to keep a2's range.
func pendingKeep() contract.PendingKeep {
	return contract.PendingKeep{By: "bob", AskedAt: at, Measures: []string{"a2"}, Until: at.Add(24 * time.Hour), State: "pending",
		Request: contract.ResolveRequest{Summary: "contained", Keep: []string{contract.ContainDenyCIDR}}, Approvers: []string{"alice", "carol"}}
}

// TestApproveBindsActionContent: an approval names the pending action and signs the digest of
// its content as the run shows it; an action that is not pending, or an incident approval that
// names none, is refused before anything is sent.
func TestApproveBindsActionContent(t *testing.T) {
	h, fc := incidentHarness(t, "demo")
	fc.incident.Pending = pendingActions()
	out, err := h.runWith(fc, "approve", "incident-x", "--as", "carol", "--action", "a2")
	require.NoError(t, err, out)
	d := decisionOf(t, h, fc, contract.DecisionApprove, "carol")
	var ref contract.ActionRef
	require.NoError(t, json.Unmarshal([]byte(d.Args), &ref))
	require.Equal(t, contract.ActionRef{Action: "a2", Digest: pendingA2.Digest()}, ref)
	// The signature holds for that content only.
	other := pendingA2
	other.CIDRs = []string{"0.0.0.0/0"}
	people, err := h.f.cfg.People()
	require.NoError(t, err)
	_, err = statement.Verify(d.Statement, people, nil, statement.Expect{Namespace: "default", WorkflowID: "incident-x",
		FirstRunID: "first-1", Action: contract.DecisionApprove, Now: time.Now(),
		Args: runs.Canonical(contract.ActionRef{Action: "a2", Digest: other.Digest()})})
	require.ErrorContains(t, err, "arguments do not match")

	// No worker answers the query: the approval names a2 alone, and says so.
	h, fc = incidentHarness(t, "demo")
	fc.queryErr = fmt.Errorf("query %s: %w", contract.QueryIncident, context.DeadlineExceeded)
	out, err = h.runWith(fc, "approve", "incident-x", "--as", "carol", "--action", "a2")
	require.NoError(t, err, out)
	require.Contains(t, out, "the approval names a2 only")
	d = decisionOf(t, h, fc, contract.DecisionApprove, "carol")
	var byName contract.ActionRef
	require.NoError(t, json.Unmarshal([]byte(d.Args), &byName))
	require.Equal(t, contract.ActionRef{Action: "a2"}, byName)
	// A keep is bound only by what it keeps: without the answer nothing is sent.
	h, fc = incidentHarness(t, "demo")
	fc.queryErr = fmt.Errorf("query %s: %w", contract.QueryIncident, context.DeadlineExceeded)
	out, err = h.runWith(fc, "approve", "incident-x", "--as", "carol", "--action", contract.KeepAction)
	require.Error(t, err, out)
	require.Empty(t, fc.updates, "nothing was sent")

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"approve", "incident-x", "--as", "carol", "--action", "a9"}, `incident-x has no pending action "a9" (pending: a2, a3)`},
		{[]string{"approve", "incident-x", "--as", "carol", "--action", "a1"}, `incident-x has no pending action "a1" (pending: a2, a3)`},
		{[]string{"approve", "incident-x", "--as", "carol"}, "--action is required to approve an incident's action"},
	} {
		h, fc := incidentHarness(t, "demo")
		fc.incident.Pending = pendingActions()
		out, err := h.runWith(fc, tc.args...)
		require.Error(t, err, out)
		require.Contains(t, err.Error(), tc.want)
		require.Empty(t, fc.updates, "nothing was sent")
	}
}
