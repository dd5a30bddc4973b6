package activities

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/notify"
	"github.com/authops/authops/internal/notify/slackfake"
	"github.com/authops/authops/internal/peer"
)

func TestSlackError(t *testing.T) {
	err := slackError(&slack.RateLimitedError{RetryAfter: 7 * time.Second})
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr))
	require.Equal(t, contract.ErrTypeSlackRateLimited, appErr.Type())
	require.Equal(t, 7*time.Second, appErr.NextRetryDelay(), "the retry waits as long as Slack asked")
	require.False(t, appErr.NonRetryable())

	err = slackError(slack.SlackErrorResponse{Err: "channel_not_found"})
	require.True(t, errors.As(err, &appErr))
	require.True(t, appErr.NonRetryable())
	require.Equal(t, contract.ErrTypeSlackPermanent, appErr.Type())

	outage := slack.StatusCodeError{Code: 500, Status: "500 Internal Server Error"}
	require.Equal(t, error(outage), slackError(outage), "an outage is retried as it is")
	require.NoError(t, slackError(nil))
}

// signals records signal-with-start calls.
type signals struct {
	mu    sync.Mutex
	calls []contract.Announcement
	ids   []string
	input []contract.NotifyChannelInput
	// taskQueue is the announcing run's queue as the server describes it; authops's when empty.
	taskQueue string
}

func (s *signals) queue() string {
	if s.taskQueue == "" {
		return contract.TaskQueue
	}
	return s.taskQueue
}

func (s *signals) SignalWithStartWorkflow(_ context.Context, workflowID, signalName string, arg any, o client.StartWorkflowOptions,
	wf any, args ...any) (client.WorkflowRun, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if signalName != contract.SignalAnnouncement || wf != contract.WorkflowNotifyChannel || o.ID != workflowID {
		return nil, errors.New("unexpected signal-with-start")
	}
	s.calls = append(s.calls, arg.(contract.Announcement))
	s.ids = append(s.ids, workflowID)
	s.input = append(s.input, args[0].(contract.NotifyChannelInput))
	return nil, nil
}

func (s *signals) QueryWorkflow(context.Context, string, string, string, ...any) (converter.EncodedValue, error) {
	return nil, errors.New("not used")
}

func (s *signals) DescribeWorkflow(_ context.Context, workflowID, runID string) (*client.WorkflowExecutionDescription, error) {
	return &client.WorkflowExecutionDescription{RawResponse: &workflowservice.DescribeWorkflowExecutionResponse{WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{
		Execution: &commonpb.WorkflowExecution{WorkflowId: workflowID, RunId: runID}, FirstRunId: "first-run", TaskQueue: s.queue()}}}, nil
}

// TestAnnounce_SlackOffCriticalPath: with Slack down, Announce still returns at once: it hands
// the message to the channel's notification workflow and calls no Slack API itself.
func TestAnnounce_SlackOffCriticalPath(t *testing.T) {
	fake := slackfake.New("auth-ops")
	defer fake.Close()
	fake.SetFault(func(string) (int, int) { return http.StatusServiceUnavailable, 0 })
	sig := &signals{}
	rec := &recorder{}
	a := &Notifications{Notifier: rec, PeerKey: testPeerKey, Slack: &SlackNotifier{Slack: notify.NewSlack("xoxb-test", fake.APIURL(), nil), Client: sig,
		Refresh: 3 * time.Second}}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	m := contract.Message{Target: "demo", Channel: "#auth-ops", Kind: "planned", RunID: "rotation-demo", Text: "Planned."}
	start := time.Now()
	_, err := env.ExecuteActivity(a.Announce, m)
	require.NoError(t, err)
	require.Less(t, time.Since(start), 2*time.Second)
	require.Empty(t, fake.Calls(), "Slack is not on the runbook's path")
	require.Len(t, rec.got(), 1, "the log notifier still gets it")
	require.Len(t, sig.calls, 1)
	require.Equal(t, "notify-auth-ops", sig.ids[0])
	got := sig.calls[0]
	require.Equal(t, m, got.Message)
	require.Equal(t, "first-run", got.FirstRunID)
	// Sealed for the run that announced, so the notifier posts it (workflows/peer.go).
	require.NotNil(t, got.Seal)
	require.NoError(t, peer.Check(testPeerKey, got.Seal, peer.Expect{Kind: contract.SignalAnnouncement, To: "notify-auth-ops",
		Digest: contract.PeerDigest(got.Unsealed()), Now: time.Now()}))
	require.Equal(t, got.WorkflowID, got.Seal.From)
	require.NotEmpty(t, got.WorkflowID)
	require.NotEmpty(t, got.Key)
	require.Equal(t, "#auth-ops", sig.input[0].Channel)
	require.Equal(t, 3*time.Second, sig.input[0].Refresh)

	// Without Slack, only the notifier.
	a.Slack = nil
	_, err = env.ExecuteActivity(a.Announce, m)
	require.NoError(t, err)
	require.Len(t, sig.calls, 1)
	require.Len(t, rec.got(), 2)
}

