package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/demoenv"
	"github.com/authops/authops/internal/testenv"
)

// TestFaultServerKilledMidRedeploy: the Temporal server is killed (SIGKILL) while a rotation
// redeploys the backend, and restarted on the same database. The run goes on and completes, and
// the target ends on the new secret, once.
func TestFaultServerKilledMidRedeploy(t *testing.T) {
	env := startStack(t, testenv.Options{NoWorker: true, DeployDelay: 3 * time.Second, ObservationWindow: time.Second})
	reportFault(t, "Temporal server SIGKILL mid-redeploy, restarted on the same database", contract.OutcomeCompleted,
		"run completes", "one new version, previous kept", "env file = store current", "old token 401, fresh login 200", "timeline complete")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	env.StartWorkerProcess(t)
	oldSecret := env.Secret(t)
	u := newUser(t, env, demoenv.UserDemo)
	before := u.login(t)

	id := approvedRotation(t, env)
	require.Eventually(t, func() bool {
		st, err := queryStatus(t, env, id)
		return err == nil && stepState(st, "update JWT_SECRET in target environment") == contract.StateDone
	}, time.Minute, 20*time.Millisecond, "the env file is written and the slow redeploy under way")

	env.KillServer(t)

	var res contract.RotationResult
	require.NoError(t, env.Client.GetWorkflow(ctx, id, "").Get(ctx, &res), env.WorkerLog.String())
	require.Equal(t, contract.OutcomeCompleted, res.Outcome, res.Summary)
	checkRotatedOnce(t, env, id, oldSecret)
	checkEnvMatchesStore(t, env)
	checkBackendSigns(t, env, u, before.Access, false)
	checkTimelineComplete(t, env, id)
}
