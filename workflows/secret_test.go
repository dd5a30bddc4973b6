package workflows

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/authops/authops/contract"
)

type settleHarness struct {
	*harness[callInfo, contract.SettleResult]
	settle  func(contract.SettleSecretInput) (contract.SettleOutcome, error)
	settles []contract.SettleSecretInput
}

func newSettleHarness(t *testing.T, id string) *settleHarness {
	t.Helper()
	env := newTestEnv(SecretSettle)
	h := &settleHarness{harness: newHarness[callInfo, contract.SettleResult](t, env, id, basePolicy("#sec-ops"),
		func(c callInfo, _ converter.EncodedValues) callInfo { return c })}
	h.settle = func(contract.SettleSecretInput) (contract.SettleOutcome, error) {
		return contract.SettleOutcome{Version: staleV, Run: staleRun, RunState: "closed (failed)"}, nil
	}
	return h
}

func (h *settleHarness) runSettle(in contract.SettleInput) {
	h.t.Helper()
	h.mockPolicyAndAnnounce()
	h.env.OnActivity(acts.SettleSecret, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in contract.SettleSecretInput) (contract.SettleOutcome, error) {
			h.mu.Lock()
			h.settles = append(h.settles, in)
			h.mu.Unlock()
			return h.settle(in)
		})
	h.execute(SecretSettle, in)
}

// signedSettle is in, signed by keyOwner's key for its requester.
func (h *settleHarness) signedSettle(keyOwner string, in contract.SettleInput) contract.SettleInput {
	st := h.signedStart(in.RequestedBy, contract.ActionSettleSecret, in.SignedText(), "")
	if keyOwner != in.RequestedBy {
		st = signAs(h.t, keyOwner, st.Statement)
	}
	in.Statement = st
	return in
}

func settleInput(actor string) contract.SettleInput {
	return contract.SettleInput{Target: "demo", VersionID: staleV.ID, RequestedBy: actor, Reason: "left by the failed rotation"}
}

// failedResult returns the result carried by the failure of a refused settle, of type errType.
func (h *settleHarness) failedResult(errType string) contract.SettleResult {
	h.t.Helper()
	appErr := requireAppError(h.t, h.env.GetWorkflowError())
	require.Equal(h.t, errType, appErr.Type())
	require.True(h.t, appErr.NonRetryable())
	var res contract.SettleResult
	require.NoError(h.t, appErr.Details(&res))
	return res
}

// An approver's signed settle marks the stale version failed, announces it and says so.
func TestSecretSettle_ByAnApprover(t *testing.T) {
	h := newSettleHarness(t, contract.SecretSettleID("demo"))
	h.runSettle(h.signedSettle("bob", settleInput("bob")))

	res := h.completed()
	assert.Equal(t, contract.OutcomeSettled, res.Outcome)
	assert.Equal(t, staleV, res.Version)
	assert.Equal(t, staleRun, res.Run)
	assert.Equal(t, "bob", res.SettledBy)
	assert.Equal(t, "Settle of demo: version v3-dead0001 (fingerprint fp-stale) of closed run rotation-demo/run-before marked failed by bob. Reason: left by the failed rotation.", res.Summary)
	assert.Equal(t, []contract.SettleSecretInput{{Target: "demo", VersionID: staleV.ID}}, h.settles)
	assert.Equal(t, []string{"LoadPolicy", "SettleSecret"}, h.steps())
	msgs := h.messages("secret-settled")
	require.Len(t, msgs, 1)
	assert.Contains(t, msgs[0].Text, "bob settled the secret of demo: pending version v3-dead0001")

	tl := res.Timeline
	assertUTC(t, tl)
	requireEvent(t, tl, "bob", "requested", "settle version v3-dead0001")
	requireEvent(t, tl, systemActor, stepSettleVerify, contract.StateDone)
	done := requireEvent(t, tl, systemActor, stepSettleMark, contract.StateDone)
	assert.Equal(t, "version v3-dead0001 (fingerprint fp-stale) of closed run rotation-demo/run-before (closed (failed)) marked failed by bob", done.Detail)
	requireEvent(t, tl, systemActor, "closed", contract.OutcomeSettled)
	assert.Equal(t, contract.OutcomeSettled, h.status().Outcome)
}

// Nothing pending: the run says so and succeeds.
func TestSecretSettle_NothingPending(t *testing.T) {
	h := newSettleHarness(t, contract.SecretSettleID("demo"))
	h.settle = func(contract.SettleSecretInput) (contract.SettleOutcome, error) {
		return contract.SettleOutcome{NothingPending: true}, nil
	}
	in := settleInput("alice")
	in.VersionID = ""
	h.runSettle(h.signedSettle("alice", in))
	res := h.completed()
	assert.Equal(t, contract.OutcomeNothingToSettle, res.Outcome)
	assert.Equal(t, "Settle of demo: nothing to settle (no version is pending).", res.Summary)
	assert.Empty(t, h.messages("secret-settled"))
}

