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
	"go.temporal.io/sdk/client"
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
			var st contract.Status
			if err := query(cmd.Context(), c, args[0], contract.QueryStatus, &st); err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), st)
			}
			run := ""
			if desc, err := c.DescribeWorkflowExecution(cmd.Context(), args[0], ""); err == nil {
				run = desc.GetWorkflowExecutionInfo().GetExecution().GetRunId()
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
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" && format != "md" {
				return fmt.Errorf("--format must be text, json or md, got %q", format)
			}
			c, err := a.dial()
			if err != nil {
				return err
			}
			defer c.Close()
			evs, err := timeline(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			return writeTimeline(cmd.OutOrStdout(), format, evs)
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "text, json or md")
	return cmd
}

func timeline(ctx context.Context, c client.Client, id string) ([]contract.Event, error) {
	var evs []contract.Event
	return evs, query(ctx, c, id, contract.QueryTimeline, &evs)
}

func query(ctx context.Context, c client.Client, id, name string, out any) error {
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
	fmt.Fprintf(w, "%s  %s  target=%s  phase=%q\n", id, st.Runbook, st.Target, st.Phase)
	if runID != "" {
		fmt.Fprintf(w, "run %s\n", runID)
	}
	fmt.Fprintf(w, "requested by %s", st.RequestedBy)
	if st.ApprovedBy != "" {
		fmt.Fprintf(w, ", approved by %s", st.ApprovedBy)
	}
	if st.BreakGlass {
		fmt.Fprint(w, ", BREAK GLASS")
	}
	if st.Outcome != "" {
		fmt.Fprintf(w, ", outcome %s", st.Outcome)
	}
	fmt.Fprintln(w)
	if len(st.Active) > 0 {
		fmt.Fprintf(w, "active controls: %s\n", strings.Join(st.Active, ", "))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, s := range st.Checklist {
		at := ""
		if !s.At.IsZero() {
			at = s.At.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "  [%s]\t%s\t%s\n", s.State, s.Name, at)
	}
	return tw.Flush()
}

func writeTimeline(w io.Writer, format string, evs []contract.Event) error {
	switch format {
	case "json":
		return writeJSON(w, evs)
	case "md":
		fmt.Fprintln(w, "| time (UTC) | actor | action | outcome | detail |")
		fmt.Fprintln(w, "| --- | --- | --- | --- | --- |")
		for _, e := range evs {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", e.At.Format(time.RFC3339), e.Actor, e.Action, e.Outcome,
				strings.ReplaceAll(e.Detail, "|", `\|`))
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, e := range evs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.At.Format(time.RFC3339), e.Actor, e.Action, e.Outcome, e.Detail)
	}
	return tw.Flush()
}
