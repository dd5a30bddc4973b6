package main

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/runs"
)

func (a *app) incidentContainCmd() *cobra.Command {
	var (
		req      runs.ContainRequest
		restrict string
	)
	cmd := &cobra.Command{
		Use:   "contain INCIDENT_ID --as PERSON ACTION [ARG]",
		Short: "Ask for a containment action: " + strings.Join(contract.ContainKinds, ", "),
		Long: `contain asks for one containment action. The config says who may ask for each and how many
approvers besides the asker it needs; an action that needs approval waits with an id (a1, a2, ...)
that approvers name: starter approve INCIDENT_ID --action a2 --as PERSON.

  logout-all                    revoke every session
  logout-users U1,U2            revoke the sessions of listed users
  deny-cidr CIDR[,CIDR] [--ttl 2h] [--force]
                                deny source ranges until resolve, or until --ttl
  log-level debug               raise auth logging detail until resolve
  require-reset U1,U2           require a password reset (their sessions are revoked)
  invalidate --reason R [--restrict /a,/b] [--restrict-ttl 30m]
                                start an emergency token invalidation (runbook 3) as a child run
  rotate [--reason R]           start a JWT secret rotation (runbook 2) as a child run

--target names the target; invalidate and rotate need it when the incident affects several.`,
		Args: cobra.RangeArgs(2, 3),
	}
	a.incidentDecisionCmd(cmd, &req.Actor, func(ctx context.Context, rc *runs.Client, s runs.Signer, args []string) (runs.DecisionAnswer, error) {
		req.WorkflowID, req.Kind = args[0], args[1]
		arg := ""
		if len(args) > 2 {
			arg = args[2]
		}
		if err := runs.ContainArg(&req.ContainRequest, arg); err != nil {
			return runs.DecisionAnswer{}, err
		}
		if cmd.Flags().Changed("restrict") {
			routes, err := parseRoutes(restrict)
			if err != nil {
				return runs.DecisionAnswer{}, err
			}
			req.Restrict = routes
		}
		return rc.Contain(ctx, s, req)
	})
	f := cmd.Flags()
	f.StringVar(&req.Target, "target", "", "the target (default: every affected target; invalidate and rotate: the only one)")
	f.DurationVar(&req.TTL, "ttl", 0, "deny-cidr: lift the range on its own after this long (default: at resolve)")
	f.BoolVar(&req.Force, "force", false, "deny-cidr: allow a range that locks everyone out or holds the worker's probe address")
	f.StringVar(&restrict, "restrict", "", "invalidate: comma-separated route prefixes to close meanwhile, e.g. /admin,/billing")
	f.DurationVar(&req.RestrictTTL, "restrict-ttl", runs.DefaultRestrictTTL, "invalidate: how long routes stay restricted")
	f.StringVar(&req.Reason, "reason", "", "why (required for invalidate; signed with the decision and the child's start)")
	return cmd
}
