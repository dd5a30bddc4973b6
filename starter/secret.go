package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/authops/authops/contract"
)

func (a *app) secretCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secret",
		Short: "Show a target's secret versions, or settle a pending version a closed run left behind",
		Long: `secret works on a target's secret store through a short run on the worker, which holds the store:
the starter never reads a secret. Values are never shown, only version ids, stages and fingerprints.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(a.secretStatusCmd(), a.secretSettleCmd())
	return cmd
}

func (a *app) secretStatusCmd() *cobra.Command {
	var (
		target string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "status --target T",
		Short: "Show the versions of a target's secret: ids, stages, creation times, keys and fingerprints",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rc := a.runs()
			defer rc.Close()
			st, err := rc.SecretStatus(cmd.Context(), target)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), st)
			}
			return writeSecretStatus(cmd.OutOrStdout(), st)
		},
	}
	cmd.Flags().StringVar(&target, "target", "", "target name from the config (required)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	_ = cmd.MarkFlagRequired("target")
	return cmd
}

// writeSecretStatus prints the versions as a table, and what a pending version needs.
func writeSecretStatus(w io.Writer, st contract.SecretStatus) error {
	clean := contract.CleanText
	live := "the env sink holds no secret"
	switch {
	case st.LiveVersion != "":
		live = fmt.Sprintf("the env sink holds %s (fingerprint %s)", clean(st.LiveVersion), clean(st.LiveFingerprint))
	case st.LiveFingerprint != "":
		live = fmt.Sprintf("the env sink holds fingerprint %s, which no version of the store has", clean(st.LiveFingerprint))
	}
	fmt.Fprintf(w, "secret of %s: %d versions; %s\n", clean(st.Target), len(st.Versions), live)
	if len(st.Versions) > 0 {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "VERSION\tSTAGE\tCREATED (UTC)\tFINGERPRINT\tLIVE\tIDEMPOTENCY KEY\tRUN")
		for _, v := range st.Versions {
			mark := "-"
			if v.Live {
				mark = "live"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", clean(v.ID), clean(v.Stage), v.CreatedAt.UTC().Format(time.RFC3339),
				clean(v.Fingerprint), mark, orDefault(clean(v.IdempotencyKey), "-"), orDefault(clean(v.RunState), "-"))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if p, ok := st.ByStage("pending"); ok {
		switch {
		case strings.HasPrefix(p.RunState, "closed"):
			fmt.Fprintf(w, "pending %s was left behind by %s, which is %s: it blocks the next rotation. Settle it: starter secret settle --target %s --as <approver>",
				clean(p.ID), clean(p.Run), clean(p.RunState), clean(st.Target))
			if p.Live {
				fmt.Fprint(w, " (it is live: bring the target back to the current version first, or start an emergency invalidation)")
			}
			fmt.Fprintln(w)
		case p.RunState == "running":
			fmt.Fprintf(w, "pending %s belongs to %s, which is still running.\n", clean(p.ID), clean(p.Run))
		}
	}
	return nil
}

func (a *app) secretSettleCmd() *cobra.Command {
	var in contract.SettleInput
	cmd := &cobra.Command{
		Use:   "settle --target T --as PERSON [--version V]",
		Short: "Mark failed a pending secret version that a closed run left behind (approvers only)",
		Long: `settle marks failed the pending secret version of a target that a closed run left behind (a rotation
whose store write failed and was resolved by hand), so that the next rotation can start. Only an
approver of the target may settle; the request is signed with your SSH key like a decision. The run
refuses a version that is live in the env file and one whose run is still running. Without
--version it settles whichever version is pending.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rc := a.runs()
			defer rc.Close()
			res, err := rc.Settle(cmd.Context(), a.signer(), in)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), contract.CleanText(res.Summary))
			if res.Outcome == contract.OutcomeRefused {
				return errors.New("settle refused")
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Target, "target", "", "target name from the config (required)")
	f.StringVar(&in.RequestedBy, "as", "", "who you are: an approver of the target, in canonical form (required)")
	f.StringVar(&in.VersionID, "version", "", "the `VERSION` to settle, e.g. v3-1a2b3c4d (default: the pending one; see starter secret status)")
	f.StringVar(&in.Reason, "reason", "", "why, for the timeline (signed with the request)")
	_ = cmd.MarkFlagRequired("target")
	_ = cmd.MarkFlagRequired("as")
	return cmd
}
