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

// Checklist of runbook 3, in order.
const (
	stepAnnounce   = "announce emergency change to responders"
	stepGoAhead    = "go-ahead (second person or break glass)"
	stepRevoke     = "invalidate active sessions (logout policy)"
	stepRestrict   = "restrict sensitive routes"
	stepRotate     = "rotate secret and redeploy backend"
	stepVerifyOld  = "verify old tokens fail and new tokens succeed"
	stepCritical   = "confirm critical endpoints return expected auth statuses"
	stepUserImpact = "communicate user impact and re-login requirement"
	stepLift       = "lift route restrictions"
)

// EmergencyInvalidation is runbook 3: cut off every active token and session now, then fix the
// root by rotating the secret, then verify.
func EmergencyInvalidation(ctx workflow.Context, in contract.InvalidationInput) (contract.InvalidationResult, error) {
	e := &invalidation{in: in, startArgs: in.StartArgs()}
	ctx, e.timeouts = withTimeouts(ctx)
	ctx, err := e.setup(ctx)
	if err != nil {
		return contract.InvalidationResult{}, err
	}
	return e.run(ctx)
}

type invalidation struct {
	in contract.InvalidationInput
	// startArgs is the input as its signer chose it, before the run fills in its defaults: the
	// start statement binds it.
	startArgs string
	rec       *record
	policy    contract.Policy
	res       contract.InvalidationResult
	runID     string
	// restricted is true while routes are restricted by this run; liftAt is when their TTL ends,
	// counted from when they were restricted.
	restricted bool
	liftAt     time.Time
	canaryGone bool
	// canaryAt is when the canary session logged in, deployCheckedAt when the deploy path's dry
	// run passed (zero if not).
	canaryAt, deployCheckedAt time.Time
	dec                       *intake
	gate                      *gate
	// peers counts the hand-overs received; each counts only with its seal (peer.go).
	peers inbox
	// liftOpen says a lift-restrictions is taken now; liftBy holds the accepted one.
	liftOpen bool
	liftBy   *contract.Decision
	// timeouts are the run's activity timeouts, set from its policy.
	timeouts *contract.Timeouts
}

// setup returns the context the run works under: a signed cancel cancels it.
func (e *invalidation) setup(ctx workflow.Context) (workflow.Context, error) {
	e.in.RequestedBy = strings.TrimSpace(e.in.RequestedBy)
	steps := []string{stepAnnounce, stepGoAhead, stepRevoke, stepRestrict, stepRotate, stepVerifyOld, stepCritical, stepUserImpact, stepLift}
	e.rec = newRecord("emergency-invalidation", e.in.Target, e.in.RequestedBy, steps...)
	e.runID = workflow.GetInfo(ctx).WorkflowExecution.ID
	if e.in.RestrictStatus == 0 {
		e.in.RestrictStatus = 503
	}
	e.res.Target = e.in.Target
	e.res.BreakGlass = e.in.BreakGlass
	e.rec.status.BreakGlass = e.in.BreakGlass
	e.dec = newIntake(e.rec)
	e.peers = inbox{}
	e.dec.gateRules(func() *gate { return e.gate })
	e.dec.rules[contract.DecisionLiftRestrictions] = e.liftRule
	runCtx := e.dec.cancellable(ctx, func(actor string) bool {
		return actor == e.in.RequestedBy || slices.Contains(e.policy.Approvers, actor)
	})
	if err := e.dec.register(ctx); err != nil {
		return ctx, err
	}
	return runCtx, e.rec.registerQueries(ctx)
}

// loadPolicy loads the target's policy and opens the decision intake on it.
func (e *invalidation) loadPolicy(ctx workflow.Context) error {
	if err := workflow.ExecuteActivity(urgent(shortCtx(ctx)), act.LoadPolicy, e.in.Target).Get(ctx, &e.policy); err != nil {
		return err
	}
	*e.timeouts = e.policy.Timeouts
	e.gate = newGate(e.rec, e.policy.Approvers, e.in.RequestedBy, e.policy.EmergencyQuorum)
	e.gate.open = !e.in.BreakGlass
	e.dec.load(e.policy)
	return nil
}

