package e2e

// Shared checks of the fault tests: what must hold on the target, the secret store and the run's
// record after a fault, whatever the fault was. Each check fails the test with what it saw.

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/testenv"
)

// demoSecretName is the store name of the demo target's secret (testenv's runbook.yaml).
const demoSecretName = "demo-jwt-secret"

// storedVersion is one version as the file secret store keeps it on disk, value included.
type storedVersion struct {
	ID             string    `json:"id"`
	Stage          string    `json:"stage"`
	Fingerprint    string    `json:"fingerprint"`
	CreatedAt      time.Time `json:"created_at"`
	IdempotencyKey string    `json:"idempotency_key"`
	Op             string    `json:"op"`
	Value          string    `json:"value"`
}

// readStore reads the demo target's secret store file as it is on disk now (nil if the store
// was never written).
func readStore(t *testing.T, env *testenv.Env) []storedVersion {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(env.Paths.SecretsDir, demoSecretName+".json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	require.NoError(t, err)
	var s struct {
		Versions []storedVersion `json:"versions"`
	}
	require.NoError(t, json.Unmarshal(b, &s), "secret store file is not valid JSON")
	return s.Versions
}

// byStage returns the versions of vs with stage.
func byStage(vs []storedVersion, stage string) []storedVersion {
	var out []storedVersion
	for _, v := range vs {
		if v.Stage == stage {
			out = append(out, v)
		}
	}
	return out
}

// stagesOf lists the versions' ids and stages, for failure messages (never values).
func stagesOf(vs []storedVersion) string {
	var parts []string
	for _, v := range vs {
		parts = append(parts, v.ID+"="+v.Stage+"("+v.Op+")")
	}
	return strings.Join(parts, ", ")
}

// checkStoreConsistent: exactly one current version, no pending one left behind, at most one
// previous, and every one of them with its value. Returns the current and the previous version
// (zero if there is none).
func checkStoreConsistent(t *testing.T, env *testenv.Env) (cur, prev storedVersion) {
	t.Helper()
	vs := readStore(t, env)
	curs := byStage(vs, "current")
	require.Len(t, curs, 1, "exactly one current version: %s", stagesOf(vs))
	require.Empty(t, byStage(vs, "pending"), "no pending version left: %s", stagesOf(vs))
	prevs := byStage(vs, "previous")
	require.LessOrEqual(t, len(prevs), 1, "at most one previous version: %s", stagesOf(vs))
	require.NotEmpty(t, curs[0].Value, "the current version keeps its value")
	if len(prevs) == 1 {
		require.NotEmpty(t, prevs[0].Value, "the previous version keeps its value")
		prev = prevs[0]
	}
	return curs[0], prev
}

// checkRotatedOnce: the store's current version is the one run id created, the version that
// was current before (value oldSecret) is kept as previous, and the run created exactly one
// version (a retried step did not generate a second secret).
func checkRotatedOnce(t *testing.T, env *testenv.Env, id, oldSecret string) storedVersion {
	t.Helper()
	cur, prev := checkStoreConsistent(t, env)
	vs := readStore(t, env)
	require.Equal(t, 1, createdBy(vs, id), "run %s created exactly one version: %s", id, stagesOf(vs))
	require.Equal(t, "create", cur.Op, "the current version is a generated one: %s", stagesOf(vs))
	require.True(t, strings.HasPrefix(cur.IdempotencyKey, id+"/"), "the current version is the run's: %s", stagesOf(vs))
	require.NotEmpty(t, prev.ID, "the previous version is kept: %s", stagesOf(vs))
	require.True(t, prev.Value == oldSecret, "the previous version holds the secret that was current before")
	return cur
}

// checkRolledBackOnce: the store's current version holds oldSecret again, and run id created
// exactly one version, now failed (not pending, not current).
func checkRolledBackOnce(t *testing.T, env *testenv.Env, id, oldSecret string) storedVersion {
	t.Helper()
	cur, _ := checkStoreConsistent(t, env)
	vs := readStore(t, env)
	require.True(t, cur.Value == oldSecret, "the current version holds the old secret again: %s", stagesOf(vs))
	require.Equal(t, 1, createdBy(vs, id), "run %s created exactly one version: %s", id, stagesOf(vs))
	for _, v := range vs {
		if v.Op == "create" && strings.HasPrefix(v.IdempotencyKey, id+"/") {
			require.Equal(t, "failed", v.Stage, "the run's new version is marked failed: %s", stagesOf(vs))
		}
	}
	return cur
}

// createdBy counts the versions run id (any of its runs) generated.
func createdBy(vs []storedVersion, id string) int {
	n := 0
	for _, v := range vs {
		if v.Op == "create" && strings.HasPrefix(v.IdempotencyKey, id+"/") {
			n++
		}
	}
	return n
}

// checkEnvMatchesStore: the env file's JWT_SECRET is the store's current value.
func checkEnvMatchesStore(t *testing.T, env *testenv.Env) {
	t.Helper()
	cur, _ := checkStoreConsistent(t, env)
	require.True(t, env.Secret(t) == cur.Value, "the env file's JWT_SECRET is the store's current version %s", cur.ID)
}

// checkBackendSigns: a fresh login works (200 on /auth/me), and a token from before the run
// is refused (401) when the secret changed, or still works (200) when the old secret is live.
func checkBackendSigns(t *testing.T, env *testenv.Env, u *user, oldAccess string, oldWorks bool) {
	t.Helper()
	env.WaitHealthy(t, 20*time.Second)
	require.Equal(t, 200, u.me(t, u.login(t).Access), "a fresh login works")
	want := 401
	if oldWorks {
		want = 200
	}
	require.Equal(t, want, u.me(t, oldAccess), "a token from before the run")
}

// queryStatus asks a run (open or closed) for its status.
func queryStatus(t *testing.T, env *testenv.Env, id string) (contract.Status, error) {
	t.Helper()
	var st contract.Status
	v, err := env.Client.QueryWorkflow(context.Background(), id, "", contract.QueryStatus)
	if err == nil {
		err = v.Get(&st)
	}
	return st, err
}

// stepState returns the state of checklist item name ("" if the checklist has no such item).
func stepState(st contract.Status, name string) string {
	for _, s := range st.Checklist {
		if s.Name == name {
			return s.State
		}
	}
	return ""
}

// checkTimelineComplete: the run's timeline has exactly one "closed" event, with the run's
// outcome; no checklist step is recorded done twice or left running; and a completed run has
// every step done or skipped.
func checkTimelineComplete(t *testing.T, env *testenv.Env, id string) {
	t.Helper()
	st, err := queryStatus(t, env, id)
	require.NoError(t, err)
	require.NotEmpty(t, st.Outcome, "the run has an outcome")
	evs := timelineOf(t, env, id)
	closed := 0
	for _, e := range evs {
		if e.Action == "closed" {
			closed++
			require.Equal(t, st.Outcome, e.Outcome, "the closed event carries the outcome")
		}
	}
	require.Equal(t, 1, closed, "exactly one closed event: %+v", evs)
	for _, s := range st.Checklist {
		done := 0
		for _, e := range evs {
			if e.Action == s.Name && e.Outcome == contract.StateDone {
				done++
			}
		}
		require.LessOrEqual(t, done, 1, "step %q recorded done more than once", s.Name)
	}
	for _, s := range st.Checklist {
		require.NotEqual(t, contract.StateRunning, s.State, "step %q left running", s.Name)
		if st.Outcome == contract.OutcomeCompleted {
			require.Contains(t, []string{contract.StateDone, contract.StateSkipped}, s.State, "step %q of a completed run", s.Name)
		}
	}
}

// waitResult waits for run id to close and returns its result, also when the run ended failed
// with the result as the error's details (rolled_back, rollback_failed...).
func waitResult[R any](t *testing.T, env *testenv.Env, id string) R {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var res R
	err := env.Client.GetWorkflow(ctx, id, "").Get(ctx, &res)
	if err == nil {
		return res
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.HasDetails() {
		require.NoError(t, appErr.Details(&res))
		return res
	}
	t.Fatalf("run %s: %v\nworker log:\n%s", id, err, env.WorkerLog.String())
	return res
}
