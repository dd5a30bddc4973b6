package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/slack-go/slack"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/config"
	"github.com/authops/authops/internal/notify"
	"github.com/authops/authops/internal/peer"
)

// Notifications holds the announcements and the Slack activities: the Notifier gets every
// announcement, and with Slack on the channel's notification workflow posts it; it also opens
// incident channels (incident_channel.go).
type Notifications struct {
	// Config names people's Slack ids and each target's user notices.
	Config   *config.Config
	Notifier notify.Notifier
	// HTTP posts to status webhooks; nil means a client with a 10s timeout.
	HTTP *http.Client
	// Slack posts the announcements to Slack; nil when the worker has no Slack token.
	Slack *SlackNotifier
	// PeerKey seals the announcements, so that the notifier posts only what a worker sent.
	PeerKey []byte
}

// SlackNotifier turns announcements into Slack messages, through the channel's notification
// workflow. Nil (no SLACK_BOT_TOKEN) leaves announcements to the Notifier alone.
type SlackNotifier struct {
	Slack *notify.Slack
	// Client starts and feeds the notification workflows and reads the runs' status; the
	// worker's client.
	Client NotifyClient
	// Refresh and RetryMax tune new notification runs (contract.NotifyChannelInput).
	Refresh, RetryMax time.Duration
}

// NotifyClient is what the Slack notifier needs of the worker's Temporal client.
type NotifyClient interface {
	SignalWithStartWorkflow(ctx context.Context, workflowID, signalName string, signalArg any,
		options client.StartWorkflowOptions, workflow any, workflowArgs ...any) (client.WorkflowRun, error)
	QueryWorkflow(ctx context.Context, workflowID, runID, queryType string, args ...any) (converter.EncodedValue, error)
	DescribeWorkflow(ctx context.Context, workflowID, runID string) (*client.WorkflowExecutionDescription, error)
}

// slackError turns a Slack client error into one the retry policy understands.
func slackError(err error) error {
	if err == nil {
		return nil
	}
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return temporal.NewApplicationErrorWithOptions(err.Error(), contract.ErrTypeSlackRateLimited,
			temporal.ApplicationErrorOptions{NextRetryDelay: max(rl.RetryAfter, time.Second)})
	}
	if notify.Permanent(err) {
		return temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrTypeSlackPermanent, nil)
	}
	return err
}

// Announce sends a message to the target's responders: to the Notifier (a log line), and, when
// Slack is on, to the channel's notification workflow, which returns at once. Slack being
// down never delays or fails the run that announces.
func (a *Notifications) Announce(ctx context.Context, m contract.Message) error {
	if err := a.Notifier.Notify(ctx, m); err != nil {
		return fmt.Errorf("announce %s for %s: %w", m.Kind, m.Target, err)
	}
	if a.Slack == nil || a.Slack.Slack == nil || m.Channel == "" {
		return nil
	}
	info := activity.GetInfo(ctx)
	run := info.WorkflowExecution
	desc, err := a.Slack.Client.DescribeWorkflow(ctx, run.ID, run.RunID)
	if err != nil {
		return fmt.Errorf("announce %s: describe %s: %w", m.Kind, run.ID, err)
	}
	// A workflow on a queue of its own (someone else's worker) can schedule this activity on
	// ours; the announcement would then be sealed for it. Only authops's runs announce.
	if q := desc.RawResponse.GetWorkflowExecutionInfo().GetTaskQueue(); q != contract.TaskQueue && q != contract.EmergencyTaskQueue {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("announce: %s runs on the task queue %q, not authops's; nothing is announced",
			contract.CleanText(run.ID), contract.CleanText(q)), contract.ErrTypeConfig, nil)
	}
	first := desc.RawResponse.GetWorkflowExecutionInfo().GetFirstRunId()
	if first == "" {
		first = run.RunID
	}
	// Local activities count their ids apart from activities: keep the two kinds of key apart.
	key := run.RunID + "/" + info.ActivityID
	if info.IsLocalActivity {
		key = run.RunID + "/local/" + info.ActivityID
	}
	ann := contract.Announcement{Message: m, WorkflowID: run.ID, FirstRunID: first, Key: key}
	id := contract.NotifyChannelID(m.Channel)
	// The notifier posts only what a worker sealed for a real run: a signal typed by anyone
	// with namespace access is not an announcement.
	if len(a.PeerKey) < peer.KeyLen {
		return temporal.NewNonRetryableApplicationError("announce: the worker has no peer key to seal announcements with (peer_key_file)", contract.ErrTypeConfig, nil)
	}
	seal := peer.Seal(a.PeerKey, contract.PeerSeal{Kind: contract.SignalAnnouncement, From: run.ID, FromRun: run.RunID, To: id,
		Digest: contract.PeerDigest(ann), At: time.Now()})
	ann.Seal = &seal
	_, err = a.Slack.Client.SignalWithStartWorkflow(ctx, id, contract.SignalAnnouncement, ann,
		client.StartWorkflowOptions{ID: id, TaskQueue: contract.TaskQueue,
			WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING},
		contract.WorkflowNotifyChannel, contract.NotifyChannelInput{Channel: m.Channel, Refresh: a.Slack.Refresh, RetryMax: a.Slack.RetryMax})
	if err != nil {
		return fmt.Errorf("announce %s: signal %s: %w", m.Kind, id, err)
	}
	return nil
}

