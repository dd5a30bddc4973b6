package workflows

// Two short workflows over a target's secret store, for the starter, which cannot read a
// worker's store: SecretStatus lists the versions, and SecretSettle marks a pending version
// that a closed run left behind failed, on an approver's signed request.

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/contract/act"
)

// SecretStatus returns the versions of a target's secret: ids, stages, creation times,
// idempotency keys and fingerprints, never a value.
func SecretStatus(ctx workflow.Context, in contract.SecretStatusInput) (contract.SecretStatus, error) {
	if in.Target == "" {
		return contract.SecretStatus{}, temporal.NewNonRetryableApplicationError("target is required", contract.ErrTypeInvalidInput, nil)
	}
	var st contract.SecretStatus
	err := workflow.ExecuteActivity(shortCtx(ctx), act.StoreStatus, in).Get(ctx, &st)
	return st, err
}

// Checklist of a settle.
const (
	stepSettleVerify = "verify the approver's signed request"
	stepSettleMark   = "mark the stale pending version failed"
)

// SecretSettle marks failed a pending secret version that a closed run left behind, so that the
// next rotation can start. Only an approver of the target may ask, with a signed statement
// (contract.ActionSettleSecret) for the run id secret-settle-<target>; the activity refuses a
// version the env sink holds and one whose run still runs. A refusal fails the run, with the
// result in the failure's details.
func SecretSettle(ctx workflow.Context, in contract.SettleInput) (contract.SettleResult, error) {
	in.RequestedBy = strings.TrimSpace(in.RequestedBy)
	rec := newRecord("secret-settle", in.Target, in.RequestedBy, stepSettleVerify, stepSettleMark)
	res := contract.SettleResult{Target: in.Target, Version: contract.VersionRef{ID: in.VersionID}}
	if err := rec.registerQueries(ctx); err != nil {
		return res, err
	}
	// end closes the run; errType is "" for success, else the type of the failure.
	end := func(outcome, cause, errType string) (contract.SettleResult, error) {
		res.Outcome, res.Cause = outcome, cause
		rec.status.Outcome = outcome
		rec.phase("closed: " + outcome)
		res.Summary = settleSummary(in, res)
		rec.add(ctx, systemActor, "closed", outcome, res.Summary)
		res.Timeline = rec.timeline
		if errType == "" {
			return res, nil
		}
		return res, temporal.NewNonRetryableApplicationError(res.Summary, errType, nil, res)
	}
	asked := "the pending version"
	if in.VersionID != "" {
		asked = "version " + in.VersionID
	}
	rec.add(ctx, in.RequestedBy, "requested", "settle "+asked, in.Reason)
	if err := in.Validate(); err != nil {
		rec.add(ctx, systemActor, "input", "rejected", err.Error())
		newIntake(rec).claimRefused(ctx, in.Statement)
		return end(contract.OutcomeRefused, "invalid input: "+err.Error(), contract.ErrTypeInvalidInput)
	}
	var policy contract.Policy
	if err := workflow.ExecuteActivity(shortCtx(ctx), act.LoadPolicy, in.Target).Get(ctx, &policy); err != nil {
		rec.add(ctx, systemActor, "load target policy", contract.StateFailed, err.Error())
		return end(contract.OutcomeRefused, "load target policy: "+err.Error(), contract.ErrTypeInvalidInput)
	}

	// Who asks, proven as the runbooks prove a start; then the runbook's rule: approvers only.
	rec.phase("verifying")
	dec := newIntake(rec)
	dec.load(policy)
	err := dec.startChecked(ctx, in.Statement, func(ctx workflow.Context) error {
		if id, got := contract.SecretSettleID(in.Target), workflow.GetInfo(ctx).WorkflowExecution.ID; got != id {
			return fmt.Errorf("a settle of %s runs only under the id %s, not %s", in.Target, id, got)
		}
		return dec.verifyStart(ctx, contract.ActionSettleSecret, in.RequestedBy, in.SignedText(), "", in.Statement)
	})
	if err == nil && (unattended(in.RequestedBy) || !slices.Contains(policy.Approvers, in.RequestedBy)) {
		err = fmt.Errorf("only the approvers of %s (%s) may settle a secret version; %s is not one",
			in.Target, strings.Join(policy.Approvers, ", "), in.RequestedBy)
	}
	if err != nil {
		rec.step(ctx, stepSettleVerify, contract.StateFailed, err.Error())
		return end(contract.OutcomeRefused, err.Error(), contract.ErrTypeInvalidInput)
	}
	rec.step(ctx, stepSettleVerify, contract.StateDone, "signed "+contract.ActionSettleSecret+" by "+in.RequestedBy+", an approver")
	res.SettledBy = in.RequestedBy

	rec.phase("settling")
	var out contract.SettleOutcome
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 500 * time.Millisecond, MaximumAttempts: 3},
	})
	if err := workflow.ExecuteActivity(actx, act.SettleSecret,
		contract.SettleSecretInput{Target: in.Target, VersionID: in.VersionID}).Get(ctx, &out); err != nil {
		cause := err.Error()
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) {
			cause = appErr.Message()
		}
		rec.step(ctx, stepSettleMark, contract.StateFailed, cause)
		return end(contract.OutcomeRefused, cause, contract.ErrTypeRunbookFailed)
	}
	res.Version, res.Run = out.Version, out.Run
	switch {
	case out.NothingPending:
		rec.step(ctx, stepSettleMark, contract.StateSkipped, "no version is pending; nothing to settle")
		return end(contract.OutcomeNothingToSettle, "", "")
	case out.Already:
		rec.step(ctx, stepSettleMark, contract.StateSkipped, fmt.Sprintf("version %s was already marked failed", out.Version.ID))
		return end(contract.OutcomeNothingToSettle, "", "")
	}
	rec.step(ctx, stepSettleMark, contract.StateDone, fmt.Sprintf("version %s (fingerprint %s) of closed run %s (%s) marked failed by %s",
		out.Version.ID, out.Version.Fingerprint, out.Run, out.RunState, in.RequestedBy))
	m := contract.Message{Target: in.Target, Channel: policy.Channel, Kind: "secret-settled",
		Text: fmt.Sprintf("%s settled the secret of %s: pending version %s (fingerprint %s), left behind by the closed run %s, is marked failed. The next rotation can start.",
			in.RequestedBy, in.Target, out.Version.ID, out.Version.Fingerprint, out.Run), Mention: policy.Approvers}
	announce(ctx, rec, m)
	return end(contract.OutcomeSettled, "", "")
}

func settleSummary(in contract.SettleInput, res contract.SettleResult) string {
	var s string
	switch res.Outcome {
	case contract.OutcomeSettled:
		s = fmt.Sprintf("Settle of %s: version %s (fingerprint %s) of closed run %s marked failed by %s.",
			in.Target, res.Version.ID, res.Version.Fingerprint, res.Run, res.SettledBy)
	case contract.OutcomeNothingToSettle:
		s = fmt.Sprintf("Settle of %s: nothing to settle", in.Target)
		if res.Version.ID != "" {
			s += fmt.Sprintf(" (version %s is already failed)", res.Version.ID)
		} else {
			s += " (no version is pending)"
		}
		s += "."
	default:
		s = fmt.Sprintf("Settle of %s refused: %s.", in.Target, strings.TrimSuffix(res.Cause, "."))
	}
	if in.Reason != "" && res.Outcome == contract.OutcomeSettled {
		s += " Reason: " + contract.CleanText(in.Reason) + "."
	}
	return s
}
