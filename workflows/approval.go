package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/authops/authops/contract"
)

// gate is a run's approval: a quorum of distinct approvers from the target's policy, never the
// requester, never a machine. The decision handlers fill it; the main flow awaits it.
type gate struct {
	rec       *record
	approvers []string
	requester string
	quorum    int
	// open is true while approvals and rejections are taken; opensAt is when the window opens
	// (an approval given before it takes effect then).
	open      bool
	opensAt   time.Time
	approvals []approval
	rejected  *approval
	// asked says what the requester did, for refusals: "requested this run" unless set (an
	// incident action's gate: "asked for a3").
	asked string
}

type approval struct {
	Actor, Comment string
	At             time.Time
}

func newGate(rec *record, approvers []string, requester string, quorum int) *gate {
	g := &gate{rec: rec, approvers: approvers, requester: requester, quorum: max(1, quorum), open: true}
	rec.status.Approvals = g.progress()
	return g
}

// mayApprove says why actor may not approve, or "".
func (g *gate) mayApprove(actor string) string {
	switch {
	case !g.open:
		return "the run is not waiting for approval"
	case unattended(actor):
		return actor + " is an unattended requester and never approves"
	case !slices.Contains(g.approvers, actor):
		return fmt.Sprintf("%s is not an approver for this target (approvers: %s)", actor, strings.Join(g.approvers, ", "))
	case actor == g.requester:
		asked := g.asked
		if asked == "" {
			asked = "requested this run"
		}
		return fmt.Sprintf("%s %s and cannot approve it; a second person must", actor, asked)
	case g.approvedBy(actor):
		return fmt.Sprintf("%s has already approved; the quorum needs distinct people", actor)
	}
	return ""
}

// approve is the rule of the approve decision.
func (g *gate) approve(ctx workflow.Context, actor string, d contract.Decision) (string, string) {
	if why := g.mayApprove(actor); why != "" {
		return why, ""
	}
	now := workflow.Now(ctx)
	g.approvals = append(g.approvals, approval{Actor: actor, Comment: d.Comment, At: now})
	note := g.progress()
	// ApprovedBy is set by the main flow once the gate is decided; this is only progress.
	g.rec.status.Approvals = note
	if now.Before(g.opensAt) {
		note = fmt.Sprintf("takes effect when the window opens at %s; %s", g.opensAt.UTC().Format(time.RFC3339), note)
	}
	return "", note
}

// reject is the rule of the reject decision: an approver, or the requester withdrawing.
func (g *gate) reject(ctx workflow.Context, actor string, d contract.Decision) (string, string) {
	switch {
	case !g.open:
		return "the run is not waiting for approval", ""
	case actor != g.requester && !slices.Contains(g.approvers, actor):
		return fmt.Sprintf("%s is neither an approver nor the requester", actor), ""
	}
	g.rejected = &approval{Actor: actor, Comment: d.Comment, At: workflow.Now(ctx)}
	return "", ""
}

func (g *gate) approvedBy(actor string) bool {
	return slices.ContainsFunc(g.approvals, func(a approval) bool { return a.Actor == actor })
}

func (g *gate) met() bool     { return len(g.approvals) >= g.quorum }
func (g *gate) decided() bool { return g.met() || g.rejected != nil }

// names lists who approved, in order.
func (g *gate) names() string {
	var ns []string
	for _, a := range g.approvals {
		ns = append(ns, a.Actor)
	}
	return strings.Join(ns, ", ")
}

// progress says where the quorum stands, e.g. "approvals 1 of 2: bob; waiting for one more of: carol".
func (g *gate) progress() string {
	s := fmt.Sprintf("approvals %d of %d", len(g.approvals), g.quorum)
	if len(g.approvals) > 0 {
		s += ": " + g.names()
	}
	if missing := g.quorum - len(g.approvals); missing > 0 {
		var can []string
		for _, a := range g.approvers {
			if a != g.requester && !g.approvedBy(a) {
				can = append(can, a)
			}
		}
		more := "one more"
		if missing > 1 {
			more = fmt.Sprintf("%d more", missing)
		}
		s += fmt.Sprintf("; waiting for %s of: %s", more, strings.Join(can, ", "))
	}
	return s
}

// expire drops approvals given longer than validity before the window opened: a window that opens
// much later needs a fresh look at the target.
func (g *gate) expire(ctx workflow.Context, rec *record, opened time.Time, validity time.Duration) {
	if validity <= 0 {
		return
	}
	kept := g.approvals[:0]
	for _, a := range g.approvals {
		if opened.Sub(a.At) > validity {
			rec.add(ctx, systemActor, "approval by "+a.Actor, "expired", fmt.Sprintf(
				"given at %s, more than %s before the window opened; approve again", a.At.UTC().Format(time.RFC3339), validity))
			continue
		}
		kept = append(kept, a)
	}
	g.approvals = kept
	rec.status.Approvals = g.progress()
}

// gateWait says how long the main flow waits for the gate and what it does meanwhile.
type gateWait struct {
	Timeout time.Duration
	// Remind re-announces the request at this interval while it waits (0: never).
	Remind time.Duration
	// Escalate keeps waiting after Timeout and escalates instead of expiring: an emergency run
	// must not stall quietly.
	Escalate bool
}

// await waits until the gate is decided. expired reports a timeout without Escalate. remind is
// called on each reminder and escalation.
func (g *gate) await(ctx workflow.Context, rec *record, w gateWait, remind func(ctx workflow.Context, kind string)) (expired bool, err error) {
	since := workflow.Now(ctx)
	deadline := since.Add(w.Timeout)
	var next time.Time
	if w.Remind > 0 {
		next = since.Add(w.Remind)
	}
	for !g.decided() {
		now := workflow.Now(ctx)
		until := deadline
		if !next.IsZero() && next.Before(deadline) {
			until = next
		}
		ok, err := workflow.AwaitWithTimeout(ctx, until.Sub(now), g.decided)
		if err != nil {
			return false, err
		}
		if ok {
			break
		}
		now = workflow.Now(ctx)
		switch {
		case now.Before(deadline):
			rec.add(ctx, systemActor, "approval", "reminded", g.progress())
			remind(ctx, "reminder")
			next = now.Add(w.Remind)
		case !w.Escalate:
			rec.add(ctx, systemActor, "approval", "expired", fmt.Sprintf("no approval within %s", w.Timeout))
			return true, nil
		default:
			rec.add(ctx, systemActor, "approval", "escalated",
				fmt.Sprintf("no approval within %s since %s; %s", w.Timeout, since.UTC().Format(time.RFC3339), g.progress()))
			remind(ctx, "escalation")
			deadline = now.Add(w.Timeout)
		}
	}
	g.open = false
	return false, nil
}

// approvalOutcome is how an approval wait ended. Actor lists who approved (or who rejected);
// First is the first approver, who owns a scheduled run's rollback.
type approvalOutcome struct {
	Approved bool
	Rejected bool
	Expired  bool
	Actor    string
	First    string
	Comment  string
}

// outcome reads the decided gate.
func (g *gate) outcome() approvalOutcome {
	if g.rejected != nil {
		return approvalOutcome{Rejected: true, Actor: g.rejected.Actor, Comment: g.rejected.Comment}
	}
	var comments []string
	for _, a := range g.approvals {
		if a.Comment != "" {
			comments = append(comments, a.Actor+": "+a.Comment)
		}
	}
	return approvalOutcome{Approved: true, Actor: g.names(), First: g.approvals[0].Actor, Comment: strings.Join(comments, "; ")}
}
