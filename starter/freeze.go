package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/freeze"
)

func (a *app) freezeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "freeze",
		Short: "Show the deploy and config freezes that running incidents hold",
	}
	var asJSON bool
	status := &cobra.Command{
		Use:   "status",
		Short: "List the running incidents and the targets each one freezes",
		Long: `freeze status lists the freezes recorded in Temporal: each running incident's
AuthopsFrozenTargets search attribute. Rotations and schedules read the same record.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rc := a.runs()
			defer rc.Close()
			fs, err := rc.Freezes(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				if fs == nil {
					fs = []freeze.Freeze{}
				}
				return writeJSON(cmd.OutOrStdout(), fs)
			}
			return writeFreezes(cmd.OutOrStdout(), fs)
		},
	}
	status.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(status)
	return cmd
}

func writeFreezes(w io.Writer, fs []freeze.Freeze) error {
	if len(fs) == 0 {
		_, err := fmt.Fprintln(w, "no freezes")
		return err
	}
	for _, f := range fs {
		targets := make([]string, len(f.Targets))
		for i, t := range f.Targets {
			targets[i] = contract.CleanText(t)
		}
		if _, err := fmt.Fprintf(w, "%s freezes %s\n", contract.CleanText(f.Incident), strings.Join(targets, ", ")); err != nil {
			return err
		}
	}
	return nil
}
