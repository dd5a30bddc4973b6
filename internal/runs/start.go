package runs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/config"
)

// Defaults of a start's inputs where the sender gives none.
const (
	DefaultRotationReason = "scheduled key hygiene"
	DefaultRestrictStatus = 503
)

// Started is a run that was started.
type Started struct {
	WorkflowID string
	RunID      string
}

// RotationRequest asks for a JWT secret rotation (runbook 2).
type RotationRequest struct {
	contract.RotationInput
	// DefaultRequester stands in for an empty RequestedBy when it names a person of the
	// config: the CLI's $USER.
	DefaultRequester string
}

// InvalidationRequest asks for an emergency token invalidation (runbook 3).
type InvalidationRequest struct {
	contract.InvalidationInput
	// DefaultRequester stands in for an empty RequestedBy (see RotationRequest).
	DefaultRequester string
}

// StartRotation validates everything it can and signs the start before touching Temporal.
func (c *Client) StartRotation(ctx context.Context, s Signer, req RotationRequest) (Started, error) {
	in := req.RotationInput
	return c.start(ctx, s, startSpec{
		target: in.Target, requestedBy: &in.RequestedBy, fallback: req.DefaultRequester,
		check: func(cfg *config.Config, t *config.Target) error {
			if in.RollbackOwner != "" {
				if err := CheckPerson(cfg, "--rollback-owner", in.RollbackOwner); err != nil {
					return err
				}
			}
			if err := contract.CheckText("--reason", in.Reason); err != nil {
				return err
			}
			now := c.o.Now()
			if err := in.Validate(now); err != nil {
				return err
			}
			return in.CheckWindowAhead(now, t.Rotation.MaxWindowAhead.D())
		},
		sign: func(sg *signing) (any, string, error) {
			id := contract.RotationID(in.Target)
			var err error
			in.Statement, err = sg.sign(id, "", contract.ActionStartRotation, in.Reason, in.StartArgs())
			return in, id, err
		},
		options: func() client.StartWorkflowOptions {
			return client.StartWorkflowOptions{
				TaskQueue:     contract.TaskQueue,
				StaticSummary: fmt.Sprintf("JWT secret rotation of %s, requested by %s: %s", in.Target, in.RequestedBy, in.Reason),
				// One rotation per target at a time: a running one makes this start fail.
				WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
				TypedSearchAttributes: temporal.NewSearchAttributes(
					contract.AttrTarget.ValueSet(in.Target), contract.AttrRunbook.ValueSet("secret-rotation")),
			}
		},
		workflow: contract.WorkflowSecretRotation,
		hint:     "approve, reject or wait for it",
	})
}

// StartInvalidation validates everything it can and signs the start before touching Temporal.
// The workflow id is one per target, so Temporal itself refuses a second emergency run: two
// would preempt each other's rotation and lift each other's restrictions, so the second
// responder joins the first run instead.
func (c *Client) StartInvalidation(ctx context.Context, s Signer, req InvalidationRequest) (Started, error) {
	in := req.InvalidationInput
	return c.start(ctx, s, startSpec{
		target: in.Target, requestedBy: &in.RequestedBy, fallback: req.DefaultRequester,
		check: func(_ *config.Config, t *config.Target) error {
			if err := contract.CheckText("--reason", in.Reason); err != nil {
				return err
			}
			if err := contract.CheckText("--incident", in.IncidentID); err != nil {
				return err
			}
			if err := in.Validate(); err != nil {
				return err
			}
			if in.BreakGlass && !slices.Contains(t.Approvers, in.RequestedBy) {
				return fmt.Errorf("break glass is for the approvers of %s (%s); %s is not one", in.Target,
					strings.Join(t.Approvers, ", "), in.RequestedBy)
			}
			return nil
		},
		sign: func(sg *signing) (any, string, error) {
			id := contract.InvalidationID(in.Target)
			var err error
			in.Statement, err = sg.sign(id, "", in.StartAction(), in.Reason, in.StartArgs())
			return in, id, err
		},
		options: func() client.StartWorkflowOptions {
			return client.StartWorkflowOptions{
				// Emergency work has its own queue, which every worker polls (worker/register),
				// and goes first wherever it shares one. The queue is never guessed from the
				// pollers a client sees: a worker that has just started is not seen yet.
				TaskQueue: contract.EmergencyTaskQueue,
				Priority:  contract.EmergencyPriority,
				StaticSummary: fmt.Sprintf("EMERGENCY token invalidation of %s (%s), requested by %s%s: %s",
					in.Target, in.Trigger, in.RequestedBy, map[bool]string{true: ", BREAK GLASS"}[in.BreakGlass], in.Reason),
				TypedSearchAttributes: temporal.NewSearchAttributes(
					contract.AttrTarget.ValueSet(in.Target), contract.AttrRunbook.ValueSet("emergency-invalidation"),
					contract.AttrBreakGlass.ValueSet(in.BreakGlass)),
			}
		},
		workflow: contract.WorkflowEmergencyInvalidation,
		hint:     "approve or follow that run",
	})
}

// startSpec is what differs between the starts of a rotation and of an emergency invalidation;
// start does the rest, in the same order for both.
type startSpec struct {
	target string
	// requestedBy points into the input, so that the input signed and sent names the
	// requester resolved from fallback.
	requestedBy *string
	fallback    string
	// check refuses bad input once the config and the target are known.
	check func(cfg *config.Config, t *config.Target) error
	// sign signs the start and returns the input to send and the workflow id.
	sign func(sg *signing) (in any, id string, err error)
	// options are the start's options but for the id and the conflict policies.
	options  func() client.StartWorkflowOptions
	workflow string
	hint     string
}

func (c *Client) start(ctx context.Context, s Signer, sp startSpec) (Started, error) {
	cfg, err := c.config(sp.target)
	if err != nil {
		return Started{}, err
	}
	t, err := cfg.Target(sp.target)
	if err != nil {
		return Started{}, err
	}
	if *sp.requestedBy, err = requester(cfg, "--requested-by", *sp.requestedBy, sp.fallback); err != nil {
		return Started{}, err
	}
	if err := sp.check(cfg, t); err != nil {
		return Started{}, err
	}
	sg, err := c.signingFor(cfg, s, "--requested-by", *sp.requestedBy)
	if err != nil {
		return Started{}, err
	}
	defer sg.close()
	in, id, err := sp.sign(sg)
	if err != nil {
		return Started{}, err
	}
	tc, err := c.temporal()
	if err != nil {
		return Started{}, err
	}
	opts := sp.options()
	opts.ID = id
	opts.WorkflowIDConflictPolicy = enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL
	opts.WorkflowExecutionErrorWhenAlreadyStarted = true
	return startRun(ctx, tc, opts, sp.workflow, in, sp.hint)
}

// starterClient is what starting a run needs of a Temporal client.
type starterClient interface {
	ExecuteWorkflow(ctx context.Context, options client.StartWorkflowOptions, workflow any, args ...any) (client.WorkflowRun, error)
}

// startRun starts a run; when one with the id is already running, the error names it and says
// what to do instead (hint).
func startRun(ctx context.Context, c starterClient, opts client.StartWorkflowOptions, wf any, in any, hint string) (Started, error) {
	run, err := c.ExecuteWorkflow(ctx, opts, wf, in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return Started{}, fmt.Errorf("already running: %s (run %s); %s", opts.ID, started.RunId, hint)
	}
	if err != nil {
		return Started{}, fmt.Errorf("start %s: %w", opts.ID, err)
	}
	return Started{WorkflowID: run.GetID(), RunID: run.GetRunID()}, nil
}
