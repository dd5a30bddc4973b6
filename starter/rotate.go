package main

import (
	"github.com/authops/authops/contract"

	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/authops/authops/internal/config"
)

func (a *app) rotateCmd() *cobra.Command {
	var (
		in          contract.RotationInput
		windowStart string
	)
	cmd := &cobra.Command{
		Use:   "rotate --target T",
		Short: "Start a JWT secret rotation (runbook 2) and print its workflow id",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if windowStart != "" {
				t, err := time.Parse(time.RFC3339, windowStart)
				if err != nil {
					return fmt.Errorf("--window-start %q is not an RFC3339 time like 2026-11-28T22:00:00Z", windowStart)
				}
				in.WindowStart = t
			}
			in.Mode = contract.ModeManual
			id, err := a.startRotation(cmd.Context(), in)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), id)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Target, "target", "", "target name from the config (required)")
	f.StringVar(&in.Reason, "reason", "scheduled key hygiene", "why the secret is rotated")
	f.StringVar(&in.RequestedBy, "requested-by", os.Getenv("USER"), "who asks for the rotation")
	f.StringVar(&windowStart, "window-start", "", "when the window opens, RFC3339 (default now)")
	f.DurationVar(&in.Window, "window", 0, "how long the window stays open, e.g. 2h (default: no end)")
	f.StringVar(&in.RollbackOwner, "rollback-owner", "", "who may roll back during observation (default the requester)")
	_ = cmd.MarkFlagRequired("target")
	return cmd
}

// startRotation validates everything it can before touching Temporal, so bad input changes nothing.
func (a *app) startRotation(ctx context.Context, in contract.RotationInput) (string, error) {
	if err := a.checkTarget(in.Target); err != nil {
		return "", err
	}
	if err := in.Validate(time.Now()); err != nil {
		return "", err
	}
	c, err := a.dial()
	if err != nil {
		return "", err
	}
	defer c.Close()
	id := contract.RotationID(in.Target)
	return start(ctx, c, client.StartWorkflowOptions{
		ID:            id,
		TaskQueue:     contract.TaskQueue,
		StaticSummary: fmt.Sprintf("JWT secret rotation of %s, requested by %s: %s", in.Target, in.RequestedBy, in.Reason),
		// One rotation per target at a time: a running one makes this start fail.
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			contract.AttrTarget.ValueSet(in.Target), contract.AttrRunbook.ValueSet("secret-rotation")),
	}, contract.WorkflowSecretRotation, in)
}

func start(ctx context.Context, c client.Client, opts client.StartWorkflowOptions, wf any, in any) (string, error) {
	run, err := c.ExecuteWorkflow(ctx, opts, wf, in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return "", fmt.Errorf("already running: %s (run %s); approve, reject or wait for it", opts.ID, started.RunId)
	}
	if err != nil {
		return "", fmt.Errorf("start %s: %w", opts.ID, err)
	}
	return run.GetID(), nil
}

// checkTarget rejects an unknown target before anything is started. It reads the config but
// resolves no secret reference.
func (a *app) checkTarget(name string) error {
	_, err := a.target(name)
	return err
}

func (a *app) target(name string) (*config.Target, error) {
	cfg, err := config.Load(config.Path(a.configPath))
	if err != nil {
		return nil, err
	}
	return cfg.Target(name)
}
