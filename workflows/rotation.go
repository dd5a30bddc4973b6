package workflows

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

// stageAfterRotation names the validation of the new secret after the redeploy; an emergency
// run's verification reads it from the rotation's result.
const stageAfterRotation = "after rotation"

// SecretRotation is runbook 2: JWT secret rotation.
func SecretRotation(ctx workflow.Context, in contract.RotationInput) (contract.RotationResult, error) {
	r := &rotation{in: in, startArgs: in.StartArgs()}
	ctx, r.timeouts = withTimeouts(ctx)
	ctx, err := r.setup(ctx)
	if err != nil {
		return contract.RotationResult{}, err
	}
	return r.run(ctx)
}

type rotation struct {
	in contract.RotationInput
	// startArgs is the input as its signer chose it, before the run fills in its defaults: the
	// start statement binds it.
	startArgs string
	rec       *record
	policy    contract.Policy
	res       contract.RotationResult
	key       string
	dec       *intake
	gate      *gate
	// rollbackOpen and resolveOpen say which decision the run takes now; rollbackBy and resolvedBy
	// hold the accepted one for the main flow.
	rollbackOpen, resolveOpen bool
	rollbackBy, resolvedBy    *contract.Decision
	// preempted is set when an emergency run takes the target (runs on Updates only).
	preempted *contract.Preemption
	// peers counts the preemptions received (each counts only with its seal, peer.go), opening
	// those still being checked.
	peers   inbox
	opening int
	// timeouts are the run's activity timeouts, set from its policy.
	timeouts *contract.Timeouts
	// quick says an emergency cutover runs its quick steps as local activities and does not
	// announce its completion itself.
	quick bool
	// parent is what the server says of the run that started a scheduled or emergency rotation
	// (readParent); nil for other runs.
	parent *contract.RunFacts
	// pendingLeft says the compensation could not mark the run's new version failed: it may
	// still be pending in the store, blocking the next rotation until it is settled.
	pendingLeft bool
}

// setup returns the context the run works under: a signed cancel cancels it.
func (r *rotation) setup(ctx workflow.Context) (workflow.Context, error) {
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
	r.dec.gateRules(func() *gate { return r.gate })
	r.dec.rules[contract.DecisionRollback] = r.rollbackRule
	r.dec.rules[contract.DecisionResolve] = r.resolveRule
	runCtx := r.dec.cancellable(ctx, func(actor string) bool {
		return actor == r.in.RequestedBy || actor == r.in.RollbackOwner || slices.Contains(r.policy.Approvers, actor)
	})
	if err := r.dec.register(ctx); err != nil {
		return ctx, err
	}
	r.peers = inbox{}
	preempt := workflow.GetSignalChannel(ctx, contract.SignalPreempt)
	workflow.Go(ctx, func(ctx workflow.Context) {
		// Disconnected: the emergency run cancels this run right after it preempts, and the
		// check must still finish.
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		var p contract.Preemption
		for preempt.Receive(dctx, &p) {
			r.opening++
			msg := p
			msg.Seal = nil
			ok := r.peers.open(dctx, r.rec, contract.SignalPreempt, msg, p.Seal, contract.InvalidationID(r.in.Target))
			r.opening--
			if ok && r.preempted == nil {
				r.preempted = &msg
			}
			p = contract.Preemption{}
		}
	})
	return runCtx, r.rec.registerQueries(ctx)
}

