package workflows

import (
	"errors"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/contract/act"
)

// NotifyChannel is the long-lived notification run of one Slack channel (id notify-<channel>).
// The runbooks' Announce activity feeds it with signal-with-start and returns, so Slack is off
// their critical path. It keeps one parent message per run, updated in place as the run moves,
// with each announcement in the parent's thread. Slack calls retry without limit: after an
// outage everything queued is delivered, even for runs that have closed meanwhile.
func NotifyChannel(ctx workflow.Context, in contract.NotifyChannelInput) error {
	n := &notifier{in: in, st: in.State}
	if n.in.Refresh <= 0 {
		n.in.Refresh = 10 * time.Second
	}
	if n.in.RetryMax <= 0 {
		n.in.RetryMax = time.Minute
	}
	if n.in.MaxEvents <= 0 {
		n.in.MaxEvents = 4000
	}
	return n.run(ctx)
}

type notifier struct {
	in contract.NotifyChannelInput
	st contract.NotifyChannelState
	ch workflow.ReceiveChannel
	// peers counts the announcements received; one is posted only when a worker sealed it for
	// the run it names (peer.go).
	peers inbox
}

// closedKept is how many closed runs the state remembers, so that a late retry of an
// announcement finds its thread rather than starting a second parent.
const closedKept = 50

func (n *notifier) run(ctx workflow.Context) error {
	n.ch = workflow.GetSignalChannel(ctx, contract.SignalAnnouncement)
	n.peers = inbox{}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: n.in.RetryMax,
			MaximumAttempts:        0, // an outage is waited out
			NonRetryableErrorTypes: []string{contract.ErrTypeSlackPermanent, contract.ErrTypeRunGone, contract.ErrTypeConfig},
		},
	})
	logger := workflow.GetLogger(ctx)
	for {
		if err := ctx.Err(); err != nil {
			return temporal.NewCanceledError("notification run canceled")
		}
		n.drain(ctx)
		if len(n.st.Queue) > 0 {
			a := n.st.Queue[0]
			n.deliver(ctx, a)
			n.st.Queue = n.st.Queue[1:]
		} else {
			n.wait(ctx)
		}
		n.prune()
		info := workflow.GetInfo(ctx)
		if info.GetCurrentHistoryLength() >= n.in.MaxEvents || info.GetContinueAsNewSuggested() {
			n.drain(ctx)
			next := n.in
			next.State = n.st
			logger.Info("notify: continue as new", "queued", len(n.st.Queue), "runs", len(n.st.Runs))
			return workflow.NewContinueAsNewError(ctx, NotifyChannel, next)
		}
	}
}

// drain moves the announcements already received into the queue, dropping repeats.
func (n *notifier) drain(ctx workflow.Context) {
	for {
		var a contract.Announcement
		if !n.ch.ReceiveAsync(&a) {
			return
		}
		n.enqueue(ctx, a)
	}
}

func (n *notifier) enqueue(ctx workflow.Context, a contract.Announcement) {
	if !n.authentic(ctx, a) {
		return
	}
	if r := n.thread(a.RunKey()); r != nil && slices.Contains(r.Seen, a.Key) {
		return
	}
	if slices.ContainsFunc(n.st.Queue, func(q contract.Announcement) bool { return q.Key == a.Key }) {
		return
	}
	n.st.Queue = append(n.st.Queue, a)
}

// authentic says a worker sealed a for the run it names, so it is an announcement a real run
// made; anything else (a signal anyone with namespace access can send) is dropped and counted.
func (n *notifier) authentic(ctx workflow.Context, a contract.Announcement) bool {
	v := n.peers.check(ctx, contract.SignalAnnouncement, a.Unsealed(), a.Seal, a.WorkflowID)
	if v.Refused == "" {
		return true
	}
	n.st.Refused++
	workflow.GetLogger(ctx).Warn("notify: announcement refused", "sender", v.Identity, "claims", contract.CleanText(a.WorkflowID), "why", v.Refused)
	return false
}

// wait blocks until an announcement comes; while runs are open, it refreshes their parent
// messages every Refresh, so that a phase change or a decision shows without an announcement.
func (n *notifier) wait(ctx workflow.Context) {
	open := slices.ContainsFunc(n.st.Runs, func(r *contract.RunThread) bool { return !r.Done && r.TS != "" })
	s := workflow.NewSelector(ctx)
	s.AddReceive(n.ch, func(c workflow.ReceiveChannel, _ bool) {
		var a contract.Announcement
		c.Receive(ctx, &a)
		n.enqueue(ctx, a)
	})
	s.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
	refresh := false
	if open {
		tctx, cancel := workflow.WithCancel(ctx)
		defer cancel()
		s.AddFuture(workflow.NewTimer(tctx, n.in.Refresh), func(workflow.Future) { refresh = true })
	}
	s.Select(ctx)
	if !refresh {
		return
	}
	for _, r := range n.st.Runs {
		if !r.Done && r.TS != "" {
			n.refresh(ctx, r)
		}
	}
}

