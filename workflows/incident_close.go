package workflows

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/contract/act"
)

// carriedEvents is how many recent timeline events a continue-as-new keeps in the new run;
// older ones are archived to the artifacts directory.
const carriedEvents = 50

// carriedValidations is how many recent validation sets the new run keeps.
const carriedValidations = 10

// resolve undoes the temporary measures (unless kept), lifts the freeze, verifies, and writes
// the report.
func (i *incident) resolve(ctx workflow.Context) (contract.Report, error) {
	r := i.resolving
	i.rec.phase("resolving")
	i.rec.step(ctx, contract.StepResolve, contract.StateRunning, "asked by "+r.by)
	// A measure being applied by a decision in flight is undone too, so wait for it.
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return i.canceled(ctx)
	}
	i.dec.closing = true
	for n := range i.st.Measures {
		m := &i.st.Measures[n]
		if !m.Request.Undoable() || !m.Undone.IsZero() {
			continue
		}
		if slices.Contains(r.keep, m.ActionID) {
			// Kept with an approver's consent, by its owner, until its expiry.
			m.Kept, m.KeptBy, m.KeptApprovedBy, m.KeptUntil = true, r.by, r.keptApprovedBy, r.keptUntil
			i.rec.add(ctx, r.by, "keep "+m.ActionID, "kept", fmt.Sprintf("%s on %s stays in force until %s, owned by %s, approved by %s",
				m.Request.Describe(), m.Target, r.keptUntil.Format(time.RFC3339), r.by, r.keptApprovedBy))
			continue
		}
		i.undo(ctx, m, "resolved by "+r.by)
	}
	i.liftFreeze(ctx, "resolved by "+r.by)
	i.verify(ctx, "final verification")
	if i.stepState(contract.StepContain) == contract.StateRunning {
		i.rec.step(ctx, contract.StepContain, contract.StateDone, fmt.Sprintf("%d actions", len(i.st.Pending)))
	} else if i.stepState(contract.StepContain) == contract.StatePending {
		i.rec.step(ctx, contract.StepContain, contract.StateSkipped, "no containment asked for")
	}
	i.st.Outcome = contract.OutcomeResolved
	i.rec.status.Outcome = contract.OutcomeResolved
	resolved := fmt.Sprintf("Incident %s resolved by %s: %s", i.id, r.by, r.req.Summary)
	if kept := keptMeasures(i.st.Measures); len(kept) > 0 {
		var items []string
		for _, k := range kept {
			items = append(items, fmt.Sprintf("%s until %s (owner %s)", k.Item, k.Until.Format(time.RFC3339), k.Owner))
		}
		resolved += ". Kept in force: " + strings.Join(items, "; ")
	}
	i.announce(ctx, "resolved", resolved)
	rep := i.report(r)
	var arts []contract.ArtifactRef
	if err := workflow.ExecuteActivity(shortCtx(ctx), act.WriteReport, contract.ReportInput{WorkflowID: i.id, Report: rep}).Get(ctx, &arts); err != nil {
		i.rec.step(ctx, contract.StepResolve, contract.StateFailed, "report not written: "+err.Error())
	} else {
		var paths []string
		for _, a := range arts {
			paths = append(paths, a.Path)
		}
		i.rec.step(ctx, contract.StepResolve, contract.StateDone, "report written: "+strings.Join(paths, ", "))
	}
	i.rec.phase("closed: " + contract.OutcomeResolved)
	i.rec.add(ctx, systemActor, "closed", contract.OutcomeResolved, rep.Summary)
	rep.Artifacts, rep.Timeline = arts, i.rec.timeline
	return rep, nil
}

// liftFreeze ends the freeze, so rotations of the targets go ahead again.
func (i *incident) liftFreeze(ctx workflow.Context, why string) {
	frozen := i.st.Frozen
	i.st.Frozen = nil
	if err := i.upsertFreeze(ctx); err != nil {
		i.st.Frozen = frozen
		i.rec.add(ctx, systemActor, "freeze", contract.StateFailed, "not lifted: "+err.Error())
		return
	}
	i.rec.add(ctx, systemActor, "freeze", "lifted", strings.Join(frozen, ", ")+" ("+why+")")
}

