package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/runs"
)

func (a *app) statusCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status WORKFLOW_ID",
		Short: "Show a run's phase and checklist",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rc := a.runs()
			defer rc.Close()
			st, err := rc.Status(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				if st.Incident != nil {
					return writeJSON(cmd.OutOrStdout(), st.Incident)
				}
				return writeJSON(cmd.OutOrStdout(), st.Run)
			}
			return writeRunStatus(cmd.OutOrStdout(), st)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// writeRunStatus prints an incident's or another run's status.
func writeRunStatus(w io.Writer, st runs.Status) error {
	if st.Incident != nil {
		return writeIncidentStatus(w, st.WorkflowID, st.RunID, *st.Incident)
	}
	return writeStatus(w, st.WorkflowID, st.RunID, *st.Run)
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
			rc := a.runs()
			defer rc.Close()
			rows, err := rc.Timeline(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return writeTimeline(cmd.OutOrStdout(), format, rows)
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "text, json or md")
	return cmd
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
func cleanRow(r runs.TimelineRow) runs.TimelineRow {
	c := contract.CleanText
	r.Actor, r.Action, r.Outcome, r.Detail = c(r.Actor), c(r.Action), c(r.Outcome), c(r.Detail)
	r.Via, r.UpdateID, r.Client = c(r.Via), c(r.UpdateID), c(r.Client)
	return r
}

// mdEscape makes cleaned text safe in a Markdown table cell: no column break, no raw HTML.
var mdEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "|", `\|`)

func writeTimeline(w io.Writer, format string, rows []runs.TimelineRow) error {
	clean := make([]runs.TimelineRow, len(rows))
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
