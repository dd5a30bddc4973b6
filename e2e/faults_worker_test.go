package e2e

// Issue 8, "worker killed at each step": the worker process dies (SIGKILL, no goodbye) at each
// step boundary of a rotation in turn, a new worker starts, and the run must still finish right:
// the right outcome, one current version with the previous kept, the env file on the store's
// current value, the backend signing with it, no step applied twice and a complete timeline.

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
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/demoenv"
	"github.com/authops/authops/internal/testenv"
)

// workerKill is one kill point of the rotation.
type workerKill struct {
	// point completes "worker SIGKILL <point>".
	point string
	opts  testenv.Options
	// reached says the run is at the point: the worker is killed as soon as it returns true.
	reached func(t *testing.T, env *testenv.Env, id, oldSecret string) bool
	// afterKill, when set, runs once the worker is dead, before the new one starts.
	afterKill func(t *testing.T, env *testenv.Env)
	// hold, when set, is the request to the backend ("METHOD /path") that the proxy holds from
	// the run's start until the worker is dead (testenv.Env.HoldNext).
	hold string
	// rolledBack: the run fails on purpose and must end rolled back.
	rolledBack bool
	// retried: the kill lands inside an activity, which the new worker must run again.
	retried bool
	// selfKill, when set, is an AUTHOPS_FAULTS value: the first worker is built with the
	// authops_faults tag and kills itself where it says, instead of being killed at reached.
	selfKill string
}

func TestFaultWorkerKilledAfterSecretCreated(t *testing.T) {
	runWorkerKill(t, workerKill{
		point: "after the new secret was created (pending version in the store)",
		reached: func(t *testing.T, env *testenv.Env, _, _ string) bool {
			return len(byStage(readStore(t, env), "pending")) == 1
		},
	})
}

func TestFaultWorkerKilledAfterEnvWritten(t *testing.T) {
	runWorkerKill(t, workerKill{
		point: "after the env file was written (before the redeploy)",
		reached: func(t *testing.T, env *testenv.Env, _, oldSecret string) bool {
			s, ok := envSecret(env)
			return ok && s != oldSecret
		},
	})
}

func TestFaultWorkerKilledMidRedeploy(t *testing.T) {
	runWorkerKill(t, workerKill{
		point: "in the middle of the redeploy",
		// The redeploy is held once it has started on the worker that is killed (not just
		// scheduled: activityStarted), so the kill lands in it on any machine.
		opts: testenv.Options{DeployHoldAt: 1},
		reached: func(t *testing.T, env *testenv.Env, id, _ string) bool {
			return env.DeployHeld() && activityStarted(t, env, id, "Deploy")
		},
		afterKill: func(t *testing.T, env *testenv.Env) { env.ReleaseDeploy(t) },
		retried:   true,
	})
}

func TestFaultWorkerKilledMidValidation(t *testing.T) {
	runWorkerKill(t, workerKill{
		point: "in the middle of the validation",
		// The proxy holds the validation's admin check (only the validation makes one), so the
		// kill lands inside the Validate activity on any machine.
		opts: testenv.Options{ProxyHold: true},
		hold: "GET /admin/users",
		reached: func(t *testing.T, env *testenv.Env, id, _ string) bool {
			return env.Held() && activityStarted(t, env, id, "Validate")
		},
		retried: true,
	})
}

func TestFaultWorkerKilledMidCompensation(t *testing.T) {
	runWorkerKill(t, workerKill{
		point: "in the middle of the compensation (rollback after a failed redeploy)",
		// Both attempts of the rotation's redeploy fail; the rollback's redeploy (the third) is
		// held once it has started on the worker, so the kill lands in it on any machine.
		opts: testenv.Options{DeployFailures: 2, DeployHoldAt: 3},
		reached: func(t *testing.T, env *testenv.Env, id, _ string) bool {
			return env.DeployHeld() && countEvents(timelineOf(t, env, id), "authops", "rollback", "started") > 0
		},
		afterKill:  func(t *testing.T, env *testenv.Env) { env.ReleaseDeploy(t) },
		rolledBack: true,
	})
}