func (r *rotation) run(ctx workflow.Context) (res contract.RotationResult, err error) {
	r.rec.add(ctx, r.in.RequestedBy, "requested", r.in.Mode, r.in.Reason)
	err = r.in.Validate(workflow.Now(ctx))
	// Emergency mode skips the approval gate, so it is only honoured for a child of an emergency
	// run, which had its own; started on its own it would be a way around the second person.
	if err == nil && r.in.Mode == contract.ModeEmergency && (workflow.GetInfo(ctx).ParentWorkflowExecution == nil || r.in.ApprovedBy == "") {
		err = errors.New("emergency mode runs only as the child of an approved EmergencyInvalidation run")
	}
	if p := workflow.GetInfo(ctx).ParentWorkflowExecution; err == nil && r.in.CutoverOf != "" &&
		(r.in.Mode != contract.ModeEmergency || p == nil || p.ID != r.in.CutoverOf) {
		err = errors.New("cutover checks run only for the parent emergency run")
	}
	if err != nil {
		return r.res, r.dec.refuseInput(ctx, "rotation", r.in.Statement, err)
	}
	// The hard cutover runs its quick steps back to back on this worker, and leaves the
	// announcement to the emergency run, which makes it once the cutover is verified.
	if r.in.Mode == contract.ModeEmergency {
		r.quick = true
		ctx = withLocalActivities(ctx)
	}
	if err := r.loadPolicy(ctx); err != nil {
		return r.res, r.dec.policyFailed(ctx, err)
	}
	r.readParent(ctx)
	if err := r.dec.verifiedStart(ctx, r.in.RequestedBy, r.in.Statement, r.checkStart,
		func() string { return r.startedBy(ctx) }); err != nil {
		return r.res, err
	}
	// From here every way out goes through the one finish: a step returns a *stop to end the run.
	defer func() { res, err = r.close(ctx, err) }()
	if err := r.precheck(ctx); err != nil {
		return r.res, err
	}
	if r.in.Mode == contract.ModeEmergency {
		return r.res, r.emergency(ctx)
	}

	r.announce(ctx, "planned", r.plannedText(), r.policy.Approvers...)
	r.rec.step(ctx, stepCommunicate, contract.StateDone, "planned rotation and forced re-authentication announced")

	if err := r.awaitWindowAndApproval(ctx); err != nil {
		return r.res, err
	}
	if err := r.recheck(ctx); err != nil {
		return r.res, err
	}
	// rotate compensates its own failures and leaves the outcome set.
	r.rotate(ctx)
	if r.res.Outcome == "" {
		r.observe(ctx)
	}
	return r.res, nil
}

