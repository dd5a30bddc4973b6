package workflows

import (
	"github.com/authops/authops/contract"

	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/authops/authops/activities"
	"github.com/authops/authops/internal/notify"
)

// Checklist items of runbook 2, in order.
const (
	stepPrecheck     = "pre-rotation checks"
	stepCommunicate  = "prepare user communication"
	stepWindow       = "rotation window and rollback owner"
	stepApproval     = "approval by a second person"
	stepGenerate     = "generate new secret in secret store"
	stepUpdateEnv    = "update JWT_SECRET in target environment"
	stepRedeploy     = "restart/redeploy backend"
	stepValidate     = "validate auth endpoints, login flow and new token issuance"
	stepPromote      = "mark new secret current"
	stepAnnounceDone = "announce completion and user impact"
	stepObserve      = "observation window"
)

// SecretRotation is runbook 2: JWT secret rotation.
func SecretRotation(ctx workflow.Context, in contract.RotationInput) (contract.RotationResult, error) {
	r := &rotation{in: in}
	if err := r.setup(ctx); err != nil {
		return contract.RotationResult{}, err
	}
	return r.run(ctx)
}

type rotation struct {
	in     contract.RotationInput
	rec    *record
	policy contract.Policy
	res    contract.RotationResult
	key    string
	// v is DefaultVersion for runs started before decisions were verified Updates; they keep the
	// signal loops of legacy_signals.go.
	v    workflow.Version
	dec  *intake
	gate *gate
	// rollbackOpen and resolveOpen say which decision the run takes now; rollbackBy and resolvedBy
	// hold the accepted one for the main flow.
	rollbackOpen, resolveOpen bool
	rollbackBy, resolvedBy    *contract.Decision
	// preempted is set when an emergency run takes the target (runs on Updates only).
	preempted *contract.Preemption
}

var acts *activities.Activities // method values name activities; never called directly

func (r *rotation) setup(ctx workflow.Context) error {
	// Names are compared exactly against policy; stray spaces must not make "alice " a second person.
	r.in.RequestedBy = strings.TrimSpace(r.in.RequestedBy)
	r.in.RollbackOwner = strings.TrimSpace(r.in.RollbackOwner)
	// A window length without a start opens the window now, so it still closes on time.
	if r.in.Window > 0 && r.in.WindowStart.IsZero() {
		r.in.WindowStart = workflow.Now(ctx)
	}
	steps := []string{stepPrecheck, stepCommunicate, stepWindow, stepApproval, stepGenerate, stepUpdateEnv,
		stepRedeploy, stepValidate, stepPromote, stepAnnounceDone, stepObserve}
	r.rec = newRecord("secret-rotation", r.in.Target, r.in.RequestedBy, steps...)
	// A schedule cannot roll back; its rollback owner defaults to whoever approves.
	if r.in.RollbackOwner == "" && r.in.Mode != contract.ModeScheduled {
		r.in.RollbackOwner = r.in.RequestedBy
	}
	info := workflow.GetInfo(ctx)
	// One key per run: retried activities and a continued run reuse the same secret version.
	r.key = info.WorkflowExecution.ID + "/" + info.WorkflowExecution.RunID
	r.res.Target = r.in.Target
	r.dec = newIntake(r.rec)
	r.dec.reload = r.loadPolicy
	r.v = workflow.GetVersion(ctx, "decisions-as-updates", workflow.DefaultVersion, 1)
	if r.v >= 1 {
		r.dec.rules[contract.SignalApprove] = func(ctx workflow.Context, actor string, d contract.Decision) (string, string) {
			return r.gate.approve(ctx, actor, d)
		}
		r.dec.rules[contract.SignalReject] = func(ctx workflow.Context, actor string, d contract.Decision) (string, string) {
			return r.gate.reject(ctx, actor, d)
		}
		r.dec.rules[contract.SignalRollback] = r.rollbackRule
		r.dec.rules[contract.SignalResolve] = r.resolveRule
		if err := r.dec.register(ctx); err != nil {
			return err
		}
		preempt := workflow.GetSignalChannel(ctx, contract.SignalPreempt)
		workflow.Go(ctx, func(ctx workflow.Context) {
			var p contract.Preemption
			if preempt.Receive(ctx, &p) && r.preempted == nil {
				r.preempted = &p
			}
		})
	}
	return r.rec.registerQueries(ctx)
}

