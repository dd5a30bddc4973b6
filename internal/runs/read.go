package runs

import (
	"context"
	"errors"
	"fmt"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/freeze"
	"github.com/authops/authops/internal/report"
)

// Status is a run's state: an incident's (Incident) or a rotation's or an emergency run's (Run).
type Status struct {
	WorkflowID string
	// RunID is the current run, when the server described it.
	RunID    string
	Incident *contract.IncidentStatus
	Run      *contract.Status
}

// Status reads a run's state.
func (c *Client) Status(ctx context.Context, id string) (Status, error) {
	if err := checkID(id); err != nil {
		return Status{}, err
	}
	tc, err := c.temporal()
	if err != nil {
		return Status{}, err
	}
	out := Status{WorkflowID: id}
	desc, derr := tc.DescribeWorkflow(ctx, id, "")
	if derr == nil {
		info := desc.RawResponse.GetWorkflowExecutionInfo()
		out.RunID = info.GetExecution().GetRunId()
		if info.GetType().GetName() == contract.WorkflowAuthIncident {
			var st contract.IncidentStatus
			if err := query(ctx, tc, id, contract.QueryIncident, &st); err != nil {
				return Status{}, err
			}
			out.Incident = &st
			return out, nil
		}
	}
	var st contract.Status
	if err := query(ctx, tc, id, contract.QueryStatus, &st); err != nil {
		return Status{}, err
	}
	out.Run = &st
	return out, nil
}

// TimelineRow is a timeline event with the client identity Temporal recorded for its Update.
type TimelineRow struct {
	contract.Event
	Client string `json:"client,omitempty"`
}

// Timeline queries the timeline and reads the run's history once, to put beside each decision
// sent as an Update the identity of the client that sent it. A denied Update is accepted too
// (the handler refused it, not the validator), so it has an identity as well.
func (c *Client) Timeline(ctx context.Context, id string) ([]TimelineRow, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	tc, err := c.temporal()
	if err != nil {
		return nil, err
	}
	var evs []contract.Event
	if err := query(ctx, tc, id, contract.QueryTimeline, &evs); err != nil {
		return nil, err
	}
	identities := map[string]string{}
	needed := false
	for _, e := range evs {
		needed = needed || e.UpdateID != ""
	}
	if needed {
		it := tc.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			h, err := it.Next()
			if err != nil {
				return nil, fmt.Errorf("read the history of %s for client identities: %w", id, err)
			}
			if acc := h.GetWorkflowExecutionUpdateAcceptedEventAttributes(); acc != nil {
				meta := acc.GetAcceptedRequest().GetMeta()
				identities[meta.GetUpdateId()] = meta.GetIdentity()
			}
		}
	}
	rows := make([]TimelineRow, len(evs))
	for i, e := range evs {
		rows[i] = TimelineRow{Event: e}
		if e.UpdateID != "" {
			rows[i].Client = identities[e.UpdateID]
		}
	}
	return rows, nil
}

// Report is a run's report; Open says the run is still running and the report is its state now.
type Report struct {
	contract.Report
	Open bool
}

