// Decisions as signals, for runs started before decisions became verified Updates
// (workflow.GetVersion "decisions-as-updates" at DefaultVersion). These loops stay so that such
// runs finish and their recorded histories keep replaying. Each decision that reaches one of them
// after the upgrade gets its own version marker, and from then on needs a valid signed statement,
// like any decision in a new run.
package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/authops/authops/contract"
)

// approvalPolicy is who may approve what, from the target's config, never from the signal sender.
type approvalPolicy struct {
	Approvers []string
	Requester string

	Timeout time.Duration
	// Remind re-announces the request at this interval while it waits (0: never).
	Remind time.Duration
	// Escalate keeps waiting after Timeout and escalates instead of expiring: an emergency run
	// must not stall quietly.
	Escalate bool
}

// check says why actor may not approve, or "".
func (p approvalPolicy) check(actor string) string {
	switch {
	case actor == "":
		return "no actor given"
	case !slices.Contains(p.Approvers, actor):
		return fmt.Sprintf("%s is not an approver for this target", actor)
	case actor == p.Requester:
		return fmt.Sprintf("%s requested this run and cannot approve it; a second person must", actor)
	}
	return ""
}

// mayReject allows the approvers and the requester (who may withdraw the request).
func (p approvalPolicy) mayReject(actor string) string {
	if actor != "" && (actor == p.Requester || slices.Contains(p.Approvers, actor)) {
		return ""
	}
	return fmt.Sprintf("%q is neither an approver nor the requester", actor)
}

// awaitApproval waits for a valid approve or reject signal. Every attempt, accepted or denied,
// lands on the timeline with its actor. remind is called on each reminder and escalation.
func awaitApproval(ctx workflow.Context, rec *record, in *intake, p approvalPolicy, remind func(ctx workflow.Context, kind string)) (approvalOutcome, error) {
	approveCh := workflow.GetSignalChannel(ctx, contract.DecisionApprove)
	rejectCh := workflow.GetSignalChannel(ctx, contract.DecisionReject)
	since := workflow.Now(ctx)

	timerCtx, cancelTimers := workflow.WithCancel(ctx)
	defer cancelTimers()

	var out approvalOutcome
	done := false
	timedOut := false
	reminding := false

	sel := workflow.NewSelector(ctx)
	sel.AddReceive(approveCh, func(c workflow.ReceiveChannel, _ bool) {
		d, ok := receiveDecision(ctx, c, rec, contract.DecisionApprove, in)
		if !ok {
			return
		}
		if why := p.check(d.Actor); why != "" {
			rec.add(ctx, d.Actor, "approve", "denied", why)
			return
		}
		rec.add(ctx, d.Actor, "approve", "accepted", d.Comment)
		out = approvalOutcome{Approved: true, Actor: d.Actor, First: d.Actor, Comment: d.Comment}
		done = true
	})
	sel.AddReceive(rejectCh, func(c workflow.ReceiveChannel, _ bool) {
		d, ok := receiveDecision(ctx, c, rec, contract.DecisionReject, in)
		if !ok {
			return
		}
		if why := p.mayReject(d.Actor); why != "" {
			rec.add(ctx, d.Actor, "reject", "denied", why)
			return
		}
		rec.add(ctx, d.Actor, "reject", "accepted", d.Comment)
		out = approvalOutcome{Rejected: true, Actor: d.Actor, Comment: d.Comment}
		done = true
	})
	timeout := workflow.NewTimer(timerCtx, p.Timeout)
	sel.AddFuture(timeout, func(workflow.Future) { timedOut = true })
	addReminder := func() {
		if p.Remind <= 0 {
			return
		}
		reminding = true
		sel.AddFuture(workflow.NewTimer(timerCtx, p.Remind), func(workflow.Future) { reminding = false })
	}
	addReminder()

	for !done {
		sel.Select(ctx)
		if err := ctx.Err(); err != nil {
			return out, err
		}
		switch {
		case timedOut && !p.Escalate:
			rec.add(ctx, systemActor, "approval", "expired",
				fmt.Sprintf("no approval within %s", p.Timeout))
			return approvalOutcome{Expired: true}, nil
		case timedOut:
			timedOut = false
			rec.add(ctx, systemActor, "approval", "escalated",
				fmt.Sprintf("no approval within %s since %s", p.Timeout, since.UTC().Format(time.RFC3339)))
			remind(ctx, "escalation")
			sel.AddFuture(workflow.NewTimer(timerCtx, p.Timeout), func(workflow.Future) { timedOut = true })
		case !done && !reminding && p.Remind > 0:
			rec.add(ctx, systemActor, "approval", "reminded", "still waiting for a second person")
			remind(ctx, "reminder")
			addReminder()
		}
	}
	return out, nil
}

