package runs

import (
	"context"
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
	"github.com/authops/authops/internal/config"
)

// UpdateTimeout bounds the wait for the run's answer. A run answers at once when a worker is up;
// a signed statement is valid for statement.MaxAge anyway.
const UpdateTimeout = time.Minute

// Run names the run a decision is for.
type Run struct {
	WorkflowID string
	// RunID is the run the sender reviewed (the CLI's --run-id); refused if the id now names a
	// newer run. Empty: the current run.
	RunID string
	// FirstRunID is the first run of the chain the sender saw (a Slack button's); when the id
	// now names another chain, the decision is refused as outdated (ErrOutdated).
	FirstRunID string
	// UpdateID names the Update, so that a retry or a double click decides once. Empty: the SDK
	// picks one.
	UpdateID string
}

// DecisionRequest is a human decision on a rotation or an emergency run, or an incident's
// approve, reject or cancel.
type DecisionRequest struct {
	Run
	// Name is the decision: contract.Decision*.
	Name    string
	Actor   string
	Comment string
	// Action is an incident's pending action (a1, a2, …, or keep) an approve or reject
	// decides; the signature covers its content as the run shows it now.
	Action string
	// ActionGiven: the sender named an action (an empty one is refused).
	ActionGiven bool
}

// DecisionAnswer is how the run answered a decision.
type DecisionAnswer struct {
	WorkflowID string
	Name       string
	Event      contract.Event
	// Denied: the run refused the decision (Event says why).
	Denied bool
	// Warnings are what the sender should know about how it was sent.
	Warnings []string
}

// ErrOutdated: the decision was for an earlier run of the same workflow id (a Slack message
// posted for it); nothing was decided.
type ErrOutdated struct{ ID, Want, Got string }

func (e *ErrOutdated) Error() string {
	return fmt.Sprintf("this message is outdated: it was posted for run %s of %s, which is now run %s; nothing was decided",
		e.Want, e.ID, e.Got)
}

// decisions are the names Decide sends.
func decisions() []string {
	return []string{contract.DecisionApprove, contract.DecisionReject, contract.DecisionRollback, contract.DecisionResolve,
		contract.DecisionLiftRestrictions, contract.DecisionCancel}
}

// Decide sends one decision as a signed Update and returns the run's answer. Everything that can
// be refused here is refused before anything is sent.
func (c *Client) Decide(ctx context.Context, s Signer, req DecisionRequest) (DecisionAnswer, error) {
	if !slices.Contains(decisions(), req.Name) {
		return DecisionAnswer{}, fmt.Errorf("%q is not a decision (%s); nothing was sent", contract.CleanText(req.Name), strings.Join(decisions(), ", "))
	}
	if err := checkID(req.WorkflowID); err != nil {
		return DecisionAnswer{}, err
	}
	cfg, err := c.config()
	if err != nil {
		return DecisionAnswer{}, err
	}
	field := "--comment"
	if req.Name == contract.DecisionCancel {
		field = "--reason"
	}
	if err := contract.CheckText(field, req.Comment); err != nil {
		return DecisionAnswer{}, err
	}
	if req.ActionGiven || req.Action != "" {
		if strings.TrimSpace(req.Action) == "" {
			return DecisionAnswer{}, errors.New("--action needs the id of a pending action, e.g. a2 (see starter status)")
		}
		if err := contract.CheckText("--action", req.Action); err != nil {
			return DecisionAnswer{}, err
		}
	} else if req.Name == contract.DecisionApprove && contract.CheckIncidentID(req.WorkflowID) == nil {
		return DecisionAnswer{}, fmt.Errorf("--action is required to approve an incident's action: name the pending action you approve (see starter status %s); nothing was sent", contract.CleanText(req.WorkflowID))
	}
	d := contract.Decision{Actor: req.Actor, Comment: req.Comment}
	var prepare func(ctx context.Context, tc Temporal, sg *signing, d *contract.Decision, ans *DecisionAnswer) error
	if req.Action != "" {
		prepare = func(ctx context.Context, tc Temporal, _ *signing, d *contract.Decision, ans *DecisionAnswer) error {
			// The approval is bound to the action's content as the run shows it now, which is
			// what the approver reviewed (starter status, the Slack message).
			ref, warning, err := boundAction(ctx, tc, req.WorkflowID, req.Action)
			if err != nil {
				return err
			}
			if warning != "" {
				ans.Warnings = append(ans.Warnings, warning)
				c.o.Log.Warn(warning)
			}
			d.Args = Canonical(ref)
			return nil
		}
	}
	return c.decide(ctx, cfg, s, req.Run, req.Name, d, prepare)
}