// loadPolicy loads the target's policy and opens the decision intake on it.
func (r *rotation) loadPolicy(ctx workflow.Context) error {
	if err := workflow.ExecuteActivity(shortCtx(ctx), acts.LoadPolicy, r.in.Target).Get(ctx, &r.policy); err != nil {
		return err
	}
	r.gate = newGate(r.rec, r.policy.Approvers, r.in.RequestedBy, r.policy.RotationQuorum)
	r.gate.opensAt = r.in.WindowStart
	r.gate.open = r.in.Mode != contract.ModeEmergency
	r.dec.load(r.policy)
	return nil
}

// checkStart refuses a run that nobody verifiably asked for: a manual run needs its requester's
// signed statement, a scheduled one the target's schedule as parent. It also refuses a run under
// any id but rotation-<target>, since a caller picks its own conflict policy.
func (r *rotation) checkStart(ctx workflow.Context) error {
	info := workflow.GetInfo(ctx)
	if id := contract.RotationID(r.in.Target); info.WorkflowExecution.ID != id {
		return fmt.Errorf("a rotation of %s runs only under the id %s, not %s", r.in.Target, id, info.WorkflowExecution.ID)
	}
	switch r.in.Mode {
	case contract.ModeScheduled:
		parent := info.ParentWorkflowExecution
		if !strings.HasPrefix(r.in.RequestedBy, contract.RequesterSchedulePrefix) || parent == nil ||
			!strings.HasPrefix(parent.ID, contract.ScheduledRotationWorkflowID(r.in.Target)) {
			return errors.New("a scheduled rotation is started only by the target's schedule")
		}
	case contract.ModeEmergency:
		// Checked in run: only the child of an approved emergency run, which verified its start.
	default:
		if err := r.dec.verifyStart(ctx, contract.ActionStartRotation, r.in.RequestedBy, r.in.Reason, r.in.Statement); err != nil {
			return err
		}
	}
	if o := r.in.RollbackOwner; o != "" && !r.dec.person(o) {
		return fmt.Errorf("rollback owner %q is not a person in the config", o)
	}
	return nil
}

