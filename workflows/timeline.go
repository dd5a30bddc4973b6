package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/authops/authops/contract"
)

// record keeps the timeline and the checklist of one run. Times come from workflow.Now, so
// replay yields the same record.
type record struct {
	status   contract.Status
	timeline []contract.Event
}

func newRecord(runbook, target, requestedBy string, steps ...string) *record {
	r := &record{status: contract.Status{Runbook: runbook, Target: target, RequestedBy: requestedBy, Phase: "starting"}}
	for _, s := range steps {
		r.status.Checklist = append(r.status.Checklist, contract.Step{Name: s, State: contract.StatePending})
	}
	return r
}

// registerQueries exposes status and timeline; they work on closed runs too.
func (r *record) registerQueries(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, contract.QueryStatus, func() (contract.Status, error) { return r.status, nil }); err != nil {
		return err
	}
	return workflow.SetQueryHandler(ctx, contract.QueryTimeline, func() ([]contract.Event, error) { return r.timeline, nil })
}

// add puts an event on the timeline. Text from people in it is shown escaped, never raw.
func (r *record) add(ctx workflow.Context, actor, action, outcome, detail string) {
	r.decision(ctx, contract.Event{Actor: actor, Action: action, Outcome: outcome, Detail: detail})
}

// decision records an event at the workflow's UTC time and returns it as recorded.
func (r *record) decision(ctx workflow.Context, ev contract.Event) contract.Event {
	ev.At = workflow.Now(ctx).UTC()
	ev.Actor, ev.Detail = contract.CleanText(ev.Actor), contract.CleanText(ev.Detail)
	r.timeline = append(r.timeline, ev)
	// The Web UI shows this on the run's page: responders see the checklist without a query.
	workflow.SetCurrentDetails(ctx, r.details())
	return ev
}

// details renders the status as markdown for the Web UI.
func (r *record) details() string {
	var b strings.Builder
	st := r.status
	fmt.Fprintf(&b, "**%s** on `%s`: %s\n\nrequested by %s", st.Runbook, st.Target, st.Phase, st.RequestedBy)
	if st.ApprovedBy != "" {
		fmt.Fprintf(&b, ", approved by %s", st.ApprovedBy)
	}
	if st.BreakGlass {
		b.WriteString(", **BREAK GLASS**")
	}
	b.WriteString("\n\n")
	if len(st.Active) > 0 {
		fmt.Fprintf(&b, "active controls: %s\n\n", strings.Join(st.Active, "; "))
	}
	for _, s := range st.Checklist {
		mark := " "
		switch s.State {
		case contract.StateDone:
			mark = "x"
		case contract.StateFailed:
			mark = "!"
		case contract.StateSkipped:
			mark = "-"
		case contract.StateRunning:
			mark = "~"
		}
		fmt.Fprintf(&b, "- [%s] %s\n", mark, s.Name)
	}
	if n := len(r.timeline); n > 0 {
		e := r.timeline[n-1]
		fmt.Fprintf(&b, "\nlast: %s %s %s %s", e.At.Format(time.RFC3339), e.Actor, e.Action, e.Outcome)
	}
	return b.String()
}

func (r *record) phase(p string) { r.status.Phase = p }

// settle marks the steps still running when the run closes, so that a closed run never shows a
// step in flight (a cancel while waiting for approval, say).
func (r *record) settle(ctx workflow.Context, outcome string) {
	for _, s := range r.status.Checklist {
		if s.State == contract.StateRunning {
			r.step(ctx, s.Name, contract.StateSkipped, "run closed: "+outcome)
		}
	}
}

// step sets a checklist item's state and puts it on the timeline.
func (r *record) step(ctx workflow.Context, name, state, detail string) {
	for i := range r.status.Checklist {
		if r.status.Checklist[i].Name == name {
			r.status.Checklist[i].State = state
			r.status.Checklist[i].At = workflow.Now(ctx).UTC()
		}
	}
	r.add(ctx, systemActor, name, state, detail)
}
