package workflows

// Messages between runs. Anyone with write access to the namespace can signal any run, so a
// message from another run counts only when its seal holds: a worker made it, with a key only
// workers hold, for the run that sent it (contract.PeerSeal). Outcomes of child runs are not
// messages at all: the parent reads them from the child's future, which the server fills from
// the child's own close.

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/contract/act"
)

// peerCtx runs the seal and its check on this worker, in the workflow task: no trip through the
// task queue, and the key never leaves the worker.
func peerCtx(ctx workflow.Context) workflow.Context {
	return workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 3},
	})
}

// seal returns the seal of msg (without its seal), sent as kind to the run to.
func seal(ctx workflow.Context, kind, to string, msg any) (*contract.PeerSeal, error) {
	var s contract.PeerSeal
	in := contract.SealInput{Kind: kind, To: to, Digest: contract.PeerDigest(msg)}
	if err := workflow.ExecuteLocalActivity(peerCtx(ctx), act.SealMessage, in).Get(ctx, &s); err != nil {
		return nil, fmt.Errorf("seal %s for %s: %w", kind, to, err)
	}
	return &s, nil
}

// inbox counts the signals of each name a run received, so that a refusal can name the
// sender the server recorded for that very signal.
type inbox map[string]int

// open checks the seal of msg (without its seal), the next signal of kind this run received.
// want, when set, is the only sender it may come from. A refusal is recorded on rec as denied,
// with the client identity that sent it.
func (b inbox) open(ctx workflow.Context, rec *record, kind string, msg any, s *contract.PeerSeal, want string) bool {
	v := b.check(ctx, kind, msg, s, want)
	if v.Refused == "" {
		return true
	}
	rec.decision(ctx, contract.Event{Actor: v.Identity, Action: kind, Outcome: "denied", Via: "signal",
		Detail: "not from a run of this namespace's workers, so it changes nothing: " + v.Refused})
	return false
}

// check is open without the record: the verdict on the next signal of kind.
func (b inbox) check(ctx workflow.Context, kind string, msg any, s *contract.PeerSeal, want string) contract.PeerVerdict {
	b[kind]++
	in := contract.OpenInput{Kind: kind, Digest: contract.PeerDigest(msg), Seal: s, Ordinal: b[kind]}
	var v contract.PeerVerdict
	if err := workflow.ExecuteLocalActivity(peerCtx(ctx), act.OpenMessage, in).Get(ctx, &v); err != nil {
		v.Refused, v.Identity = "its seal could not be checked: "+err.Error(), "unknown"
	}
	if v.Refused == "" && want != "" && v.From != want {
		// A real run, but the wrong one: its seal names it.
		v.Refused, v.Identity = fmt.Sprintf("sealed by %s, but only %s sends it", v.From, want), "run "+v.From
	}
	if v.Refused != "" && v.Identity == "" {
		v.Identity = "unknown"
	}
	return v
}