func (r *rotation) run(ctx workflow.Context) (contract.RotationResult, error) {
	r.rec.add(ctx, r.in.RequestedBy, "requested", r.in.Mode, r.in.Reason)
	err := r.in.Validate(workflow.Now(ctx))
	// Emergency mode skips the approval gate, so it is only honoured for a child of an emergency
	// run, which had its own; started on its own it would be a way around the second person.
	if err == nil && r.in.Mode == contract.ModeEmergency && (workflow.GetInfo(ctx).ParentWorkflowExecution == nil || r.in.ApprovedBy == "") {
		err = errors.New("emergency mode runs only as the child of an approved EmergencyInvalidation run")
	}
	if err != nil {
		r.rec.add(ctx, systemActor, "input", "rejected", err.Error())
		return r.res, temporal.NewNonRetryableApplicationError("invalid rotation input: "+err.Error(), contract.ErrTypeInvalidInput, err)
	}
	if err := r.loadPolicy(ctx); err != nil {
		r.rec.add(ctx, systemActor, "load target policy", "failed", err.Error())
		return r.res, err
	}
	if r.v >= 1 {
		if err := r.checkStart(ctx); err != nil {
			r.rec.add(ctx, systemActor, "start", "refused", err.Error())
			return r.res, temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrTypeInvalidInput, err)
		}
		r.rec.add(ctx, r.in.RequestedBy, "start", "verified", "signed "+contract.ActionStartRotation)
	}

	// Pre-rotation checks: if any fails, stop before anything changes.
	r.rec.phase("pre-checks")
	var pre activities.PreCheckResult
	err = workflow.ExecuteActivity(precheckCtx(ctx), acts.PreCheck,
		activities.PreCheckInput{Target: r.in.Target, IdempotencyKey: r.key}).Get(ctx, &pre)
	if err != nil {
		r.rec.step(ctx, stepPrecheck, contract.StateFailed, err.Error())
		return r.fail(ctx, contract.OutcomePrecheckFailed, err.Error())
	}
	r.res.Prechecks = pre.Checks
	r.res.Previous = pre.Current
	r.addValidation("pre-checks", pre.Validation)
	if !pre.OK {
		cause := failedChecks(pre.Checks)
		r.rec.step(ctx, stepPrecheck, contract.StateFailed, cause)
		return r.fail(ctx, contract.OutcomePrecheckFailed, cause)
	}
	r.rec.step(ctx, stepPrecheck, contract.StateDone, fmt.Sprintf("current version %s (fingerprint %s)", pre.Current.ID, pre.Current.Fingerprint))

	if r.in.Mode == contract.ModeEmergency {
		return r.emergency(ctx)
	}

	r.announce(ctx, "planned", r.plannedText(), r.policy.Approvers...)
	r.rec.step(ctx, stepCommunicate, contract.StateDone, "planned rotation and forced re-authentication announced")

	if out, done, err := r.awaitWindowAndApproval(ctx); done || err != nil {
		return out, err
	}
	if stop, err := r.recheck(ctx); stop {
		return r.fail(ctx, contract.OutcomePrecheckFailed, err.Error())
	}
	// rotate compensates its own failures and leaves the outcome set.
	r.rotate(ctx)
	if r.res.Outcome == "" {
		r.observe(ctx)
	}
	return r.finish(ctx)
}

// recheck repeats the pre-checks after the waits, right before anything changes: an hour of
// waiting for a window or an approver is long enough for someone to edit JWT_SECRET by hand or
// for the backend to go down, and a rollback must go back to what is really live.
func (r *rotation) recheck(ctx workflow.Context) (bool, error) {
	if workflow.GetVersion(ctx, "recheck-before-change", workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return false, nil
	}
	r.rec.phase("re-checking")
	var pre activities.PreCheckResult
	err := workflow.ExecuteActivity(precheckCtx(ctx), acts.PreCheck,
		activities.PreCheckInput{Target: r.in.Target, IdempotencyKey: r.key}).Get(ctx, &pre)
	switch {
	case err != nil:
	case !pre.OK:
		err = errors.New("pre-checks failed after the wait: " + failedChecks(pre.Checks))
	case pre.Current != r.res.Previous:
		err = fmt.Errorf("the live secret changed while the run waited (%s %s, now %s %s)",
			r.res.Previous.ID, r.res.Previous.Fingerprint, pre.Current.ID, pre.Current.Fingerprint)
	}
	if err != nil {
		r.addValidation("re-check", pre.Validation)
		r.rec.add(ctx, systemActor, "re-check before change", contract.StateFailed, err.Error())
		return true, err
	}
	r.rec.add(ctx, systemActor, "re-check before change", contract.StateDone, "target unchanged since the pre-checks")
	return false, nil
}

// emergency is the hard cutover: the parent run already announced and got its go-ahead.
func (r *rotation) emergency(ctx workflow.Context) (contract.RotationResult, error) {
	r.rec.step(ctx, stepCommunicate, contract.StateSkipped, "emergency run announces itself")
	r.rec.step(ctx, stepWindow, contract.StateSkipped, "emergency: no window")
	r.rec.step(ctx, stepApproval, contract.StateDone, "go-ahead given in the emergency run by "+r.in.ApprovedBy)
	r.res.ApprovedBy = r.in.ApprovedBy
	r.rotate(ctx)
	if r.res.Outcome == "" {
		r.rec.step(ctx, stepObserve, contract.StateSkipped, "emergency: no observation wait")
		r.res.Outcome = contract.OutcomeCompleted
	}
	return r.finish(ctx)
}

