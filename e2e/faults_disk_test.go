package e2e

import (
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/demoenv"
	"github.com/authops/authops/internal/testenv"
)

// faultWorker builds, once per test binary, a worker with the authops_faults build tag: its
// atomic writes fail as AUTHOPS_FAULTS says (internal/faults). CI runs as root, which ignores
// file modes, so a full disk and a permission error are made real this way.
var faultWorker = sync.OnceValues(func() (string, error) {
	dir, err := filepath.Abs(filepath.Join("..", "bin"))
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "worker-faults")
	cmd := exec.Command("go", "build", "-tags", "authops_faults", "-o", out, "./worker")
	cmd.Dir = ".."
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", &exec.ExitError{Stderr: b}
	}
	return out, nil
})

// TestFaultTargetStoreWriteFails: the secret store's file cannot be written when the new
// version is created, although the pre-checks' probe write passed: a full disk (ENOSPC) or a
// permission error (EACCES). The rotation stops before anything changes.
func TestFaultTargetStoreWriteFails(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs the dev server (run without -short)")
	}
	bin, err := faultWorker()
	require.NoError(t, err)
	for _, errno := range []string{"ENOSPC", "EACCES"} {
		t.Run(errno, func(t *testing.T) {
			reportFault(t, "secret store write fails with "+errno+" after the pre-checks passed (fault hook build)", contract.OutcomeRolledBack,
				"no new version", "store unchanged", "env file untouched", "token from before: 200", "timeline closed")
			env := startStack(t, testenv.Options{NoWorker: true})
			seedStore(t, env)
			oldSecret := env.Secret(t)
			u := newUser(t, env, demoenv.UserDemo)
			before := u.login(t)
			storeBefore := readStore(t, env)
			t.Setenv("AUTHOPS_FAULTS", demoSecretName+".json="+errno)
			env.StartWorkerBinary(t, bin, filepath.Join(env.Dir, "runbook.yaml"))

			id := rotateApproved(t, env, nil)
			res := waitResult[contract.RotationResult](t, env, id)
			t.Logf("outcome %s: %s", res.Outcome, res.Cause)
			require.NotEqual(t, contract.OutcomeCompleted, res.Outcome)
			require.Contains(t, res.Cause, map[string]string{"ENOSPC": "no space left on device", "EACCES": "permission denied"}[errno])
			checkNothingChanged(t, env, id, storeBefore, oldSecret)
			checkTargetAt(t, env, id, oldSecret, u, before.Access, true)
		})
	}
}
