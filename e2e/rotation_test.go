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

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/demoenv"
	"github.com/authops/authops/internal/testenv"
)

// TestRotationEndToEnd rotates the demo backend's secret through the CLI, the real dev server,
// the worker and a real restart, then checks what users would see and what history holds.
func TestRotationEndToEnd(t *testing.T) {
	env := startStack(t, testenv.Options{ObservationWindow: 3 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	oldSecret := env.Secret(t)
	user := newUser(t, env, demoenv.UserDemo)
	before := user.login(t)
	require.Equal(t, 200, user.me(t, before.Access))

	out, err := env.Starter(t, "rotate", "--target", "demo", "--requested-by", "alice", "--reason", "e2e hygiene")
	require.NoError(t, err, out)
	id := strings.TrimSpace(out)
	require.Equal(t, contract.RotationID("demo"), id)

	// Only one rotation per target.
	waitPhase(t, env, id, "waiting for approval")
	out, err = env.Starter(t, "rotate", "--target", "demo", "--requested-by", "bob")
	require.Error(t, err)
	require.Contains(t, out, "already running: rotation-demo")

	out, err = env.Starter(t, "approve", id, "--as", "alice")
	require.Error(t, err, "the requester must not approve")
	require.Contains(t, out, "denied")
	out, err = env.Starter(t, "approve", id, "--as", "bob", "--comment", "second pair of eyes")
	require.NoError(t, err, out)
	require.Contains(t, out, "approve accepted by bob")

	var res contract.RotationResult
	require.NoError(t, env.Client.GetWorkflow(ctx, id, "").Get(ctx, &res))
	require.Equal(t, contract.OutcomeCompleted, res.Outcome, res.Summary)
	require.Equal(t, "bob", res.ApprovedBy)

	newSecret := env.Secret(t)
	require.NotEqual(t, oldSecret, newSecret, "env file must hold a new secret")
	require.GreaterOrEqual(t, len(newSecret), 32)

	// Sessions issued before the rotation are dead, all three ways in.
	require.Equal(t, 401, user.me(t, before.Access))
	require.Equal(t, 401, user.refresh(t, before.Refresh))
	require.Equal(t, 401, user.meCookie(t, before.Cookie))
	// A fresh login works.
	after := user.login(t)
	require.Equal(t, 200, user.me(t, after.Access))

	// Artifacts: changes by version id and fingerprint; validation outputs kept.
	require.NotEmpty(t, res.Changes)
	require.Equal(t, res.New.ID, res.Changes[0].ToVersion)
	require.NotEmpty(t, res.Validations)
	requireTimeline(t, res.Timeline, "bob", "approve", "accepted")
	requireTimeline(t, res.Timeline, "alice", "approve", "denied")

	// No secret or token anywhere a person or a log could read it.
	hist := testenv.Searchable(t, env.History(t, id))
	require.Contains(t, hist, res.New.Fingerprint, "the decoded history must be searchable (positive control)")
	scan := env.LeakScan(t)
	scan.Value("old secret", oldSecret)
	scan.Value("new secret", newSecret)
	scan.Value("old access token", before.Access)
	scan.Value("old refresh token", before.Refresh)
	scan.Value("old cookie", before.Cookie)
	scan.Value("new access token", after.Access)
	scan.History(id)
	out, _ = env.Starter(t, "timeline", id, "--format", "md")
	scan.Place("CLI timeline", out)
	require.Contains(t, out, "| bob | approve | accepted |")

	env.CheckReplay(t, id, "", "rotation-completed")

	// A signal to a finished run is refused and changes nothing.
	out, err = env.Starter(t, "approve", id, "--as", "bob")
	require.Error(t, err)
	require.Contains(t, out, "already finished")
	require.Equal(t, newSecret, env.Secret(t))
	scan.Place("CLI refusal", out)
	scan.Check(t)
}

// TestRotationBadInput: each bad input gets a clear error and starts nothing.
func TestRotationBadInput(t *testing.T) {
	env := startStack(t, testenv.Options{})
	past := time.Now().Add(-3 * time.Hour).UTC().Format(time.RFC3339)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown target", []string{"rotate", "--target", "nope", "--requested-by", "alice"}, `unknown target "nope"`},
		{"window in the past", []string{"rotate", "--target", "demo", "--requested-by", "alice", "--window-start", past, "--window", "1h"}, "is in the past"},
		{"malformed time", []string{"rotate", "--target", "demo", "--requested-by", "alice", "--window-start", "tomorrow"}, "not an RFC3339 time"},
		{"malformed window", []string{"rotate", "--target", "demo", "--requested-by", "alice", "--window", "soon"}, "invalid argument"},
		{"window squatting the target", []string{"rotate", "--target", "demo", "--requested-by", "alice", "--window-start", "9999-12-31T23:59:59Z"}, "rotation.max_window_ahead"},
		{"control characters in the reason", []string{"rotate", "--target", "demo", "--requested-by", "alice", "--reason", "x\x1b[2Jy"}, "control character"},
		{"no requester", []string{"rotate", "--target", "demo", "--requested-by", ""}, "--requested-by is required"},
		{"signal to unknown run", []string{"approve", "rotation-nope", "--as", "bob"}, "no run with id rotation-nope"},
	}
	secret := env.Secret(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := env.Starter(t, c.args...)
			require.Error(t, err, out)
			require.Contains(t, out, c.want)
		})
	}
	var notFound *serviceerror.NotFound
	_, err := env.Client.DescribeWorkflow(context.Background(), contract.RotationID("demo"), "")
	require.True(t, errors.As(err, &notFound), "bad input must not start a run: %v", err)
	require.Equal(t, secret, env.Secret(t))
}