// awaitWindowAndApproval waits for the window to open, then for a second person. done reports
// that the run ended here, with nothing changed.
func (r *rotation) awaitWindowAndApproval(ctx workflow.Context) (contract.RotationResult, bool, error) {
	now := workflow.Now(ctx)
	start := r.in.WindowStart
	if start.After(now) {
		r.rec.phase("waiting for window")
		r.rec.step(ctx, stepWindow, contract.StateRunning, fmt.Sprintf("waiting until %s; rollback owner %s", start.UTC().Format(time.RFC3339), orApprover(r.in.RollbackOwner)))
		if err := r.waitForWindow(ctx, start.Sub(now)); err != nil {
			return r.canceled(ctx, err)
		}
	}
	r.rec.step(ctx, stepWindow, contract.StateDone, "window open; rollback owner "+orApprover(r.in.RollbackOwner))

	r.rec.phase("waiting for approval")
	r.rec.step(ctx, stepApproval, contract.StateRunning, "approvers: "+strings.Join(r.policy.Approvers, ", "))
	out, err := r.awaitApproval(ctx, start, func(ctx workflow.Context, kind string) {
		r.announce(ctx, kind, fmt.Sprintf("Rotation of %s is waiting for approval by one of: %s (not %s).",
			r.in.Target, strings.Join(r.policy.Approvers, ", "), r.in.RequestedBy), r.policy.Approvers...)
	})
	if err != nil {
		return r.canceled(ctx, err)
	}
	switch {
	case out.Expired:
		r.rec.step(ctx, stepApproval, contract.StateFailed, "expired")
		r.announce(ctx, "expired", fmt.Sprintf("Rotation of %s expired without approval; nothing was changed.", r.in.Target))
		res, err := r.end(ctx, contract.OutcomeExpired, "no approval within "+r.policy.ApprovalTimeout.String())
		return res, true, err
	case out.Rejected:
		r.rec.step(ctx, stepApproval, contract.StateFailed, "rejected by "+out.Actor)
		r.announce(ctx, "rejected", fmt.Sprintf("Rotation of %s was rejected by %s; nothing was changed.", r.in.Target, out.Actor))
		res, err := r.end(ctx, contract.OutcomeRejected, "rejected by "+out.Actor+": "+out.Comment)
		return res, true, err
	}
	r.res.ApprovedBy = out.Actor
	r.rec.status.ApprovedBy = out.Actor
	detail := "approved by " + out.Actor
	if r.in.RollbackOwner == "" {
		r.in.RollbackOwner = out.First
		detail += "; rollback owner " + out.First
	}
	r.rec.step(ctx, stepApproval, contract.StateDone, detail)

	// The approval may have come after the window closed.
	if r.in.Window > 0 && !start.IsZero() {
		now = workflow.Now(ctx)
		for end := start.Add(r.in.Window); !now.Before(end); end = start.Add(r.in.Window) {
			if r.policy.ClosedWindow != "next" {
				r.announce(ctx, "window-closed", fmt.Sprintf("Rotation of %s was approved after its window closed; nothing was changed.", r.in.Target))
				res, err := r.end(ctx, contract.OutcomeWindowClosed, "approved after the window closed at "+end.UTC().Format(time.RFC3339))
				return res, true, err
			}
			for !start.After(now) {
				start = start.Add(24 * time.Hour)
			}
			r.rec.add(ctx, systemActor, "window closed", "waiting for next window", start.UTC().Format(time.RFC3339))
			r.rec.phase("waiting for next window")
			if err := workflow.Sleep(ctx, start.Sub(now)); err != nil {
				return r.canceled(ctx, err)
			}
			now = workflow.Now(ctx)
		}
	}
	return contract.RotationResult{}, false, nil
}

