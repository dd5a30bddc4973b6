package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	updatepb "go.temporal.io/api/update/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/runs"
	"github.com/authops/authops/internal/statement"
)

var at = time.Date(2026, 11, 28, 21, 30, 0, 0, time.UTC)

// TestNonCanonicalNamesRefusedBeforeAnyCall: a name is used exactly as the config spells it.
// "Bob" or "bob " is refused with a hint, never trimmed or lowered, and nothing is dialed.
func TestNonCanonicalNamesRefusedBeforeAnyCall(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"approve Bob", []string{"approve", "rotation-demo", "--as", "Bob"}, `--as "Bob" is not a person in the config: names must be given in their canonical form (lower case, no spaces); did you mean bob?`},
		{"approve trailing space", []string{"approve", "rotation-demo", "--as", "bob "}, "did you mean bob?"},
		{"reject leading space", []string{"reject", "rotation-demo", "--as", " alice"}, "did you mean alice?"},
		{"approve unknown", []string{"approve", "rotation-demo", "--as", "mallory"}, `--as "mallory" is not a person in the config; people are: alice, bob, carol`},
		{"approve empty", []string{"approve", "rotation-demo", "--as", ""}, "--as is required"},
		{"rotate Alice", []string{"rotate", "--target", "demo", "--requested-by", "Alice"}, "did you mean alice?"},
		{"rotate rollback owner", []string{"rotate", "--target", "demo", "--requested-by", "alice", "--rollback-owner", "BOB"}, "--rollback-owner \"BOB\""},
		{"invalidate tab", []string{"invalidate", "--target", "demo", "--reason", "r", "--requested-by", "carol\t"}, "did you mean carol?"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			out, err := h.run(tc.args...)
			require.Error(t, err, out)
			require.Contains(t, err.Error(), tc.want)
			require.Zero(t, h.dials, "nothing is dialed")
			require.Empty(t, h.fc.updates)
			require.Empty(t, h.fc.starts)
		})
	}
}

// TestRequesterDefaultsToUserOnlyIfAPerson: $USER stands in for --requested-by only when it
// names a person.
func TestRequesterDefaultsToUserOnlyIfAPerson(t *testing.T) {
	h := newHarness(t)
	t.Setenv("USER", "root")
	_, err := h.run("rotate", "--target", "demo")
	require.ErrorContains(t, err, `--requested-by is required: $USER ("root") is not a person in the config`)
	require.Zero(t, h.dials)

	t.Setenv("USER", "alice")
	out, err := h.run("rotate", "--target", "demo", "--key", h.f.aliceKey)
	require.NoError(t, err)
	require.Equal(t, "rotation-demo\n", out)
	in := h.fc.startArgs[0].(contract.RotationInput)
	require.Equal(t, "alice", in.RequestedBy)
}

// TestControlCharactersRefused: a comment or reason with control or format characters is
// refused before anything is sent.
func TestControlCharactersRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"comment escape", []string{"approve", "rotation-demo", "--as", "bob", "--comment", "ok\x1b[2K"}, "--comment holds a control character"},
		{"comment newline", []string{"reject", "rotation-demo", "--as", "bob", "--comment", "no\napprove accepted by carol"}, "--comment holds a control character"},
		{"reason bidi", []string{"rotate", "--target", "demo", "--requested-by", "alice", "--reason", "hygiene\u202etxt.exe"}, "--reason holds a control character"},
		{"invalidate reason", []string{"invalidate", "--target", "demo", "--requested-by", "alice", "--reason", "leak\r"}, "--reason holds a control character"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			_, err := h.run(tc.args...)
			require.ErrorContains(t, err, tc.want)
			require.Zero(t, h.dials)
		})
	}
}

