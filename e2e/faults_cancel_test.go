package e2e

// Cancel (issue 8): each runbook canceled at each phase from the CLI, as a signed decision
// (`starter cancel ID --as bob --reason R`). Whatever the phase, the target ends consistent: the
// previous secret when the change had not finished (compensated), the new one once it was
// validated, and route restrictions lifted.

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/demoenv"
	"github.com/authops/authops/internal/testenv"
)

// cancelRun cancels run id from the CLI as bob and waits until the run closed as canceled. It
// returns the run's status and timeline.
func cancelRun(t *testing.T, env *testenv.Env, id, reason string) (contract.Status, []contract.Event) {
	t.Helper()
	out, err := env.Starter(t, "cancel", id, "--as", "bob", "--reason", reason)
	require.NoError(t, err, out)
	require.Contains(t, out, "cancel accepted by bob")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	err = env.Client.GetWorkflow(ctx, id, "").Get(ctx, nil)
	require.Error(t, err, "a canceled run ends canceled")
	desc, err := env.Client.DescribeWorkflow(ctx, id, "")
	require.NoError(t, err)
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED, desc.RawResponse.GetWorkflowExecutionInfo().GetStatus())
	st, err := queryStatus(t, env, id)
	require.NoError(t, err)
	require.Equal(t, contract.OutcomeCanceled, st.Outcome, "phase %s", st.Phase)
	evs := timelineOf(t, env, id)
	requireVerified(t, evs, "bob", contract.DecisionCancel)
	closed := false
	for _, e := range evs {
		if e.Action == "closed" && e.Outcome == contract.OutcomeCanceled && strings.Contains(e.Detail, "canceled") {
			closed = true
		}
	}
	require.True(t, closed, "the close says the run was canceled: %+v", evs)
	return st, evs
}

func hasEvent(evs []contract.Event, action, outcome, detail string) bool {
	for _, e := range evs {
		if e.Action == action && e.Outcome == outcome && strings.Contains(e.Detail, detail) {
			return true
		}
	}
	return false
}

// TestFaultCancelRotationAwaitingApproval: a rotation canceled while it waits for approval
// changes nothing.
func TestFaultCancelRotationAwaitingApproval(t *testing.T) {
	env := startStack(t, testenv.Options{})
	reportFault(t, "rotation canceled (starter cancel) while waiting for approval", contract.OutcomeCanceled,
		"no new version", "env file = store current = old secret", "token from before: 200", "timeline closed")
	oldSecret := env.Secret(t)
	u := newUser(t, env, demoenv.UserDemo)
	before := u.login(t)

	id := startRotation(t, env)
	waitPhase(t, env, id, "waiting for approval")
	cancelRun(t, env, id, "wrong week")
	vs := readStore(t, env)
	require.Zero(t, createdBy(vs, id), "no new version: %s", stagesOf(vs))
	checkTargetAt(t, env, id, oldSecret, u, before.Access, true)
}

// TestFaultCancelRotationMidRedeploy: a rotation canceled once the env file holds the new
// secret, while the redeploy runs (3s delay): compensation restores the previous secret,
// restarts and re-validates, and the new version ends failed.
func TestFaultCancelRotationMidRedeploy(t *testing.T) {
	env := startStack(t, testenv.Options{DeployDelay: 3 * time.Second})
	reportFault(t, "rotation canceled (starter cancel) mid-redeploy, env file already rewritten", contract.OutcomeCanceled,
		"compensation restored the previous secret", "new version marked failed", "env file = store current = old secret", "token from before: 200", "timeline closed")
	oldSecret := env.Secret(t)
	u := newUser(t, env, demoenv.UserDemo)
	before := u.login(t)

	id := rotateApproved(t, env, nil)
	require.Eventually(t, func() bool {
		st, err := queryStatus(t, env, id)
		return err == nil && stepState(st, "update JWT_SECRET in target environment") == contract.StateDone
	}, time.Minute, 20*time.Millisecond, "the env file is rewritten")
	mid := env.Secret(t)
	st, _ := queryStatus(t, env, id)
	require.Equal(t, contract.StatePending, stepState(st, "restart/redeploy backend"), "canceled before the redeploy finished")
	_, evs := cancelRun(t, env, id, "change freeze started")
	require.NotEqual(t, oldSecret, mid, "the cancel came after the env file held the new secret")
	require.True(t, hasEvent(evs, "rollback", "started", "canceled by bob"), "compensation ran for bob's cancel: %+v", evs)
	require.True(t, hasEvent(evs, "re-validate auth flows", contract.StateDone, ""), "the restored secret was re-validated: %+v", evs)
	checkRolledBackOnce(t, env, id, oldSecret)
	checkTargetAt(t, env, id, oldSecret, u, before.Access, true)
}