// emergency is the hard cutover: the parent run already announced and got its go-ahead.
func (r *rotation) emergency(ctx workflow.Context) error {
	r.rec.step(ctx, stepCommunicate, contract.StateSkipped, "emergency run announces itself")
	r.rec.step(ctx, stepWindow, contract.StateSkipped, "emergency: no window")
	r.rec.step(ctx, stepApproval, contract.StateDone, "go-ahead given in the emergency run by "+r.in.ApprovedBy)
	r.res.ApprovedBy = r.in.ApprovedBy
	r.rotate(ctx)
	if r.res.Outcome == "" {
		r.rec.step(ctx, stepObserve, contract.StateSkipped, "emergency: no observation wait")
		r.res.Outcome = contract.OutcomeCompleted
	}
	return nil
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
	comp.add("mark new version failed", func(ctx workflow.Context) (err error) {
		// If this fails, the new version may stay pending: the escalation says how to settle it.
		defer func() { r.pendingLeft = err != nil }()
		// RollBack also undoes a promotion that completed just as the run was canceled.
		if newV.ID != "" {
			return workflow.ExecuteActivity(writeCtx(ctx), act.RollBackSecret,
				contract.VersionInput{Target: r.in.Target, VersionID: newV.ID}).Get(ctx, nil)
		}
		return workflow.ExecuteActivity(writeCtx(ctx), act.MarkSecretFailed,
			contract.VersionInput{Target: r.in.Target, VersionID: newV.ID, IdempotencyKey: r.key}).Get(ctx, nil)
	})
	if err := execute(writeCtx(ctx), act.CreatePendingSecret,
		contract.SecretInput{Target: r.in.Target, IdempotencyKey: r.key}).Get(ctx, &newV); err != nil {
		r.rec.step(ctx, stepGenerate, contract.StateFailed, err.Error())
		return err
	}
	r.res.New = newV
	r.rec.step(ctx, stepGenerate, contract.StateDone, fmt.Sprintf("pending version %s (fingerprint %s)", newV.ID, newV.Fingerprint))

	// Registered before the write: a write that failed half-way is undone too.
	comp.add("restore previous secret", func(ctx workflow.Context) error {
		return r.restore(ctx, r.res.Previous, newV, "rollback")
	})
	var applied contract.ApplyResult
	if err := execute(writeCtx(ctx), act.ApplySecret,
		contract.VersionInput{Target: r.in.Target, VersionID: newV.ID}).Get(ctx, &applied); err != nil {
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

	validate := r.validate
	if r.quick && r.in.CutoverOf != "" {
		validate = r.validateCutover
	}
	if err := validate(ctx, stageAfterRotation, newV.ID, r.res.Previous.ID); err != nil {
		r.rec.step(ctx, stepValidate, contract.StateFailed, err.Error())
		return err
	}
	r.rec.step(ctx, stepValidate, contract.StateDone, "login, /auth/me, old-secret rejection and privilege checks passed"+deferredNote(r.res.Validations))

	if err := execute(writeCtx(ctx), act.PromoteSecret,
		contract.VersionInput{Target: r.in.Target, VersionID: newV.ID}).Get(ctx, nil); err != nil {
		r.rec.step(ctx, stepPromote, contract.StateFailed, err.Error())
		return err
	}
	r.rec.step(ctx, stepPromote, contract.StateDone, fmt.Sprintf("%s current, %s previous", newV.ID, r.res.Previous.ID))
	if r.quick {
		r.rec.step(ctx, stepAnnounceDone, contract.StateSkipped, "the emergency run announces the verified cutover and its user impact")
		return nil
	}
	r.announce(ctx, "completed", fmt.Sprintf(
		"JWT secret of %s rotated (fingerprint %s → %s), approved by %s. Existing sessions are invalid: users must log in again.",
		r.in.Target, r.res.Previous.Fingerprint, newV.Fingerprint, r.res.ApprovedBy))
	r.rec.step(ctx, stepAnnounceDone, contract.StateDone, "users must re-authenticate")
	return nil
}

// reads marks ctx for a read (policy, freezes, pre-checks): a local activity, since each trip
// through the task queue is server work, and fifty rotations at once queue on it.
func (r *rotation) reads(ctx workflow.Context) workflow.Context {
	return withLocalActivities(ctx)
}

func (r *rotation) deploy(ctx workflow.Context) error {
	timeout := r.policy.DeployTimeout + 30*time.Second
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: timeout,
		HeartbeatTimeout:    heartbeatTimeout(ctx),
		// A canceled run restores the previous secret only once this restart has stopped.
		WaitForCancellation: true,
		// A second restart is harmless; more would hide a broken deploy path.
		RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 2, InitialInterval: 2 * time.Second},
	})
	var out contract.DeployResult
	if err := workflow.ExecuteActivity(actx, act.Deploy, contract.DeployInput{Target: r.in.Target}).Get(ctx, &out); err != nil {
		return err
	}
	r.rec.add(ctx, systemActor, "redeploy", "healthy", fmt.Sprintf("ready after %d ms", out.ReadyMS))
	return nil
}

// validateCtx is for the validation after a redeploy.
func validateCtx(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		// The activity heartbeats every 2 s: a dead worker is noticed within the heartbeat
		// timeout (config timeouts.heartbeat, 15 s by default), not a minute.
		HeartbeatTimeout: heartbeatTimeout(ctx),
		RetryPolicy:      &temporal.RetryPolicy{MaximumAttempts: 3},
	})
}

func (r *rotation) validate(ctx workflow.Context, stage, live, retired string) error {
	var results contract.ProbeResults
	// Only the restrictions of the parent emergency run count: validation never reads the live
	// control state to decide what to check.
	if err := execute(validateCtx(ctx), act.Validate,
		contract.ValidateInput{Target: r.in.Target, LiveVersionID: live, RetiredVersionID: retired, Restricted: r.in.Restricted}).Get(ctx, &results); err != nil {
		return err
	}
	r.addValidation(stage, results)
	if !results.OK() {
		return errors.New(failedResults(results))
	}
	return nil
}