// checkStart refuses an emergency run that its requester did not sign (break glass included),
// or that runs under any id but invalidate-<target>: one emergency run per target.
func (e *invalidation) checkStart(ctx workflow.Context) error {
	if id, got := contract.InvalidationID(e.in.Target), workflow.GetInfo(ctx).WorkflowExecution.ID; got != id {
		return fmt.Errorf("an emergency run on %s runs only under the id %s, not %s", e.in.Target, id, got)
	}
	if err := e.in.CheckTexts(); err != nil {
		return err
	}
	return e.dec.verifyStart(ctx, e.in.StartAction(), e.in.RequestedBy, e.in.Reason, e.startArgs, e.in.Statement)
}

func (e *invalidation) run(ctx workflow.Context) (res contract.InvalidationResult, err error) {
	e.rec.add(ctx, e.in.RequestedBy, "requested", e.in.Trigger, e.in.Reason)
	if err := e.in.Validate(); err != nil {
		return e.res, e.dec.refuseInput(ctx, "invalidation", e.in.Statement, err)
	}
	if err := e.loadPolicy(ctx); err != nil {
		return e.res, e.dec.policyFailed(ctx, err)
	}
	if err := e.dec.verifiedStart(ctx, e.in.RequestedBy, e.in.Statement, e.checkStart,
		func() string { return "signed " + e.in.StartAction() }); err != nil {
		return e.res, err
	}
	// The starter always uses the emergency queue; a run started elsewhere (by hand, or by an
	// older starter that guessed the queue from its pollers) says so.
	if q := workflow.GetInfo(ctx).TaskQueueName; q != contract.EmergencyTaskQueue {
		e.rec.add(ctx, systemActor, "task queue", q, "this run was not started on "+contract.EmergencyTaskQueue+
			": it runs on the routine queue, first by priority; start emergency runs with the starter")
	}
	// Breaking glass skips the second person, so only someone who could approve may do it.
	if e.in.BreakGlass && !slices.Contains(e.policy.Approvers, e.in.RequestedBy) {
		err := fmt.Errorf("break glass is for the approvers of %s (%s); %s is not one", e.in.Target,
			strings.Join(e.policy.Approvers, ", "), e.in.RequestedBy)
		e.rec.add(ctx, e.in.RequestedBy, "BREAK GLASS", "denied", err.Error())
		return e.res, temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrTypeInvalidInput, err)
	}

	e.rec.phase("announcing")
	flag := ""
	if e.in.BreakGlass {
		flag = "BREAK GLASS (no second approver) — "
	}
	e.announce(ctx, "emergency", fmt.Sprintf("%sEMERGENCY token invalidation on %s (%s) requested by %s: %s%s. All sessions will be cut off and JWT_SECRET rotated.",
		flag, e.in.Target, e.in.Trigger, e.in.RequestedBy, e.in.Reason, incidentNote(e.in.IncidentID)), e.policy.Approvers...)
	e.rec.step(ctx, stepAnnounce, contract.StateDone, "responders notified")

	// The run checks its deploy path while it waits for the go-ahead: a broken one shows before
	// anyone approves, and the rotation then need not repeat the dry run after the go-ahead.
	deployF := workflow.ExecuteActivity(urgent(precheckCtx(ctx)), act.CheckDeployPath, e.in.Target)
	// A session issued before the go-ahead, to prove afterwards that it is dead.
	if err := workflow.ExecuteActivity(urgent(shortCtx(ctx)), act.PrepareCanary,
		contract.CanaryInput{Target: e.in.Target, RunID: e.runID}).Get(ctx, nil); err != nil {
		e.rec.add(ctx, systemActor, "prepare canary session", contract.StateFailed, err.Error())
	} else {
		e.canaryAt = workflow.Now(ctx)
	}
	if err := deployF.Get(ctx, nil); err != nil {
		e.rec.add(ctx, systemActor, "deploy path dry run", contract.StateFailed,
			err.Error()+"; the rotation will stop at its pre-checks unless the deploy path is fixed")
	} else {
		e.deployCheckedAt = workflow.Now(ctx)
		e.rec.add(ctx, systemActor, "deploy path dry run", "passed", "")
	}

	// From here every way out goes through the one finish: a step returns a *stop to end the run.
	defer func() { res, err = e.close(ctx, err) }()
	if err := e.goAhead(ctx); err != nil {
		return e.res, err
	}
	return e.res, e.contain(ctx)
}

