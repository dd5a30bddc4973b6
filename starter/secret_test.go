package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/statement"
)

// secretFake fakes the client calls of the secret commands: a start, and the run's answer.
type secretFake struct {
	client.Client
	starts    []client.StartWorkflowOptions
	workflows []any
	args      []any
	startErr  error
	result    any
	runErr    error
}

func (f *secretFake) ExecuteWorkflow(_ context.Context, o client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	f.starts = append(f.starts, o)
	f.workflows = append(f.workflows, wf)
	f.args = append(f.args, args...)
	if f.startErr != nil {
		return nil, f.startErr
	}
	return secretRun{f: f}, nil
}

func (f *secretFake) Close() {}

type secretRun struct {
	client.WorkflowRun
	f *secretFake
}

func (r secretRun) Get(_ context.Context, ptr any) error {
	if r.f.runErr != nil {
		return r.f.runErr
	}
	b, err := json.Marshal(r.f.result)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, ptr)
}

// runSecret runs a starter command with fc as the client; dials counts the dials.
func runSecret(h *harness, fc *secretFake, args ...string) (string, error) {
	a := &app{
		dial: func() (client.Client, error) {
			h.dials++
			return fc, nil
		},
		namespace: func() (string, error) { return "default", nil },
		identity:  func() string { return "test-client" },
	}
	root := newRootFor(a)
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{"--config", h.f.config}, args...))
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// TestSecretCommandsArgumentErrors: bad arguments are refused before anything is dialed.
func TestSecretCommandsArgumentErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"status without target", []string{"secret", "status"}, `required flag(s) "target" not set`},
		{"status unknown target", []string{"secret", "status", "--target", "nope"}, `"nope"`},
		{"status stray argument", []string{"secret", "status", "demo"}, `unknown command "demo"`},
		{"settle without as", []string{"secret", "settle", "--target", "demo"}, `required flag(s) "as" not set`},
		{"settle without target", []string{"secret", "settle", "--as", "bob"}, `required flag(s) "target" not set`},
		{"settle unknown target", []string{"secret", "settle", "--target", "nope", "--as", "bob"}, `"nope"`},
		{"settle unknown person", []string{"secret", "settle", "--target", "demo", "--as", "mallory"}, `--as "mallory" is not a person in the config`},
		{"settle non-canonical", []string{"secret", "settle", "--target", "demo", "--as", "Bob"}, "did you mean bob?"},
		{"settle not an approver", []string{"secret", "settle", "--target", "demo", "--as", "carol"},
			"only the approvers of demo (alice, bob) may settle a secret version; carol is not one"},
		{"settle control characters", []string{"secret", "settle", "--target", "demo", "--as", "bob", "--reason", "ok\x1b[2K"},
			"--reason holds a control character"},
		{"settle bad version", []string{"secret", "settle", "--target", "demo", "--as", "bob", "--version", "v1 2"},
			`version "v1 2" is not a version id`},
		{"settle without a key", []string{"secret", "settle", "--target", "demo", "--as", "alice"}, "no key for alice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			fc := &secretFake{}
			out, err := runSecret(h, fc, tc.args...)
			require.Error(t, err, out)
			require.Contains(t, err.Error(), tc.want)
			require.Zero(t, h.dials, "nothing is dialed")
			require.Empty(t, fc.starts)
		})
	}
}

