package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/testenv"
)

// preUpdatesCommit is the last commit whose worker took decisions as unsigned signals.
const preUpdatesCommit = "d736d80"

// TestRunInFlightNeedsSignedDecisionAfterUpgrade: a rotation started by a worker from before
// decisions were verified Updates keeps its signal loop after the upgrade, and from then on each
// decision needs a valid signed statement. A typed name is refused; bob's signed approval (which
// the CLI sends as a signal, since such a run has no Update handler) is accepted.
func TestRunInFlightNeedsSignedDecisionAfterUpgrade(t *testing.T) {
	env := startStack(t, testenv.Options{NoWorker: true, ObservationWindow: time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	oldWorker, oldConfig := buildOldWorker(t, env)

	old := env.StartWorkerBinary(t, oldWorker, oldConfig)
	out, err := env.Starter(t, "rotate", "--target", "demo", "--requested-by", "alice", "--reason", "upgrade drill")
	require.NoError(t, err, out)
	id := strings.TrimSpace(out)
	waitPhase(t, env, id, "waiting for approval")
	require.NoError(t, old.Process.Signal(syscall.SIGKILL))
	_ = old.Wait()
	env.StartWorkerProcess(t)

	// A name typed into a signal was an approval before the upgrade; now it is refused.
	out, err = env.Temporal(t, "workflow", "signal", "--workflow-id", id, "--name", contract.DecisionApprove,
		"--input", `{"actor":"bob","comment":"typed"}`)
	require.NoError(t, err, out)
	require.Eventually(t, func() bool {
		return countEvents(timelineOf(t, env, id), "bob", contract.DecisionApprove, "denied") == 1
	}, time.Minute, 100*time.Millisecond, "the unsigned approval is denied on the record")
	waitPhase(t, env, id, "waiting for approval")

	out, err = env.Starter(t, "approve", id, "--as", "bob", "--comment", "signed after the upgrade")
	require.NoError(t, err, out)
	require.Contains(t, out, "sent as a signal")
	t.Log(out)

	var res contract.RotationResult
	require.NoError(t, env.Client.GetWorkflow(ctx, id, "").Get(ctx, &res), env.WorkerLog.String())
	require.Equal(t, contract.OutcomeCompleted, res.Outcome, "%s\n%+v", res.Summary, res.Timeline)
	require.Equal(t, "bob", res.ApprovedBy)
	requireTimeline(t, res.Timeline, "bob", contract.DecisionApprove, "accepted")
	env.CheckReplay(t, id, "", "rotation-upgraded-in-flight")
	// The old worker's log is the worker log too: it ran with the same secrets.
	scan := env.LeakScan(t)
	scan.History(id)
	scan.Place("approve output", out)
	scan.Check(t)
}

// buildOldWorker builds the worker of preUpdatesCommit from this repository's history, and a
// config in that version's format (no people section).
func buildOldWorker(t *testing.T, env *testenv.Env) (string, string) {
	t.Helper()
	if err := exec.Command("git", "cat-file", "-e", preUpdatesCommit+"^{commit}").Run(); err != nil {
		t.Skipf("commit %s is not in this checkout (shallow clone?): cannot build the pre-upgrade worker", preUpdatesCommit)
	}
	src := t.TempDir()
	// From the top: git archive in a subdirectory would archive only that subdirectory.
	archive := exec.Command("sh", "-c", `cd "$(git rev-parse --show-toplevel)" && git archive `+preUpdatesCommit+" | tar -x -C "+src)
	if out, err := archive.CombinedOutput(); err != nil {
		t.Fatalf("extract %s: %v\n%s", preUpdatesCommit, err, out)
	}
	bin := filepath.Join(t.TempDir(), "worker-"+preUpdatesCommit)
	build := exec.Command("go", "build", "-o", bin, "./worker")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the pre-upgrade worker: %v\n%s", err, out)
	}
	cfg, err := os.ReadFile(filepath.Join(env.Dir, "runbook.yaml"))
	require.NoError(t, err)
	people, rest, ok := strings.Cut(string(cfg), "targets:")
	require.True(t, ok && strings.HasPrefix(people, "people:"), "config starts with people, then targets")
	// Sections that version did not know (timeouts:) are left out: it refuses unknown keys.
	var kept []string
	for _, line := range strings.Split(rest, "\n") {
		if !strings.HasPrefix(line, "timeouts:") {
			kept = append(kept, line)
		}
	}
	oldCfg := filepath.Join(env.Dir, "runbook-"+preUpdatesCommit+".yaml")
	require.NoError(t, os.WriteFile(oldCfg, []byte("targets:"+strings.Join(kept, "\n")), 0o600))
	return bin, oldCfg
}