// goAhead waits for a second person, or takes the break-glass path.
func (e *invalidation) goAhead(ctx workflow.Context) error {
	if e.in.BreakGlass {
		e.res.ApprovedBy = e.in.RequestedBy + " (break glass)"
		e.rec.status.ApprovedBy = e.res.ApprovedBy
		e.rec.add(ctx, e.in.RequestedBy, "BREAK GLASS", "proceeding without a second approver", e.in.Reason)
		if err := workflow.UpsertTypedSearchAttributes(ctx, contract.AttrBreakGlass.ValueSet(true)); err != nil {
			e.rec.add(ctx, systemActor, "flag break glass search attribute", contract.StateFailed, err.Error())
		}
		e.announce(ctx, "break-glass-review", fmt.Sprintf("BREAK GLASS: %s invalidated %s alone (%s). Approvers, review run %s after the fact.",
			e.in.RequestedBy, e.in.Target, e.in.Reason, e.runID), e.policy.Approvers...)
		e.rec.step(ctx, stepGoAhead, contract.StateDone, "break glass by "+e.in.RequestedBy)
		e.res.GoAheadAt = workflow.Now(ctx).UTC()
		return nil
	}
	e.rec.phase("waiting for go-ahead")
	e.rec.step(ctx, stepGoAhead, contract.StateRunning, "approvers: "+strings.Join(e.policy.Approvers, ", "))
	out, err := e.awaitApproval(ctx, func(ctx workflow.Context, kind string) {
		e.announce(ctx, kind, fmt.Sprintf("ESCALATION: emergency invalidation of %s still waits for a go-ahead from one of %s (requested by %s: %s).",
			e.in.Target, strings.Join(e.policy.Approvers, ", "), e.in.RequestedBy, e.in.Reason), e.policy.Approvers...)
	})
	if err != nil {
		e.dropCanary(ctx)
		return &stop{outcome: contract.OutcomeCanceled, cause: e.dec.cancelCause()}
	}
	if out.Rejected {
		e.rec.step(ctx, stepGoAhead, contract.StateFailed, "rejected by "+out.Actor)
		e.announce(ctx, "rejected", fmt.Sprintf("Emergency invalidation of %s rejected by %s; nothing was changed.", e.in.Target, out.Actor))
		e.dropCanary(ctx)
		return &stop{outcome: contract.OutcomeRejected, cause: "rejected by " + out.Actor + ": " + out.Comment}
	}
	e.res.ApprovedBy = out.Actor
	e.rec.status.ApprovedBy = out.Actor
	e.res.GoAheadAt = workflow.Now(ctx).UTC()
	e.rec.step(ctx, stepGoAhead, contract.StateDone, "go-ahead from "+out.Actor)
	return nil
}

