package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/contract/act"
)

// apply carries out an approved action: a measure on each target it names (every affected
// target when it names none), or a child run. Each measure registers its undo by being kept
// in the incident's measures; resolve undoes the temporary ones.
func (i *incident) apply(ctx workflow.Context, pa *contract.PendingAction, start *contract.SignedStatement) (string, error) {
	if pa.Request.Kind == contract.ContainInvalidate || pa.Request.Kind == contract.ContainRotate {
		detail, err := i.startChild(ctx, pa, start)
		pa.State, pa.Detail = "applied", detail
		if err != nil {
			pa.State, pa.Detail = "failed", err.Error()
		}
		return detail, err
	}
	targets := i.st.Targets
	if pa.Request.Target != "" {
		targets = []string{pa.Request.Target}
	}
	var notes []string
	for _, t := range targets {
		var res contract.MeasureResult
		in := contract.MeasureInput{Incident: i.id, ActionID: pa.ID, Target: t, Request: pa.Request}
		if err := workflow.ExecuteActivity(writeCtx(ctx), act.ApplyMeasure, in).Get(ctx, &res); err != nil {
			pa.State, pa.Detail = "failed", err.Error()
			if len(notes) > 0 {
				err = fmt.Errorf("%w (applied before that, undone at resolve: %s)", err, strings.Join(notes, "; "))
			} else {
				err = fmt.Errorf("%w; nothing was changed", err)
			}
			return "", err
		}
		now := workflow.Now(ctx).UTC()
		m := contract.Measure{ActionID: pa.ID, Request: pa.Request, Target: t, By: pa.Asker, At: now, Previous: res.Previous}
		if pa.Request.Kind == contract.ContainDenyCIDR && pa.Request.TTL > 0 {
			m.Expires = now.Add(pa.Request.TTL)
		}
		i.st.Measures = append(i.st.Measures, m)
		notes = append(notes, t+": "+res.Detail)
	}
	pa.State, pa.Detail = "applied", strings.Join(notes, "; ")
	i.refreshActive()
	return pa.Detail, nil
}

// undo undoes a temporary measure and records the check that it is gone.
func (i *incident) undo(ctx workflow.Context, m *contract.Measure, why string) {
	if !m.Request.Undoable() || !m.Undone.IsZero() {
		return
	}
	var res contract.MeasureResult
	in := contract.MeasureInput{Incident: i.id, ActionID: m.ActionID, Target: m.Target, Request: m.Request, Previous: m.Previous}
	if err := workflow.ExecuteActivity(writeCtx(ctx), act.UndoMeasure, in).Get(ctx, &res); err != nil {
		i.rec.add(ctx, systemActor, "undo "+m.ActionID, contract.StateFailed,
			fmt.Sprintf("%s on %s (%s): %s; it is still in force", m.Request.Describe(), m.Target, why, err))
		return
	}
	m.Undone = workflow.Now(ctx).UTC()
	i.refreshActive()
	i.rec.add(ctx, systemActor, "undo "+m.ActionID, "undone", fmt.Sprintf("%s on %s (%s); verified: %s", m.Request.Describe(), m.Target, why, res.Detail))
}

// refreshActive lists the measures in force on the run's status.
func (i *incident) refreshActive() {
	var active []string
	for _, m := range i.st.Measures {
		if m.Undone.IsZero() {
			s := m.ActionID + " " + m.Request.Describe()
			if m.Request.Target == "" {
				s += " on " + m.Target
			}
			active = append(active, s)
		}
	}
	i.rec.status.Active = active
}

