package workflows

// The rotation's ways back: compensation of a failed change, the owner's manual rollback, the
// escalation that waits for a human when a rollback fails, and the hand-over to an emergency run.

import (
	"fmt"
	"slices"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/contract/act"
)

// compensate runs the registered compensations on a disconnected context, so that they also run
// when the run is canceled, and sets the outcome.
func (r *rotation) compensate(ctx workflow.Context, comp compensations, cause error) {
	dctx, cancel := workflow.NewDisconnectedContext(ctx)
	defer cancel()
	why := "canceled"
	p := r.preemption(dctx)
	switch {
	case cause != nil && !temporal.IsCanceledError(cause):
		why = cause.Error()
	case p != nil:
		why = fmt.Sprintf("preempted by %s (%s)", p.By, p.Reason)
	case r.dec.canceledBy != nil:
		why = r.dec.cancelCause()
	}
	r.rec.phase("rolling back")
	r.rec.add(dctx, systemActor, "rollback", "started", why)
	r.announce(dctx, "rollback", fmt.Sprintf("Rotation of %s failed (%s); restoring the previous secret %s.", r.in.Target, why, r.res.Previous.Fingerprint))
	if err := comp.run(dctx, r.rec); err != nil {
		r.res.Outcome = contract.OutcomeRollbackFailed
		r.res.Cause = fmt.Sprintf("%s; rollback failed: %v", why, err)
		r.escalate(dctx, r.res.Cause, r.res.Previous)
		return
	}
	r.res.Outcome = contract.OutcomeRolledBack
	if temporal.IsCanceledError(cause) {
		r.res.Outcome = contract.OutcomeCanceled
		if p != nil {
			r.res.Outcome = contract.OutcomePreempted
		}
	}
	r.res.Cause = why
	r.announce(dctx, "rolled-back", fmt.Sprintf("Rotation of %s rolled back: the backend runs on the previous secret %s again, verified.", r.in.Target, r.res.Previous.Fingerprint))
}

// restore puts a version back into the env sink, redeploys and checks it works again.
func (r *rotation) restore(ctx workflow.Context, to, from contract.VersionRef, why string) error {
	var applied contract.ApplyResult
	if err := workflow.ExecuteActivity(writeCtx(ctx), act.ApplySecret,
		contract.VersionInput{Target: r.in.Target, VersionID: to.ID}).Get(ctx, &applied); err != nil {
		return fmt.Errorf("restore %s: %w", to.ID, err)
	}
	r.change(ctx, applied.Key, from, to, why)
	r.rec.add(ctx, systemActor, "restore previous secret in environment", contract.StateDone, "fingerprint "+to.Fingerprint)
	if err := r.deploy(ctx); err != nil {
		return fmt.Errorf("restart after restore: %w", err)
	}
	r.rec.add(ctx, systemActor, "restart backend", contract.StateDone, "")
	if err := r.validate(ctx, "after "+why, to.ID, from.ID); err != nil {
		return fmt.Errorf("re-validate after restore: %w", err)
	}
	r.rec.add(ctx, systemActor, "re-validate auth flows", contract.StateDone, "previous secret works, new one rejected")
	return nil
}

// rollbackRule takes a rollback from the rollback owner during the observation window.
func (r *rotation) rollbackRule(_ workflow.Context, actor string, d contract.Decision) (string, string) {
	switch {
	case !r.rollbackOpen:
		return "a rollback is taken only during the observation window", ""
	case actor != r.in.RollbackOwner:
		return fmt.Sprintf("only the rollback owner %s may roll back", r.in.RollbackOwner), ""
	}
	r.rollbackOpen = false
	r.rollbackBy = &contract.Decision{Actor: actor, Comment: d.Comment}
	return "", "rolling back now"
}

// manualRollback is the runbook's rollback: restore the previous secret, restart, re-validate.
func (r *rotation) manualRollback(ctx workflow.Context, d contract.Decision) {
	dctx, cancel := workflow.NewDisconnectedContext(ctx)
	defer cancel()
	r.rec.phase("rolling back (manual)")
	r.announce(dctx, "rollback", fmt.Sprintf("%s is rolling back the rotation of %s: %s", d.Actor, r.in.Target, d.Comment))
	err := r.restore(dctx, r.res.Previous, r.res.New, "manual rollback")
	if err == nil {
		err = workflow.ExecuteActivity(writeCtx(dctx), act.RollBackSecret,
			contract.VersionInput{Target: r.in.Target, VersionID: r.res.New.ID}).Get(dctx, nil)
	}
	if err != nil {
		r.res.Outcome = contract.OutcomeRollbackFailed
		r.res.Cause = "manual rollback failed: " + err.Error()
		r.rec.step(dctx, stepObserve, contract.StateFailed, r.res.Cause)
		// The store still holds the new version as current until RollBackSecret succeeds.
		r.escalate(dctx, r.res.Cause, r.res.New)
		return
	}
	r.res.Outcome = contract.OutcomeRolledBackManually
	r.res.Cause = fmt.Sprintf("rolled back by %s: %s", d.Actor, d.Comment)
	r.rec.step(dctx, stepObserve, contract.StateDone, r.res.Cause)
	r.announce(dctx, "rolled-back", fmt.Sprintf("Rotation of %s rolled back by %s; previous secret %s is live again and verified. Users must log in again.", r.in.Target, d.Actor, r.res.Previous.Fingerprint))
}

