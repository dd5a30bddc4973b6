package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/authops/authops/activities"
	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/config"
	"github.com/authops/authops/internal/notify"
	"github.com/authops/authops/internal/notify/slackfake"
	"github.com/authops/authops/internal/slackui"
)

// fakeRuns stands in for the worker's client: the status and timeline queries of one run.
type fakeRuns struct {
	mu       sync.Mutex
	status   contract.Status
	timeline []contract.Event
	closed   bool
}

func (f *fakeRuns) set(fn func(f *fakeRuns)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeRuns) SignalWithStartWorkflow(context.Context, string, string, any, client.StartWorkflowOptions, any, ...any) (client.WorkflowRun, error) {
	return nil, errors.New("not used")
}

func (f *fakeRuns) QueryWorkflow(_ context.Context, _, _, name string, _ ...any) (converter.EncodedValue, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch name {
	case contract.QueryStatus:
		return jsonValue{f.status}, nil
	case contract.QueryTimeline:
		return jsonValue{f.timeline}, nil
	}
	return nil, errors.New("unknown query " + name)
}

func (f *fakeRuns) DescribeWorkflow(_ context.Context, workflowID, _ string) (*client.WorkflowExecutionDescription, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	if f.closed {
		st = enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED
	}
	return &client.WorkflowExecutionDescription{RawResponse: &workflowservice.DescribeWorkflowExecutionResponse{WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{
		Execution: &commonpb.WorkflowExecution{WorkflowId: workflowID, RunId: "run-1"}, FirstRunId: "run-1", Status: st}}}, nil
}

type jsonValue struct{ v any }

func (j jsonValue) HasValue() bool { return true }
func (j jsonValue) Get(ptr any) error {
	b, err := json.Marshal(j.v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, ptr)
}

type notifyFixture struct {
	fake *slackfake.Server
	runs *fakeRuns
}

func newNotifyFixture(t *testing.T) *notifyFixture {
	fake := slackfake.New("auth-ops", "status")
	t.Cleanup(fake.Close)
	return &notifyFixture{fake: fake, runs: &fakeRuns{status: contract.Status{Runbook: "secret-rotation", Target: "demo",
		RequestedBy: "alice", Phase: "pre-checks", Checklist: []contract.Step{{Name: "approval", State: contract.StatePending}}}}}
}

func (x *notifyFixture) acts() *activities.Notifications {
	cfg := &config.Config{
		PeopleByName: map[string]*config.Person{"alice": {Name: "alice", SlackID: "UALICE"}, "bob": {Name: "bob", SlackID: "UBOB"}},
		Targets:      map[string]*config.Target{"demo": {Name: "demo", Channel: "#auth-ops", Notify: config.Notify{UsersChannel: "#status"}}},
	}
	return &activities.Notifications{Config: cfg, Notifier: notify.Log{}, PeerKey: testPeerKey,
		Slack: &activities.SlackNotifier{Slack: notify.NewSlack("xoxb-test", x.fake.APIURL(), nil), Client: x.runs}}
}

// ann is an announcement of rotation-demo, sealed by its worker as the Announce activity seals it.
func ann(kind, key, text string, mention ...string) contract.Announcement {
	a := contract.Announcement{WorkflowID: "rotation-demo", FirstRunID: "run-1", Key: key,
		Message: contract.Message{Target: "demo", Channel: "#auth-ops", Kind: kind, RunID: "rotation-demo", Text: text, Mention: mention}}
	a.Seal = peerSeal(contract.SignalAnnouncement, a.WorkflowID, notifyTestID, a)
	return a
}

// notifyTestID is the notification run's id in these tests: #auth-ops's.
var notifyTestID = contract.NotifyChannelID("#auth-ops")

// newNotifyEnv is the test environment of #auth-ops's notification run.
func newNotifyEnv() *testsuite.TestWorkflowEnvironment {
	env := newTestEnv(NotifyChannel)
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: notifyTestID, TaskQueue: contract.TaskQueue})
	return env
}

// run runs the channel's notification workflow until it is canceled at the end.
func (x *notifyFixture) run(t *testing.T, end time.Duration, steps map[time.Duration]func(signal func(contract.Announcement))) {
	env := newNotifyEnv()
	env.RegisterActivity(x.acts())
	signal := func(a contract.Announcement) { env.SignalWorkflow(contract.SignalAnnouncement, a) }
	for at, fn := range steps {
		env.RegisterDelayedCallback(func() { fn(signal) }, at)
	}
	env.RegisterDelayedCallback(env.CancelWorkflow, end)
	env.ExecuteWorkflow(NotifyChannel, contract.NotifyChannelInput{Channel: "#auth-ops", Refresh: 5 * time.Second, RetryMax: 2 * time.Second})
	require.True(t, env.IsWorkflowCompleted())
	var canceled *temporal.CanceledError
	require.True(t, errors.As(env.GetWorkflowError(), &canceled), "%v", env.GetWorkflowError())
}