// TestApproveAccepted: one Update to the run's first execution, signed so that the run's check
// passes; the answer is printed and the exit status is 0.
func TestApproveAccepted(t *testing.T) {
	h := newHarness(t)
	h.fc.desc = running("first-1")
	h.fc.answer = contract.Event{At: at, Actor: "bob", Action: "approve", Outcome: "accepted",
		Detail: "approvals 1 of 1: bob; looks good", Verified: true, Via: "update", UpdateID: "u-1"}
	out, err := h.run("approve", "rotation-demo", "--as", "bob", "--comment", "looks good")
	require.NoError(t, err, out)
	require.Equal(t, "approve accepted by bob at 2026-11-28T21:30:00Z: approvals 1 of 1: bob; looks good\n", out)

	require.Len(t, h.fc.updates, 1)
	u := h.fc.updates[0]
	require.Equal(t, "rotation-demo", u.WorkflowID)
	require.Empty(t, u.RunID, "no run id unless --run-id")
	require.Equal(t, "first-1", u.FirstExecutionRunID)
	require.Equal(t, contract.DecisionApprove, u.UpdateName)
	require.Equal(t, client.WorkflowUpdateStageCompleted, u.WaitForStage)
	d := u.Args[0].(contract.Decision)
	require.Equal(t, "bob", d.Actor)
	require.Equal(t, "looks good", d.Comment)
	// bob's key is found next to his .pub file (the demo fallback).
	v := h.f.verify(t, d.Statement, statement.Expect{Namespace: "default", WorkflowID: "rotation-demo",
		FirstRunID: "first-1", Action: contract.DecisionApprove, Comment: "looks good"})
	require.Equal(t, "bob", v.Person)
	require.Equal(t, "test-client", v.Client)
	require.Empty(t, h.fc.signals)
}

// TestApproveRunID: --run-id pins the run; the statement still names the first run.
func TestApproveRunID(t *testing.T) {
	h := newHarness(t)
	h.fc.desc = running("first-1")
	h.fc.answer = contract.Event{At: at, Actor: "bob", Action: "approve", Outcome: "accepted"}
	_, err := h.run("approve", "rotation-demo", "--as", "bob", "--run-id", "run-2")
	require.NoError(t, err)
	require.Equal(t, "run-2", h.fc.updates[0].RunID)
	require.Equal(t, "first-1", h.fc.updates[0].FirstExecutionRunID)
	require.Equal(t, "first-1", h.fc.updates[0].Args[0].(contract.Decision).Statement.Statement.FirstRunID)
}

// TestApproveQueuedBeforeWindow: an approval given before the window opens is accepted and
// says when it takes effect; exit status 0.
func TestApproveQueuedBeforeWindow(t *testing.T) {
	h := newHarness(t)
	h.fc.desc = running("first-1")
	h.fc.answer = contract.Event{At: at, Actor: "bob", Action: "approve", Outcome: "accepted",
		Detail: "takes effect when the window opens at 2026-11-28T22:00:00Z; approvals 1 of 1: bob"}
	out, err := h.run("approve", "rotation-demo", "--as", "bob")
	require.NoError(t, err)
	require.Equal(t, "approve accepted by bob at 2026-11-28T21:30:00Z (takes effect when the window opens at 2026-11-28T22:00:00Z): approvals 1 of 1: bob\n", out)
}

// TestApproveDenied: the run's refusal is printed with its reason and is an error (exit 1).
func TestApproveDenied(t *testing.T) {
	h := newHarness(t)
	h.fc.desc = running("first-1")
	ev := contract.Event{At: at, Actor: "alice", Action: "approve", Outcome: "denied",
		Detail: "alice requested this run and cannot approve it; a second person must"}
	h.fc.answerErr = temporal.NewApplicationErrorWithOptions("approve denied: "+ev.Detail, contract.ErrTypeDecisionDenied,
		temporal.ApplicationErrorOptions{NonRetryable: true, Details: []any{ev}})
	out, err := h.run("approve", "rotation-demo", "--as", "alice", "--key", h.f.aliceKey)
	require.EqualError(t, err, "approve denied")
	require.Equal(t, "approve denied for alice at 2026-11-28T21:30:00Z: alice requested this run and cannot approve it; a second person must\n", out)
	require.Empty(t, h.fc.signals, "a denial is not retried as a signal")
}

