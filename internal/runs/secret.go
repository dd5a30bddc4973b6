package runs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/authops/authops/contract"
)

// SecretTimeout bounds the wait for a secret status or settle run, which answers within seconds
// when a worker is up.
const SecretTimeout = 2 * time.Minute

// SecretStatus runs a SecretStatus workflow on the worker's task queue and returns its answer.
func (c *Client) SecretStatus(ctx context.Context, target string) (contract.SecretStatus, error) {
	cfg, err := c.config()
	if err != nil {
		return contract.SecretStatus{}, err
	}
	if _, err := cfg.Target(target); err != nil {
		return contract.SecretStatus{}, err
	}
	tc, err := c.temporal()
	if err != nil {
		return contract.SecretStatus{}, err
	}
	suffix := make([]byte, 4)
	if _, err := rand.Read(suffix); err != nil {
		return contract.SecretStatus{}, err
	}
	id := contract.SecretStatusID(target, time.Now().UTC().Format("20060102T150405Z")+"-"+hex.EncodeToString(suffix))
	ctx, cancel := context.WithTimeout(ctx, SecretTimeout)
	defer cancel()
	run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                contract.TaskQueue,
		WorkflowExecutionTimeout: SecretTimeout,
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
		return fmt.Errorf("%s did not answer within %s; is a worker running?", id, SecretTimeout)
	}
	return fmt.Errorf("%s: %w", id, err)
}

// One settle runs at a time per target. A refusal by the run is returned as a result, not an error.
// Settle refuses what it can before anything is sent, signs the request and runs SecretSettle.
func (c *Client) Settle(ctx context.Context, s Signer, in contract.SettleInput) (contract.SettleResult, error) {
	cfg, err := c.config(in.Target)
	if err != nil {
		return contract.SettleResult{}, err
	}
	t, err := cfg.Target(in.Target)
	if err != nil {
		return contract.SettleResult{}, err
	}
	if err := CheckPerson(cfg, "--as", in.RequestedBy); err != nil {
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
	sg, err := c.signingFor(cfg, s, "--as", in.RequestedBy)
	if err != nil {
		return contract.SettleResult{}, err
	}
	defer sg.close()
	id := contract.SecretSettleID(in.Target)
	if in.Statement, err = sg.sign(id, "", contract.ActionSettleSecret, in.SignedText(), ""); err != nil {
		return contract.SettleResult{}, err
	}
	tc, err := c.temporal()
	if err != nil {
		return contract.SettleResult{}, err
	}
	return runSettle(ctx, tc, in)
}

// runSettle starts the settle run of in.Target and waits for its result.
func runSettle(ctx context.Context, c starterClient, in contract.SettleInput) (contract.SettleResult, error) {
	id := contract.SecretSettleID(in.Target)
	ctx, cancel := context.WithTimeout(ctx, SecretTimeout)
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