// SlackParent posts a run's parent message, or brings it up to date (chat.update) when what it
// shows has changed, from the run's own status query.
func (a *Notifications) SlackParent(ctx context.Context, in contract.SlackParentInput) (contract.SlackParentResult, error) {
	s, err := a.slack()
	if err != nil {
		return contract.SlackParentResult{}, err
	}
	v, err := a.runView(ctx, in.WorkflowID, in.FirstRunID)
	if err != nil {
		return contract.SlackParentResult{}, err
	}
	text, blocks := notify.Parent(v)
	res := contract.SlackParentResult{ChannelID: in.ChannelID, TS: in.TS, Hash: notify.Hash(text, blocks), Closed: v.Closed}
	if v.Closed {
		res.RequesterSlackID, res.Outcome = a.slackID(v.Status.RequestedBy), notify.Outcome(v)
	}
	if in.TS == "" {
		channel := in.ChannelID
		if channel == "" {
			channel = in.Channel
		}
		p, err := s.Post(ctx, notify.Post{Channel: channel, Text: text, Blocks: blocks, Key: "parent/" + in.WorkflowID + "/" + in.FirstRunID},
			activity.GetInfo(ctx).Attempt > 1)
		if err != nil {
			return contract.SlackParentResult{}, slackError(err)
		}
		res.ChannelID, res.TS = p.ChannelID, p.TS
		return res, nil
	}
	if res.Hash == in.Hash {
		return res, nil
	}
	if err := s.Update(ctx, in.ChannelID, in.TS, text, blocks); err != nil {
		return contract.SlackParentResult{}, slackError(err)
	}
	res.Updated = true
	return res, nil
}

// runView reads what a run's parent message shows. The run is the chain that FirstRunID
// started: the latest run of the id when it belongs to that chain (an incident continues as
// new), else the first run itself (a later rotation of the target reuses the id).
func (a *Notifications) runView(ctx context.Context, workflowID, firstRunID string) (notify.RunView, error) {
	c := a.Slack.Client
	v := notify.RunView{WorkflowID: workflowID, FirstRunID: firstRunID}
	runID := firstRunID
	desc, err := c.DescribeWorkflow(ctx, workflowID, "")
	if err == nil && desc.RawResponse.GetWorkflowExecutionInfo().GetFirstRunId() != firstRunID {
		desc, err = c.DescribeWorkflow(ctx, workflowID, firstRunID)
	}
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return v, temporal.NewNonRetryableApplicationError("run "+workflowID+" is gone", contract.ErrTypeRunGone, err)
	}
	if err != nil {
		return v, fmt.Errorf("describe %s: %w", workflowID, err)
	}
	info := desc.RawResponse.GetWorkflowExecutionInfo()
	runID = info.GetExecution().GetRunId()
	v.Closed = info.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	if err := query(ctx, c, workflowID, runID, contract.QueryStatus, &v.Status); err != nil {
		return v, err
	}
	var timeline []contract.Event
	if err := query(ctx, c, workflowID, runID, contract.QueryTimeline, &timeline); err != nil {
		return v, err
	}
	v.Decisions = notify.Decisions(timeline)
	if v.Status.Runbook == "auth-incident" {
		var st contract.IncidentStatus
		if err := query(ctx, c, workflowID, runID, contract.QueryIncident, &st); err != nil {
			return v, err
		}
		v.Incident = &st
	}
	if v.Closed && v.Status.Outcome == "" {
		v.Status.Outcome = strings.ToLower(strings.TrimPrefix(info.GetStatus().String(), "WORKFLOW_EXECUTION_STATUS_"))
		if p := v.Status.Phase; strings.HasPrefix(p, "closed: ") {
			v.Status.Outcome = strings.TrimPrefix(p, "closed: ")
		}
	}
	v.Requester = notify.Mention(a.slackID(v.Status.RequestedBy))
	return v, nil
}