// startChild starts runbook 3 or 2 as a child of the incident, or links the run already going
// on the target. The child's outcome is read from its future when it closes.
func (i *incident) startChild(ctx workflow.Context, pa *contract.PendingAction, start *contract.SignedStatement) (string, error) {
	req, t := pa.Request, pa.Request.Target
	ch := contract.ChildRun{ActionID: pa.ID, Target: t}
	var wf string
	var input any
	queue, priority := contract.TaskQueue, temporal.Priority{}
	switch req.Kind {
	case contract.ContainInvalidate:
		ch.WorkflowID, ch.Runbook, wf = contract.InvalidationID(t), "emergency-invalidation", contract.WorkflowEmergencyInvalidation
		// The emergency run goes on the emergency queue, as the CLI starts it (replay compares
		// neither the queue nor the priority of a child).
		queue, priority = contract.EmergencyTaskQueue, contract.EmergencyPriority
		// The asker's CLI builds the same input to sign its start (contract.IncidentInvalidation).
		in := contract.IncidentInvalidation(i.id, i.st.Trigger, pa.Asker, req)
		in.Statement = start
		input = in
	default:
		ch.WorkflowID, ch.Runbook, wf = contract.RotationID(t), "secret-rotation", contract.WorkflowSecretRotation
		in := contract.IncidentRotation(i.id, pa.Asker, req)
		in.Statement = start
		input = in
	}
	// Disconnected: canceling the incident must not cancel an emergency run mid-containment.
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	cctx := workflow.WithChildOptions(dctx, workflow.ChildWorkflowOptions{
		WorkflowID: ch.WorkflowID,
		TaskQueue:  queue,
		Priority:   priority,
		// An emergency run must finish its containment even if the incident is closed meanwhile.
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes: temporal.NewSearchAttributes(contract.AttrTarget.ValueSet(t), contract.AttrRunbook.ValueSet(ch.Runbook)),
	})
	fut := workflow.ExecuteChildWorkflow(cctx, wf, input)
	err := fut.GetChildWorkflowExecution().Get(ctx, nil)
	var running *temporal.ChildWorkflowExecutionAlreadyStartedError
	switch {
	case errors.As(err, &running):
		ch.Linked = true
		i.st.Children = append(i.st.Children, ch)
		i.running[ch.WorkflowID] = true
		workflow.Go(ctx, func(ctx workflow.Context) {
			var c contract.ChildClosed
			if err := workflow.ExecuteActivity(awaitRunCtx(ctx), act.AwaitRun, ch.WorkflowID).Get(ctx, &c); err != nil {
				c = contract.ChildClosed{WorkflowID: ch.WorkflowID, Outcome: "unknown", Summary: "stopped waiting for it: " + err.Error()}
			}
			i.childClosed(ctx, c, "linked run closed")
		})
		return fmt.Sprintf("linked %s: it was already running, so it was not started again; its outcome will show here", ch.WorkflowID), nil
	case err != nil:
		return "", fmt.Errorf("start %s: %w", ch.WorkflowID, err)
	}
	i.st.Children = append(i.st.Children, ch)
	i.running[ch.WorkflowID] = true
	workflow.Go(ctx, func(ctx workflow.Context) {
		var res contract.RunOutcome
		err := fut.Get(ctx, &res)
		i.childClosed(ctx, contract.ClosedFrom(ch.WorkflowID, res, err), "run closed")
	})
	return fmt.Sprintf("started %s (%s, linked to %s); its own go-ahead is its approval", ch.WorkflowID, ch.Runbook, i.id), nil
}

// awaitRunCtx waits for a linked run for up to a week, heartbeating, so a worker restart
// resumes the wait.
func awaitRunCtx(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 7 * 24 * time.Hour,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{MaximumInterval: time.Minute},
	})
}

// verify runs the verification checklist on every affected target: the backend behaves as
// the active controls say, and the timeline holds every mitigation with its actor.
func (i *incident) verify(ctx workflow.Context, stage string) string {
	var notes []string
	ok := true
	for _, t := range i.st.Targets {
		in := contract.IncidentVerifyInput{Incident: i.id, Target: t}
		for _, m := range i.st.Measures {
			if m.Target != t || !m.Undone.IsZero() {
				continue
			}
			switch m.Request.Kind {
			case contract.ContainRequireReset:
				in.ResetUsers = append(in.ResetUsers, m.Request.Users...)
			case contract.ContainDenyCIDR:
				in.DeniedCIDRs = append(in.DeniedCIDRs, m.Request.CIDRs...)
			}
		}
		var rs contract.ProbeResults
		if err := workflow.ExecuteActivity(precheckCtx(ctx), act.VerifyIncident, in).Get(ctx, &rs); err != nil {
			ok = false
			notes = append(notes, t+": "+err.Error())
			continue
		}
		rs = append(rs, i.timelineCheck(ctx, t))
		i.addValidation(stage+" "+t, rs)
		if len(rs.Failed()) > 0 {
			ok = false
			notes = append(notes, t+": failed: "+verifyNote(rs))
			continue
		}
		notes = append(notes, t+": "+verifyNote(rs))
	}
	state := contract.StateDone
	if !ok {
		state = contract.StateFailed
	}
	detail := stage + ": " + strings.Join(notes, "; ")
	i.rec.step(ctx, contract.StepVerify, state, detail)
	return detail
}

// timelineCheck proves from the record itself that every measure on target is on the
// timeline as a verified decision of the person who asked for it.
func (i *incident) timelineCheck(ctx workflow.Context, target string) contract.ProbeResult {
	r := contract.ProbeResult{Name: "timeline holds every mitigation with its actor", OK: true, At: workflow.Now(ctx).UTC()}
	var missing []string
	n := 0
	for _, m := range i.st.Measures {
		if m.Target != target {
			continue
		}
		n++
		found := slices.ContainsFunc(i.rec.timeline, func(ev contract.Event) bool {
			return ev.Verified && ev.Outcome == "accepted" && strings.Contains(ev.Detail, m.ActionID+" ")
		}) || i.archivedHolds(m)
		if !found {
			missing = append(missing, m.ActionID)
		}
	}
	if len(missing) > 0 {
		r.OK, r.Detail = false, "no verified decision on the timeline for "+strings.Join(missing, ", ")
		return r
	}
	r.Detail = fmt.Sprintf("%d measures, each with its verified actor", n)
	return r
}

// archivedHolds reports whether a measure older than the carried timeline was on it: it was
// applied before a continue-as-new that archived its decision.
func (i *incident) archivedHolds(m contract.Measure) bool {
	return len(i.archived) > 0 && len(i.rec.timeline) > 0 && m.At.Before(i.rec.timeline[0].At)
}
