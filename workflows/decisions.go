package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/statement"
)

// rule judges one kind of decision against the runbook's state at the moment it arrives. It
// returns why the decision is refused, or takes effect and returns "" with a note for the record.
type rule func(ctx workflow.Context, actor string, d contract.Decision) (refused, note string)

// intake is the runbook core's door for human decisions. Each decision is an Update whose
// validator refuses only what cannot be a decision at all (a closing run; an undecodable payload
// never reaches it), and whose handler verifies the signed statement, applies the runbook's
// rule, records the attempt and answers with the timeline event. A signal takes the same path;
// only its sender gets no answer.
type intake struct {
	rec   *record
	rules map[string]rule
	// people and gatewayKeys come from the policy loaded at the run's start.
	people      []contract.Person
	gatewayKeys []string
	// ready says a decision can be applied: the run's start verified (and, for an incident, its
	// declaration done), not just its policy loaded. Until then a decision waits; otherwise one
	// taken while the run is still starting would be answered "accepted" and then overwritten by
	// the start.
	ready bool
	// refused is why the run's start was refused; the decisions that waited for it are denied
	// with it.
	refused string
	// nonces seen in verified statements, with when each was issued: a statement counts once.
	nonces  map[string]time.Time
	closing bool
	// canceledBy is the accepted signed cancel, if any.
	canceledBy *contract.Decision
}

func newIntake(rec *record) *intake {
	return &intake{rec: rec, rules: map[string]rule{}, nonces: map[string]time.Time{}}
}

// load takes the people and keys from the run's policy. Decisions are judged only once the run
// has started, with open.
func (in *intake) load(p contract.Policy) { in.loadPeople(p.People, p.GatewayKeys) }

func (in *intake) loadPeople(people []contract.Person, gatewayKeys []string) {
	in.people, in.gatewayKeys = people, gatewayKeys
}

// open lets the decisions that waited for the run's start be judged, against the state it set.
func (in *intake) open() { in.ready = true }

// refuseAll denies the decisions waiting for a start that was refused, and waits until their
// senders have the answer, so that none is left without one when the run closes.
func (in *intake) refuseAll(ctx workflow.Context, why string) {
	if in.ready {
		return
	}
	in.refused, in.ready, in.closing = why, true, true
	_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
}

// register installs the Update handler and the signal reader of every rule.
func (in *intake) register(ctx workflow.Context) error {
	for _, name := range slices.Sorted(maps.Keys(in.rules)) {
		err := workflow.SetUpdateHandlerWithOptions(ctx, name,
			func(ctx workflow.Context, d contract.Decision) (contract.Event, error) {
				ev, ok := in.decide(ctx, name, d, "update", workflow.GetCurrentUpdateInfo(ctx).ID)
				if !ok {
					return ev, temporal.NewApplicationErrorWithOptions(
						fmt.Sprintf("%s denied: %s", name, ev.Detail), contract.ErrTypeDecisionDenied,
						temporal.ApplicationErrorOptions{NonRetryable: true, Details: []any{ev}})
				}
				return ev, nil
			},
			workflow.UpdateHandlerOptions{
				Validator: func(ctx workflow.Context, d contract.Decision) error {
					if in.closing {
						return errors.New("the run is closing; it takes no more decisions")
					}
					return nil
				},
				Description: "a signed human decision: " + name,
			})
		if err != nil {
			return fmt.Errorf("register update %s: %w", name, err)
		}
		ch := workflow.GetSignalChannel(ctx, name)
		workflow.Go(ctx, func(ctx workflow.Context) {
			for {
				// Raw JSON, so that a malformed payload is still recorded as an attempt instead of
				// being dropped by the SDK without a trace.
				var raw json.RawMessage
				if !ch.Receive(ctx, &raw) {
					return
				}
				var d contract.Decision
				if err := json.Unmarshal(raw, &d); err != nil {
					in.rec.decision(ctx, contract.Event{Actor: "unknown", Action: name, Outcome: "denied", Via: "signal",
						Detail: `malformed payload; decide with "starter ` + name + `"`})
					continue
				}
				in.decide(ctx, name, d, "signal", "")
			}
		})
	}
	return nil
}