// runWorkerKill rotates the demo target with a bin/worker process, kills it at the point, starts
// a new one and checks how the run ends.
func runWorkerKill(t *testing.T, k workerKill) {
	started := time.Now()
	o := k.opts
	o.NoWorker = true
	o.ObservationWindow = time.Second
	env := startStack(t, o)
	if k.hold != "" {
		env.HoldNext(t, k.hold)
	}
	first := env.StartWorkerProcess(t)

	oldSecret := env.Secret(t)
	u := newUser(t, env, demoenv.UserDemo)
	before := u.login(t)

	id := approvedRotation(t, env)

	killAt(t, env, id, first, k.point, func() bool { return k.reached(t, env, id, oldSecret) })
	env.ReleaseHeld()
	if k.afterKill != nil {
		k.afterKill(t, env)
	}
	env.StartWorkerProcess(t)

	res := waitResult[contract.RotationResult](t, env, id)
	checked := []string{"outcome " + res.Outcome}
	if k.rolledBack {
		require.Equal(t, contract.OutcomeRolledBack, res.Outcome, res.Summary)
		checkRolledBackOnce(t, env, id, oldSecret)
		checked = append(checked, "one current version (the old secret again), the run's one new version failed")
		checkEnvMatchesStore(t, env)
		checkBackendSigns(t, env, u, before.Access, true)
		checked = append(checked, "env file = store current", "fresh login 200, old token still 200")
		evs := timelineOf(t, env, id)
		for _, c := range []string{"compensate: restore previous secret", "compensate: mark new version failed"} {
			require.Equal(t, 1, countEvents(evs, "authops", c, contract.StateDone), "%s done once: %+v", c, evs)
		}
		require.Equal(t, 1, countEvents(evs, "authops", "rollback", "started"), "one rollback")
		checked = append(checked, "each compensation done once")
	} else {
		require.Equal(t, contract.OutcomeCompleted, res.Outcome, res.Summary)
		require.NotEqual(t, oldSecret, env.Secret(t))
		checkRotatedOnce(t, env, id, oldSecret)
		checked = append(checked, "one current version, previous kept", "exactly one new version created")
		checkEnvMatchesStore(t, env)
		checkBackendSigns(t, env, u, before.Access, false)
		checked = append(checked, "env file = store current", "fresh login 200, old token 401")
	}
	checkTimelineComplete(t, env, id)
	checked = append(checked, "timeline closed, no step left running or done twice")
	hist := testenv.Searchable(t, env.History(t, id))
	if k.retried {
		require.Contains(t, hist, `"attempt": 2`, "the killed activity ran again on the new worker")
		checked = append(checked, "killed activity retried on the new worker")
	}
	scan := env.LeakScan(t)
	scan.Value("old secret", oldSecret)
	scan.Value("new secret", env.Secret(t))
	scan.Value("old token", before.Access)
	scan.History(id)
	scan.Check(t)
	checked = append(checked, "no secret or token leaked")
	reportFault(t, "worker SIGKILL "+k.point, res.Outcome, checked...)
	t.Logf("%s: %s in %s", k.point, res.Outcome, time.Since(started).Round(100*time.Millisecond))
}

// killAt polls the run every 25ms until reached, then kills the worker with SIGKILL and waits
// for it to be gone. The run must not close before the point.
func killAt(t *testing.T, env *testenv.Env, id string, w *exec.Cmd, point string, reached func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !reached() {
		if time.Now().After(deadline) {
			st, _ := queryStatus(t, env, id)
			t.Fatalf("run never got %s: %+v\n%s", point, st, env.WorkerLog.String())
		}
		if st, err := queryStatus(t, env, id); err == nil && st.Outcome != "" {
			t.Fatalf("run closed (%s) before %s: %+v", st.Outcome, point, st)
		}
		time.Sleep(25 * time.Millisecond)
	}
	require.NoError(t, w.Process.Signal(syscall.SIGKILL))
	_ = w.Wait()
	t.Logf("worker killed %s", point)
}