// testPeerKey is the workers' peer key in these tests.
var testPeerKey = []byte("0123456789abcdef0123456789abcdef")

// A run on a queue of its own (someone else's worker) that schedules Announce on authops's
// queue gets nothing sealed or sent.
func TestAnnounce_OnlyForAuthopsRuns(t *testing.T) {
	sig := &signals{taskQueue: "evil"}
	a := &Notifications{Notifier: &recorder{}, PeerKey: testPeerKey, Slack: &SlackNotifier{Slack: notify.NewSlack("xoxb-test", "http://127.0.0.1:1/", nil), Client: sig}}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	_, err := env.ExecuteActivity(a.Announce, contract.Message{Target: "demo", Channel: "#auth-ops", Kind: "planned", Text: "Rotate now at evil.example"})
	require.ErrorContains(t, err, "not authops's")
	require.Empty(t, sig.calls)
}

// Without a peer key, Announce refuses to send an unsealed announcement the notifier would drop.
func TestAnnounce_NoPeerKeyRefused(t *testing.T) {
	sig := &signals{}
	a := &Notifications{Notifier: &recorder{}, Slack: &SlackNotifier{Slack: notify.NewSlack("xoxb-test", "http://127.0.0.1:1/", nil), Client: sig}}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	_, err := env.ExecuteActivity(a.Announce, contract.Message{Target: "demo", Channel: "#auth-ops", Kind: "planned", Text: "Planned."})
	require.ErrorContains(t, err, "no peer key")
	require.Empty(t, sig.calls)
}

type recorder struct {
	mu sync.Mutex
	ms []contract.Message
}

func (r *recorder) Notify(_ context.Context, m contract.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ms = append(r.ms, m)
	return nil
}

func (r *recorder) got() []contract.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]contract.Message(nil), r.ms...)
}

// A run's announcements are told apart by key, and a run counts the ids of its local activities
// apart from its activities': the same id in both must not make the second look like a retry
// of the first, which the channel's run would drop.
func TestAnnounce_LocalAndActivityKeysDiffer(t *testing.T) {
	sig := &signals{}
	a := &Notifications{Notifier: &recorder{}, PeerKey: testPeerKey, Slack: &SlackNotifier{Slack: notify.NewSlack("xoxb-test", "http://127.0.0.1:1/", nil), Client: sig}}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterActivity(a)
	m := contract.Message{Target: "demo", Channel: "#auth-ops", Kind: "user-impact", RunID: "invalidate-demo", Text: "Done."}
	env.ExecuteWorkflow(func(ctx workflow.Context) error {
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
		if err := workflow.ExecuteActivity(ctx, a.Announce, m).Get(ctx, nil); err != nil {
			return err
		}
		ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: time.Minute})
		return workflow.ExecuteLocalActivity(ctx, a.Announce, m).Get(ctx, nil)
	})
	require.NoError(t, env.GetWorkflowError())
	require.Len(t, sig.calls, 2)
	require.NotEqual(t, sig.calls[0].Key, sig.calls[1].Key)
	require.Contains(t, sig.calls[1].Key, "/local/")
}
