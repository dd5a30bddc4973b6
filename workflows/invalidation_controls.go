package workflows

// The emergency run's controls after the cutover: taking the target from a rotation, lifting
// route restrictions, the canary session, and the escalation when a step fails.

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/contract/act"
)

// preempt takes the target from a rotation that holds it. A pending one ends as preempted, one
// that is changing the target compensates first, and an escalated one is superseded; each tells
// this run when it has closed (released). Canceling this run meanwhile ends it as canceled.
func (e *invalidation) preempt(ctx workflow.Context, id string) (released bool, err error) {
	p := contract.Preemption{By: e.runID, Reason: e.in.Reason}
	if p.Seal, err = seal(ctx, contract.SignalPreempt, id, p); err != nil {
		// Unsealed, the rotation would refuse it: wait for its id to be free instead.
		e.rec.add(ctx, systemActor, "preempt rotation", contract.StateFailed, err.Error())
		return false, nil
	}
	if err := signalRun(ctx, id, "", contract.SignalPreempt, p).Get(ctx, nil); err != nil {
		// No rotation of the target is running: nothing to take over.
		e.rec.add(ctx, systemActor, "preempt rotation", contract.StateSkipped, "no rotation of "+e.in.Target+" is running")
		return false, nil
	}
	if err := cancelRun(ctx, id, "").Get(ctx, nil); err != nil {
		e.rec.add(ctx, systemActor, "preempt rotation", "cancel not delivered", err.Error())
	}
	e.rec.add(ctx, systemActor, "preempt rotation", "waiting", id+" is handing the target over (a change in progress is rolled back first)")
	var rel contract.Released
	ch := workflow.GetSignalChannel(ctx, contract.SignalRotationReleased)
	// A rotation that changes the target may take a full deploy and rollback to let go.
	wait := 3*e.policy.DeployTimeout + 2*time.Minute
	got := false
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(ch, func(c workflow.ReceiveChannel, _ bool) { got = c.ReceiveAsync(&rel) })
	tctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	sel.AddFuture(workflow.NewTimer(tctx, wait), func(workflow.Future) {})
	for {
		sel.Select(ctx)
		if err := ctx.Err(); err != nil {
			return false, err
		}
		if !got {
			break
		}
		// Only the rotation this run preempted hands the target over; a forged hand-over is
		// recorded as denied, and the wait goes on.
		msg := rel
		msg.Seal = nil
		if e.peers.open(ctx, e.rec, contract.SignalRotationReleased, msg, rel.Seal, id) {
			break
		}
		got, rel = false, contract.Released{}
	}
	if !got {
		// A rotation whose hand-over was lost (its seal failed, or it is stuck) never says so:
		// poll for its id instead.
		e.rec.add(ctx, systemActor, "preempt rotation", "no hand-over", fmt.Sprintf("%s did not say it closed within %s; waiting for its id to be free", id, wait))
		return false, nil
	}
	e.rec.add(ctx, systemActor, "preempt rotation", "released", fmt.Sprintf("%s closed as %s", id, rel.Outcome))
	return true, nil
}

// awaitLift keeps routes restricted until their TTL ends or someone lifts them early. canceled
// reports that the run was canceled meanwhile (the routes are lifted all the same).
func (e *invalidation) awaitLift(ctx workflow.Context) (canceled bool) {
	e.rec.phase("routes restricted")
	e.rec.step(ctx, stepLift, contract.StateRunning, "lifts at "+e.liftAt.UTC().Format(time.RFC3339)+" (TTL "+e.in.RestrictTTL.String()+") or on a lift-restrictions signal")
	e.liftOpen = true
	got, err := workflow.AwaitWithTimeout(ctx, max(0, e.liftAt.Sub(workflow.Now(ctx))), func() bool { return e.liftBy != nil })
	e.liftOpen = false
	switch {
	case err != nil:
		e.liftStep(ctx, "run canceled")
		return true
	case got:
		e.liftStep(ctx, "lifted early by "+e.liftBy.Actor)
	default:
		e.liftStep(ctx, "TTL "+e.in.RestrictTTL.String()+" ended")
	}
	return false
}

// liftRule takes a lift-restrictions from the requester or an approver while routes are restricted.
func (e *invalidation) liftRule(_ workflow.Context, actor string, d contract.Decision) (string, string) {
	switch {
	case !e.liftOpen:
		return "no route restriction of this run is waiting to be lifted", ""
	case actor != e.in.RequestedBy && !slices.Contains(e.policy.Approvers, actor):
		return "only the requester or an approver may lift restrictions", ""
	}
	e.liftOpen = false
	e.liftBy = &contract.Decision{Actor: actor, Comment: d.Comment}
	return "", ""
}