// decide verifies, judges and records one decision. ok reports it was accepted.
func (in *intake) decide(ctx workflow.Context, action string, d contract.Decision, via, updateID string) (contract.Event, bool) {
	ev := contract.Event{Actor: contract.CleanText(d.Actor), Action: action, Via: via, UpdateID: updateID}
	// A decision that arrives while the policy is still loading is judged against it.
	if err := workflow.Await(ctx, func() bool { return in.ready }); err != nil {
		ev.Outcome, ev.Detail = "denied", "the run was canceled before it could judge this"
		return in.rec.decision(ctx, ev), false
	}
	if in.refused != "" {
		ev.Outcome, ev.Detail = "denied", "the run's start was refused: "+in.refused
		return in.rec.decision(ctx, ev), false
	}
	v, err := in.verify(ctx, action, d)
	if err != nil {
		ev.Outcome, ev.Detail = "denied", err.Error()
		return in.rec.decision(ctx, ev), false
	}
	ev.Actor, ev.Verified = v.Person, true
	if v.Via != "" {
		ev.Via += " via " + v.Via + " (" + v.SlackUser + ")"
	}
	refused, note := in.rules[action](ctx, v.Person, d)
	if refused != "" {
		ev.Outcome, ev.Detail = "denied", refused
		return in.rec.decision(ctx, ev), false
	}
	ev.Outcome, ev.Detail = "accepted", joinNote(note, contract.CleanText(d.Comment))
	return in.rec.decision(ctx, ev), true
}

// verify checks the decision's signed statement against the run's people. A typed name is
// never enough.
func (in *intake) verify(ctx workflow.Context, action string, d contract.Decision) (statement.Verified, error) {
	v := recorded(ctx, func(ctx workflow.Context) verdict {
		info := workflow.GetInfo(ctx)
		v, err := statement.Verify(d.Statement, in.people, in.gatewayKeys, statement.Expect{
			Namespace: info.Namespace, WorkflowID: info.WorkflowExecution.ID, FirstRunID: info.FirstRunID,
			Action: action, Comment: d.Comment, Args: d.Args, Now: workflow.Now(ctx),
		})
		switch {
		case err != nil:
			return verdict{Refused: err.Error()}
		case d.Actor != "" && d.Actor != v.Person:
			return verdict{Refused: fmt.Sprintf("the statement is signed for %s, but the decision names %q", v.Person, contract.CleanText(d.Actor))}
		}
		return verdict{Verified: v}
	})
	if v.Refused != "" {
		return v.Verified, errors.New(v.Refused)
	}
	nonce := d.Statement.Statement.Nonce
	if _, seen := in.nonces[nonce]; seen {
		return v.Verified, errors.New("replayed statement: its nonce was seen before; sign a new one")
	}
	in.nonces[nonce] = d.Statement.Statement.IssuedAt
	return v.Verified, nil
}

// liveNonces are the nonces of statements that could still verify at now; an older one is refused
// for its age anyway. A run that continues as new carries these.
func (in *intake) liveNonces(now time.Time) map[string]time.Time {
	live := map[string]time.Time{}
	for n, at := range in.nonces {
		if now.Sub(at) <= statement.MaxAge+statement.MaxSkew {
			live[n] = at
		}
	}
	return live
}

// verifyStart checks the signed statement that started the run. Break glass is part of the
// signed action, so an unsigned or plain start cannot break glass; args is the input's StartArgs
// as the run got it, so a statement replayed with another window, owner or target is refused.
func (in *intake) verifyStart(ctx workflow.Context, action, actor, reason, args string, s *contract.SignedStatement) error {
	info := workflow.GetInfo(ctx)
	v, err := statement.Verify(s, in.people, in.gatewayKeys, statement.Expect{
		Namespace: info.Namespace, WorkflowID: info.WorkflowExecution.ID, Action: action, Comment: reason,
		Args: args, Now: workflow.Now(ctx),
	})
	if err != nil {
		return fmt.Errorf("start refused: %w", err)
	}
	if v.Person != actor {
		return fmt.Errorf("start refused: the statement is signed for %s, but the run names %q as requester", v.Person, actor)
	}
	return nil
}

// verdict is the recorded answer of a check.
type verdict struct {
	statement.Verified
	Refused string `json:"refused,omitempty"`
}

// recorded runs a check that reads the run's identity (namespace, workflow and run ids, parent)
// once, and keeps its answer in the history as a side effect. A replay reads the answer back
// instead of judging again, since a replayer runs under other names than the live run.
func recorded(ctx workflow.Context, check func(ctx workflow.Context) verdict) verdict {
	var v verdict
	if err := workflow.SideEffect(ctx, func(ctx workflow.Context) any { return check(ctx) }).Get(&v); err != nil {
		return verdict{Refused: "cannot read the recorded verdict: " + err.Error()}
	}
	return v
}

// startChecked runs a runbook's start check through recorded and marks the start's nonce seen.
func (in *intake) startChecked(ctx workflow.Context, s *contract.SignedStatement, check func(ctx workflow.Context) error) error {
	v := recorded(ctx, func(ctx workflow.Context) verdict {
		if err := check(ctx); err != nil {
			return verdict{Refused: err.Error()}
		}
		return verdict{}
	})
	if v.Refused != "" {
		in.claimRefused(ctx, s)
		return errors.New(v.Refused)
	}
	if s == nil {
		return nil
	}
	in.nonces[s.Statement.Nonce] = s.Statement.IssuedAt
	return claimStatement(ctx, s.Statement.Nonce)
}

