package e2e

import (
	"context"
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

// releaseCommit is the commit of the last release (CHANGELOG.md). Its runs must finish on the
// worker from HEAD: a change to running logic takes a workflow.GetVersion until no run of the
// release can be open.
const releaseCommit = "af8c534"

// TestRunOfTheReleaseFinishesOnHead: a rotation started by the release's worker waits for its
// approval when that worker dies; the worker from HEAD takes the run over, bob's signed approval
// is accepted, and the run completes and replays.
func TestRunOfTheReleaseFinishesOnHead(t *testing.T) {
	env := startStack(t, testenv.Options{NoWorker: true, ObservationWindow: time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	released := buildReleaseWorker(t)

	old := env.StartWorkerBinary(t, released, filepath.Join(env.Dir, "runbook.yaml"))
	out, err := env.Starter(t, "rotate", "--target", "demo", "--requested-by", "alice", "--reason", "upgrade drill")
	require.NoError(t, err, out)
	id := strings.TrimSpace(out)
	waitPhase(t, env, id, "waiting for approval")
	require.NoError(t, old.Process.Signal(syscall.SIGKILL))
	_ = old.Wait()
	env.StartWorkerProcess(t)

	out, err = env.Starter(t, "approve", id, "--as", "bob", "--comment", "approved after the upgrade")
	require.NoError(t, err, out)

	var res contract.RotationResult
	require.NoError(t, env.Client.GetWorkflow(ctx, id, "").Get(ctx, &res), env.WorkerLog.String())
	require.Equal(t, contract.OutcomeCompleted, res.Outcome, "%s\n%+v", res.Summary, res.Timeline)
	require.Equal(t, "bob", res.ApprovedBy)
	requireTimeline(t, res.Timeline, "bob", contract.DecisionApprove, "accepted")
	env.CheckReplay(t, id, "", "rotation-upgraded-in-flight")
	// The release's worker logged to the same worker log, with the same secrets.
	scan := env.LeakScan(t)
	scan.History(id)
	scan.Place("approve output", out)
	scan.Check(t)
}

// buildReleaseWorker builds the worker of releaseCommit from this repository's history.
func buildReleaseWorker(t *testing.T) string {
	t.Helper()
	if err := exec.Command("git", "cat-file", "-e", releaseCommit+"^{commit}").Run(); err != nil {
		t.Skipf("commit %s is not in this checkout (shallow clone?): cannot build the release's worker", releaseCommit)
	}
	src := t.TempDir()
	// From the top: git archive in a subdirectory would archive only that subdirectory.
	archive := exec.Command("sh", "-c", `cd "$(git rev-parse --show-toplevel)" && git archive `+releaseCommit+" | tar -x -C "+src)
	if out, err := archive.CombinedOutput(); err != nil {
		t.Fatalf("extract %s: %v\n%s", releaseCommit, err, out)
	}
	bin := filepath.Join(t.TempDir(), "worker-"+releaseCommit)
	build := exec.Command("go", "build", "-o", bin, "./worker")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the release's worker: %v\n%s", err, out)
	}
	return bin
}
