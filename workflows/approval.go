package workflows

import (
	"github.com/authops/authops/contract"

	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"
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

// approvalOutcome is how the gate ended.
type approvalOutcome struct {
	Approved bool
	Rejected bool
	Expired  bool
	Actor    string
	Comment  string
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
func awaitApproval(ctx workflow.Context, rec *record, p approvalPolicy, remind func(ctx workflow.Context, kind string)) (approvalOutcome, error) {
	approveCh := workflow.GetSignalChannel(ctx, contract.SignalApprove)
	rejectCh := workflow.GetSignalChannel(ctx, contract.SignalReject)
	since := workflow.Now(ctx)

	timerCtx, cancelTimers := workflow.WithCancel(ctx)
	defer cancelTimers()

	var out approvalOutcome
	done := false
	timedOut := false
	reminding := false

	sel := workflow.NewSelector(ctx)
	sel.AddReceive(approveCh, func(c workflow.ReceiveChannel, _ bool) {
		d, ok := receiveDecision(ctx, c, rec, contract.SignalApprove)
		if !ok {
			return
		}
		if why := p.check(d.Actor); why != "" {
			rec.add(ctx, d.Actor, "approve", "denied", why)
			return
		}
		rec.add(ctx, d.Actor, "approve", "accepted", d.Comment)
		out = approvalOutcome{Approved: true, Actor: d.Actor, Comment: d.Comment}
		done = true
	})
	sel.AddReceive(rejectCh, func(c workflow.ReceiveChannel, _ bool) {
		d, ok := receiveDecision(ctx, c, rec, contract.SignalReject)
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
func receiveDecision(ctx workflow.Context, c workflow.ReceiveChannel, rec *record, action string) (contract.Decision, bool) {
	var d contract.Decision
	if !c.ReceiveAsync(&d) {
		rec.add(ctx, "unknown", action, "denied", `malformed payload; send {"actor":"NAME","comment":"..."}`)
		return d, false
	}
	d.Actor = strings.TrimSpace(d.Actor)
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
