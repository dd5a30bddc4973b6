package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/demoenv"
	"github.com/authops/authops/internal/testenv"
)

// breakDir makes a directory refuse new files (chmod for a normal user, chattr +i for root);
// fixDir undoes it.
func breakDir(dir string) string {
	return fmt.Sprintf("chmod 0500 %s; chattr +i %s 2>/dev/null; true", dir, dir)
}

func fixDir(dir string) {
	_ = exec.Command("/bin/sh", "-c", fmt.Sprintf("chattr -i %s 2>/dev/null; chmod 0700 %s", dir, dir)).Run()
}

// canBreakDirs says whether this process can make a directory refuse writes (not as root
// without chattr, for one).
func canBreakDirs(t *testing.T) bool {
	d := filepath.Join(t.TempDir(), "probe")
	require.NoError(t, os.Mkdir(d, 0o700))
	defer fixDir(d)
	require.NoError(t, exec.Command("/bin/sh", "-c", breakDir(d)).Run())
	return os.WriteFile(filepath.Join(d, "x"), []byte("x"), 0o600) != nil
}

func secretStatusJSON(t *testing.T, env *testenv.Env) contract.SecretStatus {
	t.Helper()
	out, err := env.Starter(t, "secret", "status", "--target", "demo", "--json")
	require.NoError(t, err, out)
	var st contract.SecretStatus
	require.NoError(t, json.Unmarshal([]byte(out), &st), out)
	return st
}

