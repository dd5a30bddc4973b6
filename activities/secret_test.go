package activities

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/secretstore"
)

// fakeRuns answers DescribeWorkflow from a map of "<workflow id>/<run id>" to status;
// a run it does not know is NotFound (its retention passed), unless err is set.
type fakeRuns struct {
	mu     sync.Mutex
	status map[string]enumspb.WorkflowExecutionStatus
	err    error
	asked  []string
}

func (f *fakeRuns) set(run string, st enumspb.WorkflowExecutionStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.status == nil {
		f.status = map[string]enumspb.WorkflowExecutionStatus{}
	}
	f.status[run] = st
}

func (f *fakeRuns) DescribeWorkflow(_ context.Context, wf, run string) (*client.WorkflowExecutionDescription, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, wf+"/"+run)
	if f.err != nil {
		return nil, f.err
	}
	st, ok := f.status[wf+"/"+run]
	if !ok {
		return nil, serviceerror.NewNotFound("workflow not found")
	}
	return &client.WorkflowExecutionDescription{RawResponse: &workflowservice.DescribeWorkflowExecutionResponse{
		WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{Status: st}}}, nil
}

const (
	ownerKey = "rotation-demo/run-1" // the run that leaves a pending version behind
	emerKey  = "rotation-demo/run-2" // the emergency rotation that finds it
)

// leavePending adopts the env file's secret as current and has ownerKey's run create a pending
// version, as a rotation does before its store write fails.
func (f *fixture) leavePending(runs *fakeRuns) (current, pending contract.VersionRef) {
	f.t.Helper()
	f.secrets.Runs = runs
	require.NoError(f.t, f.run(&current, f.secrets.AdoptLiveSecret, contract.AdoptInput{Target: "demo", IdempotencyKey: ownerKey}))
	require.NoError(f.t, f.run(&pending, f.secrets.CreatePendingSecret, contract.SecretInput{Target: "demo", IdempotencyKey: ownerKey}))
	return current, pending
}

func (f *fixture) stageOf(id string) secretstore.Stage {
	f.t.Helper()
	vs, err := f.store().List(context.Background())
	require.NoError(f.t, err)
	for _, v := range vs {
		if v.ID == id {
			return v.Stage
		}
	}
	f.t.Fatalf("version %s is gone", id)
	return ""
}

func emergencyPreCheck(key string) contract.PreCheckInput {
	return contract.PreCheckInput{Target: "demo", IdempotencyKey: key, Mode: contract.ModeEmergency}
}

func requireConflict(t *testing.T, err error, want ...string) {
	t.Helper()
	var ae *temporal.ApplicationError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, contract.ErrTypeConflict, ae.Type())
	require.True(t, ae.NonRetryable(), "a refusal is not retried")
	for _, w := range want {
		require.Contains(t, ae.Error(), w)
	}
}