// TestDecisionPrintsCleanText: text from the run is escaped before it is printed.
func TestDecisionPrintsCleanText(t *testing.T) {
	var out bytes.Buffer
	err := reportDecision(&out, "rotation-demo", "approve", runs.DecisionAnswer{Event: contract.Event{
		At: at, Actor: "bob", Outcome: "accepted", Detail: "ok\x1b[2K\napprove accepted by carol"}})
	require.NoError(t, err)
	require.Equal(t, "approve accepted by bob at 2026-11-28T21:30:00Z: ok\\u001b[2K\\u000aapprove accepted by carol\n", out.String())
}

// TestDecisionToARunWithoutIt: a run whose workflow takes no such decision (another workflow
// under the id) answers that it has no handler; the CLI says so and sends nothing else.
func TestDecisionToARunWithoutIt(t *testing.T) {
	h := newHarness(t)
	h.fc.desc = running("first-1")
	h.fc.answerErr = temporal.NewApplicationError("unknown update approve. KnownUpdates=[]", "")
	_, err := h.run("approve", "rotation-demo", "--as", "bob", "--comment", "c")
	require.EqualError(t, err, "rotation-demo takes no approve (its workflow has no such decision); nothing was decided")
	require.Empty(t, h.fc.signals, "no signal is sent in its place")
}

// TestDecisionClosedOrUnknownRun: nothing is sent to a finished run or an unknown id.
func TestDecisionClosedOrUnknownRun(t *testing.T) {
	h := newHarness(t)
	h.fc.desc = &workflowservice.DescribeWorkflowExecutionResponse{WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{
		Status: enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, FirstRunId: "first-1",
		Execution: &commonpb.WorkflowExecution{WorkflowId: "rotation-demo", RunId: "run-9"}}}
	_, err := h.run("approve", "rotation-demo", "--as", "bob")
	require.EqualError(t, err, "rotation-demo already finished (run run-9, Completed); nothing was sent")
	require.Empty(t, h.fc.updates)

	h = newHarness(t)
	h.fc.descErr = serviceerror.NewNotFound("workflow not found")
	_, err = h.run("approve", "nope", "--as", "bob")
	require.EqualError(t, err, "no run with id nope; nothing was sent")
	require.Empty(t, h.fc.updates)

	// Closed between the describe and the Update.
	h = newHarness(t)
	h.fc.desc = running("first-1")
	h.fc.updateErr = serviceerror.NewNotFound("workflow execution already completed")
	_, err = h.run("approve", "rotation-demo", "--as", "bob")
	require.ErrorContains(t, err, "closed (or is gone) before it took the approve")
}

// TestWrongKeyRefusedBeforeAnyCall: a key that is not the person's signs nothing.
func TestWrongKeyRefusedBeforeAnyCall(t *testing.T) {
	h := newHarness(t)
	_, err := h.run("approve", "rotation-demo", "--as", "alice", "--key", h.f.bobKey)
	require.ErrorContains(t, err, "is not listed for alice")
	require.Zero(t, h.dials)

	// alice's private key is not next to her .pub file and there is no agent.
	_, err = h.run("approve", "rotation-demo", "--as", "alice")
	require.ErrorContains(t, err, "no key for alice")
	require.Zero(t, h.dials)
}

// TestRotateSignsItsStart: the start statement verifies against the requester's key.
func TestRotateSignsItsStart(t *testing.T) {
	h := newHarness(t)
	out, err := h.run("rotate", "--target", "demo", "--requested-by", "alice", "--reason", "key hygiene", "--key", h.f.aliceKey)
	require.NoError(t, err)
	require.Equal(t, "rotation-demo\n", out)
	in := h.fc.startArgs[0].(contract.RotationInput)
	v := h.f.verify(t, in.Statement, statement.Expect{Namespace: "default", WorkflowID: "rotation-demo",
		Action: contract.ActionStartRotation, Comment: "key hygiene", Args: in.StartArgs()})
	require.Equal(t, "alice", v.Person)
	require.Empty(t, in.Statement.Statement.FirstRunID)
}