// canceled is the end of an incident canceled from outside (the Web UI, `temporal workflow
// cancel`): the temporary measures are undone and the freeze lifted, so nothing is left behind.
func (i *incident) canceled(ctx workflow.Context) (contract.Report, error) {
	dctx, cancel := workflow.NewDisconnectedContext(ctx)
	defer cancel()
	i.dec.closing = true
	i.rec.add(dctx, systemActor, "canceled", contract.OutcomeCanceled, "the run was canceled; temporary measures are undone")
	for n := range i.st.Measures {
		i.undo(dctx, &i.st.Measures[n], "incident canceled")
	}
	i.liftFreeze(dctx, "incident canceled")
	i.st.Outcome, i.rec.status.Outcome = contract.OutcomeCanceled, contract.OutcomeCanceled
	i.rec.settle(dctx, contract.OutcomeCanceled)
	i.rec.phase("closed: " + contract.OutcomeCanceled)
	return i.report(&resolveAsk{req: contract.ResolveRequest{Summary: "canceled before it was resolved"}}),
		temporal.NewCanceledError("incident " + i.id + " canceled")
}

func (i *incident) stepState(name string) string {
	for _, s := range i.rec.status.Checklist {
		if s.Name == name {
			return s.State
		}
	}
	return ""
}

// report is the post-incident document: the UTC timeline, who did each action, the config
// changed (without secrets), the validation outputs, the summary and follow-ups.
func (i *incident) report(r *resolveAsk) contract.Report {
	rep := contract.Report{
		WorkflowID: i.id, Runbook: "auth-incident", Targets: i.st.Targets, Outcome: i.st.Outcome,
		Summary: r.req.Summary, FollowUps: r.req.FollowUps, Validations: i.validations,
		Timeline: i.rec.timeline, Archived: i.archived,
	}
	// Actions of timeline parts archived before a continue-as-new come first.
	rep.Actions = append(slices.Clone(i.archivedActions), reportActions(i.rec.timeline)...)
	for _, m := range i.st.Measures {
		c := contract.ConfigChange{At: m.At, Item: m.Request.Describe() + " on " + m.Target,
			FromVersion: m.Previous, ToVersion: measureValue(m.Request), Reason: "asked by " + m.By + " (" + m.ActionID + ")"}
		switch {
		case m.Kept && !m.KeptUntil.IsZero():
			c.Reason += fmt.Sprintf("; kept at resolve by %s, approved by %s, until %s", m.KeptBy, m.KeptApprovedBy, m.KeptUntil.Format(time.RFC3339))
		case m.Kept:
			c.Reason += "; kept at resolve"
		case !m.Undone.IsZero():
			c.Reason += "; undone at " + m.Undone.Format("2006-01-02T15:04:05Z")
		case !m.Request.Undoable():
			c.Reason += "; permanent"
		}
		rep.ConfigChanges = append(rep.ConfigChanges, c)
	}
	rep.Kept = keptMeasures(i.st.Measures)
	for _, ch := range i.st.Children {
		rep.Actions = append(rep.Actions, contract.ReportAction{At: i.st.DeclaredAt, Actor: ch.WorkflowID, Action: ch.Runbook,
			Detail: strings.TrimSpace(ch.Outcome + " " + ch.Summary)})
	}
	return rep
}

// keptMeasures are the measures kept past the incident with an owner and an expiry.
func keptMeasures(ms []contract.Measure) []contract.KeptMeasure {
	var out []contract.KeptMeasure
	for _, m := range ms {
		if m.Kept && !m.KeptUntil.IsZero() {
			out = append(out, contract.KeptMeasure{ActionID: m.ActionID, Item: m.Request.Describe() + " on " + m.Target, Target: m.Target,
				Owner: m.KeptBy, ApprovedBy: m.KeptApprovedBy, Until: m.KeptUntil})
		}
	}
	return out
}

// reportActions are the events of a timeline that say who did what: the reporter's verified
// declaration, the accepted decisions and the undos.
func reportActions(tl []contract.Event) []contract.ReportAction {
	var out []contract.ReportAction
	for _, ev := range tl {
		declared := ev.Action == "start" && ev.Outcome == "verified"
		if (ev.Verified && ev.Outcome == "accepted") || declared || strings.HasPrefix(ev.Action, "undo ") {
			out = append(out, contract.ReportAction{At: ev.At, Actor: ev.Actor, Action: ev.Action, Detail: ev.Detail})
		}
	}
	return out
}

