package activities

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	updatepb "go.temporal.io/api/update/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"

	"github.com/authops/authops/contract"
)

// A seal is made only in a local activity: scheduled as an activity, as any workflow in the
// namespace could schedule it on authops's queue, it is refused.
func TestSealMessage_LocalOnly(t *testing.T) {
	a := &Peer{Key: testPeerKey}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	in := contract.SealInput{Kind: contract.SignalPreempt, To: "rotation-demo", Digest: contract.PeerDigest("m")}
	_, err := env.ExecuteActivity(a.SealMessage, in)
	require.ErrorContains(t, err, "only as a local activity")

	v, err := env.ExecuteLocalActivity(a.SealMessage, in)
	require.NoError(t, err)
	var s contract.PeerSeal
	require.NoError(t, v.Get(&s))
	require.Equal(t, "rotation-demo", s.To)
	require.NotEmpty(t, s.MAC)

	a.Key = nil
	_, err = env.ExecuteLocalActivity(a.SealMessage, in)
	require.ErrorContains(t, err, "no peer key")
}

type describer struct {
	resp *workflowservice.DescribeWorkflowExecutionResponse
}

func (d describer) DescribeWorkflow(context.Context, string, string) (*client.WorkflowExecutionDescription, error) {
	return &client.WorkflowExecutionDescription{RawResponse: d.resp}, nil
}

// DescribeRun reports the type, queue, status and Schedule the server holds for a run.
func TestDescribeRun(t *testing.T) {
	p, err := converter.GetDefaultDataConverter().ToPayload("rotation-schedule-demo")
	require.NoError(t, err)
	a := &Peer{Runs: describer{&workflowservice.DescribeWorkflowExecutionResponse{WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{
		Type: &commonpb.WorkflowType{Name: contract.WorkflowScheduledRotation}, TaskQueue: contract.TaskQueue,
		Status:           enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING,
		SearchAttributes: &commonpb.SearchAttributes{IndexedFields: map[string]*commonpb.Payload{scheduledByAttr: p}},
	}}}}
	f, err := a.DescribeRun(context.Background(), contract.RunRef{WorkflowID: "scheduled-rotation-demo-x"})
	require.NoError(t, err)
	require.Equal(t, contract.RunFacts{Type: contract.WorkflowScheduledRotation, TaskQueue: contract.TaskQueue,
		ScheduledBy: "rotation-schedule-demo", Running: true}, f)

	f, err = (&Peer{}).DescribeRun(context.Background(), contract.RunRef{WorkflowID: "x"})
	require.NoError(t, err)
	require.NotEmpty(t, f.Unknown, "no client: the facts say so, and the rotation refuses")
}

// The identity of a forged message comes from the server's record: the nth signal of that name,
// or the Update with that id.
func TestIdentityOf(t *testing.T) {
	events := []*historypb.HistoryEvent{
		{Attributes: &historypb.HistoryEvent_WorkflowExecutionSignaledEventAttributes{WorkflowExecutionSignaledEventAttributes: &historypb.WorkflowExecutionSignaledEventAttributes{SignalName: "preempt", Identity: "first"}}},
		{Attributes: &historypb.HistoryEvent_WorkflowExecutionSignaledEventAttributes{WorkflowExecutionSignaledEventAttributes: &historypb.WorkflowExecutionSignaledEventAttributes{SignalName: "other", Identity: "x"}}},
		{Attributes: &historypb.HistoryEvent_WorkflowExecutionSignaledEventAttributes{WorkflowExecutionSignaledEventAttributes: &historypb.WorkflowExecutionSignaledEventAttributes{SignalName: "preempt", Identity: "second"}}},
		{Attributes: &historypb.HistoryEvent_WorkflowExecutionUpdateAcceptedEventAttributes{WorkflowExecutionUpdateAcceptedEventAttributes: &historypb.WorkflowExecutionUpdateAcceptedEventAttributes{
			ProtocolInstanceId: "u-7", AcceptedRequest: &updatepb.Request{Meta: &updatepb.Meta{Identity: "mallory"}}}}},
	}
	find := func(in contract.SenderInput) string {
		n := 0
		for _, ev := range events {
			if id, ok := identityOf(ev, in, &n); ok {
				return id
			}
		}
		return ""
	}
	require.Equal(t, "second", find(contract.SenderInput{Signal: "preempt", Ordinal: 2}))
	require.Equal(t, "first", find(contract.SenderInput{Signal: "preempt", Ordinal: 1}))
	require.Equal(t, "mallory", find(contract.SenderInput{UpdateID: "u-7"}))
	require.Empty(t, find(contract.SenderInput{UpdateID: "u-8"}))
}
