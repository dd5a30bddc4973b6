package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/report"
)

func (a *app) reportCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "report WORKFLOW_ID",
		Short: "Print a run's report: timeline, who did what, config changes, validations, summary",
		Long: `report prints the post-incident document of any runbook run (incident, rotation, emergency
invalidation) as Markdown or JSON. A closed run's report is its result; a run still open gets a
report built from its current state, marked as open.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "md" && format != "json" {
				return fmt.Errorf("--format must be md or json, got %q", contract.CleanText(format))
			}
			c, err := a.dial()
			if err != nil {
				return err
			}
			defer c.Close()
			r, open, err := runReport(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			return writeReport(cmd.OutOrStdout(), format, r, open, time.Now())
		},
	}
	cmd.Flags().StringVar(&format, "format", "md", "md or json")
	return cmd
}

// reportClient is what building a report needs of a Temporal client.
type reportClient interface {
	queryClient
	DescribeWorkflow(ctx context.Context, workflowID, runID string) (*client.WorkflowExecutionDescription, error)
	GetWorkflow(ctx context.Context, workflowID, runID string) client.WorkflowRun
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

// runReport builds the report of run id: from its result when it closed with one (a failed
// run's result is in its RunbookFailed error), otherwise from its queries. open reports that
// the run is still running.
func runReport(ctx context.Context, c reportClient, id string) (r contract.Report, open bool, err error) {
	desc, err := c.DescribeWorkflow(ctx, id, "")
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return r, false, fmt.Errorf("no run with id %s", contract.CleanText(id))
	}
	if err != nil {
		return r, false, fmt.Errorf("describe %s: %w", id, err)
	}
	info := desc.RawResponse.GetWorkflowExecutionInfo()
	typ, status := info.GetType().GetName(), info.GetStatus()
	if status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		r, err = reportFromQueries(ctx, c, id, typ)
		r.Outcome = "open"
		return r, true, err
	}
	run := c.GetWorkflow(ctx, id, info.GetExecution().GetRunId())
	switch typ {
	case contract.WorkflowSecretRotation:
		var res contract.RotationResult
		if resultOf(ctx, run, &res) {
			return report.FromRotation(id, res), false, nil
		}
	case contract.WorkflowEmergencyInvalidation:
		var res contract.InvalidationResult
		if resultOf(ctx, run, &res) {
			return report.FromInvalidation(id, res), false, nil
		}
	case contract.WorkflowAuthIncident:
		var res contract.IncidentResult
		if resultOf(ctx, run, &res) {
			if res.WorkflowID == "" {
				res.WorkflowID = id
			}
			return res, false, nil
		}
	}
	// Canceled, terminated, timed out, or a runbook without a report of its own: its queries
	// still answer on the closed run.
	r, err = reportFromQueries(ctx, c, id, typ)
	if r.Outcome == "" {
		r.Outcome = strings.ToLower(strings.TrimPrefix(status.String(), "WORKFLOW_EXECUTION_STATUS_"))
	}
	return r, false, err
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
	evs, err := timeline(ctx, c, id)
	if err != nil {
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

// writeReport prints the report; an open run's Markdown says so first.
func writeReport(w io.Writer, format string, r contract.Report, open bool, now time.Time) error {
	if format == "json" {
		return report.JSON(w, r)
	}
	if open {
		fmt.Fprintf(w, "**This run is still open.** This is its state at %s; the report is final when the run closes.\n\n",
			now.UTC().Format(time.RFC3339))
	}
	return report.Markdown(w, r)
}