// escalate never lets a failed rollback end silently: it announces and waits for a human to
// resolve the run.
// current is the version the secret store holds as current, which the target must match again.
func (r *rotation) escalate(ctx workflow.Context, cause string, current contract.VersionRef) {
	r.rec.phase("escalated: waiting for resolve")
	settle := r.settleHint()
	r.rec.add(ctx, systemActor, "escalation", "waiting for resolve", cause+settle)
	mention := r.policy.Approvers
	if !slices.Contains(mention, r.in.RollbackOwner) {
		mention = append([]string{r.in.RollbackOwner}, mention...)
	}
	text := fmt.Sprintf(
		"ROLLBACK FAILED for %s: %s. The target may be half-rotated (new secret %s, previous %s). "+
			"A human must bring it back to the store's current version %s (fingerprint %s): the next rotation's pre-checks refuse any drift. Then send 'resolve'.%s",
		r.in.Target, cause, r.res.New.Fingerprint, r.res.Previous.Fingerprint, current.ID, current.Fingerprint, settle)
	r.announce(ctx, "escalation", text, mention...)
	// Re-announce at the reminder interval until someone takes it: an open escalation must not
	// be forgotten in a scrolled-away channel.
	// An emergency run that takes the target supersedes the escalation: its own rotation takes
	// the target over, and it waits for nobody.
	r.resolveOpen = true
	done := func() bool { return r.resolvedBy != nil || r.preempted != nil }
	for !done() {
		if r.policy.ReminderInterval <= 0 {
			if err := workflow.Await(ctx, done); err != nil {
				break
			}
			continue
		}
		if ok, err := workflow.AwaitWithTimeout(ctx, r.policy.ReminderInterval, done); err != nil {
			break
		} else if !ok {
			r.announce(ctx, "escalation", "STILL OPEN: "+text, mention...)
		}
	}
	r.resolveOpen = false
	if r.resolvedBy == nil && r.preempted != nil {
		r.res.Outcome = contract.OutcomeSuperseded
		r.res.Cause += fmt.Sprintf("; superseded by %s (%s): its rotation takes the target over", r.preempted.By, r.preempted.Reason)
		r.rec.add(ctx, systemActor, "escalation", contract.OutcomeSuperseded, "the emergency run "+r.preempted.By+" takes the target over")
		return
	}
	if r.resolvedBy != nil {
		r.res.Cause += "; resolved by " + r.resolvedBy.Actor + ": " + contract.CleanText(r.resolvedBy.Comment)
		// The run looks at the store again and says what the resolve left.
		r.storeAfterResolve(ctx)
	}
}

// preemption returns the emergency run's preemption, if one arrived.
func (r *rotation) preemption(ctx workflow.Context) *contract.Preemption {
	// A preemption that arrived with the cancel is still being checked: wait for its verdict.
	ch := workflow.GetSignalChannel(ctx, contract.SignalPreempt)
	_ = workflow.Await(ctx, func() bool { return r.opening == 0 && ch.Len() == 0 })
	return r.preempted
}

// release tells the emergency run that preempted this rotation that the target is free now, so
// it starts its own rotation without polling for the id.
func (r *rotation) release(ctx workflow.Context) {
	if r.preempted == nil {
		return
	}
	rel := contract.Released{RotationID: workflow.GetInfo(ctx).WorkflowExecution.ID, Outcome: r.res.Outcome}
	s, err := seal(ctx, contract.SignalRotationReleased, r.preempted.By, rel)
	if err != nil {
		r.rec.add(ctx, systemActor, "tell "+r.preempted.By+" the target is free", contract.StateFailed, err.Error())
		return
	}
	rel.Seal = s
	if err := workflow.SignalExternalWorkflow(ctx, r.preempted.By, "", contract.SignalRotationReleased, rel).Get(ctx, nil); err != nil {
		r.rec.add(ctx, systemActor, "tell "+r.preempted.By+" the target is free", contract.StateFailed, err.Error())
	}
}

// resolveRule takes a resolve from the rollback owner or an approver while the run is escalated.
func (r *rotation) resolveRule(_ workflow.Context, actor string, d contract.Decision) (string, string) {
	switch {
	case !r.resolveOpen:
		return "the run is not escalated; there is nothing to resolve", ""
	case actor != r.in.RollbackOwner && !slices.Contains(r.policy.Approvers, actor):
		return "only the rollback owner or an approver may resolve", ""
	}
	r.resolveOpen = false
	r.resolvedBy = &contract.Decision{Actor: actor, Comment: d.Comment}
	return "", ""
}

// canceled ends a run canceled (or preempted) before it changed anything.
func (r *rotation) canceled(ctx workflow.Context) error {
	dctx, cancel := workflow.NewDisconnectedContext(ctx)
	defer cancel()
	detail, outcome := "canceled before any change", contract.OutcomeCanceled
	if p := r.preemption(dctx); p != nil {
		detail, outcome = fmt.Sprintf("preempted by %s (%s) before any change", p.By, p.Reason), contract.OutcomePreempted
	}
	if c := r.dec.cancelCause(); c != "" {
		detail = c + "; before any change"
	}
	r.rec.add(dctx, systemActor, "canceled", outcome, detail)
	return &stop{outcome: outcome, cause: detail}
}