// decide finds the actor's key, dials, lets prepare complete the decision (it may query the run
// and sign a child start), and sends it.
func (c *Client) decide(ctx context.Context, cfg *config.Config, s Signer, t Run, name string, d contract.Decision,
	prepare func(ctx context.Context, tc Temporal, sg *signing, d *contract.Decision, ans *DecisionAnswer) error) (DecisionAnswer, error) {
	sg, err := c.signingFor(cfg, s, "--as", d.Actor)
	if err != nil {
		return DecisionAnswer{}, err
	}
	defer sg.close()
	tc, err := c.temporal()
	if err != nil {
		return DecisionAnswer{}, err
	}
	var ans DecisionAnswer
	if prepare != nil {
		if err := prepare(ctx, tc, sg, &d, &ans); err != nil {
			return DecisionAnswer{}, err
		}
	}
	sent, err := sendDecision(ctx, tc, sg.sign, t, name, d)
	if err != nil {
		return DecisionAnswer{}, err
	}
	sent.Warnings = ans.Warnings
	return sent, nil
}

// decisionClient is what sending a decision needs of a Temporal client.
type decisionClient interface {
	DescribeWorkflow(ctx context.Context, workflowID, runID string) (*client.WorkflowExecutionDescription, error)
	UpdateWorkflow(ctx context.Context, options client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error)
}

// signFunc signs a statement (see signing.sign).
type signFunc func(workflowID, firstRunID, action, comment, args string) (*contract.SignedStatement, error)

// sendDecision signs d for the run's first execution and sends it as an Update, waiting for the
// run's answer.
func sendDecision(ctx context.Context, c decisionClient, sign signFunc, t Run, name string, d contract.Decision) (DecisionAnswer, error) {
	id, runID := t.WorkflowID, t.RunID
	desc, err := c.DescribeWorkflow(ctx, id, runID)
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		if runID != "" {
			return DecisionAnswer{}, fmt.Errorf("no run %s of %s; nothing was sent", runID, id)
		}
		return DecisionAnswer{}, fmt.Errorf("no run with id %s; nothing was sent", id)
	}
	if err != nil {
		return DecisionAnswer{}, fmt.Errorf("describe %s: %w", id, err)
	}
	info := desc.RawResponse.GetWorkflowExecutionInfo()
	// The statement names the chain's first run, so that it still holds after continue-as-new.
	firstRunID := info.GetFirstRunId()
	if t.FirstRunID != "" && firstRunID != t.FirstRunID {
		return DecisionAnswer{}, &ErrOutdated{ID: id, Want: t.FirstRunID, Got: firstRunID}
	}
	if st := info.GetStatus(); st != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return DecisionAnswer{}, fmt.Errorf("%s already finished (run %s, %s); nothing was sent", id, info.GetExecution().GetRunId(), st)
	}
	if firstRunID == "" {
		return DecisionAnswer{}, fmt.Errorf("the server did not report the first run id of %s, which a signed decision names; nothing was sent", id)
	}
	d.Statement, err = sign(id, firstRunID, name, d.Comment, d.Args)
	if err != nil {
		return DecisionAnswer{}, err
	}

	uctx, cancel := context.WithTimeout(ctx, UpdateTimeout)
	defer cancel()
	var ev contract.Event
	h, err := c.UpdateWorkflow(uctx, client.UpdateWorkflowOptions{
		WorkflowID:          id,
		RunID:               runID,
		FirstExecutionRunID: firstRunID,
		UpdateID:            t.UpdateID,
		UpdateName:          name,
		Args:                []any{d},
		WaitForStage:        client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = h.Get(uctx, &ev)
	}
	ans := DecisionAnswer{WorkflowID: id, Name: name}
	if err == nil {
		ans.Event = ev
		return ans, nil
	}
	if ev, ok := deniedEvent(err, name, d.Actor); ok {
		ans.Event, ans.Denied = ev, true
		return ans, nil
	}
	if noUpdateHandler(err) {
		return DecisionAnswer{}, fmt.Errorf("%s takes no %s (its workflow has no such decision); nothing was decided", id, name)
	}
	return DecisionAnswer{}, explainUpdateError(ctx, err, id, name)
}