// rotate changes the target: new version, env sink, redeploy, validate, promote. When a step
// fails, compensation puts the previous secret back, so the backend is never left half-rotated,
// and sets the outcome.
func (r *rotation) rotate(ctx workflow.Context) {
	var comp compensations
	if err := r.rotateSteps(ctx, &comp); err != nil {
		r.compensate(ctx, comp, err)
	}
}

func (r *rotation) rotateSteps(ctx workflow.Context, comp *compensations) error {
	r.rec.phase("rotating")

	var newV contract.VersionRef
	// Registered before the call: a create whose answer was lost (cancel, timeout) is found by
	// the run's key and marked failed too.
	comp.add("mark new version failed", func(ctx workflow.Context) error {
		// RollBack also undoes a promotion that completed just as the run was canceled.
		if newV.ID != "" && workflow.GetVersion(ctx, "compensate-with-rollback", workflow.DefaultVersion, 1) >= 1 {
			return workflow.ExecuteActivity(writeCtx(ctx), acts.RollBackSecret,
				activities.VersionInput{Target: r.in.Target, VersionID: newV.ID}).Get(ctx, nil)
		}
		return workflow.ExecuteActivity(writeCtx(ctx), acts.MarkSecretFailed,
			activities.VersionInput{Target: r.in.Target, VersionID: newV.ID, IdempotencyKey: r.key}).Get(ctx, nil)
	})
	if err := workflow.ExecuteActivity(writeCtx(ctx), acts.CreatePendingSecret,
		activities.SecretInput{Target: r.in.Target, IdempotencyKey: r.key}).Get(ctx, &newV); err != nil {
		r.rec.step(ctx, stepGenerate, contract.StateFailed, err.Error())
		return err
	}
	r.res.New = newV
	r.rec.step(ctx, stepGenerate, contract.StateDone, fmt.Sprintf("pending version %s (fingerprint %s)", newV.ID, newV.Fingerprint))

	// Registered before the write: a write that failed half-way is undone too.
	comp.add("restore previous secret", func(ctx workflow.Context) error {
		return r.restore(ctx, r.res.Previous, newV, "rollback")
	})
	var applied activities.ApplyResult
	if err := workflow.ExecuteActivity(writeCtx(ctx), acts.ApplySecret,
		activities.VersionInput{Target: r.in.Target, VersionID: newV.ID}).Get(ctx, &applied); err != nil {
		r.rec.step(ctx, stepUpdateEnv, contract.StateFailed, err.Error())
		return err
	}
	r.change(ctx, applied.Key, r.res.Previous, newV, "rotation")
	r.rec.step(ctx, stepUpdateEnv, contract.StateDone, fmt.Sprintf("%s in %s now fingerprint %s", applied.Key, applied.Path, applied.Fingerprint))

	if err := r.deploy(ctx); err != nil {
		r.rec.step(ctx, stepRedeploy, contract.StateFailed, err.Error())
		return err
	}
	r.rec.step(ctx, stepRedeploy, contract.StateDone, "backend restarted and healthy")

	if err := r.validate(ctx, "after rotation", newV.ID, r.res.Previous.ID); err != nil {
		r.rec.step(ctx, stepValidate, contract.StateFailed, err.Error())
		return err
	}
	r.rec.step(ctx, stepValidate, contract.StateDone, "login, /auth/me, old-secret rejection and privilege checks passed")

	if err := workflow.ExecuteActivity(writeCtx(ctx), acts.PromoteSecret,
		activities.VersionInput{Target: r.in.Target, VersionID: newV.ID}).Get(ctx, nil); err != nil {
		r.rec.step(ctx, stepPromote, contract.StateFailed, err.Error())
		return err
	}
	r.rec.step(ctx, stepPromote, contract.StateDone, fmt.Sprintf("%s current, %s previous", newV.ID, r.res.Previous.ID))
	r.announce(ctx, "completed", fmt.Sprintf(
		"JWT secret of %s rotated (fingerprint %s → %s), approved by %s. Existing sessions are invalid: users must log in again.",
		r.in.Target, r.res.Previous.Fingerprint, newV.Fingerprint, r.res.ApprovedBy))
	r.rec.step(ctx, stepAnnounceDone, contract.StateDone, "users must re-authenticate")
	return nil
}

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
		if p != nil && r.v >= 1 {
			r.res.Outcome = contract.OutcomePreempted
		}
	}
	r.res.Cause = why
	r.announce(dctx, "rolled-back", fmt.Sprintf("Rotation of %s rolled back: the backend runs on the previous secret %s again, verified.", r.in.Target, r.res.Previous.Fingerprint))
}