// The owner of the pending version has closed: the emergency pre-check reports it stale without
// writing, SupersedePending marks it failed (idempotently), and the emergency can create its own.
// Other modes still refuse it, and say how to settle it.
func TestEmergencyPreCheck_StalePendingOfClosedRunIsSuperseded(t *testing.T) {
	f := newFixture(t)
	runs := &fakeRuns{}
	runs.set(ownerKey, enumspb.WORKFLOW_EXECUTION_STATUS_FAILED)
	current, pending := f.leavePending(runs)

	var res contract.PreCheckResult
	require.NoError(t, f.run(&res, f.secrets.PreCheck, emergencyPreCheck(emerKey)))
	require.True(t, res.OK, "%+v", res.Checks)
	require.Equal(t, &pending, res.Stale)
	require.Equal(t, ownerKey, res.StaleRun)
	require.Equal(t, current, res.Current)
	require.False(t, res.NeedsAdoption)
	require.Empty(t, res.Drift)
	c := checkByName(t, res, "env sink matches secret store")
	require.True(t, c.OK)
	require.Contains(t, c.Detail, "version "+pending.ID+" is pending from run "+ownerKey+", which is closed (failed): it will be superseded")
	require.Equal(t, secretstore.StagePending, f.stageOf(pending.ID), "the pre-check writes nothing")

	// Not in emergency mode: still a failed check, which says how to settle the version.
	var manual contract.PreCheckResult
	require.NoError(t, f.run(&manual, f.secrets.PreCheck, contract.PreCheckInput{Target: "demo", IdempotencyKey: emerKey}))
	require.False(t, manual.OK)
	require.Nil(t, manual.Stale)
	require.Contains(t, checkByName(t, manual, "env sink matches secret store").Detail, "starter secret settle --target demo --as <approver>")

	var out contract.SettleOutcome
	require.NoError(t, f.run(&out, f.secrets.SupersedePending, contract.SupersedeInput{Target: "demo", VersionID: pending.ID, IdempotencyKey: emerKey}))
	require.Equal(t, contract.SettleOutcome{Version: pending, Run: ownerKey, RunState: "closed (failed)"}, out)
	require.Equal(t, secretstore.StageFailed, f.stageOf(pending.ID))
	require.Equal(t, secretstore.StageCurrent, f.stageOf(current.ID))

	var retry contract.SettleOutcome
	require.NoError(t, f.run(&retry, f.secrets.SupersedePending, contract.SupersedeInput{Target: "demo", VersionID: pending.ID, IdempotencyKey: emerKey}))
	require.True(t, retry.Already, "a retry changes nothing")

	var next contract.VersionRef
	require.NoError(t, f.run(&next, f.secrets.CreatePendingSecret, contract.SecretInput{Target: "demo", IdempotencyKey: emerKey}))
	require.NotEqual(t, pending.ID, next.ID)

	// A run Temporal no longer knows (retention passed) is closed too.
	f2 := newFixture(t)
	_, p2 := f2.leavePending(&fakeRuns{})
	var res2 contract.PreCheckResult
	require.NoError(t, f2.run(&res2, f2.secrets.PreCheck, emergencyPreCheck(emerKey)))
	require.True(t, res2.OK, "%+v", res2.Checks)
	require.Equal(t, &p2, res2.Stale)
}

// A pending version of a run that still runs blocks the emergency, naming that run; so does one
// whose run cannot be asked about (no Temporal client), and nothing is marked failed.
func TestEmergencyPreCheck_PendingOfRunningRunBlocks(t *testing.T) {
	f := newFixture(t)
	runs := &fakeRuns{}
	runs.set(ownerKey, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING)
	_, pending := f.leavePending(runs)

	var res contract.PreCheckResult
	require.NoError(t, f.run(&res, f.secrets.PreCheck, emergencyPreCheck(emerKey)))
	require.False(t, res.OK)
	require.Nil(t, res.Stale)
	c := checkByName(t, res, "env sink matches secret store")
	require.False(t, c.OK)
	require.Contains(t, c.Detail, "version "+pending.ID+" is pending from run "+ownerKey+", which is still running")

	err := f.run(nil, f.secrets.SupersedePending, contract.SupersedeInput{Target: "demo", VersionID: pending.ID, IdempotencyKey: emerKey})
	requireConflict(t, err, pending.ID, ownerKey, "still running")
	require.Equal(t, secretstore.StagePending, f.stageOf(pending.ID))

	// No client: the worker cannot tell, and says so.
	f.secrets.Runs = nil
	require.NoError(t, f.run(&res, f.secrets.PreCheck, emergencyPreCheck(emerKey)))
	require.False(t, res.OK)
	require.Contains(t, checkByName(t, res, "env sink matches secret store").Detail, "no Temporal client")
	err = f.run(nil, f.secrets.SupersedePending, contract.SupersedeInput{Target: "demo", VersionID: pending.ID, IdempotencyKey: emerKey})
	requireConflict(t, err, "cannot be told", "no Temporal client")
	require.Equal(t, secretstore.StagePending, f.stageOf(pending.ID))

	// Temporal not answering is retried, not taken for an answer.
	runs.err = errors.New("connection refused")
	f.secrets.Runs = runs
	err = f.run(nil, f.secrets.PreCheck, emergencyPreCheck(emerKey))
	require.ErrorContains(t, err, "connection refused")
	var ae *temporal.ApplicationError
	require.True(t, !errors.As(err, &ae) || !ae.NonRetryable(), "retried: %v", err)
}