// validateCutover is validate for the rotation of an emergency run: that run's cutover checks
// run in the same pass and go back to it in the result. Only the rotation's own checks decide
// here; a failed cutover check is the emergency run's to escalate, and must not put the
// possibly leaked secret back.
func (r *rotation) validateCutover(ctx workflow.Context, stage, live, retired string) error {
	var out contract.CutoverValidation
	if err := execute(validateCtx(ctx), act.ValidateCutover, contract.ValidateInput{Target: r.in.Target,
		LiveVersionID: live, RetiredVersionID: retired, Restricted: r.in.Restricted, CutoverOf: r.in.CutoverOf}).Get(ctx, &out); err != nil {
		return err
	}
	r.addValidation(stage, out.Rotation)
	r.res.Cutover = out.Cutover
	r.rec.add(ctx, systemActor, "cutover checks", fmt.Sprintf("%d run", len(out.Cutover)),
		"with this validation, for "+r.in.CutoverOf+", which judges them")
	if !out.Rotation.OK() {
		return errors.New(failedResults(out.Rotation))
	}
	return nil
}

// deferredNote tells a passed validation's step how many checks a route restriction deferred.
func deferredNote(vs []contract.Validation) string {
	if len(vs) == 0 {
		return ""
	}
	if n := len(vs[len(vs)-1].Results.Deferred()); n > 0 {
		return fmt.Sprintf("; %d checks deferred until the restriction is lifted", n)
	}
	return ""
}

func (r *rotation) announce(ctx workflow.Context, kind, text string, mention ...string) {
	announce(ctx, r.rec, contract.Message{Target: r.in.Target, Channel: r.policy.Channel, Kind: kind, Text: text, Mention: mention})
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

// fail ends a run that changed nothing. A check that failed because the run was canceled (or
// preempted) meanwhile ends it as that, not as a failed check.
func (r *rotation) fail(ctx workflow.Context, outcome, cause string) error {
	if ctx.Err() != nil {
		return r.canceled(ctx)
	}
	r.announce(ctx, outcome, fmt.Sprintf("Rotation of %s stopped before any change: %s", r.in.Target, cause))
	return &stop{outcome: outcome, cause: cause}
}

// close is the run's one finish: a *stop names the outcome, and finish records it.
func (r *rotation) close(ctx workflow.Context, err error) (contract.RotationResult, error) {
	var s *stop
	if err != nil && !errors.As(err, &s) {
		return r.res, err
	}
	if s != nil {
		r.res.Outcome, r.res.Cause = s.outcome, s.cause
	}
	return r.finish(ctx)
}

// finish writes the summary; failure outcomes fail the run so the Web UI shows them as failed.
func (r *rotation) finish(ctx workflow.Context) (contract.RotationResult, error) {
	r.dec.settle(ctx, r.res.Outcome)
	r.res.Summary = summary("Rotation of "+r.in.Target, r.res.Outcome, r.res.Cause)
	if r.res.New.ID != "" && r.res.Outcome == contract.OutcomeCompleted {
		r.res.Summary += fmt.Sprintf(" Secret %s → %s, approved by %s.", r.res.Previous.ID, r.res.New.ID, r.res.ApprovedBy)
	}
	r.rec.add(ctx, systemActor, "closed", r.res.Outcome, r.res.Summary)
	r.res.Timeline = r.rec.timeline
	rctx, rcancel := workflow.NewDisconnectedContext(ctx)
	defer rcancel()
	r.release(rctx)
	switch r.res.Outcome {
	case contract.OutcomeRolledBack, contract.OutcomeRollbackFailed, contract.OutcomePrecheckFailed, contract.OutcomeSuperseded, contract.OutcomeFrozen:
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