// waitSelfKill waits for a worker built with the authops_faults tag to kill itself.
func waitSelfKill(t *testing.T, env *testenv.Env, id string, w *exec.Cmd, point string) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- w.Wait() }()
	select {
	case err := <-done:
		require.ErrorContains(t, err, "signal: killed", "the worker died by its fault hook")
		t.Logf("worker killed itself %s", point)
	case <-time.After(2 * time.Minute):
		st, _ := queryStatus(t, env, id)
		t.Fatalf("the worker never reached %s: %+v\n%s", point, st, env.WorkerLog.String())
	}
}

// stepIs says whether the run's checklist item name is in state.
func stepIs(t *testing.T, env *testenv.Env, id, name, state string) bool {
	st, err := queryStatus(t, env, id)
	return err == nil && stepState(st, name) == state
}

// envSecret reads the env file's JWT_SECRET without failing the test (ok false if none).
func envSecret(env *testenv.Env) (string, bool) {
	b, err := os.ReadFile(env.Paths.EnvFile)
	if err != nil {
		return "", false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "JWT_SECRET="); ok {
			return strings.Trim(v, `"'`), true
		}
	}
	return "", false
}

// Checklist names of the emergency invalidation.
const (
	stepNameRevoke = "invalidate active sessions (logout policy)"
	stepNameRotate = "rotate secret and redeploy backend"
)

func TestFaultWorkerKilledInvalidationAfterRevoke(t *testing.T) {
	runInvalidationKill(t, workerKill{
		point: "after the emergency run revoked the sessions",
		reached: func(t *testing.T, env *testenv.Env, id, _ string) bool {
			return stepIs(t, env, id, stepNameRevoke, contract.StateDone)
		},
	})
}

func TestFaultWorkerKilledInvalidationMidRedeploy(t *testing.T) {
	runInvalidationKill(t, workerKill{
		point: "in the middle of the emergency rotation's redeploy",
		// The Deploy has started on the worker that is killed (the env write being done only
		// says it is scheduled, and a kill before the worker polls it leaves nothing to retry),
		// and it is held there, so the kill lands in it on any machine.
		opts: testenv.Options{DeployHoldAt: 1},
		reached: func(t *testing.T, env *testenv.Env, _, _ string) bool {
			return env.DeployHeld() && activityStarted(t, env, contract.RotationID("demo"), "Deploy")
		},
		afterKill: func(t *testing.T, env *testenv.Env) { env.ReleaseDeploy(t) },
		retried:   true,
	})
}

// The emergency rotation runs its first steps (pre-checks, new version, env write) as local
// activities in one workflow task. A worker that dies right after the env write, before that
// task completed, leaves Temporal knowing none of it: the new worker runs the steps again, finds
// the env file holding the run's own pending version, and goes on from there.
func TestFaultWorkerKilledInvalidationAfterLocalEnvWrite(t *testing.T) {
	runInvalidationKill(t, workerKill{
		point:    "right after the emergency rotation's env write, inside its local activities",
		selfKill: "KILL",
	})
}

func TestFaultWorkerKilledInvalidationAfterRotation(t *testing.T) {
	runInvalidationKill(t, workerKill{
		point: "after the emergency rotation finished (before the verification)",
		reached: func(t *testing.T, env *testenv.Env, id, _ string) bool {
			return stepIs(t, env, id, stepNameRotate, contract.StateDone)
		},
	})
}

