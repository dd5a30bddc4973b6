package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

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
			rc := a.runs()
			defer rc.Close()
			r, err := rc.Report(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return writeReport(cmd.OutOrStdout(), format, r.Report, r.Open, time.Now())
		},
	}
	cmd.Flags().StringVar(&format, "format", "md", "md or json")
	return cmd
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
