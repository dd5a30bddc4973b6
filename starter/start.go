package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/runs"
)

// The two runbooks a person starts by target, rotate and invalidate, share their flags for the
// target, the reason and the requester, and print the new run's workflow id.

// startCmd makes cmd a start command: it adds the shared flags, and when cmd runs, start reads
// the rest of the flags and starts the run.
func (a *app) startCmd(cmd *cobra.Command, target, reason, requestedBy *string, reasonDefault, reasonUsage string,
	start func(ctx context.Context, rc *runs.Client, defaultRequester string) (runs.Started, error)) *cobra.Command {
	f := cmd.Flags()
	f.StringVar(target, "target", "", "target name from the config (required)")
	f.StringVar(reason, "reason", reasonDefault, reasonUsage)
	f.StringVar(requestedBy, "requested-by", "", "who asks: a person from the config (default $USER, if that is one); signs the start")
	_ = cmd.MarkFlagRequired("target")
	cmd.Args = cobra.NoArgs
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		rc := a.runs()
		defer rc.Close()
		run, err := start(cmd.Context(), rc, defaultRequester(cmd.Flags()))
		if err != nil {
			return err
		}
		fmt.Fprintln(cmd.OutOrStdout(), run.WorkflowID)
		return nil
	}
	return cmd
}

// defaultRequester is $USER when --requested-by was not given: it stands in for the requester
// when it names a person of the config.
func defaultRequester(f *pflag.FlagSet) string {
	if f.Changed("requested-by") {
		return ""
	}
	return os.Getenv("USER")
}

func (a *app) rotateCmd() *cobra.Command {
	var (
		in          contract.RotationInput
		windowStart string
	)
	cmd := &cobra.Command{
		Use:   "rotate --target T",
		Short: "Start a JWT secret rotation (runbook 2) and print its workflow id",
	}
	a.startCmd(cmd, &in.Target, &in.Reason, &in.RequestedBy, runs.DefaultRotationReason, "why the secret is rotated",
		func(ctx context.Context, rc *runs.Client, user string) (runs.Started, error) {
			if windowStart != "" {
				t, err := time.Parse(time.RFC3339, windowStart)
				if err != nil {
					return runs.Started{}, fmt.Errorf("--window-start %q is not an RFC3339 time like 2026-11-28T22:00:00Z", windowStart)
				}
				in.WindowStart = t
			}
			in.Mode = contract.ModeManual
			return rc.StartRotation(ctx, a.signer(), runs.RotationRequest{RotationInput: in, DefaultRequester: user})
		})
	f := cmd.Flags()
	f.StringVar(&windowStart, "window-start", "", "when the window opens, RFC3339 (default now)")
	f.DurationVar(&in.Window, "window", 0, "how long the window stays open, e.g. 2h (default: no end)")
	f.StringVar(&in.RollbackOwner, "rollback-owner", "", "who may roll back during observation: a person from the config (default the requester)")
	return cmd
}

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
	}
	a.startCmd(cmd, &in.Target, &in.Reason, &in.RequestedBy, "", "why (required, also for break glass)",
		func(ctx context.Context, rc *runs.Client, user string) (runs.Started, error) {
			f := cmd.Flags()
			if f.Changed("restrict") {
				routes, err := parseRoutes(restrict)
				if err != nil {
					return runs.Started{}, err
				}
				in.Restrict = routes
			}
			if !f.Changed("restrict-ttl") && len(in.Restrict) == 0 {
				in.RestrictTTL = 0
			}
			return rc.StartInvalidation(ctx, a.signer(), runs.InvalidationRequest{InvalidationInput: in, DefaultRequester: user})
		})
	f := cmd.Flags()
	f.StringVar(&in.Trigger, "trigger", contract.TriggerTokenAbuse, "secret-compromise, token-abuse or auth-regression")
	f.StringVar(&in.IncidentID, "incident", "", "incident id to link")
	f.StringVar(&restrict, "restrict", "", "comma-separated route prefixes to restrict, e.g. /admin,/billing")
	f.DurationVar(&in.RestrictTTL, "restrict-ttl", runs.DefaultRestrictTTL, "how long routes stay restricted")
	f.IntVar(&in.RestrictStatus, "restrict-status", runs.DefaultRestrictStatus, "status restricted routes answer (403 or 503)")
	f.BoolVar(&in.KeepRestrictions, "keep-restrictions-on-failure", false, "keep routes restricted if the run fails")
	f.BoolVar(&in.BreakGlass, "break-glass", false, "proceed without a second approver (needs --reason; flagged for review)")
	return cmd
}

// parseRoutes splits a comma list; an empty item is a malformed list.
func parseRoutes(s string) ([]string, error) {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			return nil, fmt.Errorf("--restrict %q is malformed: empty route in the list", s)
		}
		out = append(out, p)
	}
	return out, nil
}
