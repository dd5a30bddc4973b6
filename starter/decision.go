package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/runs"
)

// decisionCmd sends one human decision (approve, reject, rollback, resolve, lift-restrictions,
// cancel) as a signed Update and prints the run's answer.
func (a *app) decisionCmd(use, short, name string) *cobra.Command {
	req := runs.DecisionRequest{Name: name}
	cmd := &cobra.Command{
		Use:   use + " WORKFLOW_ID --as PERSON",
		Short: short,
		Long: short + `.

The decision is signed with your SSH key (--key FILE, else the ssh-agent, else the demo key next to
your .pub file in the config) and sent as a Temporal Update: the run answers at once whether it
accepted or denied it. A denial exits with status 1.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.WorkflowID = args[0]
			req.ActionGiven = cmd.Flags().Changed("action")
			rc := a.runs()
			defer rc.Close()
			ans, err := rc.Decide(cmd.Context(), a.signer(), req)
			if err != nil {
				return err
			}
			return printDecision(cmd, ans)
		},
	}
	cmd.Flags().StringVar(&req.Actor, "as", "", "who you are: a person from the config, in canonical form (required)")
	if name == contract.DecisionCancel {
		// A cancel stops a security runbook: the record must say why.
		cmd.Flags().StringVar(&req.Comment, "reason", "", "why the run is canceled (required; signed with the decision)")
		_ = cmd.MarkFlagRequired("reason")
	} else {
		cmd.Flags().StringVar(&req.Comment, "comment", "", "a note for the timeline (signed with the decision)")
	}
	if name == contract.DecisionApprove || name == contract.DecisionReject {
		cmd.Flags().StringVar(&req.Action, "action", "", "an incident's pending action `ID` to decide (a1, a2, ...; see starter status)")
	}
	cmd.Flags().StringVar(&req.RunID, "run-id", "", "the `RUN_ID` you reviewed (see starter status); refused if the id now names a newer run")
	_ = cmd.MarkFlagRequired("as")
	return cmd
}

// printDecision prints the run's answer, its warnings on stderr. A denial is an error, so the
// exit status is 1.
func printDecision(cmd *cobra.Command, ans runs.DecisionAnswer) error {
	for _, w := range ans.Warnings {
		fmt.Fprintln(cmd.ErrOrStderr(), contract.CleanText(w))
	}
	return reportDecision(cmd.OutOrStdout(), ans.WorkflowID, ans.Name, ans)
}

// windowPrefix starts the detail of an approval given before the rotation window opens.
const windowPrefix = "takes effect when the window opens at "

// reportDecision writes the run's answer. A denial is an error.
func reportDecision(w io.Writer, id, name string, ans runs.DecisionAnswer) error {
	ev := ans.Event
	at := ev.At.UTC().Format(time.RFC3339)
	actor, detail := contract.CleanText(ev.Actor), contract.CleanText(ev.Detail)
	if ans.Denied {
		fmt.Fprintf(w, "%s denied for %s at %s: %s\n", name, actor, at, detail)
		return fmt.Errorf("%s denied", name)
	}
	line := fmt.Sprintf("%s %s by %s at %s", name, orDefault(contract.CleanText(ev.Outcome), "accepted"), actor, at)
	if rest, ok := strings.CutPrefix(detail, windowPrefix); ok {
		when, note, _ := strings.Cut(rest, "; ")
		line += " (" + windowPrefix + when + ")"
		detail = note
	}
	if detail != "" {
		line += ": " + detail
	}
	fmt.Fprintln(w, line)
	return nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