// receiveDecision takes one human signal off c without blocking. A payload that does not decode
// is dropped by the SDK; the attempt is still put on the timeline, as denied, so nobody wonders
// why their click did nothing.
func receiveDecision(ctx workflow.Context, c workflow.ReceiveChannel, rec *record, action string, in *intake) (contract.Decision, bool) {
	var d contract.Decision
	if !c.ReceiveAsync(&d) {
		rec.add(ctx, "unknown", action, "denied", `malformed payload; send {"actor":"NAME","comment":"..."}`)
		return d, false
	}
	d.Actor = strings.TrimSpace(d.Actor)
	in.received++
	if workflow.GetVersion(ctx, fmt.Sprintf("verified-decision-%d", in.received), workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return d, true
	}
	// A run started before the upgrade recorded a policy without people: load it again.
	if len(in.people) == 0 {
		if err := in.reload(ctx); err != nil {
			rec.add(ctx, contract.CleanText(d.Actor), action, "denied", "cannot load the people to verify it: "+err.Error())
			return d, false
		}
	}
	v, err := in.verify(ctx, action, d)
	if err != nil {
		rec.add(ctx, contract.CleanText(d.Actor), action, "denied", err.Error())
		return d, false
	}
	d.Actor = v.Person
	return d, true
}

// dropStale discards signals sent before the step that reads them, so an old request is never
// acted on later by surprise; each one is recorded as ignored.
func dropStale(ctx workflow.Context, rec *record, ch workflow.ReceiveChannel, action, why string) {
	for {
		var d contract.Decision
		if !ch.ReceiveAsync(&d) {
			return
		}
		rec.add(ctx, d.Actor, action, "ignored", why)
	}
}

// observeSignals is the observation window of a run started before decisions were Updates.
func (r *rotation) observeSignals(ctx workflow.Context) {
	ch := workflow.GetSignalChannel(ctx, contract.DecisionRollback)
	dropStale(ctx, r.rec, ch, "rollback", "sent before the observation window opened; send it again")
	tctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	timer := workflow.NewTimer(tctx, r.policy.ObservationWindow)
	for {
		var d contract.Decision
		expired, got := false, false
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(ch, func(c workflow.ReceiveChannel, _ bool) {
			d, got = receiveDecision(ctx, c, r.rec, contract.DecisionRollback, r.dec)
		})
		sel.AddFuture(timer, func(workflow.Future) { expired = true })
		sel.Select(ctx)
		if expired || ctx.Err() != nil {
			r.rec.step(ctx, stepObserve, contract.StateDone, "no rollback requested")
			r.res.Outcome = contract.OutcomeCompleted
			return
		}
		if !got {
			continue
		}
		if d.Actor != r.in.RollbackOwner {
			r.rec.add(ctx, d.Actor, "rollback", "denied", fmt.Sprintf("only the rollback owner %s may roll back", r.in.RollbackOwner))
			continue
		}
		r.rec.add(ctx, d.Actor, "rollback", "accepted", d.Comment)
		r.manualRollback(ctx, d)
		return
	}
}

