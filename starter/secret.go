package main

import (
	"github.com/authops/authops/contract"

	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

// secretTimeout bounds the wait for a secret status or settle run, which answers within seconds
// when a worker is up.
const secretTimeout = 2 * time.Minute

func (a *app) secretCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secret",
		Short: "Show a target's secret versions, or settle a pending version a closed run left behind",
		Long: `secret works on a target's secret store through a short run on the worker, which holds the store:
the starter never reads a secret. Values are never shown, only version ids, stages and fingerprints.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(a.secretStatusCmd(), a.secretSettleCmd())
	return cmd
}

func (a *app) secretStatusCmd() *cobra.Command {
	var (
		target string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "status --target T",
		Short: "Show the versions of a target's secret: ids, stages, creation times, keys and fingerprints",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.checkTarget(target); err != nil {
				return err
			}
			c, err := a.dial()
			if err != nil {
				return err
			}
			defer c.Close()
			st, err := secretStatus(cmd.Context(), c, target)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), st)
			}
			return writeSecretStatus(cmd.OutOrStdout(), st)
		},
	}
	cmd.Flags().StringVar(&target, "target", "", "target name from the config (required)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	_ = cmd.MarkFlagRequired("target")
	return cmd
}

// secretStatus runs a SecretStatus workflow on the worker's task queue and returns its answer.
func secretStatus(ctx context.Context, c starterClient, target string) (contract.SecretStatus, error) {
	suffix := make([]byte, 4)
	if _, err := rand.Read(suffix); err != nil {
		return contract.SecretStatus{}, err
	}
	id := contract.SecretStatusID(target, time.Now().UTC().Format("20060102T150405Z")+"-"+hex.EncodeToString(suffix))
	ctx, cancel := context.WithTimeout(ctx, secretTimeout)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                contract.TaskQueue,
		WorkflowExecutionTimeout: secretTimeout,
		StaticSummary:            "Secret versions of " + target,
	}, contract.WorkflowSecretStatus, contract.SecretStatusInput{Target: target})
	if err != nil {
		return contract.SecretStatus{}, fmt.Errorf("start %s: %w", id, err)
	}
	var st contract.SecretStatus
	if err := run.Get(ctx, &st); err != nil {
		return st, explainWait(ctx, err, id)
	}
	return st, nil
}

func explainWait(ctx context.Context, err error, id string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%s did not answer within %s; is a worker running?", id, secretTimeout)
	}
	return fmt.Errorf("%s: %w", id, err)
}

// writeSecretStatus prints the versions as a table, and what a pending version needs.
func writeSecretStatus(w io.Writer, st contract.SecretStatus) error {
	clean := contract.CleanText
	live := "the env sink holds no secret"
	switch {
	case st.LiveVersion != "":
		live = fmt.Sprintf("the env sink holds %s (fingerprint %s)", clean(st.LiveVersion), clean(st.LiveFingerprint))
	case st.LiveFingerprint != "":
		live = fmt.Sprintf("the env sink holds fingerprint %s, which no version of the store has", clean(st.LiveFingerprint))
	}
	fmt.Fprintf(w, "secret of %s: %d versions; %s\n", clean(st.Target), len(st.Versions), live)
	if len(st.Versions) > 0 {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "VERSION\tSTAGE\tCREATED (UTC)\tFINGERPRINT\tLIVE\tIDEMPOTENCY KEY\tRUN")
		for _, v := range st.Versions {
			mark := "-"
			if v.Live {
				mark = "live"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", clean(v.ID), clean(v.Stage), v.CreatedAt.UTC().Format(time.RFC3339),
				clean(v.Fingerprint), mark, orDefault(clean(v.IdempotencyKey), "-"), orDefault(clean(v.RunState), "-"))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if p, ok := st.ByStage("pending"); ok {
		switch {
		case strings.HasPrefix(p.RunState, "closed"):
			fmt.Fprintf(w, "pending %s was left behind by %s, which is %s: it blocks the next rotation. Settle it: starter secret settle --target %s --as <approver>",
				clean(p.ID), clean(p.Run), clean(p.RunState), clean(st.Target))
			if p.Live {
				fmt.Fprint(w, " (it is live: bring the target back to the current version first, or start an emergency invalidation)")
			}
			fmt.Fprintln(w)
		case p.RunState == "running":
			fmt.Fprintf(w, "pending %s belongs to %s, which is still running.\n", clean(p.ID), clean(p.Run))
		}
	}
	return nil
}

func (a *app) secretSettleCmd() *cobra.Command {
	var in contract.SettleInput
	cmd := &cobra.Command{
		Use:   "settle --target T --as PERSON [--version V]",
		Short: "Mark failed a pending secret version that a closed run left behind (approvers only)",
		Long: `settle marks failed the pending secret version of a target that a closed run left behind (a rotation
whose store write failed and was resolved by hand), so that the next rotation can start. Only an
approver of the target may settle; the request is signed with your SSH key like a decision. The run
refuses a version that is live in the env file and one whose run is still running. Without
--version it settles whichever version is pending.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := a.settle(cmd.Context(), in)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), contract.CleanText(res.Summary))
			if res.Outcome == contract.OutcomeRefused {
				return errors.New("settle refused")
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Target, "target", "", "target name from the config (required)")
	f.StringVar(&in.RequestedBy, "as", "", "who you are: an approver of the target, in canonical form (required)")
	f.StringVar(&in.VersionID, "version", "", "the `VERSION` to settle, e.g. v3-1a2b3c4d (default: the pending one; see starter secret status)")
	f.StringVar(&in.Reason, "reason", "", "why, for the timeline (signed with the request)")
	_ = cmd.MarkFlagRequired("target")
	_ = cmd.MarkFlagRequired("as")
	return cmd
}