func (e *invalidation) liftStep(ctx workflow.Context, why string) {
	dctx, cancel := workflow.NewDisconnectedContext(ctx)
	defer cancel()
	if err := e.lift(dctx, why); err != nil {
		e.rec.step(dctx, stepLift, contract.StateFailed, err.Error())
		e.announce(dctx, "escalation", fmt.Sprintf("Could not lift route restrictions on %s: %v. Lift them by hand.", e.in.Target, err), e.policy.Approvers...)
		return
	}
	e.rec.step(dctx, stepLift, contract.StateDone, why)
}

// lift removes the restrictions and verifies they are gone.
func (e *invalidation) lift(ctx workflow.Context, why string) error {
	var rs contract.ProbeResults
	if err := workflow.ExecuteActivity(urgent(writeCtx(ctx)), act.LiftRoutes,
		contract.RoutesInput{Target: e.in.Target, Prefixes: e.in.Restrict, Status: e.in.RestrictStatus}).Get(ctx, &rs); err != nil {
		return err
	}
	e.res.Validations = append(e.res.Validations, contract.Validation{Stage: "restrictions lifted (" + why + ")", OK: rs.OK(), Results: rs})
	if !rs.OK() {
		return errors.New(failedResults(rs))
	}
	e.restricted = false
	e.removeControl("routes ")
	e.announce(ctx, "restrictions-lifted", fmt.Sprintf("Route restrictions on %s lifted (%s): %s.", e.in.Target, why, strings.Join(e.in.Restrict, ", ")))
	return nil
}

// cleanupCanary removes the canary session this run opened.
func (e *invalidation) cleanupCanary(ctx workflow.Context) {
	// A canary left behind is a live session on the worker's disk: say so, do not hide it.
	ctx = withLocalActivities(ctx)
	if err := execute(urgent(shortCtx(ctx)), act.CleanupCanary, contract.CanaryInput{Target: e.in.Target, RunID: e.runID}).Get(ctx, nil); err != nil {
		e.rec.add(ctx, systemActor, "remove canary session", contract.StateFailed, err.Error())
	}
	e.canaryGone = true
}

// dropCanary removes the canary session on the paths that end before verification (rejected,
// canceled, failed), so no live session is left on the worker's disk.
func (e *invalidation) dropCanary(ctx workflow.Context) {
	if e.canaryGone {
		return
	}
	dctx, cancel := workflow.NewDisconnectedContext(ctx)
	defer cancel()
	e.cleanupCanary(dctx)
}

// fail compensates what can be undone, keeps sessions invalidated (the safe state), says exactly
// which controls are active, escalates, and ends the run with outcome.
func (e *invalidation) fail(ctx workflow.Context, comp compensations, outcome, cause string) error {
	dctx, cancel := workflow.NewDisconnectedContext(ctx)
	defer cancel()
	e.rec.phase("failed: compensating")
	if err := comp.run(dctx, e.rec); err != nil {
		cause += "; compensation failed: " + err.Error()
	}
	e.dropCanary(dctx)
	e.announce(dctx, "escalation", fmt.Sprintf("EMERGENCY RUN FAILED on %s: %s. Active controls now: %s. %s Sessions stay revoked; a human must finish the root fix.",
		e.in.Target, cause, strings.Join(e.activeOrNone(), "; "), e.secretState()), e.policy.Approvers...)
	e.rec.add(dctx, systemActor, "escalation", "sent", "active controls: "+strings.Join(e.activeOrNone(), "; "))
	return &stop{outcome: outcome, cause: cause, failed: true}
}

// secretState says plainly which JWT_SECRET the target runs on after a failed run: after a
// rollback the previous secret is live again, and if it leaked that is the headline.
func (e *invalidation) secretState() string {
	switch e.res.RotationOutcome {
	case contract.OutcomeCompleted:
		return "JWT_SECRET was rotated."
	case contract.OutcomeRollbackFailed:
		return "JWT_SECRET state is UNKNOWN: the rotation's rollback failed (see " + e.res.Rotation + ")."
	default:
		return "JWT_SECRET was NOT rotated: the PREVIOUS secret is live; if it leaked, rotate it as soon as the deploy path works."
	}
}

// signalRun and cancelRun reach the rotation that holds the target. Variables, so that the
// workflow tests can reach one: the test environment holds rotation-<target> as this run's own
// (refused) child, and routes a signal to it instead of to a mock.
var (
	signalRun = workflow.SignalExternalWorkflow
	cancelRun = workflow.RequestCancelExternalWorkflow
)

// startControl starts one of the first controls, revoke or restrict, as a local activity on the
// emergency priority. It waits for a canceled call to return before its compensation runs.
func startControl(ctx workflow.Context, fn, in any) workflow.Future {
	return execute(urgent(writeCtx(withLocalActivities(ctx))), fn, in)
}

// urgent gives an activity of the emergency run the emergency priority. Runs started with it pass
// it on anyway; this also covers runs started before the start set it.
func urgent(ctx workflow.Context) workflow.Context {
	return workflow.WithPriority(ctx, contract.EmergencyPriority)
}
