package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/peer"
)

// Peer holds what runs say to each other: it seals and checks their messages with the workers'
// key, says who the server recorded as a message's sender and what it knows of a run, and
// carries a child run's report to its incident (incident_children.go).
type Peer struct {
	// Key seals and checks the messages runs send each other (internal/peer).
	Key []byte
	// Runs describes runs (the worker's Temporal client); nil means DescribeRun cannot tell.
	Runs RunDescriber
	// Peers reaches other runs, and, when it can read histories (a client can), names the
	// sender of a refused message.
	Peers Peers
}

// HistoryReader reads a run's history: who the server says sent a message. The worker's
// Temporal client is one.
type HistoryReader interface {
	GetWorkflowHistory(ctx context.Context, workflowID, runID string, isLongPoll bool,
		filterType enumspb.HistoryEventFilterType) client.HistoryEventIterator
}

// SealMessage seals a message the calling run sends. The sender in the seal is the run this
// activity runs for, as the worker knows it, never what the run's input says.
func (a *Peer) SealMessage(ctx context.Context, in contract.SealInput) (contract.PeerSeal, error) {
	if len(a.Key) < peer.KeyLen {
		return contract.PeerSeal{}, temporal.NewNonRetryableApplicationError(
			"the worker has no peer key to seal messages with (peer_key_file)", contract.ErrTypeConfig, nil)
	}
	info := activity.GetInfo(ctx)
	if !info.IsLocalActivity {
		// A local activity runs only in the worker that runs the calling workflow's code, so only
		// our workflows get seals. As an activity anyone's workflow could schedule it on our queue.
		return contract.PeerSeal{}, temporal.NewNonRetryableApplicationError(
			"SealMessage runs only as a local activity of a workflow this worker runs", contract.ErrTypeConfig, nil)
	}
	run := info.WorkflowExecution
	return peer.Seal(a.Key, contract.PeerSeal{Kind: in.Kind, From: run.ID, FromRun: run.RunID, To: in.To,
		Digest: in.Digest, At: time.Now()}), nil
}

// OpenMessage checks a received message's seal. A refusal names the client identity the server
// recorded for the signal, so the timeline says who sent the forgery.
func (a *Peer) OpenMessage(ctx context.Context, in contract.OpenInput) (contract.PeerVerdict, error) {
	run := activity.GetInfo(ctx).WorkflowExecution
	want := peer.Expect{Kind: in.Kind, To: run.ID, Digest: in.Digest, Now: time.Now()}
	if in.Kind == contract.SignalAnnouncement {
		// An announcement may wait in the notifier's history through a worker outage; the
		// notifier drops a repeat of one it has handled (its key) within that day.
		want.MaxAge = 24 * time.Hour
	}
	err := peer.Check(a.Key, in.Seal, want)
	if err == nil {
		return contract.PeerVerdict{From: in.Seal.From}, nil
	}
	v := contract.PeerVerdict{Refused: err.Error()}
	v.Identity = a.sender(ctx, run.ID, run.RunID, contract.SenderInput{Signal: in.Kind, Ordinal: in.Ordinal})
	return v, nil
}

// Sender returns the client identity the server recorded for a message the calling run
// received. For an Update, run it as an activity, not a local one: the Update's acceptance is
// in the history only once the workflow task that accepted it has completed.
func (a *Peer) Sender(ctx context.Context, in contract.SenderInput) (string, error) {
	run := activity.GetInfo(ctx).WorkflowExecution
	return a.sender(ctx, run.ID, run.RunID, in), nil
}

// sender reads the identity from the run's history; it says "unknown" rather than fail, since
// it only labels a refusal.
func (a *Peer) sender(ctx context.Context, workflowID, runID string, in contract.SenderInput) string {
	h, ok := a.Peers.(HistoryReader)
	if !ok {
		return "unknown (the worker cannot read histories)"
	}
	it := h.GetWorkflowHistory(ctx, workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	n := 0
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return "unknown (" + err.Error() + ")"
		}
		if id, ok := identityOf(ev, in, &n); ok {
			return contract.CleanText(id)
		}
	}
	return fmt.Sprintf("unknown (no such message in %s)", workflowID)
}

func identityOf(ev *historypb.HistoryEvent, in contract.SenderInput, n *int) (string, bool) {
	if s := ev.GetWorkflowExecutionSignaledEventAttributes(); s != nil && in.Signal != "" && s.GetSignalName() == in.Signal {
		*n++
		if *n == in.Ordinal {
			return s.GetIdentity(), true
		}
	}
	if u := ev.GetWorkflowExecutionUpdateAcceptedEventAttributes(); u != nil && in.UpdateID != "" &&
		u.GetProtocolInstanceId() == in.UpdateID {
		return u.GetAcceptedRequest().GetMeta().GetIdentity(), true
	}
	return "", false
}

// DescribeRun says what the server knows of a run: its type, task queue and the Schedule that
// started it. A rotation reads its parent so, since a parent's id alone can be taken by any
// workflow someone runs on a worker of their own.
func (a *Peer) DescribeRun(ctx context.Context, in contract.RunRef) (contract.RunFacts, error) {
	if a.Runs == nil {
		return contract.RunFacts{Unknown: "the worker has no Temporal client to ask"}, nil
	}
	d, err := a.Runs.DescribeWorkflow(ctx, in.WorkflowID, in.RunID)
	if err != nil {
		var notFound *serviceerror.NotFound
		if errors.As(err, &notFound) {
			return contract.RunFacts{Unknown: "the server knows no such run"}, nil
		}
		return contract.RunFacts{}, fmt.Errorf("describe %s: %w", in.WorkflowID, err)
	}
	info := d.RawResponse.GetWorkflowExecutionInfo()
	f := contract.RunFacts{Type: info.GetType().GetName(), TaskQueue: info.GetTaskQueue(),
		Running: info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING}
	if p := info.GetSearchAttributes().GetIndexedFields()[scheduledByAttr]; p != nil {
		_ = converter.GetDefaultDataConverter().FromPayload(p, &f.ScheduledBy)
	}
	return f, nil
}

// scheduledByAttr is the search attribute the server sets on a run a Schedule started.
const scheduledByAttr = "TemporalScheduledById"