// TestInvalidateSignsItsStart: one id per target, conflict policy FAIL, and a signed start whose
// action names break glass when it is asked for.
func TestInvalidateSignsItsStart(t *testing.T) {
	h := newHarness(t)
	out, err := h.run("invalidate", "--target", "demo", "--requested-by", "bob", "--reason", "tokens replayed", "--break-glass")
	require.NoError(t, err)
	require.Equal(t, "invalidate-demo\n", out)
	o := h.fc.starts[0]
	require.Equal(t, contract.InvalidationID("demo"), o.ID)
	require.Equal(t, enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL, o.WorkflowIDConflictPolicy)
	require.True(t, o.WorkflowExecutionErrorWhenAlreadyStarted)
	require.Equal(t, contract.EmergencyTaskQueue, o.TaskQueue)
	require.Equal(t, contract.EmergencyPriority, o.Priority)
	in := h.fc.startArgs[0].(contract.InvalidationInput)
	v := h.f.verify(t, in.Statement, statement.Expect{Namespace: "default", WorkflowID: "invalidate-demo",
		Action: contract.ActionStartInvalidation + contract.BreakGlassSuffix, Comment: "tokens replayed", Args: in.StartArgs()})
	require.Equal(t, "bob", v.Person)
}

// TestInvalidateWithoutEmergencyPoller: with no poller seen on the emergency queue (a worker that
// has just started is not seen yet), the emergency run still goes to the emergency queue, which
// every worker polls; the starter does not even ask.
func TestInvalidateWithoutEmergencyPoller(t *testing.T) {
	h := newHarness(t)
	_, err := h.run("invalidate", "--target", "demo", "--requested-by", "bob", "--reason", "tokens replayed")
	require.NoError(t, err)
	require.Equal(t, contract.EmergencyTaskQueue, h.fc.starts[0].TaskQueue)
	require.Equal(t, contract.EmergencyPriority, h.fc.starts[0].Priority)
	require.Zero(t, h.fc.queueDescribes, "the queue is not guessed from pollers")
}

// TestInvalidateAlreadyRunning: the error names the running run.
func TestInvalidateAlreadyRunning(t *testing.T) {
	h := newHarness(t)
	h.fc.startErr = serviceerror.NewWorkflowExecutionAlreadyStarted("already started", "req", "R1")
	_, err := h.run("invalidate", "--target", "demo", "--requested-by", "bob", "--reason", "same abuse")
	require.EqualError(t, err, "already running: invalidate-demo (run R1); approve or follow that run")
}

// TestBreakGlassOnlyForApprovers: carol is a person but not an approver of demo.
func TestBreakGlassOnlyForApprovers(t *testing.T) {
	h := newHarness(t)
	_, err := h.run("invalidate", "--target", "demo", "--requested-by", "carol", "--reason", "leak", "--break-glass")
	require.ErrorContains(t, err, "break glass is for the approvers of demo (alice, bob); carol is not one")
	require.Zero(t, h.dials)
}

func acceptedEvent(updateID, identity string) *historypb.HistoryEvent {
	return &historypb.HistoryEvent{
		EventType: enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
		Attributes: &historypb.HistoryEvent_WorkflowExecutionUpdateAcceptedEventAttributes{
			WorkflowExecutionUpdateAcceptedEventAttributes: &historypb.WorkflowExecutionUpdateAcceptedEventAttributes{
				AcceptedRequest: &updatepb.Request{Meta: &updatepb.Meta{UpdateId: updateID, Identity: identity}},
			},
		},
	}
}

func timelineHarness(t *testing.T) *harness {
	h := newHarness(t)
	h.fc.timeline = []contract.Event{
		{At: at, Actor: "alice", Action: "requested", Outcome: "accepted", Detail: "key hygiene"},
		{At: at.Add(time.Minute), Actor: "mallory", Action: "approve", Outcome: "denied", Via: "update", UpdateID: "u-denied",
			Detail: "unsigned | <img src=x onerror=alert(1)>\x1b[2K"},
		{At: at.Add(2 * time.Minute), Actor: "bob", Action: "approve", Outcome: "accepted", Verified: true, Via: "update", UpdateID: "u-ok",
			Detail: "approvals 1 of 1: bob"},
	}
	h.fc.history = []*historypb.HistoryEvent{
		{EventType: enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED},
		acceptedEvent("u-denied", "4242@evil\u202ehost@"),
		acceptedEvent("u-ok", "1234@laptop@"),
	}
	return h
}

