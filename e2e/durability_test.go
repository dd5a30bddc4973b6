package e2e

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/demoenv"
	"github.com/authops/authops/internal/testenv"
)

// TestWorkerCrashMidDeploy kills the worker process (SIGKILL, no goodbye) while it restarts the
// backend with the new secret. A new worker picks the run up: the deploy is retried after its
// heartbeat times out, validation passes, and the target ends on the new secret, fully rotated.
func TestWorkerCrashMidDeploy(t *testing.T) {
	env := startStack(t, testenv.Options{NoWorker: true, DeployDelay: 3 * time.Second, ObservationWindow: time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	first := env.StartWorkerProcess(t)

	oldSecret := env.Secret(t)
	u := newUser(t, env, demoenv.UserDemo)
	before := u.login(t)

	id := approvedRotation(t, env)

	// Wait until the new secret is written and the (slow) redeploy is under way, then crash.
	require.Eventually(t, func() bool {
		v, err := env.Client.QueryWorkflow(ctx, id, "", contract.QueryStatus)
		var st contract.Status
		if err != nil || v.Get(&st) != nil {
			return false
		}
		for _, s := range st.Checklist {
			if s.Name == "update JWT_SECRET in target environment" {
				return s.State == contract.StateDone
			}
		}
		return false
	}, time.Minute, 50*time.Millisecond)
	require.NoError(t, first.Process.Signal(syscall.SIGKILL))
	_ = first.Wait()
	env.StartWorkerProcess(t)

	var res contract.RotationResult
	require.NoError(t, env.Client.GetWorkflow(ctx, id, "").Get(ctx, &res), env.WorkerLog.String())
	require.Equal(t, contract.OutcomeCompleted, res.Outcome, res.Summary)
	require.NotEqual(t, oldSecret, env.Secret(t))
	require.Equal(t, 401, u.me(t, before.Access))
	require.Equal(t, 200, u.me(t, u.login(t).Access))
	hist := testenv.Searchable(t, env.History(t, id))
	require.True(t, strings.Contains(hist, `"attempt": 2`) && strings.Contains(hist, "TIMEOUT_TYPE_HEARTBEAT"),
		"the deploy was retried on the new worker after its heartbeat timed out")
	scan := env.LeakScan(t)
	scan.Value("old secret", oldSecret)
	scan.Value("new secret", env.Secret(t))
	scan.Value("old token", before.Access)
	scan.History(id)
	scan.Check(t)
}