// TestSecretSettleSignsAndPrintsTheResult: one signed start of secret-settle-<target>, conflict
// policy FAIL; the run's answer is printed, and a refusal exits 1.
func TestSecretSettleSignsAndPrintsTheResult(t *testing.T) {
	h := newHarness(t)
	fc := &secretFake{result: contract.SettleResult{Target: "demo", Outcome: contract.OutcomeSettled,
		Summary: "Settle of demo: version v3-ab (fingerprint f) of closed run rotation-demo/r1 marked failed by bob."}}
	out, err := runSecret(h, fc, "secret", "settle", "--target", "demo", "--as", "bob", "--version", "v3-ab", "--reason", "left behind")
	require.NoError(t, err, out)
	require.Equal(t, "Settle of demo: version v3-ab (fingerprint f) of closed run rotation-demo/r1 marked failed by bob.\n", out)
	require.Len(t, fc.starts, 1)
	o := fc.starts[0]
	require.Equal(t, contract.SecretSettleID("demo"), o.ID)
	require.Equal(t, contract.TaskQueue, o.TaskQueue)
	require.Equal(t, enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL, o.WorkflowIDConflictPolicy)
	require.True(t, o.WorkflowExecutionErrorWhenAlreadyStarted)
	require.Equal(t, contract.WorkflowSecretSettle, fc.workflows[0])
	in := fc.args[0].(contract.SettleInput)
	require.Equal(t, "v3-ab", in.VersionID)
	v := h.f.verify(t, in.Statement, statement.Expect{Namespace: "default", WorkflowID: "secret-settle-demo",
		Action: contract.ActionSettleSecret, Comment: "version=v3-ab; reason=left behind"})
	require.Equal(t, "bob", v.Person)

	// The run refuses: its result comes in the failure's details and the exit status is 1.
	refused := contract.SettleResult{Target: "demo", Outcome: contract.OutcomeRefused,
		Summary: "Settle of demo refused: version v3-ab of demo is live."}
	fc = &secretFake{runErr: temporal.NewNonRetryableApplicationError(refused.Summary, contract.ErrTypeRunbookFailed, nil, refused)}
	out, err = runSecret(h, fc, "secret", "settle", "--target", "demo", "--as", "bob")
	require.EqualError(t, err, "settle refused")
	require.Equal(t, "Settle of demo refused: version v3-ab of demo is live.\n", out)

	fc = &secretFake{startErr: serviceerror.NewWorkflowExecutionAlreadyStarted("started", "req", "R7")}
	_, err = runSecret(h, fc, "secret", "settle", "--target", "demo", "--as", "bob")
	require.ErrorContains(t, err, "already running: secret-settle-demo (run R7)")
}

// TestSecretStatusPrintsVersions: a SecretStatus run on the task queue; the table shows every
// version, and a stale pending one says how to settle it.
func TestSecretStatusPrintsVersions(t *testing.T) {
	h := newHarness(t)
	at := time.Date(2026, 11, 28, 21, 30, 0, 0, time.UTC)
	fc := &secretFake{result: contract.SecretStatus{Target: "demo", LiveFingerprint: "aaaa", LiveVersion: "v1-01",
		Versions: []contract.SecretVersion{
			{ID: "v1-01", Stage: "current", Fingerprint: "aaaa", CreatedAt: at, IdempotencyKey: "rotation-demo/r0/adopt", Run: "rotation-demo/r0", Live: true},
			{ID: "v2-02", Stage: "pending", Fingerprint: "bbbb", CreatedAt: at.Add(time.Hour), IdempotencyKey: "rotation-demo/r1/create",
				Run: "rotation-demo/r1", RunState: "closed (failed)"},
		}}}
	out, err := runSecret(h, fc, "secret", "status", "--target", "demo")
	require.NoError(t, err, out)
	require.Len(t, fc.starts, 1)
	require.Regexp(t, `^secret-status-demo-\d{8}T\d{6}Z-[0-9a-f]{8}$`, fc.starts[0].ID)
	require.Equal(t, contract.TaskQueue, fc.starts[0].TaskQueue)
	require.Equal(t, contract.WorkflowSecretStatus, fc.workflows[0])
	require.Equal(t, contract.SecretStatusInput{Target: "demo"}, fc.args[0])
	require.Contains(t, out, "secret of demo: 2 versions; the env sink holds v1-01 (fingerprint aaaa)\n")
	require.Regexp(t, `(?m)^v1-01\s+current\s+2026-11-28T21:30:00Z\s+aaaa\s+live\s+rotation-demo/r0/adopt\s+-$`, out)
	require.Regexp(t, `(?m)^v2-02\s+pending\s+2026-11-28T22:30:00Z\s+bbbb\s+-\s+rotation-demo/r1/create\s+closed \(failed\)$`, out)
	require.Contains(t, out, "pending v2-02 was left behind by rotation-demo/r1, which is closed (failed): it blocks the next rotation. Settle it: starter secret settle --target demo --as <approver>\n")

	out, err = runSecret(h, fc, "secret", "status", "--target", "demo", "--json")
	require.NoError(t, err)
	var st contract.SecretStatus
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	require.Len(t, st.Versions, 2)
	require.NotContains(t, out, "value")
}
