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
)

// decisionCmd sends one of the human signals (approve, reject, rollback, resolve,
// lift-restrictions) and reports whether the run accepted or denied it.
func (a *app) decisionCmd(use, short, signal string) *cobra.Command {
	var (
		d     contract.Decision
		runID string
	)
	cmd := &cobra.Command{
		Use:   use + " WORKFLOW_ID --as USER",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.dial()
			if err != nil {
				return err
			}
			defer c.Close()
			ev, err := sendDecision(cmd.Context(), c, args[0], runID, signal, d)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s by %s at %s", signal, ev.Outcome, ev.Actor, ev.At.Format(time.RFC3339))
			if ev.Detail != "" {
				fmt.Fprintf(cmd.OutOrStdout(), ": %s", ev.Detail)
			}
			fmt.Fprintln(cmd.OutOrStdout())
			if ev.Outcome == "denied" {
				return fmt.Errorf("%s denied", signal)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&d.Actor, "as", "", "who you are (required; checked against the target's policy)")
	cmd.Flags().StringVar(&d.Comment, "comment", "", "a note for the timeline")
	cmd.Flags().StringVar(&runID, "run-id", "", "the run you reviewed (see `status`); refused if the id now names a newer run")
	_ = cmd.MarkFlagRequired("as")
	return cmd
}

// sendDecision signals a running run and waits for the run to record the attempt on its
// timeline, so the sender learns at once whether it was accepted or denied.
func sendDecision(ctx context.Context, c client.Client, id, runID, signal string, d contract.Decision) (contract.Event, error) {
	desc, err := c.DescribeWorkflowExecution(ctx, id, runID)
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return contract.Event{}, fmt.Errorf("no run with id %s", id)
	}
	if err != nil {
		return contract.Event{}, fmt.Errorf("describe %s: %w", id, err)
	}
	if st := desc.GetWorkflowExecutionInfo().GetStatus(); st != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return contract.Event{}, fmt.Errorf("run %s already finished (%s); nothing was sent", id, st)
	}
	before, err := timeline(ctx, c, id)
	if err != nil {
		return contract.Event{}, err
	}
	if err := c.SignalWorkflow(ctx, id, runID, signal, d); err != nil {
		return contract.Event{}, fmt.Errorf("send %s to %s: %w", signal, id, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		evs, err := timeline(ctx, c, id)
		if err == nil {
			for _, ev := range evs[min(len(before), len(evs)):] {
				if ev.Actor == d.Actor && ev.Action == signal {
					return ev, nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return contract.Event{}, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	var st contract.Status
	_ = query(ctx, c, id, contract.QueryStatus, &st)
	return contract.Event{}, fmt.Errorf("%s was delivered but the run has not acted on it (phase %q): it may not be waiting for %s now; check `starter timeline %s`",
		signal, st.Phase, signal, id)
}
