package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/demoenv"
	"github.com/authops/authops/internal/testenv"
)

// TestBrokenDeployPathEscalates: the deploy path fails (for the rotation and for the rollback's
// redeploy too). The env file is put back to the previous secret, the run escalates and stays
// open, a non-approver cannot close it, an approver's resolve does, and the run ends failed with
// everything on its timeline. The backend never left the old secret.
func TestBrokenDeployPathEscalates(t *testing.T) {
	env := startStack(t, testenv.Options{DeployCommand: "echo deploy target unreachable >&2; exit 7"})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	oldSecret := env.Secret(t)
	u := newUser(t, env, demoenv.UserDemo)
	before := u.login(t)

	id := approvedRotation(t, env)

	waitPhase(t, env, id, "escalated")
	require.Equal(t, oldSecret, env.Secret(t), "the env file holds the previous secret again")
	require.Equal(t, 200, u.me(t, before.Access), "the backend never left the old secret")
	// The phase changes before the announcement activity completes: wait for it.
	require.Eventually(t, func() bool {
		for _, m := range env.Notes.Messages() {
			if m.Kind == "escalation" && strings.Contains(m.Text, "ROLLBACK FAILED") {
				return true
			}
		}
		return false
	}, 2*time.Minute, 50*time.Millisecond, "the failed rollback is announced")

	// A decision the run does not take now is denied and recorded.
	out, err := env.Starter(t, "approve", id, "--as", "carol", "--comment", "meh")
	require.Error(t, err, out)
	require.Contains(t, out, "denied")
	out, err = env.Starter(t, "resolve", id, "--as", "bob", "--comment", "deploy path fixed by hand, target verified")
	require.NoError(t, err, out)

	err = env.Client.GetWorkflow(ctx, id, "").Get(ctx, nil)
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "the run ends failed: %v", err)
	var res contract.RotationResult
	require.NoError(t, appErr.Details(&res))
	require.Equal(t, contract.OutcomeRollbackFailed, res.Outcome)
	require.Contains(t, res.Cause, "resolved by bob")
	requireTimeline(t, res.Timeline, "carol", "approve", "denied")
	requireTimeline(t, res.Timeline, "bob", "resolve", "accepted")
	scan := env.LeakScan(t)
	scan.Value("old secret", oldSecret)
	scan.History(id)
	scan.Check(t)
	env.CheckReplay(t, id, "", "rotation-rollback-failed")
}
