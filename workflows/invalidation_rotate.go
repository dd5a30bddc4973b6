package workflows

// The emergency run's root fix: it rotates the secret through a child SecretRotation in emergency
// mode, then verifies that every old token and session is refused and fresh logins work.

import (
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/contract/act"
)

// rotate runs SecretRotation as a child in emergency mode, after preempting any rotation of the
// same target: the emergency takes precedence, and the preempted run's compensation leaves the
// target on a working secret before the child starts.
func (e *invalidation) rotate(ctx workflow.Context) (contract.RotationResult, error) {
	e.rec.phase("rotating secret")
	id := contract.RotationID(e.in.Target)
	// The child's start finds out whether a rotation holds the target, and only then is it
	// preempted: when none does, as nearly always, that is one trip through the server fewer
	// before the secret changes.
	released, preempted := false, false
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID: id,
		Priority:   contract.EmergencyPriority,
		// Canceling the emergency run must let the rotation compensate, never cut it off mid-way.
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_REQUEST_CANCEL,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes: temporal.NewSearchAttributes(contract.AttrTarget.ValueSet(e.in.Target), contract.AttrRunbook.ValueSet("secret-rotation")),
	})
	in := contract.RotationInput{Target: e.in.Target, Reason: "emergency: " + e.in.Reason, RequestedBy: e.in.RequestedBy,
		Mode: contract.ModeEmergency, ApprovedBy: e.res.ApprovedBy}
	// The rotation's validation runs this run's cutover checks with its own logins, and its
	// pre-check trusts this run's login and dry run if they were made just before.
	in.CutoverOf, in.LoginProbedAt, in.DeployCheckedAt = e.runID, e.canaryAt, e.deployCheckedAt
	// The child validates against this run's restrictions, passed in, never the live controls.
	if e.restricted {
		for _, p := range e.in.Restrict {
			in.Restricted = append(in.Restricted, contract.RouteRestriction{Prefix: p, Status: e.in.RestrictStatus})
		}
	}
	var res contract.RotationResult
	// The preempted run may still be compensating; wait for its id to be free.
	for attempt := 0; ; attempt++ {
		err := workflow.ExecuteChildWorkflow(cctx, SecretRotation, in).Get(ctx, &res)
		if childTaken(err) && !preempted {
			// A rotation holds the target: take it over, then start again.
			preempted = true
			if released, err = e.preempt(ctx, id); err != nil {
				return res, err
			}
			continue
		}
		// A released rotation said it is closing, and closes a moment after its signal: a few
		// short waits cover that. One that says nothing (its hand-over was lost) is polled for
		// until its id is free.
		pause, tries := time.Second, 300
		if released {
			pause, tries = 200*time.Millisecond, 25
		}
		if childTaken(err) && attempt < tries {
			if err := workflow.Sleep(ctx, pause); err != nil {
				return res, err
			}
			continue
		}
		e.res.Rotation = id
		if err != nil {
			var appErr *temporal.ApplicationError
			if errors.As(err, &appErr) && appErr.HasDetails() {
				if derr := appErr.Details(&res); derr != nil {
					e.rec.add(ctx, systemActor, "read rotation result", contract.StateFailed, derr.Error())
				}
			}
			e.res.RotationOutcome = res.Outcome
			e.res.Validations = append(e.res.Validations, res.Validations...)
			e.res.Changes = res.Changes
			e.rec.step(ctx, stepRotate, contract.StateFailed, err.Error())
			return res, fmt.Errorf("rotation %s: %w", id, err)
		}
		e.res.RotationOutcome = res.Outcome
		return res, nil
	}
}

func (e *invalidation) verify(ctx workflow.Context, rot contract.RotationResult) error {
	e.rec.phase("verifying")
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		// The activity heartbeats every 2 s: a dead worker is noticed within the heartbeat
		// timeout (config timeouts.heartbeat, 15 s by default), not a minute.
		HeartbeatTimeout: heartbeatTimeout(ctx),
		RetryPolicy:      &temporal.RetryPolicy{MaximumAttempts: 3},
		Priority:         contract.EmergencyPriority,
	})
	var rs contract.ProbeResults
	in := contract.CutoverInput{Target: e.in.Target, RunID: e.runID, LiveVersionID: rot.New.ID, RetiredVersionID: rot.Previous.ID,
		RotationValidated: validatedAfterRotation(rot.Validations)}
	if e.restricted {
		in.Restricted, in.RestrictedStatus = e.in.Restrict, e.in.RestrictStatus
	}
	actx = withLocalActivities(actx)
	// The rotation ran the checks with its validation right after its redeploy: they are
	// judged here, without logging in again.
	inRotation := len(rot.Cutover) > 0
	if inRotation {
		rs = rot.Cutover
	} else if err := execute(actx, act.VerifyCutover, in).Get(ctx, &rs); err != nil {
		e.rec.step(ctx, stepVerifyOld, contract.StateFailed, err.Error())
		return err
	}
	e.cleanupCanary(ctx)
	e.res.Validations = append(e.res.Validations, contract.Validation{Stage: "emergency verification", OK: rs.OK(), Results: rs})
	e.res.VerifiedAt = workflow.Now(ctx).UTC()
	var tokens, critical contract.ProbeResults
	for _, r := range rs {
		if strings.HasPrefix(r.Name, "critical ") || strings.HasPrefix(r.Name, "restricted ") {
			critical = append(critical, r)
		} else {
			tokens = append(tokens, r)
		}
	}
	var errs []error
	if !tokens.OK() {
		e.rec.step(ctx, stepVerifyOld, contract.StateFailed, failedResults(tokens))
		errs = append(errs, errors.New(failedResults(tokens)))
	} else {
		msg := "old session (bearer, refresh, cookie) and old-secret tokens refused; fresh login works"
		switch {
		case inRotation:
			msg = "old session (bearer, refresh, cookie) and old-secret token refused, fresh login works: checked with " +
				e.res.Rotation + "'s validation after its redeploy"
		case in.RotationValidated:
			msg = "old session (bearer, refresh, cookie) refused; old-secret token refused and fresh login working, as " +
				e.res.Rotation + "'s validation found after its redeploy"
		}
		e.rec.step(ctx, stepVerifyOld, contract.StateDone, msg)
	}
	if len(critical) > 0 && !critical.OK() {
		e.rec.step(ctx, stepCritical, contract.StateFailed, failedResults(critical))
		errs = append(errs, errors.New(failedResults(critical)))
	} else {
		how := ""
		if inRotation {
			how = ", checked with " + e.res.Rotation + "'s validation"
		}
		e.rec.step(ctx, stepCritical, contract.StateDone, fmt.Sprintf("%d endpoints answered as expected%s", len(critical), how))
	}
	return errors.Join(errs...)
}

// validatedAfterRotation says the rotation's last validation after its redeploy passed, so the
// verification need not repeat it.
func validatedAfterRotation(vs []contract.Validation) bool {
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].Stage == stageAfterRotation {
			return vs[i].OK
		}
	}
	return false
}

// childTaken reports that a child's start found its id held by a running workflow. A variable,
// so that the workflow tests can add the test environment's form of that error.
var childTaken = func(err error) bool {
	var started *temporal.ChildWorkflowExecutionAlreadyStartedError
	return errors.As(err, &started)
}