// TestFaultCancelRotationObservation: a rotation canceled during its observation window ends
// canceled, and the new, validated secret stays live.
func TestFaultCancelRotationObservation(t *testing.T) {
	env := startStack(t, testenv.Options{ObservationWindow: 5 * time.Minute})
	reportFault(t, "rotation canceled (starter cancel) during the observation window", contract.OutcomeCanceled,
		"new secret stays: env file = store current (the run's version)", "previous version kept", "fresh login: 200", "token from before: 401", "timeline closed")
	oldSecret := env.Secret(t)
	u := newUser(t, env, demoenv.UserDemo)
	before := u.login(t)

	id := rotateApproved(t, env, nil)
	waitPhase(t, env, id, "observation window")
	_, evs := cancelRun(t, env, id, "done watching")
	require.True(t, hasEvent(evs, "observation window", contract.StateSkipped, "the new secret stays live"), "%+v", evs)
	cur := checkRotatedOnce(t, env, id, oldSecret)
	checkTargetAt(t, env, id, cur.Value, u, before.Access, false)
}

// TestFaultCancelEmergencyAwaitingGoAhead: an emergency run canceled while it waits for its
// go-ahead changes nothing: no rotation, no revoked session.
func TestFaultCancelEmergencyAwaitingGoAhead(t *testing.T) {
	env := startStack(t, testenv.Options{})
	reportFault(t, "emergency run canceled (starter cancel) while waiting for go-ahead", contract.OutcomeCanceled,
		"no rotation started", "store and env file unchanged", "token from before: 200", "timeline closed")
	seedStore(t, env)
	oldSecret := env.Secret(t)
	u := newUser(t, env, demoenv.UserDemo)
	before := u.login(t)
	storeBefore := readStore(t, env)

	out, err := env.Starter(t, "invalidate", "--target", "demo", "--reason", "suspicious logins", "--requested-by", "alice")
	require.NoError(t, err, out)
	id := strings.TrimSpace(out)
	waitPhase(t, env, id, "waiting for go-ahead")
	cancelRun(t, env, id, "false alarm")
	var notFound *serviceerror.NotFound
	_, err = env.Client.DescribeWorkflow(context.Background(), contract.RotationID("demo"), "")
	require.True(t, errors.As(err, &notFound), "no rotation was started: %v", err)
	checkNothingChanged(t, env, id, storeBefore, oldSecret)
	checkTargetAt(t, env, id, oldSecret, u, before.Access, true)
}

// TestFaultCancelEmergencyRoutesRestricted: an emergency run canceled while its routes are
// restricted (after the cutover) lifts the restrictions, and the rotation it made stays.
func TestFaultCancelEmergencyRoutesRestricted(t *testing.T) {
	env := startStack(t, testenv.Options{})
	reportFault(t, "emergency run canceled (starter cancel) while routes are restricted", contract.OutcomeCanceled,
		"restrictions lifted (/admin answers 200 again)", "new secret stays: env file = store current", "fresh login: 200", "token from before: 401", "timeline closed")
	oldSecret := env.Secret(t)
	u := newUser(t, env, demoenv.UserDemo)
	before := u.login(t)
	admin := newUser(t, env, demoenv.UserProbeAdmin)

	out, err := env.Starter(t, "invalidate", "--target", "demo", "--reason", "tokens in a leaked log", "--requested-by", "alice",
		"--restrict", "/admin", "--restrict-ttl", "10m")
	require.NoError(t, err, out)
	id := strings.TrimSpace(out)
	waitPhase(t, env, id, "waiting for go-ahead")
	out, err = env.Starter(t, "approve", id, "--as", "bob", "--comment", "go")
	require.NoError(t, err, out)
	waitPhase(t, env, id, "routes restricted")
	require.Equal(t, http.StatusServiceUnavailable, getStatus(t, env.BackendURL+"/admin/users", admin.login(t).Access), "restricted")

	st, _ := cancelRun(t, env, id, "abuse stopped, lift now")
	require.Equal(t, contract.StateDone, stepState(st, "lift route restrictions"))
	require.Equal(t, http.StatusOK, getStatus(t, env.BackendURL+"/admin/users", admin.login(t).Access), "the restricted route answers normally again")
	cur := checkRotatedOnce(t, env, contract.RotationID("demo"), oldSecret)
	checkTargetAt(t, env, id, cur.Value, u, before.Access, false)
}
