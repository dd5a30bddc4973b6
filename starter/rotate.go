package main

import (
	"github.com/authops/authops/contract"

	"context"
	"errors"
	"fmt"
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
			id, err := a.startRotation(cmd.Context(), in, cmd.Flags().Changed("requested-by"))
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
	f.StringVar(&in.RequestedBy, "requested-by", "", "who asks for the rotation: a person from the config (default $USER, if that is one); signs the start")
	f.StringVar(&windowStart, "window-start", "", "when the window opens, RFC3339 (default now)")
	f.DurationVar(&in.Window, "window", 0, "how long the window stays open, e.g. 2h (default: no end)")
	f.StringVar(&in.RollbackOwner, "rollback-owner", "", "who may roll back during observation: a person from the config (default the requester)")
	_ = cmd.MarkFlagRequired("target")
	return cmd
}

// startRotation validates everything it can and signs the start before touching Temporal, so
// bad input changes nothing.
func (a *app) startRotation(ctx context.Context, in contract.RotationInput, requesterGiven bool) (string, error) {
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
	if in.RollbackOwner != "" {
		if err := checkPerson(cfg, "--rollback-owner", in.RollbackOwner); err != nil {
			return "", err
		}
	}
	if err := contract.CheckText("--reason", in.Reason); err != nil {
		return "", err
	}
	if err := in.Validate(time.Now()); err != nil {
		return "", err
	}
	if err := in.CheckWindowAhead(time.Now(), t.Rotation.MaxWindowAhead.D()); err != nil {
		return "", err
	}
	s, err := a.newSigner(cfg, "--requested-by", in.RequestedBy)
	if err != nil {
		return "", err
	}
	defer s.close()
	id := contract.RotationID(in.Target)
	if in.Statement, err = s.sign(id, "", contract.ActionStartRotation, in.Reason, in.StartArgs()); err != nil {
		return "", err
	}
	c, err := a.dial()
	if err != nil {
		return "", err
	}
	defer c.Close()
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
	}, contract.WorkflowSecretRotation, in, "approve, reject or wait for it")
}

// requester is the requester of a start: the --requested-by person, or $USER when the flag was
// not given and $USER is a person of the config.
func requester(cfg *config.Config, name string, given bool) (string, error) {
	if !given {
		return defaultRequester(cfg)
	}
	return name, checkPerson(cfg, "--requested-by", name)
}

// starterClient is what starting a run needs of a Temporal client.
type starterClient interface {
	ExecuteWorkflow(ctx context.Context, options client.StartWorkflowOptions, workflow any, args ...any) (client.WorkflowRun, error)
}

// start starts a run; when one with the id is already running, the error names it and says
// what to do instead (hint).
func start(ctx context.Context, c starterClient, opts client.StartWorkflowOptions, wf any, in any, hint string) (string, error) {
	run, err := c.ExecuteWorkflow(ctx, opts, wf, in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return "", fmt.Errorf("already running: %s (run %s); %s", opts.ID, started.RunId, hint)
	}
	if err != nil {
		return "", fmt.Errorf("start %s: %w", opts.ID, err)
	}
	return run.GetID(), nil
}

// checkTarget rejects an unknown target before anything is started. It reads the target names
// only (lightConfig); the worker validates the target itself.
func (a *app) checkTarget(name string) error {
	cfg, err := a.lightConfig()
	if err != nil {
		return err
	}
	_, err = cfg.Target(name)
	return err
}

// config loads and validates the whole runbook config. It resolves no secret reference.
func (a *app) config() (*config.Config, error) {
	return config.Load(config.Path(a.configPath))
}

// lightConfig reads what starting a run or sending a decision needs: the people, the target
// names, and the approvers and window bound of the targets named. It does not validate every
// target, which costs a third of a second at a thousand targets: the worker validates the
// target of each run (LoadPolicy), and the run fails at once on one it cannot load.
func (a *app) lightConfig(targets ...string) (*config.Config, error) {
	return config.LoadLight(config.Path(a.configPath), targets...)
}