func (n *notifier) thread(key string) *contract.RunThread {
	for _, r := range n.st.Runs {
		if r.Key() == key {
			return r
		}
	}
	return nil
}

// deliver posts one announcement: the run's parent first (once), then the reply in its thread
// (also shown in the channel for completion, rollback, escalation and break glass), the users'
// notice, and the parent brought up to date.
func (n *notifier) deliver(ctx workflow.Context, a contract.Announcement) {
	logger := workflow.GetLogger(ctx)
	r := n.thread(a.RunKey())
	if r == nil {
		r = &contract.RunThread{WorkflowID: a.WorkflowID, FirstRunID: a.FirstRunID, Target: a.Message.Target}
		n.st.Runs = append(n.st.Runs, r)
	}
	r.Seen = append(r.Seen, a.Key)
	if r.TS == "" {
		if !n.refresh(ctx, r) {
			return
		}
	}
	r.Replies++
	var posted contract.Posted
	err := workflow.ExecuteActivity(ctx, act.SlackReply, contract.SlackReplyInput{
		ChannelID: n.st.ChannelID, ThreadTS: r.TS, Key: "reply/" + a.Key, Message: a.Message,
		Broadcast: contract.ChannelKind(a.Message.Kind),
	}).Get(ctx, &posted)
	if err != nil {
		logger.Warn("notify: reply dropped", "run", a.WorkflowID, "kind", a.Message.Kind, "error", err)
	}
	if contract.UserKind(a.Message.Kind) {
		err := workflow.ExecuteActivity(ctx, act.UserNotice, contract.UserNoticeInput{
			Target: a.Message.Target, Kind: a.Message.Kind, Key: a.Key}).Get(ctx, nil)
		if err != nil {
			logger.Warn("notify: user notice dropped", "run", a.WorkflowID, "kind", a.Message.Kind, "error", err)
		}
	}
	n.refresh(ctx, r)
}

// refresh posts or updates a run's parent message; when the run has closed, it sends the
// requester the outcome, once. It reports whether the parent exists.
func (n *notifier) refresh(ctx workflow.Context, r *contract.RunThread) bool {
	var res contract.SlackParentResult
	err := workflow.ExecuteActivity(ctx, act.SlackParent, contract.SlackParentInput{
		Channel: n.in.Channel, ChannelID: n.st.ChannelID, WorkflowID: r.WorkflowID, FirstRunID: r.FirstRunID,
		TS: r.TS, Hash: r.Hash,
	}).Get(ctx, &res)
	if err != nil {
		workflow.GetLogger(ctx).Warn("notify: parent message not delivered", "run", r.WorkflowID, "error", err)
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) && appErr.Type() == contract.ErrTypeRunGone {
			r.Closed, r.Done = true, true
		}
		return r.TS != ""
	}
	if n.st.ChannelID == "" {
		n.st.ChannelID = res.ChannelID
	}
	r.TS, r.Hash, r.Closed = res.TS, res.Hash, res.Closed
	if r.Closed && !r.Done {
		if res.RequesterSlackID != "" {
			err := workflow.ExecuteActivity(ctx, act.SlackDirect, contract.SlackDirectInput{
				UserID: res.RequesterSlackID, Text: res.Outcome, Key: "outcome/" + r.Key()}).Get(ctx, nil)
			if err != nil {
				workflow.GetLogger(ctx).Warn("notify: outcome message dropped", "run", r.WorkflowID, "error", err)
			}
		}
		r.Done = true
	}
	return true
}

// prune forgets the oldest closed runs beyond closedKept.
func (n *notifier) prune() {
	done := 0
	for _, r := range n.st.Runs {
		if r.Done {
			done++
		}
	}
	if done <= closedKept {
		return
	}
	kept := n.st.Runs[:0]
	for _, r := range n.st.Runs {
		if r.Done && done > closedKept && !n.queued(r.Key()) {
			done--
			continue
		}
		kept = append(kept, r)
	}
	n.st.Runs = kept
}

func (n *notifier) queued(key string) bool {
	return slices.ContainsFunc(n.st.Queue, func(a contract.Announcement) bool { return a.RunKey() == key })
}