// contain runs the controls: fastest first, then the root fix, then verification.
func (e *invalidation) contain(ctx workflow.Context) error {
	e.rec.phase("containing")
	var comp compensations

	// Stop the exposure first: logout policy and route restrictions in parallel.
	// Both start in the workflow task that took the go-ahead, as local activities on this worker:
	// a trip through the task queue costs a busy machine a hundred milliseconds or more of
	// exposure. The verification and the canary's cleanup run so too.
	revokeF := startControl(ctx, act.RevokeSessions, contract.RevokeInput{Target: e.in.Target, RunID: e.runID})
	var restrictF workflow.Future
	if len(e.in.Restrict) > 0 {
		// Registered before the call: a restriction applied by a call that then timed out is lifted too.
		comp.add("lift route restrictions", func(ctx workflow.Context) error {
			if e.in.KeepRestrictions {
				e.rec.add(ctx, systemActor, "lift route restrictions", contract.StateSkipped, "operator chose to keep them")
				return nil
			}
			return e.lift(ctx, "run failed")
		})
		restrictF = startControl(ctx, act.RestrictRoutes,
			contract.RoutesInput{Target: e.in.Target, Prefixes: e.in.Restrict, Status: e.in.RestrictStatus})
	}
	var rev contract.RevokeResult
	if err := revokeF.Get(ctx, &rev); err != nil {
		e.rec.step(ctx, stepRevoke, contract.StateFailed, err.Error())
		// Still go on to the rotation: it cuts off every token as well.
	} else {
		e.res.CutoffAt = rev.Cutoff
		e.res.OldTokenRejectedAt = rev.CanaryRejectedAt
		if rev.CanaryRejected && !e.res.GoAheadAt.IsZero() {
			e.res.ExposureMS = max(0, rev.CanaryRejectedAt.Sub(e.res.GoAheadAt).Milliseconds())
		}
		e.addControl("all sessions revoked (cutoff " + rev.Cutoff.Format(time.RFC3339) + ")")
		e.rec.step(ctx, stepRevoke, contract.StateDone, fmt.Sprintf("%d sessions revoked; old token first refused at %s",
			rev.Revoked, rev.CanaryRejectedAt.Format(time.RFC3339Nano)))
	}
	if restrictF != nil {
		if err := restrictF.Get(ctx, nil); err != nil {
			e.rec.step(ctx, stepRestrict, contract.StateFailed, err.Error())
		} else {
			e.restricted = true
			e.liftAt = workflow.Now(ctx).Add(e.in.RestrictTTL)
			e.addControl(fmt.Sprintf("routes %s answer %d", strings.Join(e.in.Restrict, ","), e.in.RestrictStatus))
			e.rec.step(ctx, stepRestrict, contract.StateDone, fmt.Sprintf("%s answer %d for %s", strings.Join(e.in.Restrict, ", "), e.in.RestrictStatus, e.in.RestrictTTL))
		}
	} else {
		e.rec.step(ctx, stepRestrict, contract.StateSkipped, "no routes asked for")
	}

	// Then fix the root: rotate JWT_SECRET with a hard cutover.
	rot, err := e.rotate(ctx)
	if err != nil {
		outcome := contract.OutcomeRotationFailed
		if ctx.Err() != nil {
			outcome = contract.OutcomeCanceled
		}
		return e.fail(ctx, comp, outcome, err.Error())
	}
	e.res.Changes = rot.Changes
	e.res.Validations = append(e.res.Validations, rot.Validations...)
	e.rec.step(ctx, stepRotate, contract.StateDone, fmt.Sprintf("secret %s → %s (fingerprint %s → %s)", rot.Previous.ID, rot.New.ID, rot.Previous.Fingerprint, rot.New.Fingerprint))
	e.addControl("JWT_SECRET rotated to " + rot.New.Fingerprint)

	if err := e.verify(ctx, rot); err != nil {
		return e.fail(ctx, comp, contract.OutcomeVerificationFailed, err.Error())
	}

	until := ""
	if e.restricted {
		until = fmt.Sprintf(" Routes %s are restricted until %s.", strings.Join(e.in.Restrict, ", "),
			e.liftAt.UTC().Format(time.RFC3339))
	}
	announceLocal(ctx, e.rec, contract.Message{Target: e.in.Target, Channel: e.policy.Channel, Kind: "user-impact", Text: fmt.Sprintf("Emergency invalidation on %s done: every session and token was cut off, and JWT_SECRET rotated (fingerprint %s → %s); everyone must log in again.%s",
		e.in.Target, rot.Previous.Fingerprint, rot.New.Fingerprint, until)})
	e.rec.step(ctx, stepUserImpact, contract.StateDone, "re-login required for everyone"+until)

	e.res.Outcome = contract.OutcomeCompleted
	if e.restricted {
		if canceled := e.awaitLift(ctx); canceled {
			e.res.Outcome = contract.OutcomeCanceled
			e.res.Cause = "canceled while routes were restricted; they were lifted, and the cutover stays verified"
		}
	} else {
		e.rec.step(ctx, stepLift, contract.StateSkipped, "no routes restricted")
	}
	return nil
}