// restore puts a version back into the env sink, redeploys and checks it works again.
func (r *rotation) restore(ctx workflow.Context, to, from contract.VersionRef, why string) error {
	var applied activities.ApplyResult
	if err := workflow.ExecuteActivity(writeCtx(ctx), acts.ApplySecret,
		activities.VersionInput{Target: r.in.Target, VersionID: to.ID}).Get(ctx, &applied); err != nil {
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

func (r *rotation) deploy(ctx workflow.Context) error {
	timeout := r.policy.DeployTimeout + 30*time.Second
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: timeout,
		HeartbeatTimeout:    15 * time.Second,
		// A canceled run restores the previous secret only once this restart has stopped.
		WaitForCancellation: true,
		// A second restart is harmless; more would hide a broken deploy path.
		RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 2, InitialInterval: 2 * time.Second},
	})
	var out activities.DeployResult
	if err := workflow.ExecuteActivity(actx, acts.Deploy, activities.DeployInput{Target: r.in.Target}).Get(ctx, &out); err != nil {
		return err
	}
	r.rec.add(ctx, systemActor, "redeploy", "healthy", fmt.Sprintf("ready after %d ms", out.ReadyMS))
	return nil
}

func (r *rotation) validate(ctx workflow.Context, stage, live, retired string) error {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 3},
	})
	var results contract.ProbeResults
	if err := workflow.ExecuteActivity(actx, acts.Validate,
		activities.ValidateInput{Target: r.in.Target, LiveVersionID: live, RetiredVersionID: retired}).Get(ctx, &results); err != nil {
		return err
	}
	r.addValidation(stage, results)
	if !results.OK() {
		return errors.New(failedResults(results))
	}
	return nil
}

// observe waits out the observation window, during which the rollback owner may roll back.
func (r *rotation) observe(ctx workflow.Context) {
	if r.policy.ObservationWindow <= 0 {
		r.rec.step(ctx, stepObserve, contract.StateSkipped, "no observation window configured")
		r.res.Outcome = contract.OutcomeCompleted
		return
	}
	r.rec.phase("observation window")
	r.rec.step(ctx, stepObserve, contract.StateRunning, fmt.Sprintf("%s; %s may roll back", r.policy.ObservationWindow, r.in.RollbackOwner))
	if r.v == workflow.DefaultVersion {
		r.observeSignals(ctx)
		return
	}
	r.rollbackOpen = true
	got, err := workflow.AwaitWithTimeout(ctx, r.policy.ObservationWindow, func() bool { return r.rollbackBy != nil })
	r.rollbackOpen = false
	switch {
	case err != nil:
		// The rotation is done and validated; canceling the wait leaves the new secret live.
		r.res.Outcome = contract.OutcomeCanceled
		r.res.Cause = "canceled during the observation window; the new secret stays live, validated"
		r.rec.step(ctx, stepObserve, contract.StateSkipped, r.res.Cause)
	case !got:
		r.rec.step(ctx, stepObserve, contract.StateDone, "no rollback requested")
		r.res.Outcome = contract.OutcomeCompleted
	default:
		r.manualRollback(ctx, *r.rollbackBy)
	}
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
		err = workflow.ExecuteActivity(writeCtx(dctx), acts.RollBackSecret,
			activities.VersionInput{Target: r.in.Target, VersionID: r.res.New.ID}).Get(dctx, nil)
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
	if r.v == workflow.DefaultVersion {
		dropStale(ctx, r.rec, workflow.GetSignalChannel(ctx, contract.SignalResolve), "resolve", "sent before the escalation; send it again once the target is fixed")
	}
	r.rec.add(ctx, systemActor, "escalation", "waiting for resolve", cause)
	mention := r.policy.Approvers
	if !slices.Contains(mention, r.in.RollbackOwner) {
		mention = append([]string{r.in.RollbackOwner}, mention...)
	}
	text := fmt.Sprintf(
		"ROLLBACK FAILED for %s: %s. The target may be half-rotated (new secret %s, previous %s). "+
			"A human must bring it back to the store's current version %s (fingerprint %s): the next rotation's pre-checks refuse any drift. Then send 'resolve'.",
		r.in.Target, cause, r.res.New.Fingerprint, r.res.Previous.Fingerprint, current.ID, current.Fingerprint)
	r.announce(ctx, "escalation", text, mention...)
	if r.v == workflow.DefaultVersion {
		r.awaitResolveSignals(ctx, text, mention)
		return
	}
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
	}
}

