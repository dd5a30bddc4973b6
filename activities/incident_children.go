package activities

import (
	"context"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/authops/authops/contract"
)

// Peers reaches other runs: an incident waits for a run it linked. The worker's Temporal client
// is one.
type Peers interface {
	GetWorkflow(ctx context.Context, workflowID, runID string) client.WorkflowRun
}

// AwaitRun waits for a run the incident linked (it was running already) to close and returns its
// outcome. It heartbeats, so a worker restart resumes the wait.
func (a *Peer) AwaitRun(ctx context.Context, workflowID string) (contract.ChildClosed, error) {
	if a.Peers == nil {
		return contract.ChildClosed{}, temporal.NewNonRetryableApplicationError("the worker has no Temporal client to wait with", contract.ErrTypeConfig, nil)
	}
	var res contract.RunOutcome
	err := heartbeatWhile(ctx, "waiting for "+workflowID, func() error {
		return a.Peers.GetWorkflow(ctx, workflowID, "").Get(ctx, &res)
	})
	if err != nil && ctx.Err() != nil {
		return contract.ChildClosed{WorkflowID: workflowID}, ctx.Err()
	}
	closed := contract.ClosedFrom(workflowID, res, err)
	return closed, nil
}