// In emergency mode drift is reported, not fatal; the live value is adopted as the current
// version over the drifted one, so that a rollback restores what was live.
func TestEmergencyPreCheck_DriftAdoptsLiveValue(t *testing.T) {
	f := newFixture(t)
	old := f.adopted()
	live := newSecret(t)
	f.setEnvSecret(live)

	var res contract.PreCheckResult
	require.NoError(t, f.run(&res, f.secrets.PreCheck, emergencyPreCheck(emerKey)))
	require.True(t, res.OK, "%+v", res.Checks)
	require.True(t, res.NeedsAdoption)
	require.Empty(t, res.Current, "the store's current version is not what runs")
	fp := f.store().Fingerprint(live)
	require.Equal(t, fp, res.LiveFingerprint)
	require.Equal(t, "env sink holds fingerprint "+fp+" but the store's current version "+old.ID+" is "+old.Fingerprint, res.Drift)
	require.Contains(t, checkByName(t, res, "env sink matches secret store").Detail, "the live secret will be adopted as the current version")
	vs, err := f.store().List(context.Background())
	require.NoError(t, err)
	require.Len(t, vs, 1, "the pre-check writes nothing")

	// Without ReplaceCurrent adoption refuses drift, as before.
	err = f.run(nil, f.secrets.AdoptLiveSecret, contract.AdoptInput{Target: "demo", IdempotencyKey: emerKey})
	requireConflict(t, err, "env sink holds fingerprint")

	var adopted, again contract.VersionRef
	in := contract.AdoptInput{Target: "demo", IdempotencyKey: emerKey, ReplaceCurrent: true}
	require.NoError(t, f.run(&adopted, f.secrets.AdoptLiveSecret, in))
	require.NoError(t, f.run(&again, f.secrets.AdoptLiveSecret, in), "a retry")
	require.Equal(t, adopted, again)
	require.Equal(t, fp, adopted.Fingerprint)
	require.Equal(t, live, f.value(adopted.ID))
	require.Equal(t, secretstore.StageCurrent, f.stageOf(adopted.ID))
	require.Equal(t, secretstore.StagePrevious, f.stageOf(old.ID))

	// From there the target is consistent again, for every mode.
	var after contract.PreCheckResult
	require.NoError(t, f.run(&after, f.secrets.PreCheck, contract.PreCheckInput{Target: "demo", IdempotencyKey: emerKey}))
	require.True(t, after.OK, "%+v", after.Checks)
	require.Equal(t, adopted, after.Current)
}

// Drift and a stale pending version together: the env sink holds the stale version itself (a
// restore that never happened). It is superseded, then adopted as live under a new version.
func TestEmergencyPreCheck_StaleVersionThatIsLive(t *testing.T) {
	f := newFixture(t)
	runs := &fakeRuns{}
	runs.set(ownerKey, enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED)
	_, pending := f.leavePending(runs)
	require.NoError(t, f.run(nil, f.secrets.ApplySecret, contract.VersionInput{Target: "demo", VersionID: pending.ID}))

	var res contract.PreCheckResult
	require.NoError(t, f.run(&res, f.secrets.PreCheck, emergencyPreCheck(emerKey)))
	require.True(t, res.OK, "%+v", res.Checks)
	require.Equal(t, &pending, res.Stale)
	require.True(t, res.NeedsAdoption)
	require.NotEmpty(t, res.Drift)
	require.Contains(t, checkByName(t, res, "env sink matches secret store").Detail, "the env sink holds it")

	require.NoError(t, f.run(nil, f.secrets.SupersedePending, contract.SupersedeInput{Target: "demo", VersionID: pending.ID, IdempotencyKey: emerKey}))
	var adopted contract.VersionRef
	require.NoError(t, f.run(&adopted, f.secrets.AdoptLiveSecret, contract.AdoptInput{Target: "demo", IdempotencyKey: emerKey, ReplaceCurrent: true}))
	require.NotEqual(t, pending.ID, adopted.ID)
	require.Equal(t, pending.Fingerprint, adopted.Fingerprint)
	require.Equal(t, secretstore.StageFailed, f.stageOf(pending.ID))
}