func query(ctx context.Context, c NotifyClient, workflowID, runID, name string, out any) error {
	val, err := c.QueryWorkflow(ctx, workflowID, runID, name)
	if err != nil {
		return fmt.Errorf("query %s of %s: %w", name, workflowID, err)
	}
	if err := val.Get(out); err != nil {
		return fmt.Errorf("query %s of %s: %w", name, workflowID, err)
	}
	return nil
}

// SlackReply posts an announcement in its run's thread, with the mentions of who must act.
func (a *Notifications) SlackReply(ctx context.Context, in contract.SlackReplyInput) (contract.Posted, error) {
	s, err := a.slack()
	if err != nil {
		return contract.Posted{}, err
	}
	var ids []string
	for _, name := range in.Message.Mention {
		ids = append(ids, a.slackID(name))
	}
	p, err := s.Post(ctx, notify.Post{Channel: in.ChannelID, ThreadTS: in.ThreadTS, Broadcast: in.Broadcast,
		Text: notify.Reply(in.Message, ids), Key: in.Key}, activity.GetInfo(ctx).Attempt > 1)
	return p, slackError(err)
}

// SlackDirect sends a direct message (the requester's outcome).
func (a *Notifications) SlackDirect(ctx context.Context, in contract.SlackDirectInput) error {
	s, err := a.slack()
	if err != nil {
		return err
	}
	if notify.Mention(in.UserID) == "" {
		return nil
	}
	ch, err := s.OpenDM(ctx, in.UserID)
	if err != nil {
		return slackError(err)
	}
	_, err = s.Post(ctx, notify.Post{Channel: ch, Text: in.Text, Key: in.Key}, activity.GetInfo(ctx).Attempt > 1)
	return slackError(err)
}

// UserNotice tells a target's users what they will see, in the users channel and through the
// status webhook that the target's notify config names. It says nothing of the internals.
func (a *Notifications) UserNotice(ctx context.Context, in contract.UserNoticeInput) (contract.UserNoticeResult, error) {
	var res contract.UserNoticeResult
	text := notify.UserNotice(in.Kind, in.Target)
	t, err := a.Config.Target(in.Target)
	if err != nil || text == "" {
		return res, nil // an incident's several targets, or a kind with no notice
	}
	if ch := t.Notify.UsersChannel; ch != "" && a.Slack != nil && a.Slack.Slack != nil {
		if _, err := a.Slack.Slack.Post(ctx, notify.Post{Channel: ch, Text: text, Key: "users/" + in.Key},
			activity.GetInfo(ctx).Attempt > 1); err != nil {
			return res, slackError(err)
		}
		res.Channel = true
	}
	if t.Notify.StatusWebhook != nil {
		url, err := a.Config.Resolve("targets."+t.Name+".notify.status_webhook", *t.Notify.StatusWebhook)
		if err != nil {
			return res, temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrTypeConfig, nil)
		}
		if err := a.postWebhook(ctx, url, text); err != nil {
			return res, err
		}
		res.Webhook = true
	}
	return res, nil
}

// postWebhook posts {"text": …} (a Slack incoming webhook or a status page that takes one).
// The URL is a secret: errors never quote it.
func (a *Notifications) postWebhook(ctx context.Context, url, text string) error {
	body, _ := json.Marshal(map[string]string{"text": text})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return temporal.NewNonRetryableApplicationError("status webhook: bad URL", contract.ErrTypeConfig, nil)
	}
	req.Header.Set("Content-Type", "application/json")
	hc := a.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return errors.New("status webhook: request failed")
	}
	_ = resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return temporal.NewApplicationErrorWithOptions("status webhook: rate limited", contract.ErrTypeSlackRateLimited,
			temporal.ApplicationErrorOptions{NextRetryDelay: retryAfter(resp.Header.Get("Retry-After"))})
	case resp.StatusCode >= 500:
		return fmt.Errorf("status webhook: status %d", resp.StatusCode)
	case resp.StatusCode >= 300:
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("status webhook: status %d", resp.StatusCode), contract.ErrTypeSlackPermanent, nil)
	}
	return nil
}

func retryAfter(h string) time.Duration {
	var s int
	if _, err := fmt.Sscan(h, &s); err != nil || s < 1 {
		return time.Second
	}
	return time.Duration(s) * time.Second
}

func (a *Notifications) slack() (*notify.Slack, error) {
	if a.Slack == nil || a.Slack.Slack == nil {
		return nil, temporal.NewNonRetryableApplicationError("Slack is not configured on this worker ("+notify.EnvSlackBotToken+")",
			contract.ErrTypeSlackPermanent, nil)
	}
	return a.Slack.Slack, nil
}

// slackID is a person's Slack id from config, "" when unknown.
func (a *Notifications) slackID(name string) string {
	if a.Config == nil {
		return ""
	}
	if p, ok := a.Config.Person(name); ok && p != nil {
		return p.SlackID
	}
	return ""
}