// deniedEvent reports whether err is the run's refusal of the decision, and the timeline event
// that records it.
func deniedEvent(err error, name, actor string) (contract.Event, bool) {
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != contract.ErrTypeDecisionDenied {
		return contract.Event{}, false
	}
	var ev contract.Event
	if appErr.HasDetails() {
		_ = appErr.Details(&ev)
	}
	if ev.Outcome == "" {
		ev = contract.Event{At: time.Now().UTC(), Actor: actor, Action: name, Outcome: "denied", Detail: appErr.Message()}
	}
	return ev, true
}

// noUpdateHandler reports whether the run has no handler for the update: a run of another
// workflow, or a decision its runbook does not take.
func noUpdateHandler(err error) bool {
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "unknown update") || strings.Contains(msg, "handler not found")
}

func explainUpdateError(ctx context.Context, err error, id, name string) error {
	var notFound *serviceerror.NotFound
	var timeout *client.WorkflowUpdateServiceTimeoutOrCanceledError
	var appErr *temporal.ApplicationError
	switch {
	case errors.As(err, &notFound):
		return fmt.Errorf("run %s closed (or is gone) before it took the %s; nothing was decided", id, name)
	case errors.As(err, &timeout) && ctx.Err() == nil:
		return fmt.Errorf("%s: the run did not answer within %s; is a worker running? It may still act on it while the signature is valid; check `starter timeline %s`",
			name, UpdateTimeout, id)
	case errors.As(err, &appErr):
		// Refused before the handler ran (the validator: e.g. a closing run).
		return fmt.Errorf("%s refused by %s: %s", name, id, contract.CleanText(appErr.Message()))
	}
	return fmt.Errorf("send %s to %s: %w", name, id, err)
}

// boundQueryWait is how long boundAction waits for a worker to answer the incident's query.
const boundQueryWait = 5 * time.Second

// boundAction names the incident id's pending action with the digest of its content as the run
// answers it, so the signed approval (or rejection) holds for that content only.
//
// A query needs a worker. When none answers within boundQueryWait, an approval of aN names the
// action alone (and warning says so): ids are never reused within an incident, so the id still
// binds its content, and the approval waits on the server for a worker like any other decision.
// A keep is bound only by its digest (a later resolve may keep other measures), so it needs the
// answer.
func boundAction(ctx context.Context, c queryClient, id, action string) (ref contract.ActionRef, warning string, err error) {
	var st contract.IncidentStatus
	qctx, cancel := context.WithTimeout(ctx, boundQueryWait)
	defer cancel()
	if err := queryRun(qctx, c, id, contract.QueryIncident, &st); err != nil {
		timedOut := qctx.Err() != nil || errors.Is(err, context.DeadlineExceeded)
		if !timedOut || ctx.Err() != nil || action == contract.KeepAction {
			return contract.ActionRef{}, "", err
		}
		return contract.ActionRef{Action: action}, fmt.Sprintf("no worker answered for %s within %s, so its content could not be read: the approval names %s only",
			contract.CleanText(id), boundQueryWait, contract.CleanText(action)), nil
	}
	if k := st.Keeping; action == contract.KeepAction && k != nil && k.State == "pending" {
		// A resolve that keeps measures past the incident, bound to what it keeps and until when.
		return contract.ActionRef{Action: action, Digest: k.Digest()}, "", nil
	}
	var open []string
	for _, pa := range st.Pending {
		if pa.State != "pending" {
			continue
		}
		if pa.ID == action {
			return contract.ActionRef{Action: action, Digest: pa.Request.Digest()}, "", nil
		}
		open = append(open, pa.ID)
	}
	list := "none"
	if len(open) > 0 {
		list = strings.Join(open, ", ")
	}
	return contract.ActionRef{}, "", fmt.Errorf("%s has no pending action %q (pending: %s); nothing was sent", contract.CleanText(id), contract.CleanText(action), list)
}