// Settling refuses a version that is live in the env file, one whose run still runs and one that
// is not pending; it marks a stale one failed and is idempotent.
func TestSettleSecret_Refusals(t *testing.T) {
	f := newFixture(t)
	runs := &fakeRuns{}
	runs.set(ownerKey, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING)
	current, pending := f.leavePending(runs)

	err := f.run(nil, f.secrets.SettleSecret, contract.SettleSecretInput{Target: "demo"})
	requireConflict(t, err, pending.ID, "still running")

	runs.set(ownerKey, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED)
	require.NoError(t, f.run(nil, f.secrets.ApplySecret, contract.VersionInput{Target: "demo", VersionID: pending.ID}))
	err = f.run(nil, f.secrets.SettleSecret, contract.SettleSecretInput{Target: "demo", VersionID: pending.ID})
	requireConflict(t, err, "version "+pending.ID+" of demo is live", pending.Fingerprint)
	require.Equal(t, secretstore.StagePending, f.stageOf(pending.ID))

	err = f.run(nil, f.secrets.SettleSecret, contract.SettleSecretInput{Target: "demo", VersionID: current.ID})
	requireConflict(t, err, "is current; only a pending version is settled")
	err = f.run(nil, f.secrets.SettleSecret, contract.SettleSecretInput{Target: "demo", VersionID: "v9-00000000"})
	requireConflict(t, err, "v9-00000000 is not in the secret store of demo")

	// Back on the current version: settled.
	require.NoError(t, f.run(nil, f.secrets.ApplySecret, contract.VersionInput{Target: "demo", VersionID: current.ID}))
	var out contract.SettleOutcome
	require.NoError(t, f.run(&out, f.secrets.SettleSecret, contract.SettleSecretInput{Target: "demo"}))
	require.Equal(t, contract.SettleOutcome{Version: pending, Run: ownerKey, RunState: "closed (completed)"}, out)
	require.Equal(t, secretstore.StageFailed, f.stageOf(pending.ID))

	require.NoError(t, f.run(&out, f.secrets.SettleSecret, contract.SettleSecretInput{Target: "demo", VersionID: pending.ID}))
	require.True(t, out.Already)
	require.NoError(t, f.run(&out, f.secrets.SettleSecret, contract.SettleSecretInput{Target: "demo"}))
	require.True(t, out.NothingPending)
}

