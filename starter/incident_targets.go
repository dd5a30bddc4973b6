package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/authops/authops/contract"
)

// incidentTargetsCmd names the targets of an incident declared with none (an alert with no
// target label): the run then freezes, snapshots and confirms them.
func (a *app) incidentTargetsCmd() *cobra.Command {
	var d contract.Decision
	cmd := &cobra.Command{
		Use:   "targets INCIDENT_ID --as PERSON T1[,T2...]",
		Short: "Name the targets of an incident declared with none; the run freezes them",
		Long: `targets names the targets an incident affects when its declaration named none (an alert with no
target label and no alerts.default_targets): until then it freezes nothing and takes no containment
action. The run freezes, snapshots and health-checks them as a declaration does. For the owner or
an approver; an incident that already has targets keeps them.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := contract.TargetsRequest{Targets: contract.SplitTargets(args[1])}
			if err := req.Validate(); err != nil {
				return fmt.Errorf("targets refused, nothing was sent: %w", err)
			}
			cfg, err := a.config()
			if err != nil {
				return err
			}
			for _, t := range req.Targets {
				if _, err := cfg.Target(t); err != nil {
					return fmt.Errorf("targets refused, nothing was sent: %w", err)
				}
			}
			if err := contract.CheckText("--comment", d.Comment); err != nil {
				return err
			}
			d.Args = canonical(req)
			return a.sendIncidentDecision(cmd, args[0], incidentDecision{name: contract.UpdateTargets, d: d})
		},
	}
	asFlag(cmd, &d.Actor)
	cmd.Flags().StringVar(&d.Comment, "comment", "", "a note for the timeline (signed with the decision)")
	return cmd
}
