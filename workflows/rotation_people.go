package workflows

// The rotation's dealings with people: who may start it, the window and the approval quorum,
// and the observation window in which the rollback owner may roll back.

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

// loadPolicy loads the target's policy and opens the decision intake on it.
func (r *rotation) loadPolicy(ctx workflow.Context) error {
	if err := execute(r.reads(shortCtx(ctx)), act.LoadPolicy, r.in.Target).Get(ctx, &r.policy); err != nil {
		return err
	}
	*r.timeouts = r.policy.Timeouts
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
	if err := errors.Join(r.in.CheckTexts(), r.in.CheckWindowAhead(workflow.Now(ctx), r.policy.MaxWindowAhead)); err != nil {
		return err
	}
	switch r.in.Mode {
	case contract.ModeScheduled:
		parent := info.ParentWorkflowExecution
		if !strings.HasPrefix(r.in.RequestedBy, contract.RequesterSchedulePrefix) || parent == nil ||
			!strings.HasPrefix(parent.ID, contract.ScheduledRotationWorkflowID(r.in.Target)+"-") {
			return errors.New("a scheduled rotation is started only by the target's schedule")
		}
		if err := r.parentIs(contract.WorkflowScheduledRotation, contract.ScheduleID(r.in.Target), false, contract.TaskQueue); err != nil {
			return fmt.Errorf("a scheduled rotation is started only by the target's schedule: %w", err)
		}
	case contract.ModeEmergency:
		// Only the child of the target's approved emergency run, which verified its own start.
		if parent := info.ParentWorkflowExecution; parent == nil || parent.ID != contract.InvalidationID(r.in.Target) {
			return fmt.Errorf("an emergency rotation runs only as the child of %s", contract.InvalidationID(r.in.Target))
		}
		if err := r.parentIs(contract.WorkflowEmergencyInvalidation, "", true, contract.EmergencyTaskQueue, contract.TaskQueue); err != nil {
			return fmt.Errorf("an emergency rotation runs only as the child of %s: %w", contract.InvalidationID(r.in.Target), err)
		}
	default:
		if err := r.dec.verifyStart(ctx, contract.ActionStartRotation, r.in.RequestedBy, r.in.Reason, r.startArgs, r.in.Statement); err != nil {
			return err
		}
	}
	if o := r.in.RollbackOwner; o != "" && !r.dec.person(o) {
		return fmt.Errorf("rollback owner %q is not a person in the config", o)
	}
	return nil
}