// StoreStatus lists every version with stage, key, run and fingerprint, which one is live and
// whether a pending version's run is closed; never a value (the fixture scans every result).
func TestStoreStatus_ListsVersionsWithoutValues(t *testing.T) {
	f := newFixture(t)
	runs := &fakeRuns{}
	runs.set(ownerKey, enumspb.WORKFLOW_EXECUTION_STATUS_FAILED)
	current, pending := f.leavePending(runs)

	var st contract.SecretStatus
	require.NoError(t, f.run(&st, f.secrets.StoreStatus, contract.SecretStatusInput{Target: "demo"}))
	require.Equal(t, "demo", st.Target)
	require.Equal(t, current.Fingerprint, st.LiveFingerprint)
	require.Equal(t, current.ID, st.LiveVersion)
	require.Len(t, st.Versions, 2)
	cur, pen := st.Versions[0], st.Versions[1]
	require.Equal(t, current.ID, cur.ID)
	require.Equal(t, "current", cur.Stage)
	require.True(t, cur.Live)
	require.Equal(t, ownerKey+"/adopt", cur.IdempotencyKey)
	require.Equal(t, ownerKey, cur.Run)
	require.Empty(t, cur.RunState, "asked only for a pending version")
	require.False(t, cur.CreatedAt.IsZero())
	require.Equal(t, pending.ID, pen.ID)
	require.Equal(t, "pending", pen.Stage)
	require.Equal(t, pending.Fingerprint, pen.Fingerprint)
	require.False(t, pen.Live)
	require.Equal(t, "closed (failed)", pen.RunState)
	require.Equal(t, []string{ownerKey}, runs.asked)
	got, ok := st.ByStage("pending")
	require.True(t, ok)
	require.Equal(t, pen, got)

	f.secrets.Runs = nil
	require.NoError(t, f.run(&st, f.secrets.StoreStatus, contract.SecretStatusInput{Target: "demo"}))
	require.Contains(t, st.Versions[1].RunState, "unknown: this worker has no Temporal client")
}

func TestOwnerRun(t *testing.T) {
	for key, want := range map[string][2]string{
		"rotation-demo/0195-abc/create":     {"rotation-demo", "0195-abc"},
		"rotation-demo/0195-abc/adopt-live": {"rotation-demo", "0195-abc"},
		"a/b/c/run/create":                  {"a/b/c", "run"},
		"run-1/create":                      {},
		"create":                            {},
		"":                                  {},
		"/run/create":                       {},
	} {
		wf, run, ok := ownerRun(key)
		require.Equal(t, want[0] != "", ok, key)
		require.Equal(t, want, [2]string{wf, run}, key)
	}
}

// A re-run of the first steps after a crash (the emergency rotation runs them as local
// activities, so a crash re-runs what the run had not recorded) finds the env sink holding the
// run's own pending version. That is where the run is, not drift: the pre-check reports the
// store's current version, adopts nothing, and the create and the write answer as before.
func TestPreCheck_OwnPendingVersionInTheSinkIsNotDrift(t *testing.T) {
	for _, in := range []contract.PreCheckInput{emergencyPreCheck(emerKey), {Target: "demo", IdempotencyKey: emerKey}} {
		f := newFixture(t)
		old := f.adopted()
		var pending, again contract.VersionRef
		require.NoError(t, f.run(&pending, f.secrets.CreatePendingSecret, contract.SecretInput{Target: "demo", IdempotencyKey: emerKey}))
		require.NoError(t, f.run(nil, f.secrets.ApplySecret, contract.VersionInput{Target: "demo", VersionID: pending.ID}))

		var res contract.PreCheckResult
		require.NoError(t, f.run(&res, f.secrets.PreCheck, in))
		require.True(t, res.OK, "%s: %+v", in.Mode, res.Checks)
		require.False(t, res.NeedsAdoption, in.Mode)
		require.Empty(t, res.Drift, in.Mode)
		require.Equal(t, old, res.Current, in.Mode)

		require.NoError(t, f.run(&again, f.secrets.CreatePendingSecret, contract.SecretInput{Target: "demo", IdempotencyKey: emerKey}))
		require.Equal(t, pending, again)
		require.Equal(t, secretstore.StageCurrent, f.stageOf(old.ID))

		// Another run still sees drift-free but blocked: the pending version is not its own.
		var other contract.PreCheckResult
		require.NoError(t, f.run(&other, f.secrets.PreCheck, contract.PreCheckInput{Target: "demo", IdempotencyKey: "someone-else"}))
		require.False(t, other.OK)
	}
}