// close is the run's one finish: it records how the run ended (a *stop names the outcome) and
// turns failure outcomes into a failed or canceled workflow, so the Web UI shows them as such.
func (e *invalidation) close(ctx workflow.Context, err error) (contract.InvalidationResult, error) {
	var s *stop
	if err != nil && !errors.As(err, &s) {
		return e.res, err
	}
	if s != nil {
		e.res.Outcome, e.res.Cause = s.outcome, s.cause
	}
	if ferr := e.finish(ctx); ferr != nil {
		return e.res, ferr
	}
	if s != nil && s.failed {
		return e.res, temporal.NewNonRetryableApplicationError(e.res.Summary, contract.ErrTypeRunbookFailed, nil, e.res)
	}
	return e.res, nil
}

// awaitApproval waits for the go-ahead quorum, escalating on each timeout.
func (e *invalidation) awaitApproval(ctx workflow.Context, remind func(ctx workflow.Context, kind string)) (approvalOutcome, error) {
	w := gateWait{Timeout: e.policy.EmergencyApprovalTimeout, Escalate: true}
	if _, err := e.gate.await(ctx, e.rec, w, remind); err != nil {
		return approvalOutcome{}, err
	}
	return e.gate.outcome(), nil
}

func (e *invalidation) finish(ctx workflow.Context) error {
	e.dec.settle(ctx, e.res.Outcome)
	e.res.ActiveControls = e.rec.status.Active
	e.res.Summary = summary("Emergency invalidation of "+e.in.Target, e.res.Outcome, e.res.Cause)
	if e.res.ExposureMS > 0 || !e.res.OldTokenRejectedAt.IsZero() {
		e.res.Summary += fmt.Sprintf(" Old tokens refused %d ms after the go-ahead.", e.res.ExposureMS)
	}
	if len(e.res.ActiveControls) > 0 {
		e.res.Summary += " Active controls: " + strings.Join(e.res.ActiveControls, "; ") + "."
	}
	e.rec.add(ctx, systemActor, "closed", e.res.Outcome, e.res.Summary)
	e.res.Timeline = e.rec.timeline
	if e.res.Outcome == contract.OutcomeCanceled {
		return temporal.NewCanceledError(e.res.Summary)
	}
	return nil
}

func (e *invalidation) addControl(c string) { e.rec.status.Active = append(e.rec.status.Active, c) }

func (e *invalidation) removeControl(prefix string) {
	var keep []string
	for _, c := range e.rec.status.Active {
		if !strings.HasPrefix(c, prefix) {
			keep = append(keep, c)
		}
	}
	e.rec.status.Active = keep
}

func (e *invalidation) activeOrNone() []string {
	if len(e.rec.status.Active) == 0 {
		return []string{"none"}
	}
	return e.rec.status.Active
}

func (e *invalidation) announce(ctx workflow.Context, kind, text string, mention ...string) {
	announce(ctx, e.rec, contract.Message{Target: e.in.Target, Channel: e.policy.Channel, Kind: kind, Text: text, Mention: mention})
}

func incidentNote(id string) string {
	if id == "" {
		return ""
	}
	return " (incident " + id + ")"
}