// TestStalePendingVersionDoesNotBlockTheEmergency is issue 8's sequence: a rotation whose store
// write fails after the env file was written (the store refuses writes from the first redeploy
// on) cannot mark its new version failed either, escalates and names the version it leaves
// pending and how to settle it. Settling is refused while that run still runs. An approver fixes
// the store and resolves: the run reads the store and says the pending version is its own. Then
// `starter secret status` shows the version left by a closed run, and an emergency invalidation
// supersedes it and rotates anyway.
func TestStalePendingVersionDoesNotBlockTheEmergency(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs the dev server (run without -short)")
	}
	if !canBreakDirs(t) {
		t.Skip("cannot make a directory refuse writes here (root without chattr?): no way to fail the store")
	}
	backend := filepath.Join(testenv.BinDir(t), "authbackend")
	// The deploy runs in the config's directory, where the demo files are under demo/.
	deploy := fmt.Sprintf("if [ -f break-store ]; then rm -f break-store; %s; fi; exec %s restart --pid-file demo/authbackend.pid --timeout 15s",
		breakDir("demo/secrets"), backend)
	env := startStack(t, testenv.Options{DeployCommand: deploy})
	t.Cleanup(func() { fixDir(env.Paths.SecretsDir) })
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	oldSecret := env.Secret(t)
	require.NoError(t, os.WriteFile(filepath.Join(env.Dir, "break-store"), nil, 0o600))

	out, err := env.Starter(t, "rotate", "--target", "demo", "--requested-by", "alice", "--reason", "routine")
	require.NoError(t, err, out)
	rotID := strings.TrimSpace(out)
	waitPhase(t, env, rotID, "waiting for approval")
	desc, err := env.Client.DescribeWorkflow(ctx, rotID, "")
	require.NoError(t, err)
	firstRun := desc.RawResponse.WorkflowExecutionInfo.Execution.RunId
	out, err = env.Starter(t, "approve", rotID, "--as", "bob")
	require.NoError(t, err, out)

	// Promote fails, the env file is restored, marking the new version failed fails: escalated.
	waitPhase(t, env, rotID, "escalated")
	require.Equal(t, oldSecret, env.Secret(t), "the env file holds the previous secret again")
	st := secretStatusJSON(t, env)
	pending, ok := st.ByStage("pending")
	require.True(t, ok, "the failed rotation left a pending version: %+v", st)
	require.Equal(t, rotID+"/"+firstRun, pending.Run)
	require.Equal(t, "running", pending.RunState)
	escalation := ""
	for _, m := range env.Notes.Messages() {
		if m.Kind == "escalation" {
			escalation = m.Text
		}
	}
	require.Contains(t, escalation, "The secret store may still hold version "+pending.ID)
	require.Contains(t, escalation, "`starter secret settle --target demo --as <approver>`")

	// Its run still runs: settling is refused, naming that run.
	out, err = env.Starter(t, "secret", "settle", "--target", "demo", "--as", "bob")
	require.Error(t, err, out)
	require.Contains(t, out, "still running")
	require.Contains(t, out, rotID+"/"+firstRun)

	// An approver fixes the store and resolves; the run says what the store holds.
	fixDir(env.Paths.SecretsDir)
	out, err = env.Starter(t, "resolve", rotID, "--as", "bob", "--comment", "secret store writable again")
	require.NoError(t, err, out)
	err = env.Client.GetWorkflow(ctx, rotID, firstRun).Get(ctx, nil)
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "the rotation ends failed: %v", err)
	var rot contract.RotationResult
	require.NoError(t, appErr.Details(&rot))
	require.Equal(t, contract.OutcomeRollbackFailed, rot.Outcome)
	storeEv := findTimeline(t, rot.Timeline, "authops", "store after resolve", "needs attention")
	require.Contains(t, storeEv.Detail, "pending "+pending.ID+" (fingerprint "+pending.Fingerprint+", left by this run)")

	// Now the version is stale: status says so, and how to settle it.
	out, err = env.Starter(t, "secret", "status", "--target", "demo")
	require.NoError(t, err, out)
	require.Contains(t, out, "pending "+pending.ID+" was left behind by "+rotID+"/"+firstRun+", which is closed (failed)")
	require.Contains(t, out, "starter secret settle --target demo --as <approver>")
	t.Logf("starter secret status after the resolve:\n%s", out)

	// The emergency runbook rotates anyway: its rotation supersedes the stale version.
	out, err = env.Starter(t, "invalidate", "--target", "demo", "--reason", "signing key in a public gist",
		"--trigger", "secret-compromise", "--requested-by", "alice")
	require.NoError(t, err, out)
	invID := strings.TrimSpace(out)
	waitPhase(t, env, invID, "waiting for go-ahead")
	out, err = env.Starter(t, "approve", invID, "--as", "bob", "--comment", "go")
	require.NoError(t, err, out)
	var inv contract.InvalidationResult
	require.NoError(t, env.Client.GetWorkflow(ctx, invID, "").Get(ctx, &inv))
	require.Equal(t, contract.OutcomeCompleted, inv.Outcome, inv.Summary)
	require.Equal(t, contract.OutcomeCompleted, inv.RotationOutcome)

	var child contract.RotationResult
	require.NoError(t, env.Client.GetWorkflow(ctx, rotID, "").Get(ctx, &child))
	sup := findTimeline(t, child.Timeline, "authops", "supersede stale pending version", contract.StateDone)
	require.True(t, strings.HasPrefix(sup.Detail, "superseded stale pending version "+pending.ID+" of closed run "+rotID+"/"+firstRun), sup.Detail)
	t.Logf("emergency rotation: %s", sup.Detail)
	require.NotEqual(t, oldSecret, env.Secret(t), "the secret was rotated")
	after := secretStatusJSON(t, env)
	for _, v := range after.Versions {
		if v.ID == pending.ID {
			require.Equal(t, "failed", v.Stage)
		}
	}
	_, stillPending := after.ByStage("pending")
	require.False(t, stillPending)
	cur, ok := after.ByStage("current")
	require.True(t, ok)
	require.True(t, cur.Live, "the new current version is live: %+v", after)
	require.Equal(t, child.New.ID, cur.ID)

	scan := env.LeakScan(t)
	scan.Value("old secret", oldSecret)
	scan.Value("new secret", env.Secret(t))
	scan.Value("probe password", env.Password(t, demoenv.UserProbe)) // the env adds it too; kept from before
	scan.History(invID, rotID, contract.SecretSettleID("demo"))
	scan.HistoryRun(rotID, firstRun)
	scan.Check(t)
	env.CheckReplay(t, rotID, firstRun, "rotation-stale-pending-left")
	env.CheckReplay(t, invID, "", "invalidation-supersedes-stale")
	env.CheckReplay(t, rotID, "", "rotation-emergency-supersedes-stale")
}

func findTimeline(t *testing.T, evs []contract.Event, actor, action, outcome string) contract.Event {
	t.Helper()
	for _, e := range evs {
		if e.Actor == actor && e.Action == action && e.Outcome == outcome {
			return e
		}
	}
	t.Fatalf("timeline has no %s %s %s: %+v", actor, action, outcome, evs)
	return contract.Event{}
}