// awaitResolveSignals waits for resolve in a run started before decisions were Updates.
func (r *rotation) awaitResolveSignals(ctx workflow.Context, text string, mention []string) {
	ch := workflow.GetSignalChannel(ctx, contract.DecisionResolve)
	// Re-announce at the reminder interval until someone takes it: an open escalation must not
	// be forgotten in a scrolled-away channel. A denied signal does not reset the reminder.
	tctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	var remind workflow.Future
	reminders := workflow.GetVersion(ctx, "escalation-reminders", workflow.DefaultVersion, 1) >= 1
	if reminders && r.policy.ReminderInterval > 0 {
		remind = workflow.NewTimer(tctx, r.policy.ReminderInterval)
	}
	for {
		var d contract.Decision
		got, again := false, false
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(ch, func(c workflow.ReceiveChannel, _ bool) {
			d, got = receiveDecision(ctx, c, r.rec, contract.DecisionResolve, r.dec)
		})
		if remind != nil {
			sel.AddFuture(remind, func(workflow.Future) { again = true })
		}
		sel.Select(ctx)
		if again {
			r.announce(ctx, "escalation", "STILL OPEN: "+text, mention...)
			remind = workflow.NewTimer(tctx, r.policy.ReminderInterval)
			continue
		}
		if !got {
			continue
		}
		if d.Actor != r.in.RollbackOwner && (approvalPolicy{Approvers: r.policy.Approvers}).check(d.Actor) != "" {
			r.rec.add(ctx, d.Actor, "resolve", "denied", "only the rollback owner or an approver may resolve")
			continue
		}
		r.rec.add(ctx, d.Actor, "resolve", "accepted", d.Comment)
		r.res.Cause += "; resolved by " + d.Actor + ": " + d.Comment
		return
	}
}

// waitForWindow sleeps until the window opens. A run on Updates wakes early on a rejection.
func (r *rotation) waitForWindow(ctx workflow.Context, d time.Duration) error {
	if r.v == workflow.DefaultVersion {
		return workflow.Sleep(ctx, d)
	}
	_, err := workflow.AwaitWithTimeout(ctx, d, func() bool { return r.gate.rejected != nil })
	return err
}

// awaitApproval waits for the quorum, or for the signal loop in a run started before Updates.
func (r *rotation) awaitApproval(ctx workflow.Context, opened time.Time, remind func(ctx workflow.Context, kind string)) (approvalOutcome, error) {
	if r.v == workflow.DefaultVersion {
		return awaitApproval(ctx, r.rec, r.dec, approvalPolicy{
			Approvers: r.policy.Approvers, Requester: r.in.RequestedBy,
			Timeout: r.policy.ApprovalTimeout, Remind: r.policy.ReminderInterval,
		}, remind)
	}
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

// awaitLiftSignals is awaitLift for a run started before decisions were Updates.
func (e *invalidation) awaitLiftSignals(ctx workflow.Context) {
	ch := workflow.GetSignalChannel(ctx, contract.DecisionLiftRestrictions)
	tctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	timer := workflow.NewTimer(tctx, max(0, e.liftAt.Sub(workflow.Now(ctx))))
	for {
		var d contract.Decision
		expired, got := false, false
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(ch, func(c workflow.ReceiveChannel, _ bool) {
			d, got = receiveDecision(ctx, c, e.rec, contract.DecisionLiftRestrictions, e.dec)
		})
		sel.AddFuture(timer, func(workflow.Future) { expired = true })
		sel.Select(ctx)
		if expired || ctx.Err() != nil {
			why := "TTL " + e.in.RestrictTTL.String() + " ended"
			if ctx.Err() != nil {
				why = "run canceled"
			}
			e.liftStep(ctx, why)
			return
		}
		if !got {
			continue
		}
		if d.Actor != e.in.RequestedBy && (approvalPolicy{Approvers: e.policy.Approvers}).check(d.Actor) != "" {
			e.rec.add(ctx, d.Actor, contract.DecisionLiftRestrictions, "denied", "only the requester or an approver may lift restrictions")
			continue
		}
		e.rec.add(ctx, d.Actor, contract.DecisionLiftRestrictions, "accepted", d.Comment)
		e.liftStep(ctx, "lifted early by "+d.Actor)
		return
	}
}