// settle refuses what it can before anything is sent, signs the request and runs SecretSettle,
// one at a time per target. A refusal by the run is returned as a result, not an error.
func (a *app) settle(ctx context.Context, in contract.SettleInput) (contract.SettleResult, error) {
	cfg, err := a.lightConfig(in.Target)
	if err != nil {
		return contract.SettleResult{}, err
	}
	t, err := cfg.Target(in.Target)
	if err != nil {
		return contract.SettleResult{}, err
	}
	if err := checkPerson(cfg, "--as", in.RequestedBy); err != nil {
		return contract.SettleResult{}, err
	}
	if !slices.Contains(t.Approvers, in.RequestedBy) {
		return contract.SettleResult{}, fmt.Errorf("only the approvers of %s (%s) may settle a secret version; %s is not one",
			in.Target, strings.Join(t.Approvers, ", "), in.RequestedBy)
	}
	if err := contract.CheckText("--reason", in.Reason); err != nil {
		return contract.SettleResult{}, err
	}
	if err := in.Validate(); err != nil {
		return contract.SettleResult{}, err
	}
	s, err := a.newSigner(cfg, "--as", in.RequestedBy)
	if err != nil {
		return contract.SettleResult{}, err
	}
	defer s.close()
	id := contract.SecretSettleID(in.Target)
	if in.Statement, err = s.sign(id, "", contract.ActionSettleSecret, in.SignedText(), ""); err != nil {
		return contract.SettleResult{}, err
	}
	c, err := a.dial()
	if err != nil {
		return contract.SettleResult{}, err
	}
	defer c.Close()
	return runSettle(ctx, c, in)
}

// runSettle starts the settle run of in.Target and waits for its result.
func runSettle(ctx context.Context, c starterClient, in contract.SettleInput) (contract.SettleResult, error) {
	id := contract.SecretSettleID(in.Target)
	ctx, cancel := context.WithTimeout(ctx, secretTimeout)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                                       id,
		TaskQueue:                                contract.TaskQueue,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		WorkflowExecutionTimeout:                 10 * time.Minute,
		StaticSummary:                            fmt.Sprintf("Settle a stale pending secret version of %s, requested by %s", in.Target, in.RequestedBy),
		TypedSearchAttributes:                    temporal.NewSearchAttributes(contract.AttrTarget.ValueSet(in.Target)),
	}, contract.WorkflowSecretSettle, in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return contract.SettleResult{}, fmt.Errorf("already running: %s (run %s); wait for it, then check `starter secret status --target %s`", id, started.RunId, in.Target)
	}
	if err != nil {
		return contract.SettleResult{}, fmt.Errorf("start %s: %w", id, err)
	}
	var res contract.SettleResult
	err = run.Get(ctx, &res)
	var appErr *temporal.ApplicationError
	if err != nil && errors.As(err, &appErr) && appErr.HasDetails() {
		var refused contract.SettleResult
		if derr := appErr.Details(&refused); derr == nil && refused.Outcome != "" {
			return refused, nil
		}
	}
	if err != nil {
		return res, explainWait(ctx, err, id)
	}
	return res, nil
}
