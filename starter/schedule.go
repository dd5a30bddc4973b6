package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/authops/authops/contract"
)

func (a *app) scheduleCmd() *cobra.Command {
	var (
		in     contract.ScheduledRotationInput
		cron   string
		remove bool
	)
	cmd := &cobra.Command{
		Use:   "schedule-rotation --target T --cron EXPR",
		Short: "Create (or --delete) the Temporal Schedule that starts a target's rotation routinely",
		Long: `schedule-rotation creates the Temporal Schedule rotation-schedule-<target>. Each time it fires, it
starts rotation-<target> in scheduled mode with a window of --window from then; the rotation still waits
for an approver. If a rotation of the target is already running, that firing is skipped.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.checkTarget(in.Target); err != nil {
				return err
			}
			id := contract.ScheduleID(in.Target)
			c, err := a.dial()
			if err != nil {
				return err
			}
			defer c.Close()
			if remove {
				if err := c.ScheduleClient().GetHandle(cmd.Context(), id).Delete(cmd.Context()); err != nil {
					return fmt.Errorf("delete schedule %s: %w", id, err)
				}
				fmt.Fprintln(cmd.OutOrStdout(), "deleted", id)
				return nil
			}
			if cron == "" {
				return errors.New("--cron is required, e.g. \"0 3 * * 1\" for Mondays 03:00 UTC")
			}
			if in.Window <= 0 {
				return fmt.Errorf("--window must be positive, got %s", in.Window)
			}
			in.Schedule = id
			if err := createSchedule(cmd.Context(), c, id, cron, in); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), id)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Target, "target", "", "target name from the config (required)")
	f.StringVar(&cron, "cron", "", "cron expression in UTC, e.g. \"0 3 * * 1\"")
	f.DurationVar(&in.Window, "window", 2*time.Hour, "rotation window from each firing")
	f.StringVar(&in.RollbackOwner, "rollback-owner", "", "who may roll back during the observation window")
	f.BoolVar(&remove, "delete", false, "delete the target's schedule instead")
	_ = cmd.MarkFlagRequired("target")
	return cmd
}

func createSchedule(ctx context.Context, c client.Client, id, cron string, in contract.ScheduledRotationInput) error {
	_, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:   id,
		Spec: client.ScheduleSpec{CronExpressions: []string{cron}},
		// A firing while the last one's rotation still runs is skipped; ScheduledRotation also
		// refuses to start a second rotation of the target.
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		Action: &client.ScheduleWorkflowAction{
			ID:        contract.ScheduledRotationWorkflowID(in.Target),
			Workflow:  contract.WorkflowScheduledRotation,
			Args:      []any{in},
			TaskQueue: contract.TaskQueue,
		},
	})
	if isAlreadyExists(err) {
		return fmt.Errorf("schedule %s already exists; delete it first with --delete", id)
	}
	if err != nil {
		return fmt.Errorf("create schedule %s (cron %q): %w", id, cron, err)
	}
	return nil
}

func isAlreadyExists(err error) bool {
	var ae *serviceerror.AlreadyExists
	return errors.As(err, &ae) || errors.Is(err, temporal.ErrScheduleAlreadyRunning)
}