// awaitWindowAndApproval waits for the window to open, then for a second person. A *stop ends
// the run here, with nothing changed.
func (r *rotation) awaitWindowAndApproval(ctx workflow.Context) error {
	now := workflow.Now(ctx)
	start := r.in.WindowStart
	if start.After(now) {
		r.rec.phase("waiting for window")
		r.rec.step(ctx, stepWindow, contract.StateRunning, fmt.Sprintf("waiting until %s; rollback owner %s", start.UTC().Format(time.RFC3339), orApprover(r.in.RollbackOwner)))
		if err := r.waitForWindow(ctx, start.Sub(now)); err != nil {
			return r.canceled(ctx)
		}
	}
	if r.gate != nil && r.gate.rejected != nil {
		r.rec.step(ctx, stepWindow, contract.StateSkipped, "rejected before the window opened")
	} else {
		r.rec.step(ctx, stepWindow, contract.StateDone, "window open; rollback owner "+orApprover(r.in.RollbackOwner))
	}

	r.rec.phase("waiting for approval")
	r.rec.step(ctx, stepApproval, contract.StateRunning, "approvers: "+strings.Join(r.policy.Approvers, ", "))
	out, err := r.awaitApproval(ctx, start, func(ctx workflow.Context, kind string) {
		r.announce(ctx, kind, fmt.Sprintf("Rotation of %s is waiting for approval by one of: %s (not %s).",
			r.in.Target, strings.Join(r.policy.Approvers, ", "), r.in.RequestedBy), r.policy.Approvers...)
	})
	if err != nil {
		return r.canceled(ctx)
	}
	switch {
	case out.Expired:
		r.rec.step(ctx, stepApproval, contract.StateFailed, "expired")
		r.announce(ctx, "expired", fmt.Sprintf("Rotation of %s expired without approval; nothing was changed.", r.in.Target))
		return &stop{outcome: contract.OutcomeExpired, cause: "no approval within " + r.policy.ApprovalTimeout.String()}
	case out.Rejected:
		r.rec.step(ctx, stepApproval, contract.StateFailed, "rejected by "+out.Actor)
		r.announce(ctx, "rejected", fmt.Sprintf("Rotation of %s was rejected by %s; nothing was changed.", r.in.Target, out.Actor))
		return &stop{outcome: contract.OutcomeRejected, cause: "rejected by " + out.Actor + ": " + out.Comment}
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
	for now = workflow.Now(ctx); ; now = workflow.Now(ctx) {
		w := windowAt(start, r.in.Window, now, r.policy.ClosedWindow, false)
		if !w.open && !w.next.IsZero() {
			// An approval that lands inside a later day's window uses it, instead of waiting a day.
			w = windowAt(start, r.in.Window, now, r.policy.ClosedWindow, true)
		}
		switch {
		case w.open:
			return nil
		case w.next.IsZero():
			r.announce(ctx, "window-closed", fmt.Sprintf("Rotation of %s was approved after its window closed; nothing was changed.", r.in.Target))
			return &stop{outcome: contract.OutcomeWindowClosed, cause: "approved after the window closed at " + w.closedAt.UTC().Format(time.RFC3339)}
		}
		start = w.next
		r.rec.add(ctx, systemActor, "window closed", "waiting for next window", start.UTC().Format(time.RFC3339))
		r.rec.phase("waiting for next window")
		if err := workflow.Sleep(ctx, start.Sub(now)); err != nil {
			return r.canceled(ctx)
		}
	}
}

// window is where a moment stands against a rotation window.
type window struct {
	open bool
	// closedAt is when the window closed; next is when it opens again, zero when a closed
	// window ends the run (closed_window: end).
	closedAt, next time.Time
}

// windowAt places now against the window [start, start+length). A zero start or length is a
// window that never closes. With closedPolicy "next", a closed window opens again at the same
// time on a later day; laterDays also counts a later day's window that is open at now (runs
// started before that fix only look for the next opening after now).
func windowAt(start time.Time, length time.Duration, now time.Time, closedPolicy string, laterDays bool) window {
	if start.IsZero() || length <= 0 {
		return window{open: true}
	}
	end := start.Add(length)
	if now.Before(end) {
		return window{open: true}
	}
	w := window{closedAt: end}
	if closedPolicy != "next" {
		return w
	}
	const day = 24 * time.Hour
	latest := start.Add(now.Sub(start) / day * day) // the last opening at or before now
	if laterDays && now.Before(latest.Add(length)) {
		return window{open: true}
	}
	w.next = latest.Add(day)
	return w
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
	r.rollbackOpen = true
	got, err := workflow.AwaitWithTimeout(ctx, r.policy.ObservationWindow, func() bool { return r.rollbackBy != nil })
	r.rollbackOpen = false
	switch {
	case err != nil:
		// The rotation is done and validated; canceling the wait leaves the new secret live.
		r.res.Outcome = contract.OutcomeCanceled
		r.res.Cause = joinNote(r.dec.cancelCause(), "canceled during the observation window; the new secret stays live, validated")
		r.rec.step(ctx, stepObserve, contract.StateSkipped, r.res.Cause)
	case !got:
		r.rec.step(ctx, stepObserve, contract.StateDone, "no rollback requested")
		r.res.Outcome = contract.OutcomeCompleted
	default:
		r.manualRollback(ctx, *r.rollbackBy)
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

// startedBy says on what authority the run started, for the timeline.
func (r *rotation) startedBy(ctx workflow.Context) string {
	parent := workflow.GetInfo(ctx).ParentWorkflowExecution
	switch {
	case r.in.Mode == contract.ModeScheduled && parent != nil:
		return "started by the schedule run " + parent.ID
	case r.in.Mode == contract.ModeEmergency && parent != nil:
		return "child of the emergency run " + parent.ID + ", approved by " + r.in.ApprovedBy
	}
	return "signed " + contract.ActionStartRotation
}

// readParent asks the server about the run that started a scheduled or emergency rotation: its
// id alone proves nothing, since anyone who runs a worker of their own can start a workflow under
// it.
func (r *rotation) readParent(ctx workflow.Context) {
	p := workflow.GetInfo(ctx).ParentWorkflowExecution
	if p == nil || (r.in.Mode != contract.ModeScheduled && r.in.Mode != contract.ModeEmergency) {
		return
	}
	var f contract.RunFacts
	in := contract.RunRef{WorkflowID: p.ID, RunID: p.RunID}
	if err := workflow.ExecuteLocalActivity(peerCtx(ctx), act.DescribeRun, in).Get(ctx, &f); err != nil {
		f.Unknown = err.Error()
	}
	r.parent = &f
}

// parentIs says why the parent the server described is not a run of type typ on one of queues
// (still running, when running: an emergency run waits for its rotation, a schedule's run does
// not; started by the Schedule scheduledBy, when set), or nil. With no description (a run from
// before parent-from-server) it is nil.
func (r *rotation) parentIs(typ, scheduledBy string, running bool, queues ...string) error {
	f := r.parent
	switch {
	case f == nil:
		return nil
	case f.Unknown != "":
		return fmt.Errorf("the server could not say who started it: %s", f.Unknown)
	case f.Type != typ || !slices.Contains(queues, f.TaskQueue):
		return fmt.Errorf("its parent is a %s on the task queue %s, not a %s of authops", contract.CleanText(f.Type), contract.CleanText(f.TaskQueue), typ)
	case running && !f.Running:
		return errors.New("its parent is no longer running")
	case scheduledBy != "" && f.ScheduledBy != scheduledBy:
		return fmt.Errorf("the server says no schedule %s started its parent", scheduledBy)
	}
	return nil
}

// waitForWindow sleeps until the window opens, or wakes early on a rejection.
func (r *rotation) waitForWindow(ctx workflow.Context, d time.Duration) error {
	_, err := workflow.AwaitWithTimeout(ctx, d, func() bool { return r.gate.rejected != nil })
	return err
}

// awaitApproval waits for the quorum, counting the approval validity from opened.
func (r *rotation) awaitApproval(ctx workflow.Context, opened time.Time, remind func(ctx workflow.Context, kind string)) (approvalOutcome, error) {
	if now := workflow.Now(ctx); opened.IsZero() || opened.After(now) {
		opened = now
	}
	r.gate.expire(ctx, r.rec, opened, r.policy.ApprovalValidity)
	expired, err := r.gate.await(ctx, r.rec, gateWait{Timeout: r.policy.ApprovalTimeout, Remind: r.policy.ReminderInterval}, remind)
	if err != nil || expired {
		return approvalOutcome{Expired: expired}, err
	}
	return r.gate.outcome(), nil
}