// preemption returns the emergency run's preemption, if one arrived.
func (r *rotation) preemption(ctx workflow.Context) *contract.Preemption {
	var p contract.Preemption
	if r.preempted == nil && workflow.GetSignalChannel(ctx, contract.SignalPreempt).ReceiveAsync(&p) {
		r.preempted = &p
	}
	return r.preempted
}

// release tells the emergency run that preempted this rotation that the target is free now, so
// it starts its own rotation without polling for the id.
func (r *rotation) release(ctx workflow.Context) {
	if r.v == workflow.DefaultVersion || r.preempted == nil {
		return
	}
	err := workflow.SignalExternalWorkflow(ctx, r.preempted.By, "", contract.SignalRotationReleased,
		contract.Released{RotationID: workflow.GetInfo(ctx).WorkflowExecution.ID, Outcome: r.res.Outcome}).Get(ctx, nil)
	if err != nil {
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

func (r *rotation) canceled(ctx workflow.Context, err error) (contract.RotationResult, bool, error) {
	dctx, cancel := workflow.NewDisconnectedContext(ctx)
	defer cancel()
	detail, outcome := "canceled before any change", contract.OutcomeCanceled
	if p := r.preemption(dctx); p != nil {
		detail = fmt.Sprintf("preempted by %s (%s) before any change", p.By, p.Reason)
		if r.v >= 1 {
			outcome = contract.OutcomePreempted
		}
	}
	r.rec.add(dctx, systemActor, "canceled", outcome, detail)
	r.res.Outcome = outcome
	r.res.Cause = detail
	r.rec.status.Outcome = outcome
	r.rec.phase("closed: " + outcome)
	r.rec.add(dctx, systemActor, "closed", outcome, detail)
	r.res.Timeline = r.rec.timeline
	r.release(dctx)
	return r.res, true, err
}

func (r *rotation) approvalPolicy() approvalPolicy {
	return approvalPolicy{
		Approvers: r.policy.Approvers, Requester: r.in.RequestedBy,
		Timeout: r.policy.ApprovalTimeout, Remind: r.policy.ReminderInterval,
	}
}

func (r *rotation) plannedText() string {
	window := "as soon as approved"
	if !r.in.WindowStart.IsZero() {
		window = "from " + r.in.WindowStart.UTC().Format(time.RFC3339)
		if r.in.Window > 0 {
			window += " for " + r.in.Window.String()
		}
	}
	return fmt.Sprintf("Planned JWT secret rotation of %s (%s), requested by %s: %s. Window: %s. Rollback owner: %s. "+
		"User impact: every existing session and token becomes invalid; users must log in again.",
		r.in.Target, r.in.Mode, r.in.RequestedBy, r.in.Reason, window, orApprover(r.in.RollbackOwner))
}

func (r *rotation) announce(ctx workflow.Context, kind, text string, mention ...string) {
	announce(ctx, r.rec, notify.Message{Target: r.in.Target, Channel: r.policy.Channel, Kind: kind, Text: text, Mention: mention})
}

func (r *rotation) change(ctx workflow.Context, item string, from, to contract.VersionRef, why string) {
	r.res.Changes = append(r.res.Changes, contract.ConfigChange{
		At: workflow.Now(ctx).UTC(), Item: item, FromVersion: from.ID, FromFingerprint: from.Fingerprint,
		ToVersion: to.ID, ToFingerprint: to.Fingerprint, Reason: why,
	})
}

func (r *rotation) addValidation(stage string, rs contract.ProbeResults) {
	if len(rs) == 0 {
		return
	}
	r.res.Validations = append(r.res.Validations, contract.Validation{Stage: stage, OK: rs.OK(), Results: rs})
}

// end closes the run with an outcome that changed nothing.
func (r *rotation) end(ctx workflow.Context, outcome, cause string) (contract.RotationResult, error) {
	r.res.Outcome = outcome
	r.res.Cause = cause
	return r.finish(ctx)
}

func (r *rotation) fail(ctx workflow.Context, outcome, cause string) (contract.RotationResult, error) {
	r.announce(ctx, outcome, fmt.Sprintf("Rotation of %s stopped before any change: %s", r.in.Target, cause))
	return r.end(ctx, outcome, cause)
}

// finish writes the summary; failure outcomes fail the run so the Web UI shows them as failed.
func (r *rotation) finish(ctx workflow.Context) (contract.RotationResult, error) {
	r.dec.closing = true
	r.rec.status.Outcome = r.res.Outcome
	r.rec.phase("closed: " + r.res.Outcome)
	r.res.Summary = fmt.Sprintf("Rotation of %s: %s.", r.in.Target, r.res.Outcome)
	if r.res.Cause != "" {
		r.res.Summary += " Cause: " + r.res.Cause + "."
	}
	if r.res.New.ID != "" && r.res.Outcome == contract.OutcomeCompleted {
		r.res.Summary += fmt.Sprintf(" Secret %s → %s, approved by %s.", r.res.Previous.ID, r.res.New.ID, r.res.ApprovedBy)
	}
	r.rec.add(ctx, systemActor, "closed", r.res.Outcome, r.res.Summary)
	r.res.Timeline = r.rec.timeline
	if r.v >= 1 {
		dctx, cancel := workflow.NewDisconnectedContext(ctx)
		defer cancel()
		r.release(dctx)
	}
	switch r.res.Outcome {
	case contract.OutcomeRolledBack, contract.OutcomeRollbackFailed, contract.OutcomePrecheckFailed, contract.OutcomeSuperseded:
		return r.res, temporal.NewNonRetryableApplicationError(r.res.Summary, contract.ErrTypeRunbookFailed, nil, r.res)
	case contract.OutcomeCanceled, contract.OutcomePreempted:
		return r.res, temporal.NewCanceledError(r.res.Summary)
	}
	return r.res, nil
}

func failedChecks(cs []contract.Check) string {
	var out []string
	for _, c := range cs {
		if !c.OK {
			out = append(out, c.Name+": "+c.Detail)
		}
	}
	return strings.Join(out, "; ")
}

func failedResults(rs contract.ProbeResults) string {
	var out []string
	for _, f := range rs.Failed() {
		out = append(out, fmt.Sprintf("%s (want %d, got %d%s)", f.Name, f.Expected, f.Got, detailSuffix(f.Detail)))
	}
	return "validation failed: " + strings.Join(out, "; ")
}

func detailSuffix(d string) string {
	if d == "" {
		return ""
	}
	return ": " + d
}

func orApprover(owner string) string {
	if owner == "" {
		return "the approver"
	}
	return owner
}
