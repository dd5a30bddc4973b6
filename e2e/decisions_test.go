package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/testenv"
)

// TestForgedDecisionsRefused: anyone who can reach the namespace can send a signal or an Update
// naming "bob". Without bob's signature neither counts, both are on the record, and bob's own
// signed approval from the CLI is answered in one round trip.
func TestForgedDecisionsRefused(t *testing.T) {
	env := startStack(t, testenv.Options{ObservationWindow: 2 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	secret := env.Secret(t)

	out, err := env.Starter(t, "rotate", "--target", "demo", "--requested-by", "alice", "--reason", "forgery drill")
	require.NoError(t, err, out)
	id := strings.TrimSpace(out)
	waitPhase(t, env, id, "waiting for approval")

	out, err = env.Temporal(t, "workflow", "signal", "--workflow-id", id, "--name", contract.DecisionApprove,
		"--input", `{"actor":"bob","comment":"forged by signal"}`)
	require.NoError(t, err, out)
	out, err = env.Temporal(t, "workflow", "update", "execute", "--workflow-id", id, "--name", contract.DecisionApprove,
		"--input", `{"actor":"bob","comment":"forged by update"}`)
	require.Error(t, err, "a forged Update must fail: %s", out)
	require.Contains(t, out, "unsigned")

	// The forged signal is judged asynchronously; wait until both attempts are on the record.
	var evs []contract.Event
	require.Eventually(t, func() bool {
		evs = timelineOf(t, env, id)
		return countEvents(evs, "bob", contract.DecisionApprove, "denied") == 2
	}, 2*time.Minute, 100*time.Millisecond, "both forged approvals are recorded as denied")
	for _, e := range evs {
		if e.Action == contract.DecisionApprove {
			require.False(t, e.Verified)
			require.Contains(t, e.Detail, "unsigned")
		}
	}
	waitPhase(t, env, id, "waiting for approval")
	require.Equal(t, secret, env.Secret(t), "a forged approval changes nothing")

	start := time.Now()
	out, err = env.Starter(t, "approve", id, "--as", "bob", "--comment", "checked the change ticket")
	require.NoError(t, err, out)
	t.Logf("signed approval answered in %s: %s", time.Since(start), strings.TrimSpace(out))
	require.Contains(t, out, "approve accepted by bob")

	var res contract.RotationResult
	require.NoError(t, env.Client.GetWorkflow(ctx, id, "").Get(ctx, &res))
	require.Equal(t, contract.OutcomeCompleted, res.Outcome, res.Summary)
	require.Equal(t, "bob", res.ApprovedBy)
	requireVerified(t, res.Timeline, "bob", contract.DecisionApprove)

	// The timeline names the client Temporal recorded for the signed Update.
	out, err = env.Starter(t, "timeline", id)
	require.NoError(t, err, out)
	require.Contains(t, out, "checked the change ticket")
	env.CheckReplay(t, id, "", "rotation-completed")

	scan := env.LeakScan(t)
	scan.Value("secret before the rotation", secret)
	scan.History(id)
	scan.Place("CLI timeline", out)
	scan.Check(t)
}

// TestOneEmergencyRunPerTarget: Temporal itself keeps one emergency run per target. A second
// start from the CLI and one from `temporal workflow start` are refused, and a run started under
// any other id refuses to act.
func TestOneEmergencyRunPerTarget(t *testing.T) {
	env := startStack(t, testenv.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	secret := env.Secret(t)

	out, err := env.Starter(t, "invalidate", "--target", "demo", "--reason", "tokens replayed", "--requested-by", "alice")
	require.NoError(t, err, out)
	id := strings.TrimSpace(out)
	require.Equal(t, contract.InvalidationID("demo"), id)
	waitPhase(t, env, id, "waiting for go-ahead")

	out, err = env.Starter(t, "invalidate", "--target", "demo", "--reason", "same abuse", "--requested-by", "bob")
	require.Error(t, err)
	require.Contains(t, out, "already running: "+id)

	firstRun, err := env.Client.DescribeWorkflow(ctx, id, "")
	require.NoError(t, err)
	runID := firstRun.RawResponse.GetWorkflowExecutionInfo().GetExecution().GetRunId()
	// The Temporal CLI, like the SDK, answers a start under a running id with the running
	// execution: no second run exists.
	input := `{"target":"demo","trigger":"token-abuse","reason":"from outside","requested_by":"alice"}`
	out, err = env.Temporal(t, "workflow", "start", "--type", contract.WorkflowEmergencyInvalidation,
		"--task-queue", contract.TaskQueue, "--workflow-id", id, "--input", input)
	if err == nil {
		require.Contains(t, out, runID, "a second start under the same id must not make a new run")
	}

	// A caller may pick another id; the run refuses to act under it, before touching the target.
	foreign := id + "-other"
	out, err = env.Temporal(t, "workflow", "start", "--type", contract.WorkflowEmergencyInvalidation,
		"--task-queue", contract.TaskQueue, "--workflow-id", foreign, "--input", input)
	require.NoError(t, err, out)
	err = env.Client.GetWorkflow(ctx, foreign, "").Get(ctx, nil)
	require.Error(t, err)
	require.Contains(t, err.Error(), "runs only under the id "+id)

	desc, err := env.Client.DescribeWorkflow(ctx, id, "")
	require.NoError(t, err)
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, desc.RawResponse.GetWorkflowExecutionInfo().GetStatus())
	require.Equal(t, runID, desc.RawResponse.GetWorkflowExecutionInfo().GetExecution().GetRunId(), "still the first run")
	require.Equal(t, secret, env.Secret(t))

	out, err = env.Starter(t, "reject", id, "--as", "bob", "--comment", "drill over")
	require.NoError(t, err, out)
	require.NoError(t, env.Client.GetWorkflow(ctx, id, "").Get(ctx, nil))
	scan := env.LeakScan(t)
	scan.History(id, foreign)
	scan.Check(t)
}

// TestBreakGlassNeedsTheRequestersKey: break glass skips the second person, so it must come from
// the requester's own key. A start that names alice without her signature does nothing.
func TestBreakGlassNeedsTheRequestersKey(t *testing.T) {
	env := startStack(t, testenv.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	secret := env.Secret(t)
	id := contract.InvalidationID("demo")

	// bob holds only his own key: the CLI cannot sign for alice.
	out, err := env.Starter(t, "invalidate", "--target", "demo", "--reason", "leak", "--requested-by", "alice",
		"--break-glass", "--key", env.Paths.KeyFile("bob"))
	require.Error(t, err, out)
	var notFound *serviceerror.NotFound
	_, err = env.Client.DescribeWorkflow(ctx, id, "")
	require.True(t, errors.As(err, &notFound), "nothing was started: %v", err)

	// The same start sent straight to Temporal, unsigned, is refused by the run itself.
	out, err = env.Temporal(t, "workflow", "start", "--type", contract.WorkflowEmergencyInvalidation,
		"--task-queue", contract.TaskQueue, "--workflow-id", id, "--input",
		`{"target":"demo","trigger":"secret-compromise","reason":"leak","requested_by":"alice","break_glass":true}`)
	require.NoError(t, err, out)
	err = env.Client.GetWorkflow(ctx, id, "").Get(ctx, nil)
	require.Error(t, err)
	require.Contains(t, err.Error(), "unsigned")
	require.Equal(t, secret, env.Secret(t), "an unsigned break glass changes nothing")
}

func timelineOf(t *testing.T, env *testenv.Env, id string) []contract.Event {
	t.Helper()
	var evs []contract.Event
	v, err := env.Client.QueryWorkflow(context.Background(), id, "", contract.QueryTimeline)
	if err == nil {
		_ = v.Get(&evs)
	}
	return evs
}

func countEvents(evs []contract.Event, actor, action, outcome string) int {
	n := 0
	for _, e := range evs {
		if e.Actor == actor && e.Action == action && e.Outcome == outcome {
			n++
		}
	}
	return n
}

func requireVerified(t *testing.T, evs []contract.Event, actor, action string) {
	t.Helper()
	for _, e := range evs {
		if e.Actor == actor && e.Action == action && e.Outcome == "accepted" {
			require.True(t, e.Verified, "%+v", e)
			require.Equal(t, time.UTC, e.At.Location())
			return
		}
	}
	t.Fatalf("no verified %s by %s: %+v", action, actor, evs)
}

// TestSignedCancel: cancel is a signed decision too. It ends the run as canceled, changes
// nothing before the approval, and the record says who canceled and why.
func TestSignedCancel(t *testing.T) {
	env := startStack(t, testenv.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	secret := env.Secret(t)
	out, err := env.Starter(t, "rotate", "--target", "demo", "--requested-by", "alice")
	require.NoError(t, err, out)
	id := strings.TrimSpace(out)
	waitPhase(t, env, id, "waiting for approval")

	out, err = env.Starter(t, "cancel", id, "--as", "bob")
	require.Error(t, err, "a cancel needs a reason: %s", out)
	out, err = env.Starter(t, "cancel", id, "--as", "bob", "--reason", "wrong window")
	require.NoError(t, err, out)
	require.Contains(t, out, "cancel accepted by bob")

	err = env.Client.GetWorkflow(ctx, id, "").Get(ctx, nil)
	require.Error(t, err)
	desc, err := env.Client.DescribeWorkflow(ctx, id, "")
	require.NoError(t, err)
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED, desc.RawResponse.GetWorkflowExecutionInfo().GetStatus())
	evs := timelineOf(t, env, id)
	requireVerified(t, evs, "bob", contract.DecisionCancel)
	closed := false
	for _, e := range evs {
		if e.Action == "closed" && e.Outcome == contract.OutcomeCanceled && strings.Contains(e.Detail, "canceled by bob: wrong window") {
			closed = true
		}
	}
	require.True(t, closed, "the close says who canceled and why: %+v", evs)
	require.Equal(t, secret, env.Secret(t))
}

// TestStartStatementCountsOnce: a signed start copied out of a closed run's history cannot start
// the run again; Temporal itself holds the claim on its nonce.
func TestStartStatementCountsOnce(t *testing.T) {
	env := startStack(t, testenv.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	id := contract.RotationID("demo")
	in := contract.RotationInput{Target: "demo", Reason: "replay drill", RequestedBy: "alice", Mode: contract.ModeManual}
	in.Statement = signStatement(t, env, "alice", id, "", contract.ActionStartRotation, in.Reason, in.StartArgs())
	opts := client.StartWorkflowOptions{ID: id, TaskQueue: contract.TaskQueue}

	_, err := env.Client.ExecuteWorkflow(ctx, opts, contract.WorkflowSecretRotation, in)
	require.NoError(t, err)
	waitPhase(t, env, id, "waiting for approval")
	out, err := env.Starter(t, "reject", id, "--as", "bob", "--comment", "drill")
	require.NoError(t, err, out)
	require.NoError(t, env.Client.GetWorkflow(ctx, id, "").Get(ctx, nil))

	run, err := env.Client.ExecuteWorkflow(ctx, opts, contract.WorkflowSecretRotation, in)
	require.NoError(t, err, "Temporal takes the start; the run refuses it")
	err = run.Get(ctx, nil)
	require.Error(t, err)
	require.Contains(t, err.Error(), "replayed statement")
	env.LeakScan(t).Check(t)
}
