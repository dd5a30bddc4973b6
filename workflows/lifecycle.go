package workflows

import (
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/authops/authops/contract"
)

// The start and the close that the rotation and the emergency run share: each way a start is
// refused goes on the record and answers the decisions that waited for it, and each close
// answers the decisions already taken in before the run settles.

// refuseInput ends a run whose input is invalid: the start's nonce is spent, so the statement
// cannot start a run later, and the decisions that waited are denied.
func (in *intake) refuseInput(ctx workflow.Context, runbook string, s *contract.SignedStatement, err error) error {
	in.rec.add(ctx, systemActor, "input", "rejected", err.Error())
	in.claimRefused(ctx, s)
	in.refuseAll(ctx, err.Error())
	return temporal.NewNonRetryableApplicationError("invalid "+runbook+" input: "+err.Error(), contract.ErrTypeInvalidInput, err)
}

// policyFailed ends a run whose policy could not be loaded; err stays retryable as it came.
func (in *intake) policyFailed(ctx workflow.Context, err error) error {
	in.rec.add(ctx, systemActor, "load target policy", contract.StateFailed, err.Error())
	in.refuseAll(ctx, "its policy could not be loaded")
	return err
}

// verifiedStart checks the run's signed start and opens the intake on it; a refused start fails
// the run. note says on the record how the start was proven.
func (in *intake) verifiedStart(ctx workflow.Context, requester string, s *contract.SignedStatement,
	check func(ctx workflow.Context) error, note func() string) error {
	if err := in.startChecked(ctx, s, check); err != nil {
		in.rec.add(ctx, systemActor, "start", "refused", err.Error())
		in.refuseAll(ctx, err.Error())
		return temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrTypeInvalidInput, err)
	}
	in.rec.add(ctx, requester, "start", "verified", note())
	in.open()
	return nil
}

// settle closes the intake and the record on outcome: a decision already taken in gets the run's
// answer first, then the checklist and the phase say how the run ended.
func (in *intake) settle(ctx workflow.Context, outcome string) {
	in.closing = true
	dctx, cancel := workflow.NewDisconnectedContext(ctx)
	_ = workflow.Await(dctx, func() bool { return workflow.AllHandlersFinished(dctx) })
	cancel()
	in.rec.settle(ctx, outcome)
	in.rec.status.Outcome = outcome
	in.rec.phase("closed: " + outcome)
}

// summary is a closed run's one-line summary: what, how it ended, and why.
func summary(what, outcome, cause string) string {
	s := what + ": " + outcome + "."
	if cause != "" {
		s += " Cause: " + cause + "."
	}
	return s
}
