package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/runs"
)

// incidentTargetsCmd names the targets of an incident declared with none (an alert with no
// target label): the run then freezes, snapshots and confirms them.
func (a *app) incidentTargetsCmd() *cobra.Command {
	var req runs.TargetsRequest
	cmd := a.incidentDecisionCmd(&cobra.Command{
		Use:   "targets INCIDENT_ID --as PERSON T1[,T2...]",
		Short: "Name the targets of an incident declared with none; the run freezes them",
		Long: `targets names the targets an incident affects when its declaration named none (an alert with no
target label and no alerts.default_targets): until then it freezes nothing and takes no containment
action. The run freezes, snapshots and health-checks them as a declaration does. For the owner or
an approver; an incident that already has targets keeps them.`,
		Args: cobra.ExactArgs(2),
	}, &req.Actor, func(ctx context.Context, rc *runs.Client, s runs.Signer, args []string) (runs.DecisionAnswer, error) {
		req.WorkflowID, req.Targets = args[0], contract.SplitTargets(args[1])
		return rc.NameTargets(ctx, s, req)
	})
	cmd.Flags().StringVar(&req.Comment, "comment", "", "a note for the timeline (signed with the decision)")
	return cmd
}