// TestRotationApproverNotInPolicy: a denied approver is recorded and the run keeps waiting.
func TestRotationApproverNotInPolicy(t *testing.T) {
	env := startStack(t, testenv.Options{})
	out, err := env.Starter(t, "rotate", "--target", "demo", "--requested-by", "alice")
	require.NoError(t, err, out)
	id := strings.TrimSpace(out)
	waitPhase(t, env, id, "waiting for approval")
	// Someone who is not a person in the config is refused before anything is sent.
	out, err = env.Starter(t, "approve", id, "--as", "mallory")
	require.Error(t, err)
	require.Contains(t, out, "mallory")
	// A rollback means nothing before the rotation: the run denies it, on the record.
	out, err = env.Starter(t, "rollback", id, "--as", "alice")
	require.Error(t, err)
	require.Contains(t, out, "only during the observation window")
	out, err = env.Starter(t, "reject", id, "--as", "bob", "--comment", "not today")
	require.NoError(t, err, out)
	var res contract.RotationResult
	require.NoError(t, env.Client.GetWorkflow(context.Background(), id, "").Get(context.Background(), &res))
	require.Equal(t, contract.OutcomeRejected, res.Outcome)
	requireTimeline(t, res.Timeline, "alice", "rollback", "denied")
	desc, err := env.Client.DescribeWorkflow(context.Background(), id, "")
	require.NoError(t, err)
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, desc.RawResponse.WorkflowExecutionInfo.Status)
	env.CheckReplay(t, id, "", "rotation-rejected")
}

func requireTimeline(t *testing.T, evs []contract.Event, actor, action, outcome string) {
	t.Helper()
	for _, e := range evs {
		if e.Actor == actor && e.Action == action && e.Outcome == outcome {
			require.Equal(t, time.UTC, e.At.Location(), "timeline times are UTC")
			return
		}
	}
	t.Fatalf("timeline has no %s %s %s: %+v", actor, action, outcome, evs)
}

func waitPhase(t *testing.T, env *testenv.Env, id, phase string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var st contract.Status
	for time.Now().Before(deadline) {
		v, err := env.Client.QueryWorkflow(context.Background(), id, "", contract.QueryStatus)
		if err == nil && v.Get(&st) == nil && strings.HasPrefix(st.Phase, phase) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	tl, _ := env.Starter(t, "timeline", id)
	t.Fatalf("run %s never reached phase %q (last %+v)\n%s", id, phase, st, tl)
}