// runInvalidationKill runs an emergency invalidation (no route restrictions) with a bin/worker
// process, kills it at the point, starts a new one and checks how the run and its child
// rotation end.
func runInvalidationKill(t *testing.T, k workerKill) {
	started := time.Now()
	o := k.opts
	o.NoWorker = true
	o.ObservationWindow = time.Second
	env := startStack(t, o)
	var first *exec.Cmd
	if k.selfKill != "" {
		bin, err := faultWorker()
		require.NoError(t, err)
		t.Setenv("AUTHOPS_FAULTS", filepath.Base(env.Paths.EnvFile)+"="+k.selfKill)
		first = env.StartWorkerBinary(t, bin, filepath.Join(env.Dir, "runbook.yaml"))
	} else {
		first = env.StartWorkerProcess(t)
	}

	oldSecret := env.Secret(t)
	u := newUser(t, env, demoenv.UserDemo)
	before := u.login(t)

	out, err := env.Starter(t, "invalidate", "--target", "demo", "--reason", "worker fault test", "--requested-by", "alice")
	require.NoError(t, err, out)
	id := strings.TrimSpace(out)
	waitPhase(t, env, id, "waiting for go-ahead")
	out, err = env.Starter(t, "approve", id, "--as", "bob", "--comment", "go")
	require.NoError(t, err, out)

	if k.selfKill != "" {
		waitSelfKill(t, env, id, first, k.point)
	} else {
		killAt(t, env, id, first, k.point, func() bool { return k.reached(t, env, id, oldSecret) })
	}
	if k.afterKill != nil {
		k.afterKill(t, env)
	}
	env.StartWorkerProcess(t)

	res := waitResult[contract.InvalidationResult](t, env, id)
	require.Equal(t, contract.OutcomeCompleted, res.Outcome, res.Summary)
	require.Equal(t, contract.OutcomeCompleted, res.RotationOutcome)
	checked := []string{"outcome completed, emergency rotation completed"}
	rot := contract.RotationID("demo")
	require.NotEqual(t, oldSecret, env.Secret(t))
	checkRotatedOnce(t, env, rot, oldSecret)
	checked = append(checked, "one current version, previous kept", "exactly one new version created")
	checkEnvMatchesStore(t, env)
	checkBackendSigns(t, env, u, before.Access, false)
	checked = append(checked, "env file = store current", "fresh login 200, old token 401")
	checkTimelineComplete(t, env, id)
	checkTimelineComplete(t, env, rot)
	checked = append(checked, "timelines of the run and its rotation closed, no step left running or done twice")
	if k.retried {
		require.Contains(t, testenv.Searchable(t, env.History(t, rot)), `"attempt": 2`, "the killed activity ran again on the new worker")
		checked = append(checked, "killed activity retried on the new worker")
	}
	if k.selfKill != "" {
		rotRes := waitResult[contract.RotationResult](t, env, rot)
		var notes []string
		for _, c := range rotRes.Prechecks {
			notes = append(notes, c.Detail)
		}
		require.Contains(t, strings.Join(notes, "; "), "which this run created and wrote before its answer was lost",
			"the new worker's pre-checks found the env write of the killed one")
		checked = append(checked, "steps re-run on the new worker, the env write found as the run's own")
	}
	scan := env.LeakScan(t)
	scan.Value("old secret", oldSecret)
	scan.Value("new secret", env.Secret(t))
	scan.Value("old token", before.Access)
	scan.History(id, rot)
	scan.Check(t)
	checked = append(checked, "no secret or token leaked")
	reportFault(t, "worker SIGKILL "+k.point, res.Outcome, checked...)
	t.Logf("%s: %s in %s", k.point, res.Outcome, time.Since(started).Round(100*time.Millisecond))
}

// activityStarted says the run id has an activity of type name started (pending, on a worker).
func activityStarted(t *testing.T, env *testenv.Env, id, name string) bool {
	t.Helper()
	d, err := env.Client.DescribeWorkflow(context.Background(), id, "")
	if err != nil {
		return false
	}
	for _, a := range d.RawResponse.GetPendingActivities() {
		if a.GetActivityType().GetName() == name && a.GetState() == enumspb.PENDING_ACTIVITY_STATE_STARTED {
			return true
		}
	}
	return false
}