// claimStatement makes a start statement count once across runs: the nonce becomes the id of a
// tiny child run that Temporal refuses to start twice (REJECT_DUPLICATE) for as long as the
// namespace keeps closed runs, far longer than a statement is valid. A start statement copied out
// of a closed run's history therefore cannot start the run again.
func claimStatement(ctx workflow.Context, nonce string) error {
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            StatementClaimID(nonce),
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
	})
	err := workflow.ExecuteChildWorkflow(cctx, ClaimStatement).GetChildWorkflowExecution().Get(ctx, nil)
	var started *temporal.ChildWorkflowExecutionAlreadyStartedError
	// The test environment answers a duplicate with the service's error instead.
	var exists *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) || errors.As(err, &exists) {
		return errors.New("start refused: replayed statement: it already started a run; sign a new one")
	}
	if err != nil {
		return fmt.Errorf("claim the start statement: %w", err)
	}
	return nil
}

// claimRefused consumes the nonce of a start the run refused (its input invalid, its check
// failed), so that the same statement cannot start a run later, once its input would pass (a
// window no longer too far ahead). Only a nonce of the form NewNonce makes is claimed: any
// other would not verify, and might be no valid workflow id.
func (in *intake) claimRefused(ctx workflow.Context, s *contract.SignedStatement) {
	if s == nil || !nonceForm(s.Statement.Nonce) {
		return
	}
	if _, claimed := in.nonces[s.Statement.Nonce]; claimed {
		return
	}
	in.nonces[s.Statement.Nonce] = s.Statement.IssuedAt
	// An error says it was claimed already, or cannot be: the start is refused either way.
	_ = claimStatement(ctx, s.Statement.Nonce)
}

// nonceForm reports whether n is 16 to 32 bytes in lower-case hex, as statement.NewNonce makes.
func nonceForm(n string) bool {
	if len(n) < 32 || len(n) > 64 {
		return false
	}
	return strings.Trim(n, "0123456789abcdef") == ""
}

// StatementClaimID is the id of the run that claims a start statement's nonce.
func StatementClaimID(nonce string) string { return "statement-" + nonce }

// ClaimStatement is the claim of a start statement: its id is the claim, it does nothing else.
func ClaimStatement(workflow.Context) error { return nil }

// gateRules installs approve and reject, judged by the run's gate. The gate exists once the
// policy is loaded, and no rule runs before that.
func (in *intake) gateRules(g func() *gate) {
	in.rules[contract.DecisionApprove] = func(ctx workflow.Context, actor string, d contract.Decision) (string, string) {
		return g().approve(ctx, actor, d)
	}
	in.rules[contract.DecisionReject] = func(ctx workflow.Context, actor string, d contract.Decision) (string, string) {
		return g().reject(ctx, actor, d)
	}
}

// cancellable returns the run's main context, which a signed cancel from someone who may (per
// the runbook's who) cancels. The run then stops as it would on a cancel from outside, with the
// same compensation, and the timeline says who canceled and why.
func (in *intake) cancellable(ctx workflow.Context, who func(actor string) bool) workflow.Context {
	ctx, cancel := workflow.WithCancel(ctx)
	in.rules[contract.DecisionCancel] = func(_ workflow.Context, actor string, d contract.Decision) (string, string) {
		switch {
		case in.canceledBy != nil:
			return "already canceled by " + in.canceledBy.Actor, ""
		case !who(actor):
			return actor + " may not cancel this run", ""
		case strings.TrimSpace(d.Comment) == "":
			return "a cancel needs a reason", ""
		}
		in.canceledBy = &contract.Decision{Actor: actor, Comment: d.Comment}
		cancel()
		return "", "the run stops; a change in progress is rolled back first"
	}
	return ctx
}

// cancelCause says who canceled the run and why, or "" when nobody did through a decision.
func (in *intake) cancelCause() string {
	if in.canceledBy == nil {
		return ""
	}
	return "canceled by " + in.canceledBy.Actor + ": " + contract.CleanText(in.canceledBy.Comment)
}

// person reports whether name is someone in the run's policy.
func (in *intake) person(name string) bool {
	for _, p := range in.people {
		if p.Name == name {
			return true
		}
	}
	return false
}

// unattended names a machine requester (a schedule, an alert): it never approves.
func unattended(name string) bool {
	return strings.HasPrefix(name, contract.RequesterSchedulePrefix) || strings.HasPrefix(name, contract.RequesterAlertPrefix)
}

func joinNote(note, comment string) string {
	switch {
	case note == "":
		return comment
	case comment == "":
		return note
	}
	return note + "; " + comment
}