// An emergency pre-check right after the emergency run's canary session logged in takes that
// login as its probe: it does not make the backend hash the probe's password again. An older
// login, or another mode, probes as always.
func TestEmergencyPreCheck_TrustsARecentCanaryLogin(t *testing.T) {
	f := newFixture(t)
	f.adopted()
	cases := []struct {
		name   string
		in     contract.PreCheckInput
		logins int64
	}{
		{"emergency, canary 10s ago", func() contract.PreCheckInput {
			in := emergencyPreCheck("rotation-demo/run-1")
			in.LoginProbedAt = time.Now().Add(-10 * time.Second)
			return in
		}(), 0},
		{"emergency, canary 3m ago", func() contract.PreCheckInput {
			in := emergencyPreCheck("rotation-demo/run-2")
			in.LoginProbedAt = time.Now().Add(-3 * time.Minute)
			return in
		}(), 1},
		{"emergency, no canary", emergencyPreCheck("rotation-demo/run-3"), 1},
		{"manual, canary 10s ago", contract.PreCheckInput{Target: "demo", IdempotencyKey: "rotation-demo/run-4",
			LoginProbedAt: time.Now().Add(-10 * time.Second)}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f.logins.Store(0)
			var res contract.PreCheckResult
			require.NoError(t, f.run(&res, f.secrets.PreCheck, c.in))
			require.True(t, res.OK, "%+v", res.Checks)
			require.Equal(t, c.logins, f.logins.Load())
			probe := checkByName(t, res, "backend healthy and probe login works")
			require.True(t, probe.OK)
			if c.logins == 0 {
				require.Contains(t, probe.Detail, "the emergency run's canary session logged in")
				require.Empty(t, res.Validation, "no probe ran")
			} else {
				require.Contains(t, resultNames(res.Validation), "login")
			}
		})
	}
}

// Likewise the emergency run's dry run of the deploy path: a recent pass stands for the
// pre-check's own (here the path has broken since, which the redeploy would then find), an
// older one does not, and other modes always run it.
func TestEmergencyPreCheck_TrustsARecentDryRun(t *testing.T) {
	f := newFixture(t, func(s string) string {
		return strings.Replace(s, "dry_run_argv: [deploy.sh, --dry-run]", "dry_run_argv: [deploy.sh, --broken-dry-run]", 1)
	})
	f.adopted()
	at := func(key string, ago time.Duration, mode string) contract.PreCheckInput {
		in := contract.PreCheckInput{Target: "demo", IdempotencyKey: key, Mode: mode, DeployCheckedAt: time.Now().Add(-ago)}
		return in
	}
	var res contract.PreCheckResult
	require.NoError(t, f.run(&res, f.secrets.PreCheck, at("rotation-demo/run-1", 10*time.Second, contract.ModeEmergency)))
	dry := checkByName(t, res, "deploy path configured (dry run)")
	require.True(t, dry.OK)
	require.Contains(t, dry.Detail, "the emergency run's dry run passed")

	for _, in := range []contract.PreCheckInput{at("rotation-demo/run-2", 3*time.Minute, contract.ModeEmergency),
		at("rotation-demo/run-3", 10*time.Second, contract.ModeManual)} {
		res = contract.PreCheckResult{}
		require.NoError(t, f.run(&res, f.secrets.PreCheck, in))
		require.False(t, checkByName(t, res, "deploy path configured (dry run)").OK, "%s ran its own dry run", in.IdempotencyKey)
		require.False(t, res.OK)
	}
}

// The emergency run's dry run before its go-ahead fails with what the deploy tool said, with
// every secret it echoed redacted (the fixture's scan checks the error), and passes on a good path.
func TestCheckDeployPath(t *testing.T) {
	f := newFixture(t)
	require.NoError(t, f.run(nil, f.secrets.CheckDeployPath, "demo"))
	broken := newFixture(t, func(s string) string {
		return strings.Replace(s, "dry_run_argv: [deploy.sh, --dry-run]", "dry_run_argv: [deploy.sh, --broken-dry-run]", 1)
	})
	err := broken.run(nil, broken.secrets.CheckDeployPath, "demo")
	require.ErrorContains(t, err, "cannot reach the orchestrator")
	require.ErrorContains(t, f.run(nil, f.secrets.CheckDeployPath, "nope"), "nope")
}