// Report builds the report of run id: from its result when it closed with one (a failed run's
// result is in its RunbookFailed error), otherwise from its queries.
func (c *Client) Report(ctx context.Context, id string) (Report, error) {
	if err := checkID(id); err != nil {
		return Report{}, err
	}
	tc, err := c.temporal()
	if err != nil {
		return Report{}, err
	}
	desc, err := tc.DescribeWorkflow(ctx, id, "")
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return Report{}, fmt.Errorf("no run with id %s", contract.CleanText(id))
	}
	if err != nil {
		return Report{}, fmt.Errorf("describe %s: %w", id, err)
	}
	info := desc.RawResponse.GetWorkflowExecutionInfo()
	typ, status := info.GetType().GetName(), info.GetStatus()
	if status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		r, err := reportFromQueries(ctx, tc, id, typ)
		r.Outcome = "open"
		return Report{Report: r, Open: true}, err
	}
	run := tc.GetWorkflow(ctx, id, info.GetExecution().GetRunId())
	switch typ {
	case contract.WorkflowSecretRotation:
		var res contract.RotationResult
		if resultOf(ctx, run, &res) {
			return Report{Report: report.FromRotation(id, res)}, nil
		}
	case contract.WorkflowEmergencyInvalidation:
		var res contract.InvalidationResult
		if resultOf(ctx, run, &res) {
			return Report{Report: report.FromInvalidation(id, res)}, nil
		}
	case contract.WorkflowAuthIncident:
		var res contract.IncidentResult
		if resultOf(ctx, run, &res) {
			if res.WorkflowID == "" {
				res.WorkflowID = id
			}
			return Report{Report: res}, nil
		}
	}
	// Canceled, terminated, timed out, or a runbook without a report of its own: its queries
	// still answer on the closed run.
	r, err := reportFromQueries(ctx, tc, id, typ)
	if r.Outcome == "" {
		r.Outcome = strings.ToLower(strings.TrimPrefix(status.String(), "WORKFLOW_EXECUTION_STATUS_"))
	}
	return Report{Report: r}, err
}

// runbookOf names the runbook of a workflow type.
func runbookOf(workflowType string) string {
	switch workflowType {
	case contract.WorkflowSecretRotation, contract.WorkflowScheduledRotation:
		return report.RunbookRotation
	case contract.WorkflowEmergencyInvalidation:
		return report.RunbookInvalidation
	case contract.WorkflowAuthIncident:
		return report.RunbookIncident
	}
	return workflowType
}

// resultOf reads a closed run's result into out: its value, or the RunbookFailed error's details.
func resultOf(ctx context.Context, run client.WorkflowRun, out any) bool {
	err := run.Get(ctx, out)
	if err == nil {
		return true
	}
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.Type() == contract.ErrTypeRunbookFailed && appErr.HasDetails() &&
		appErr.Details(out) == nil
}

// reportFromQueries builds a report from a run's status and timeline queries (and for an
// incident its incident query).
func reportFromQueries(ctx context.Context, c queryClient, id, typ string) (contract.Report, error) {
	r := contract.Report{WorkflowID: id, Runbook: runbookOf(typ)}
	var evs []contract.Event
	if err := query(ctx, c, id, contract.QueryTimeline, &evs); err != nil {
		return r, err
	}
	r.Timeline, r.Actions = evs, report.Actions(evs)
	if typ == contract.WorkflowAuthIncident {
		var st contract.IncidentStatus
		if err := query(ctx, c, id, contract.QueryIncident, &st); err != nil {
			return r, err
		}
		r.Targets, r.Outcome, r.Summary = st.Targets, st.Outcome, st.Summary
		for _, p := range st.Pending {
			if p.State == "pending" {
				r.FollowUps = append(r.FollowUps, fmt.Sprintf("Action %s waits for approval: %s (%d of %d)",
					p.ID, p.Request.Describe(), len(p.Approvals), p.Quorum))
			}
		}
		for _, m := range st.Measures {
			if m.Undone.IsZero() {
				r.FollowUps = append(r.FollowUps, fmt.Sprintf("Measure %s in force: %s", m.ActionID, m.Request.Describe()))
			}
		}
		for _, s := range st.Snapshots {
			r.Artifacts = append(r.Artifacts, s.Artifact)
		}
		return r, nil
	}
	var st contract.Status
	if err := query(ctx, c, id, contract.QueryStatus, &st); err != nil {
		return r, err
	}
	if st.Target != "" {
		r.Targets = []string{st.Target}
	}
	r.Outcome = st.Outcome
	r.Summary = "phase: " + st.Phase
	for _, a := range st.Active {
		r.FollowUps = append(r.FollowUps, "Control still active: "+a)
	}
	return r, nil
}

// Freezes lists the running incidents and the targets each one freezes.
func (c *Client) Freezes(ctx context.Context) ([]freeze.Freeze, error) {
	ns, err := c.o.Namespace()
	if err != nil {
		return nil, err
	}
	tc, err := c.temporal()
	if err != nil {
		return nil, err
	}
	return freeze.List(ctx, tc, ns, "")
}
