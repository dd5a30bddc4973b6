package main

import (
	"github.com/authops/authops/contract"

	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

func (a *app) invalidateCmd() *cobra.Command {
	var (
		in       contract.InvalidationInput
		restrict string
	)
	cmd := &cobra.Command{
		Use:   "invalidate --target T --reason R",
		Short: "Start an emergency token invalidation (runbook 3) and print its workflow id",
		Long: `invalidate cuts off every active token and session of a target: the backend's logout policy
first (within a second of the go-ahead), optional route restrictions with a time-to-live, then a hard
JWT_SECRET rotation, then verification. A second person gives the go-ahead; --break-glass lets the
requester proceed alone, flagged loudly for review after the fact.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("restrict") {
				routes, err := parseRoutes(restrict)
				if err != nil {
					return err
				}
				in.Restrict = routes
			}
			if !cmd.Flags().Changed("restrict-ttl") && len(in.Restrict) == 0 {
				in.RestrictTTL = 0
			}
			id, err := a.startInvalidation(cmd.Context(), in, cmd.Flags().Changed("requested-by"))
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), id)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Target, "target", "", "target name from the config (required)")
	f.StringVar(&in.Reason, "reason", "", "why (required, also for break glass)")
	f.StringVar(&in.Trigger, "trigger", contract.TriggerTokenAbuse, "secret-compromise, token-abuse or auth-regression")
	f.StringVar(&in.RequestedBy, "requested-by", "", "who asks: a person from the config (default $USER, if that is one); signs the start")
	f.StringVar(&in.IncidentID, "incident", "", "incident id to link")
	f.StringVar(&restrict, "restrict", "", "comma-separated route prefixes to restrict, e.g. /admin,/billing")
	f.DurationVar(&in.RestrictTTL, "restrict-ttl", 30*time.Minute, "how long routes stay restricted")
	f.IntVar(&in.RestrictStatus, "restrict-status", 503, "status restricted routes answer (403 or 503)")
	f.BoolVar(&in.KeepRestrictions, "keep-restrictions-on-failure", false, "keep routes restricted if the run fails")
	f.BoolVar(&in.BreakGlass, "break-glass", false, "proceed without a second approver (needs --reason; flagged for review)")
	_ = cmd.MarkFlagRequired("target")
	return cmd
}

// parseRoutes splits a comma list; an empty item is a malformed list.
func parseRoutes(s string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			return nil, fmt.Errorf("--restrict %q is malformed: empty route in the list", s)
		}
		out = append(out, p)
	}
	return out, nil
}

// startInvalidation validates everything it can and signs the start before touching Temporal.
// The workflow id is one per target, so Temporal itself refuses a second emergency run.
func (a *app) startInvalidation(ctx context.Context, in contract.InvalidationInput, requesterGiven bool) (string, error) {
	cfg, err := a.lightConfig(in.Target)
	if err != nil {
		return "", err
	}
	t, err := cfg.Target(in.Target)
	if err != nil {
		return "", err
	}
	if in.RequestedBy, err = requester(cfg, in.RequestedBy, requesterGiven); err != nil {
		return "", err
	}
	if err := contract.CheckText("--reason", in.Reason); err != nil {
		return "", err
	}
	if err := contract.CheckText("--incident", in.IncidentID); err != nil {
		return "", err
	}
	if err := in.Validate(); err != nil {
		return "", err
	}
	if in.BreakGlass && !slices.Contains(t.Approvers, in.RequestedBy) {
		return "", fmt.Errorf("break glass is for the approvers of %s (%s); %s is not one", in.Target,
			strings.Join(t.Approvers, ", "), in.RequestedBy)
	}
	s, err := a.newSigner(cfg, "--requested-by", in.RequestedBy)
	if err != nil {
		return "", err
	}
	defer s.close()
	id := contract.InvalidationID(in.Target)
	if in.Statement, err = s.sign(id, "", in.StartAction(), in.Reason, in.StartArgs()); err != nil {
		return "", err
	}
	c, err := a.dial()
	if err != nil {
		return "", err
	}
	defer c.Close()
	// Two emergency runs on one target would preempt each other's rotation and lift each
	// other's restrictions; the second responder joins the first run instead.
	return start(ctx, c, client.StartWorkflowOptions{
		ID: id,
		// Emergency work has its own queue, which every worker polls (worker/register), and goes
		// first wherever it shares one. The queue is never guessed from the pollers a client
		// sees: a worker that has just started is not seen yet.
		TaskQueue: contract.EmergencyTaskQueue,
		Priority:  contract.EmergencyPriority,
		StaticSummary: fmt.Sprintf("EMERGENCY token invalidation of %s (%s), requested by %s%s: %s",
			in.Target, in.Trigger, in.RequestedBy, map[bool]string{true: ", BREAK GLASS"}[in.BreakGlass], in.Reason),
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			contract.AttrTarget.ValueSet(in.Target), contract.AttrRunbook.ValueSet("emergency-invalidation"),
			contract.AttrBreakGlass.ValueSet(in.BreakGlass)),
	}, contract.WorkflowEmergencyInvalidation, in, "approve or follow that run")
}