// Refused before the store is touched: an unsigned request, a person who is no approver, a
// statement signed with someone else's key, a run under another id.
func TestSecretSettle_Refusals(t *testing.T) {
	for _, tc := range []struct {
		name, id string
		in       func(h *settleHarness) contract.SettleInput
		why      string
	}{
		{"unsigned", contract.SecretSettleID("demo"), func(*settleHarness) contract.SettleInput { return settleInput("bob") },
			"start refused: unsigned"},
		{"not an approver", contract.SecretSettleID("demo"), func(h *settleHarness) contract.SettleInput {
			return h.signedSettle("dave", settleInput("dave"))
		}, "only the approvers of demo (alice, bob, carol) may settle a secret version; dave is not one"},
		{"someone else's key", contract.SecretSettleID("demo"), func(h *settleHarness) contract.SettleInput {
			return h.signedSettle("mallory", settleInput("bob"))
		}, "start refused"},
		{"signed for another version", contract.SecretSettleID("demo"), func(h *settleHarness) contract.SettleInput {
			in := h.signedSettle("bob", settleInput("bob"))
			in.VersionID = "v1-0000"
			return in
		}, "start refused"},
		{"another id", "secret-settle-elsewhere", func(h *settleHarness) contract.SettleInput {
			return h.signedSettle("bob", settleInput("bob"))
		}, "a settle of demo runs only under the id secret-settle-demo, not secret-settle-elsewhere"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newSettleHarness(t, tc.id)
			h.runSettle(tc.in(h))
			res := h.failedResult(contract.ErrTypeInvalidInput)
			assert.Equal(t, contract.OutcomeRefused, res.Outcome)
			assert.Contains(t, res.Cause, tc.why)
			assert.Contains(t, res.Summary, "Settle of demo refused: ")
			h.assertNotRun("SettleSecret", "Announce")
			ev := requireEvent(t, res.Timeline, systemActor, stepSettleVerify, contract.StateFailed)
			assert.Contains(t, ev.Detail, tc.why)
			requireEvent(t, res.Timeline, systemActor, "closed", contract.OutcomeRefused)
		})
	}
}

// The activity's refusal (a live version, a run still running) fails the run with the reason.
func TestSecretSettle_LiveVersionRefused(t *testing.T) {
	h := newSettleHarness(t, contract.SecretSettleID("demo"))
	h.settle = func(contract.SettleSecretInput) (contract.SettleOutcome, error) {
		return contract.SettleOutcome{}, temporal.NewNonRetryableApplicationError(
			"version v3-dead0001 of demo is live: the env sink backend.env holds it (fingerprint fp-stale)", contract.ErrTypeConflict, nil)
	}
	h.runSettle(h.signedSettle("carol", settleInput("carol")))
	res := h.failedResult(contract.ErrTypeRunbookFailed)
	assert.Equal(t, contract.OutcomeRefused, res.Outcome)
	assert.Equal(t, "Settle of demo refused: version v3-dead0001 of demo is live: the env sink backend.env holds it (fingerprint fp-stale).", res.Summary)
	assert.Len(t, h.callsNamed("SettleSecret"), 1, "a refusal is not retried")
	requireEvent(t, res.Timeline, systemActor, stepSettleMark, contract.StateFailed)
	assert.Empty(t, h.messages("secret-settled"))
}

func TestSecretStatus_ReturnsTheStore(t *testing.T) {
	env := newTestEnv(SecretStatus)
	want := contract.SecretStatus{Target: "demo", LiveFingerprint: "fp-prev", LiveVersion: "v1",
		Versions: []contract.SecretVersion{{ID: "v1", Stage: "current", Fingerprint: "fp-prev", Live: true}}}
	env.OnActivity(acts.StoreStatus, mock.Anything, contract.SecretStatusInput{Target: "demo"}).Return(want, nil)
	env.ExecuteWorkflow(SecretStatus, contract.SecretStatusInput{Target: "demo"})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var got contract.SecretStatus
	require.NoError(t, env.GetWorkflowResult(&got))
	assert.Equal(t, want, got)

	env = newTestEnv(SecretStatus)
	env.ExecuteWorkflow(SecretStatus, contract.SecretStatusInput{})
	appErr := requireAppError(t, env.GetWorkflowError())
	assert.Equal(t, contract.ErrTypeInvalidInput, appErr.Type())
}