type channelView struct {
	parent  slackfake.Message
	parents int
	replies []slackfake.Message
	status  []slackfake.Message
	dms     []slackfake.Message
}

func (x *notifyFixture) view(t *testing.T) channelView {
	var v channelView
	ops, status := x.fake.ChannelID("auth-ops"), x.fake.ChannelID("status")
	for _, m := range x.fake.Messages() {
		switch {
		case m.Channel == ops && m.ThreadTS == "":
			v.parent = m
			v.parents++
		case m.Channel == ops:
			v.replies = append(v.replies, m)
		case m.Channel == status:
			v.status = append(v.status, m)
		case strings.HasPrefix(m.Channel, "D"):
			v.dms = append(v.dms, m)
		}
	}
	require.Equal(t, 1, v.parents, "one parent message per run")
	for _, r := range v.replies {
		require.Equal(t, v.parent.TS, r.ThreadTS)
	}
	return v
}

func TestNotifyChannel_ParentThreadButtonsOutcome(t *testing.T) {
	x := newNotifyFixture(t)
	decided := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	x.run(t, 5*time.Minute, map[time.Duration]func(func(contract.Announcement)){
		time.Second: func(signal func(contract.Announcement)) {
			x.runs.set(func(f *fakeRuns) { f.status.Phase = "waiting for approval" })
			signal(ann("planned", "run-1/5", "Planned JWT secret rotation of demo, requested by alice: <!channel> hygiene.", "bob"))
			signal(ann("planned", "run-1/5", "a retried Announce is handled once"))
		},
		time.Minute: func(func(contract.Announcement)) {
			x.runs.set(func(f *fakeRuns) {
				f.status.Phase, f.status.ApprovedBy = "rotating", "bob"
				f.timeline = append(f.timeline, contract.Event{At: decided, Actor: "bob", Action: "approve", Outcome: "accepted"})
			})
		},
		2 * time.Minute: func(signal func(contract.Announcement)) {
			x.runs.set(func(f *fakeRuns) {
				f.status.Phase, f.status.Outcome, f.closed = "closed: completed", contract.OutcomeCompleted, true
				f.status.Checklist[0].State = contract.StateDone
			})
			signal(ann("completed", "run-1/9", "Rotation of demo completed."))
		},
	})
	v := x.view(t)
	require.Len(t, v.replies, 2, "planned and completed, each once")
	require.Contains(t, v.replies[0].Text, "*planned*")
	require.Contains(t, v.replies[0].Text, "&lt;!channel&gt;", "people's text is escaped")
	require.NotContains(t, v.replies[0].Text, "<!channel>")
	require.Contains(t, v.replies[0].Text, "<@UBOB>", "who must act is mentioned")
	require.False(t, v.replies[0].Broadcast)
	require.True(t, v.replies[1].Broadcast, "completion is also shown in the channel")

	// The parent showed the buttons while waiting, then who approved and when, then the end.
	shown := strings.Join(append(v.parent.History, v.parent.Text+string(v.parent.Blocks)), "\n----\n")
	require.Contains(t, v.parent.History[0], slackui.ActionApprove)
	require.Contains(t, shown, "Approved by bob at 2025-01-02 03:04:05 UTC")
	require.Contains(t, v.parent.Text, "closed: completed")
	require.NotContains(t, string(v.parent.Blocks), slackui.ActionApprove, "the buttons are gone")
	require.GreaterOrEqual(t, v.parent.Updates, 2)

	require.Len(t, v.dms, 1, "the requester gets the outcome once")
	require.Equal(t, "DUALICE", v.dms[0].Channel)
	require.Contains(t, v.dms[0].Text, "completed")

	require.Len(t, v.status, 1, "the users hear of the planned rotation")
	require.Contains(t, v.status[0].Text, "sign in again")
	for _, internal := range []string{"alice", "hygiene", "rotation-demo", "JWT"} {
		require.NotContains(t, v.status[0].Text, internal, "a user notice holds no internals")
	}
}