// TestTimelineShowsClientIdentity: each Update decision shows the client Temporal recorded,
// read from one pass over the history; every field is escaped.
func TestTimelineShowsClientIdentity(t *testing.T) {
	h := timelineHarness(t)
	out, err := h.run("timeline", "rotation-demo")
	require.NoError(t, err)
	require.Equal(t, 1, h.fc.histRead, "history is read once")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 4)
	require.Contains(t, lines[0], "CLIENT")
	require.Regexp(t, `^2026-11-28T21:30:00Z\s+alice\s+requested\s+accepted\s+-\s+key hygiene$`, lines[1])
	require.Contains(t, lines[2], `4242@evil\u202ehost@`)
	require.Contains(t, lines[2], `\u001b[2K`)
	require.NotContains(t, out, "\x1b")
	require.NotContains(t, out, "\u202e")
	require.Regexp(t, `bob\s+approve\s+accepted\s+1234@laptop@\s+approvals 1 of 1: bob$`, lines[3])
}

func TestTimelineMarkdownEscapes(t *testing.T) {
	h := timelineHarness(t)
	out, err := h.run("timeline", "rotation-demo", "--format", "md")
	require.NoError(t, err)
	require.Contains(t, out, "| time (UTC) | actor | action | outcome | detail | client |\n")
	require.Contains(t, out, "| 2026-11-28T21:31:00Z | mallory | approve | denied | unsigned \\| &lt;img src=x onerror=alert(1)&gt;\\u001b[2K | 4242@evil\\u202ehost@ |\n")
	require.Contains(t, out, "| bob | approve | accepted | approvals 1 of 1: bob | 1234@laptop@ |\n")
	require.NotContains(t, out, "<img")
}

func TestTimelineJSON(t *testing.T) {
	h := timelineHarness(t)
	out, err := h.run("timeline", "rotation-demo", "--format", "json")
	require.NoError(t, err)
	var rows []map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &rows))
	require.Len(t, rows, 3)
	require.Equal(t, "1234@laptop@", rows[2]["client"])
	require.Equal(t, "u-ok", rows[2]["update_id"])
	require.Equal(t, "bob", rows[2]["actor"])
	require.NotContains(t, rows[0], "client")
	require.Equal(t, `4242@evil\u202ehost@`, rows[1]["client"])
}

// TestTimelineWithoutUpdatesSkipsHistory: no Update decisions, no history read.
func TestTimelineWithoutUpdatesSkipsHistory(t *testing.T) {
	h := newHarness(t)
	h.fc.timeline = []contract.Event{{At: at, Actor: "alice", Action: "requested", Outcome: "accepted"}}
	_, err := h.run("timeline", "rotation-demo")
	require.NoError(t, err)
	require.Zero(t, h.fc.histRead)
}

func TestStatusShowsApprovals(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, writeStatus(&out, "rotation-demo", "run-1", contract.Status{
		Runbook: "secret-rotation", Target: "demo", Phase: "waiting for approval", RequestedBy: "alice",
		ApprovedBy: "bob", Approvals: "approvals 1 of 2: bob; waiting for one more of: carol",
	}))
	require.Contains(t, out.String(), "requested by alice, approved by bob\napprovals 1 of 2: bob; waiting for one more of: carol\n")

	out.Reset()
	require.NoError(t, writeStatus(&out, "rotation-demo", "", contract.Status{RequestedBy: "alice"}))
	require.NotContains(t, out.String(), "approvals")
}

// TestStarterLinksNoSecretHandling: the starter binary cannot touch a secret, an env file or a
// deployment, because it does not link the code that does.
func TestStarterLinksNoSecretHandling(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	require.NoError(t, err, string(out))
	deps := strings.Fields(string(out))
	require.Contains(t, deps, "github.com/authops/authops/internal/statement")
	for _, pkg := range []string{"internal/secretstore", "internal/envfile", "internal/deploy"} {
		for _, d := range deps {
			require.False(t, strings.HasPrefix(d, "github.com/authops/authops/"+pkg), "starter links %s", d)
		}
	}
}
