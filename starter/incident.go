package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/runs"
)

// incidentCmd groups runbook 1: declare an incident, then steer it with signed decisions.
func (a *app) incidentCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "incident",
		Short: "Declare and steer an auth incident (runbook 1)",
		Long: `incident declares an auth incident and steers it: take ownership, add notes and status updates,
change the severity, ask for containment actions, verify, and resolve with a final summary.
Every decision is signed with your SSH key and sent as a Temporal Update; the run answers at once
whether it accepted or denied it, and a denial exits with status 1.`,
	}
	cmd.AddCommand(a.incidentDeclareCmd(), a.incidentOwnerCmd(), a.incidentNoteCmd(), a.incidentSeverityCmd(),
		a.incidentContainCmd(), a.incidentVerifyCmd(), a.incidentResolveCmd(), a.incidentTargetsCmd())
	return cmd
}

func (a *app) incidentDeclareCmd() *cobra.Command {
	req := runs.DeclareRequest{IncidentInput: contract.IncidentInput{Source: "cli"}}
	cmd := &cobra.Command{
		Use:   "declare --trigger K --severity S --summary TEXT",
		Short: "Declare an incident and print its id",
		Long: `declare starts an AuthIncident run: it is announced at once, the affected targets are frozen,
snapshotted and health-checked, and the 15-minute clock starts. The reporter owns it until someone
takes it with "starter incident owner". --id names the incident (incident-[a-z0-9-]{1,40}), so that
an alert declaring the same incident twice finds the first one instead of starting another.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("reporter") {
				req.DefaultReporter = os.Getenv("USER")
			}
			rc := a.runs()
			defer rc.Close()
			run, err := rc.Declare(cmd.Context(), a.signer(), req)
			if err != nil {
				return err
			}
			writeDeclared(cmd.OutOrStdout(), run.WorkflowID)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Trigger, "trigger", "", "what set it off: "+strings.Join(contract.IncidentTriggers, ", ")+" (required)")
	f.StringVar(&req.Severity, "severity", "", "one of "+strings.Join(contract.Severities, ", ")+" (required)")
	f.StringVar(&req.Summary, "summary", "", "what is happening (required; signed with the start)")
	f.StringVar(&req.Reporter, "reporter", "", "who declares: a person from the config (default $USER, if that is one); signs the start")
	f.StringArrayVar(&req.Targets, "target", nil, "an affected target (repeatable; default every target in the config)")
	f.StringVar(&req.ID, "id", "", "the incident `ID`, incident-[a-z0-9-]{1,40} (default incident-<short uuid>)")
	f.StringVar(&req.Source, "source", "cli", "where the declaration comes from: "+strings.Join(contract.IncidentSources, ", "))
	_ = cmd.MarkFlagRequired("trigger")
	_ = cmd.MarkFlagRequired("severity")
	_ = cmd.MarkFlagRequired("summary")
	return cmd
}

// writeDeclared prints a declared incident's id and how to follow it.
func writeDeclared(w io.Writer, id string) {
	fmt.Fprintln(w, id)
	fmt.Fprintf(w, "follow it: starter status %s; starter timeline %s; take it: starter incident owner %s --as YOU\n", id, id, id)
}

// incidentDecisionCmd is an incident subcommand that sends one signed decision: send builds
// it from the arguments and sends it through rc.
func (a *app) incidentDecisionCmd(cmd *cobra.Command, actor *string,
	send func(ctx context.Context, rc *runs.Client, s runs.Signer, args []string) (runs.DecisionAnswer, error)) *cobra.Command {
	cmd.Flags().StringVar(actor, "as", "", "who you are: a person from the config, in canonical form (required)")
	_ = cmd.MarkFlagRequired("as")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		rc := a.runs()
		defer rc.Close()
		ans, err := send(cmd.Context(), rc, a.signer(), args)
		if err != nil {
			return err
		}
		return printDecision(cmd, ans)
	}
	return cmd
}

func (a *app) incidentOwnerCmd() *cobra.Command {
	var req runs.IncidentDecision
	cmd := a.incidentDecisionCmd(&cobra.Command{
		Use:   "owner INCIDENT_ID --as PERSON",
		Short: "Take ownership of an incident",
		Args:  cobra.ExactArgs(1),
	}, &req.Actor, func(ctx context.Context, rc *runs.Client, s runs.Signer, args []string) (runs.DecisionAnswer, error) {
		req.WorkflowID = args[0]
		return rc.Own(ctx, s, req)
	})
	cmd.Flags().StringVar(&req.Comment, "comment", "", "a note for the timeline (signed with the decision)")
	return cmd
}

func (a *app) incidentNoteCmd() *cobra.Command {
	var req runs.NoteRequest
	cmd := a.incidentDecisionCmd(&cobra.Command{
		Use:   "note INCIDENT_ID --as PERSON [--status] TEXT",
		Short: "Add a note to the incident's timeline; --status makes it a status update",
		Args:  cobra.ExactArgs(2),
	}, &req.Actor, func(ctx context.Context, rc *runs.Client, s runs.Signer, args []string) (runs.DecisionAnswer, error) {
		req.WorkflowID, req.Text = args[0], args[1]
		return rc.Note(ctx, s, req)
	})
	cmd.Flags().BoolVar(&req.Status, "status", false, "the note is a status update (resets the status-update reminder)")
	return cmd
}

func (a *app) incidentSeverityCmd() *cobra.Command {
	var req runs.SeverityRequest
	return a.incidentDecisionCmd(&cobra.Command{
		Use:   "severity INCIDENT_ID --as PERSON " + strings.Join(contract.Severities, "|"),
		Short: "Change an incident's severity",
		Args:  cobra.ExactArgs(2),
	}, &req.Actor, func(ctx context.Context, rc *runs.Client, s runs.Signer, args []string) (runs.DecisionAnswer, error) {
		req.WorkflowID, req.Severity = args[0], args[1]
		return rc.Severity(ctx, s, req)
	})
}

func (a *app) incidentVerifyCmd() *cobra.Command {
	var req runs.IncidentDecision
	cmd := a.incidentDecisionCmd(&cobra.Command{
		Use:   "verify INCIDENT_ID --as PERSON",
		Short: "Run the verification checklist against the active controls",
		Args:  cobra.ExactArgs(1),
	}, &req.Actor, func(ctx context.Context, rc *runs.Client, s runs.Signer, args []string) (runs.DecisionAnswer, error) {
		req.WorkflowID = args[0]
		return rc.Verify(ctx, s, req)
	})
	cmd.Flags().StringVar(&req.Comment, "comment", "", "a note for the timeline (signed with the decision)")
	return cmd
}

func (a *app) incidentResolveCmd() *cobra.Command {
	var req runs.ResolveRequest
	cmd := a.incidentDecisionCmd(&cobra.Command{
		Use:   "resolve INCIDENT_ID --as PERSON --summary TEXT",
		Short: "Resolve an incident: undo temporary measures, lift the freeze and write the report",
		Long: `resolve closes the incident: temporary measures (denied ranges, the raised log level) are undone
unless kept with --keep, the freeze is lifted, and the report is written. The owner resolves; an
approver of an affected target may too, to take over from an absent owner.

Keeping a measure past the incident needs one approver of its target besides you: the resolve
then waits until one runs starter approve INCIDENT_ID --action keep (or rejects it). A kept
measure is owned by you and due to be lifted after --keep-for (default incident.keep_for, 24h);
the report names both.`,
		Args: cobra.ExactArgs(1),
	}, &req.Actor, func(ctx context.Context, rc *runs.Client, s runs.Signer, args []string) (runs.DecisionAnswer, error) {
		req.WorkflowID = args[0]
		return rc.Resolve(ctx, s, req)
	})
	f := cmd.Flags()
	f.StringVar(&req.Summary, "summary", "", "the final summary (required)")
	f.StringArrayVar(&req.FollowUps, "follow-up", nil, "a follow-up action (repeatable)")
	f.StringArrayVar(&req.Keep, "keep", nil, "a measure kind to leave in force: deny-cidr or log-level (repeatable; needs an approver)")
	f.DurationVar(&req.KeepFor, "keep-for", 0, "how long the kept measures stay, at most 720h (default: incident.keep_for)")
	return cmd
}
