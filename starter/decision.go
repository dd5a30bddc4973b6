package main

import (
	"github.com/authops/authops/contract"

	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

// updateTimeout bounds the wait for the run's answer. A run answers at once when a worker is up;
// a signed statement is valid for statement.MaxAge anyway.
const updateTimeout = time.Minute

// decisionCmd sends one human decision (approve, reject, rollback, resolve, lift-restrictions)
// as a signed Update and prints the run's answer.
func (a *app) decisionCmd(use, short, name string) *cobra.Command {
	var (
		d      contract.Decision
		runID  string
		action string
	)
	cmd := &cobra.Command{
		Use:   use + " WORKFLOW_ID --as PERSON",
		Short: short,
		Long: short + `.

The decision is signed with your SSH key (--key FILE, else the ssh-agent, else the demo key next to
your .pub file in the config) and sent as a Temporal Update: the run answers at once whether it
accepted or denied it. A denial exits with status 1.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			// Everything that can be refused here is refused before anything is sent.
			cfg, err := a.lightConfig()
			if err != nil {
				return err
			}
			field := "--comment"
			if name == contract.DecisionCancel {
				field = "--reason"
			}
			if err := contract.CheckText(field, d.Comment); err != nil {
				return err
			}
			if cmd.Flags().Changed("action") {
				// An incident's approve or reject names the pending action; the signature covers it.
				if strings.TrimSpace(action) == "" {
					return errors.New("--action needs the id of a pending action, e.g. a2 (see starter status)")
				}
				if err := contract.CheckText("--action", action); err != nil {
					return err
				}
			} else if name == contract.DecisionApprove && contract.CheckIncidentID(id) == nil {
				return fmt.Errorf("--action is required to approve an incident's action: name the pending action you approve (see starter status %s); nothing was sent", contract.CleanText(id))
			}
			s, err := a.newSigner(cfg, "--as", d.Actor)
			if err != nil {
				return err
			}
			defer s.close()
			c, err := a.dial()
			if err != nil {
				return err
			}
			defer c.Close()
			if action != "" {
				// The approval is bound to the action's content as the run shows it now, which
				// is what the approver reviewed (starter status, the Slack message).
				ref, err := boundAction(cmd.Context(), c, id, action, cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				d.Args = canonical(ref)
			}
			ans, err := sendDecision(cmd.Context(), c, s.sign, id, runID, name, d)
			if err != nil {
				return err
			}
			return reportDecision(cmd.OutOrStdout(), id, name, ans)
		},
	}
	cmd.Flags().StringVar(&d.Actor, "as", "", "who you are: a person from the config, in canonical form (required)")
	if name == contract.DecisionCancel {
		// A cancel stops a security runbook: the record must say why.
		cmd.Flags().StringVar(&d.Comment, "reason", "", "why the run is canceled (required; signed with the decision)")
		_ = cmd.MarkFlagRequired("reason")
	} else {
		cmd.Flags().StringVar(&d.Comment, "comment", "", "a note for the timeline (signed with the decision)")
	}
	if name == contract.DecisionApprove || name == contract.DecisionReject {
		cmd.Flags().StringVar(&action, "action", "", "an incident's pending action `ID` to decide (a1, a2, ...; see starter status)")
	}
	cmd.Flags().StringVar(&runID, "run-id", "", "the `RUN_ID` you reviewed (see starter status); refused if the id now names a newer run")
	_ = cmd.MarkFlagRequired("as")
	return cmd
}

// decisionClient is what sending a decision needs of a Temporal client.
type decisionClient interface {
	DescribeWorkflow(ctx context.Context, workflowID, runID string) (*client.WorkflowExecutionDescription, error)
	UpdateWorkflow(ctx context.Context, options client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error)
	SignalWorkflow(ctx context.Context, workflowID, runID, signalName string, arg any) error
}

// signFunc signs a statement (see signer.sign).
type signFunc func(workflowID, firstRunID, action, comment, args string) (*contract.SignedStatement, error)

// decisionAnswer is how the run answered a decision.
type decisionAnswer struct {
	Event contract.Event
	// Denied: the run refused the decision (Event says why).
	Denied bool
	// AsSignal: the run predates decisions as Updates; the decision went as a signal and its
	// outcome is on the run's timeline.
	AsSignal bool
}

// sendDecision signs d for the run's first execution and sends it as an Update, waiting for the
// run's answer. A run started before decisions were Updates gets it as a signal.
func sendDecision(ctx context.Context, c decisionClient, sign signFunc, id, runID, name string, d contract.Decision) (decisionAnswer, error) {
	desc, err := c.DescribeWorkflow(ctx, id, runID)
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		if runID != "" {
			return decisionAnswer{}, fmt.Errorf("no run %s of %s; nothing was sent", runID, id)
		}
		return decisionAnswer{}, fmt.Errorf("no run with id %s; nothing was sent", id)
	}
	if err != nil {
		return decisionAnswer{}, fmt.Errorf("describe %s: %w", id, err)
	}
	info := desc.RawResponse.GetWorkflowExecutionInfo()
	if st := info.GetStatus(); st != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return decisionAnswer{}, fmt.Errorf("%s already finished (run %s, %s); nothing was sent", id, info.GetExecution().GetRunId(), st)
	}
	// The statement names the chain's first run, so that it still holds after continue-as-new.
	firstRunID := info.GetFirstRunId()
	if firstRunID == "" {
		return decisionAnswer{}, fmt.Errorf("the server did not report the first run id of %s, which a signed decision names; nothing was sent", id)
	}
	d.Statement, err = sign(id, firstRunID, name, d.Comment, d.Args)
	if err != nil {
		return decisionAnswer{}, err
	}

	uctx, cancel := context.WithTimeout(ctx, updateTimeout)
	defer cancel()
	var ev contract.Event
	h, err := c.UpdateWorkflow(uctx, client.UpdateWorkflowOptions{
		WorkflowID:          id,
		RunID:               runID,
		FirstExecutionRunID: firstRunID,
		UpdateName:          name,
		Args:                []any{d},
		WaitForStage:        client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = h.Get(uctx, &ev)
	}
	if err == nil {
		return decisionAnswer{Event: ev}, nil
	}
	if ev, ok := deniedEvent(err, name, d.Actor); ok {
		return decisionAnswer{Event: ev, Denied: true}, nil
	}
	if noUpdateHandler(err) {
		if err := c.SignalWorkflow(ctx, id, runID, name, d); err != nil {
			return decisionAnswer{}, fmt.Errorf("send %s to %s as a signal: %w", name, id, err)
		}
		return decisionAnswer{AsSignal: true}, nil
	}
	return decisionAnswer{}, explainUpdateError(ctx, err, id, name)
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

// noUpdateHandler reports whether the run has no handler for the update: it was started by
// workflow code from before decisions were Updates.
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
			name, updateTimeout, id)
	case errors.As(err, &appErr):
		// Refused before the handler ran (the validator: e.g. a closing run).
		return fmt.Errorf("%s refused by %s: %s", name, id, contract.CleanText(appErr.Message()))
	}
	return fmt.Errorf("send %s to %s: %w", name, id, err)
}

// windowPrefix starts the detail of an approval given before the rotation window opens.
const windowPrefix = "takes effect when the window opens at "

// reportDecision prints the run's answer. A denial is an error, so the exit status is 1.
func reportDecision(w io.Writer, id, name string, ans decisionAnswer) error {
	if ans.AsSignal {
		fmt.Fprintf(w, "%s sent as a signal to a run started before decisions were Updates; see `starter timeline %s`\n", name, contract.CleanText(id))
		return nil
	}
	ev := ans.Event
	at := ev.At.UTC().Format(time.RFC3339)
	actor, detail := contract.CleanText(ev.Actor), contract.CleanText(ev.Detail)
	if ans.Denied {
		fmt.Fprintf(w, "%s denied for %s at %s: %s\n", name, actor, at, detail)
		return fmt.Errorf("%s denied", name)
	}
	line := fmt.Sprintf("%s %s by %s at %s", name, orDefault(contract.CleanText(ev.Outcome), "accepted"), actor, at)
	if rest, ok := strings.CutPrefix(detail, windowPrefix); ok {
		when, note, _ := strings.Cut(rest, "; ")
		line += " (" + windowPrefix + when + ")"
		detail = note
	}
	if detail != "" {
		line += ": " + detail
	}
	fmt.Fprintln(w, line)
	return nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// boundQueryWait is how long boundAction waits for a worker to answer the incident's query.
const boundQueryWait = 5 * time.Second

// boundAction names the incident id's pending action with the digest of its content as the run
// answers it, so the signed approval (or rejection) holds for that content only.
//
// A query needs a worker. When none answers within boundQueryWait, an approval of aN names the
// action alone: ids are never reused within an incident, so the id still binds its content, and
// the approval waits on the server for a worker like any other decision. A keep is bound only by
// its digest (a later resolve may keep other measures), so it needs the answer.
func boundAction(ctx context.Context, c queryClient, id, action string, warn io.Writer) (contract.ActionRef, error) {
	var st contract.IncidentStatus
	qctx, cancel := context.WithTimeout(ctx, boundQueryWait)
	defer cancel()
	if err := queryRun(qctx, c, id, contract.QueryIncident, &st); err != nil {
		timedOut := qctx.Err() != nil || errors.Is(err, context.DeadlineExceeded)
		if !timedOut || ctx.Err() != nil || action == contract.KeepAction {
			return contract.ActionRef{}, err
		}
		fmt.Fprintf(warn, "no worker answered for %s within %s, so its content could not be read: the approval names %s only\n",
			contract.CleanText(id), boundQueryWait, contract.CleanText(action))
		return contract.ActionRef{Action: action}, nil
	}
	if k := st.Keeping; action == contract.KeepAction && k != nil && k.State == "pending" {
		// A resolve that keeps measures past the incident, bound to what it keeps and until when.
		return contract.ActionRef{Action: action, Digest: k.Digest()}, nil
	}
	var open []string
	for _, pa := range st.Pending {
		if pa.State != "pending" {
			continue
		}
		if pa.ID == action {
			return contract.ActionRef{Action: action, Digest: pa.Request.Digest()}, nil
		}
		open = append(open, pa.ID)
	}
	list := "none"
	if len(open) > 0 {
		list = strings.Join(open, ", ")
	}
	return contract.ActionRef{}, fmt.Errorf("%s has no pending action %q (pending: %s); nothing was sent", contract.CleanText(id), contract.CleanText(action), list)
}