// TestNotifyChannel_Outage: Slack answers 500, then 429, then loses the answer to a post that
// went through. Everything is delivered once when it recovers.
func TestNotifyChannel_Outage(t *testing.T) {
	x := newNotifyFixture(t)
	var mu sync.Mutex
	calls, lost := 0, false
	x.fake.SetFault(func(string) (int, int) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		switch {
		case calls <= 6:
			return http.StatusInternalServerError, 0
		case calls <= 8:
			return http.StatusTooManyRequests, 1
		}
		return 0, 0
	})
	x.fake.SetLoseReply(func(method string) bool {
		mu.Lock()
		defer mu.Unlock()
		if method == "chat.postMessage" && !lost {
			lost = true
			return true
		}
		return false
	})
	x.run(t, 5*time.Minute, map[time.Duration]func(func(contract.Announcement)){
		time.Second: func(signal func(contract.Announcement)) {
			x.runs.set(func(f *fakeRuns) { f.status.Phase = "waiting for approval" })
			signal(ann("waiting", "run-1/7", "Rotation of demo is waiting for approval."))
		},
		2 * time.Second: func(signal func(contract.Announcement)) {
			// The run finishes during the outage.
			x.runs.set(func(f *fakeRuns) {
				f.status.Phase, f.status.Outcome, f.closed = "closed: completed", contract.OutcomeCompleted, true
			})
			signal(ann("completed", "run-1/9", "Rotation of demo completed."))
		},
	})
	require.True(t, lost)
	v := x.view(t)
	require.Len(t, v.replies, 2)
	require.Contains(t, v.parent.Text+string(v.parent.Blocks), "closed: completed")
	require.Len(t, v.dms, 1)
	var rateLimited, failed int
	for _, c := range x.fake.Calls() {
		switch c.Status {
		case http.StatusTooManyRequests:
			rateLimited++
		case http.StatusInternalServerError:
			failed++
		}
	}
	require.Equal(t, 2, rateLimited)
	require.Equal(t, 7, failed, "six 500s and one lost answer")
}

// TestNotifyChannel_ContinueAsNew: the state (parent ts, seen announcements, queue) survives.
func TestNotifyChannel_ContinueAsNew(t *testing.T) {
	x := newNotifyFixture(t)
	env := newNotifyEnv()
	env.RegisterActivity(x.acts())
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(contract.SignalAnnouncement, ann("planned", "run-1/5", "Planned."))
		env.SignalWorkflow(contract.SignalAnnouncement, ann("waiting", "run-1/6", "Waiting."))
	}, time.Second)
	// Later, the history has grown: the next wake-up (a refresh) continues as new.
	env.RegisterDelayedCallback(func() { env.SetCurrentHistoryLength(25) }, 3*time.Second)
	env.ExecuteWorkflow(NotifyChannel, contract.NotifyChannelInput{Channel: "#auth-ops", Refresh: 5 * time.Second, MaxEvents: 20})
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(env.GetWorkflowError(), &can), "%v", env.GetWorkflowError())
	var next contract.NotifyChannelInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.Len(t, next.State.Runs, 1)
	r := next.State.Runs[0]
	require.NotEmpty(t, r.TS)
	require.Contains(t, r.Seen, "run-1/5")
	require.Equal(t, x.fake.ChannelID("auth-ops"), next.State.ChannelID)
	require.Equal(t, 5*time.Second, next.Refresh)
	require.ElementsMatch(t, []string{"run-1/5", "run-1/6"}, r.Seen)
	require.Empty(t, next.State.Queue)
}

// TestNotifyChannel_ContinueAsNewCarriesQueue: announcements not yet delivered are carried.
func TestNotifyChannel_ContinueAsNewCarriesQueue(t *testing.T) {
	x := newNotifyFixture(t)
	env := newNotifyEnv()
	env.RegisterActivity(x.acts())
	// (The test environment ends the run on the first signal's task, so only one is sent; on a
	// server, a signal that lands while the task completes fails the completion and is drained.)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(contract.SignalAnnouncement, ann("planned", "run-1/5", "Planned."))
		env.SetCurrentHistoryLength(25)
	}, time.Second)
	env.ExecuteWorkflow(NotifyChannel, contract.NotifyChannelInput{Channel: "#auth-ops", MaxEvents: 20})
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(env.GetWorkflowError(), &can), "%v", env.GetWorkflowError())
	var next contract.NotifyChannelInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	var keys []string
	for _, a := range next.State.Queue {
		keys = append(keys, a.Key)
	}
	for _, r := range next.State.Runs {
		keys = append(keys, r.Seen...)
	}
	require.Equal(t, []string{"run-1/5"}, keys, "an announcement is delivered or carried, once")
	require.Len(t, next.State.Queue, 1, "not delivered yet: carried in the queue")
}