// measureValue is what a measure set, as text with no secret in it.
func measureValue(r contract.ContainRequest) string {
	switch r.Kind {
	case contract.ContainLogLevel:
		return r.Level
	case contract.ContainDenyCIDR:
		return "deny " + strings.Join(r.CIDRs, ",")
	case contract.ContainRequireReset:
		return "reset required: " + strings.Join(r.Users, ",")
	case contract.ContainLogoutUsers:
		return "sessions revoked: " + strings.Join(r.Users, ",")
	}
	return r.Kind
}

// continueAsNewDue says the history passed its limit and the run can hand over now: no child
// run open, no decision in flight and no Slack channel call in the background.
func (i *incident) continueAsNewDue(ctx workflow.Context) bool {
	limit := i.policy.HistoryLimit
	return limit > 0 && workflow.GetInfo(ctx).GetCurrentHistoryLength() > limit &&
		len(i.running) == 0 && i.channelCalls == 0 && workflow.AllHandlersFinished(ctx)
}

// continueAsNew archives the older timeline and continues with the incident's state.
func (i *incident) continueAsNew(ctx workflow.Context) error {
	tl := i.rec.timeline
	if n := len(tl) - carriedEvents; n > 0 {
		var ref contract.ArtifactRef
		in := contract.ArchiveInput{Incident: i.id, Part: len(i.archived) + 1, Events: tl[:n]}
		if err := workflow.ExecuteActivity(shortCtx(ctx), act.ArchiveTimeline, in).Get(ctx, &ref); err != nil {
			// Keep the whole timeline: the run goes on in this history and tries again later.
			i.rec.add(ctx, systemActor, "archive timeline", contract.StateFailed, err.Error())
			return nil
		}
		i.archived = append(i.archived, ref)
		i.archivedActions = append(i.archivedActions, reportActions(tl[:n])...)
		tl = tl[n:]
	}
	vals := i.validations
	if n := len(vals) - carriedValidations; n > 0 {
		vals = vals[n:]
	}
	esc := slices.Sorted(maps.Keys(i.escalated))
	st := contract.IncidentState{
		Status: i.st, Checklist: i.rec.status.Checklist, Timeline: tl, Archived: i.archived,
		Nonces: i.dec.liveNonces(workflow.Now(ctx)), NextID: i.nextID, Escalated: esc, Validated: vals,
		LastReminder: i.lastReminder, Actions: i.archivedActions,
	}
	in := i.in
	in.State = &st
	return workflow.NewContinueAsNewError(ctx, AuthIncident, in)
}

// restore takes over the state a continue-as-new carried.
func (i *incident) restore(s contract.IncidentState) {
	i.st = s.Status
	i.rec.status.Checklist = s.Checklist
	i.rec.status.Target = strings.Join(s.Status.Targets, ",")
	i.rec.status.RequestedBy = s.Status.Reporter
	i.rec.phase("contain")
	i.rec.timeline = s.Timeline
	i.archived = s.Archived
	for n, at := range s.Nonces {
		i.dec.nonces[n] = at
	}
	i.nextID = s.NextID
	for _, e := range s.Escalated {
		i.escalated[e] = true
	}
	i.validations = s.Validated
	i.lastReminder = s.LastReminder
	i.archivedActions = s.Actions
	i.refreshActive()
}

// rebuildGates opens the approvals of the carried pending actions again, once the policy (and
// with it the approvers) is loaded.
func (i *incident) rebuildGates() {
	for _, pa := range i.st.Pending {
		if pa.State != "pending" {
			continue
		}
		approvers := i.policy.Approvers
		if pa.Approvers != nil {
			approvers = pa.Approvers
		}
		g := newGate(i.rec, approvers, pa.Asker, pa.Quorum)
		g.asked = "asked for " + pa.ID
		for _, a := range pa.Approvals {
			g.approvals = append(g.approvals, approval{Actor: a, At: pa.AskedAt})
		}
		i.gates[pa.ID] = g
	}
	if k := i.st.Keeping; k != nil && k.State == "pending" {
		i.keepGate = newGate(i.rec, k.Approvers, k.By, 1)
		i.keepGate.asked = "asked to keep " + strings.Join(k.Measures, ", ")
	}
}
