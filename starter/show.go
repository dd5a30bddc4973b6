package main

import (
	"github.com/authops/authops/contract"

	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
)

func (a *app) statusCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status WORKFLOW_ID",
		Short: "Show a run's phase and checklist",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.dial()
			if err != nil {
				return err
			}
			defer c.Close()
			desc, derr := c.DescribeWorkflow(cmd.Context(), args[0], "")
			if derr == nil && desc.RawResponse.GetWorkflowExecutionInfo().GetType().GetName() == contract.WorkflowAuthIncident {
				return incidentStatus(cmd.Context(), c, cmd.OutOrStdout(), args[0], desc.RawResponse.GetWorkflowExecutionInfo().GetExecution().GetRunId(), asJSON)
			}
			var st contract.Status
			if err := query(cmd.Context(), c, args[0], contract.QueryStatus, &st); err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), st)
			}
			run := ""
			if derr == nil {
				run = desc.RawResponse.GetWorkflowExecutionInfo().GetExecution().GetRunId()
			}
			return writeStatus(cmd.OutOrStdout(), args[0], run, st)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) timelineCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "timeline WORKFLOW_ID",
		Short: "Show a run's UTC timeline: who did what, when, and how it went",
		Long: `timeline shows a run's UTC timeline. Beside each decision sent as an Update it shows the client
identity Temporal recorded for the request ("client"), to compare with the signer's claim.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" && format != "md" {
				return fmt.Errorf("--format must be text, json or md, got %q", format)
			}
			c, err := a.dial()
			if err != nil {
				return err
			}
			defer c.Close()
			rows, err := timelineRows(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			return writeTimeline(cmd.OutOrStdout(), format, rows)
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "text, json or md")
	return cmd
}

// queryClient is what reading a run's state needs of a Temporal client.
type queryClient interface {
	QueryWorkflow(ctx context.Context, workflowID, runID, queryType string, args ...any) (converter.EncodedValue, error)
}

// timelineClient is what the timeline needs: the query, and the history for client identities.
type timelineClient interface {
	queryClient
	GetWorkflowHistory(ctx context.Context, workflowID, runID string, isLongPoll bool, filterType enumspb.HistoryEventFilterType) client.HistoryEventIterator
}

// timelineRow is a timeline event with the client identity Temporal recorded for its Update.
type timelineRow struct {
	contract.Event
	Client string `json:"client,omitempty"`
}

// timelineRows queries the timeline and reads the run's history once, to put beside each
// decision sent as an Update the identity of the client that sent it. A denied Update is
// accepted too (the handler refused it, not the validator), so it has an identity as well.
func timelineRows(ctx context.Context, c timelineClient, id string) ([]timelineRow, error) {
	evs, err := timeline(ctx, c, id)
	if err != nil {
		return nil, err
	}
	identities := map[string]string{}
	needed := false
	for _, e := range evs {
		needed = needed || e.UpdateID != ""
	}
	if needed {
		it := c.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
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
	rows := make([]timelineRow, len(evs))
	for i, e := range evs {
		rows[i] = timelineRow{Event: e}
		if e.UpdateID != "" {
			rows[i].Client = identities[e.UpdateID]
		}
	}
	return rows, nil
}

func timeline(ctx context.Context, c queryClient, id string) ([]contract.Event, error) {
	var evs []contract.Event
	return evs, query(ctx, c, id, contract.QueryTimeline, &evs)
}

func query(ctx context.Context, c queryClient, id, name string, out any) error {
	v, err := c.QueryWorkflow(ctx, id, "", name)
	if err != nil {
		return fmt.Errorf("query %s of %s: %w", name, id, err)
	}
	return v.Get(out)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func writeStatus(w io.Writer, id, runID string, st contract.Status) error {
	clean := contract.CleanText
	fmt.Fprintf(w, "%s  %s  target=%s  phase=%q\n", clean(id), clean(st.Runbook), clean(st.Target), st.Phase)
	if runID != "" {
		fmt.Fprintf(w, "run %s\n", clean(runID))
	}
	fmt.Fprintf(w, "requested by %s", clean(st.RequestedBy))
	if st.ApprovedBy != "" {
		fmt.Fprintf(w, ", approved by %s", clean(st.ApprovedBy))
	}
	if st.BreakGlass {
		fmt.Fprint(w, ", BREAK GLASS")
	}
	if st.Outcome != "" {
		fmt.Fprintf(w, ", outcome %s", clean(st.Outcome))
	}
	fmt.Fprintln(w)
	if st.Approvals != "" {
		fmt.Fprintln(w, clean(st.Approvals))
	}
	if len(st.Active) > 0 {
		active := make([]string, len(st.Active))
		for i, a := range st.Active {
			active[i] = clean(a)
		}
		fmt.Fprintf(w, "active controls: %s\n", strings.Join(active, ", "))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, s := range st.Checklist {
		at := ""
		if !s.At.IsZero() {
			at = s.At.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "  [%s]\t%s\t%s\n", clean(s.State), clean(s.Name), at)
	}
	return tw.Flush()
}

// cleanRow escapes every text field of a row with contract.CleanText: timeline text comes from
// people (actors, comments) and is printed to terminals.
func cleanRow(r timelineRow) timelineRow {
	c := contract.CleanText
	r.Actor, r.Action, r.Outcome, r.Detail = c(r.Actor), c(r.Action), c(r.Outcome), c(r.Detail)
	r.Via, r.UpdateID, r.Client = c(r.Via), c(r.UpdateID), c(r.Client)
	return r
}

// mdEscape makes cleaned text safe in a Markdown table cell: no column break, no raw HTML.
var mdEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "|", `\|`)

func writeTimeline(w io.Writer, format string, rows []timelineRow) error {
	clean := make([]timelineRow, len(rows))
	for i, r := range rows {
		clean[i] = cleanRow(r)
	}
	switch format {
	case "json":
		return writeJSON(w, clean)
	case "md":
		fmt.Fprintln(w, "| time (UTC) | actor | action | outcome | detail | client |")
		fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- |")
		for _, e := range clean {
			m := mdEscape.Replace
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", e.At.UTC().Format(time.RFC3339),
				m(e.Actor), m(e.Action), m(e.Outcome), m(e.Detail), m(e.Client))
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME (UTC)\tACTOR\tACTION\tOUTCOME\tCLIENT\tDETAIL")
	for _, e := range clean {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.At.UTC().Format(time.RFC3339), e.Actor, e.Action, e.Outcome,
			orDefault(e.Client, "-"), e.Detail)
	}
	return tw.Flush()
}
