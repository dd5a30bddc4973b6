package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/statement"
	"github.com/authops/authops/starter/gateway"
)

// serverFake is a Temporal that keeps runs by id, as the server does: a describe answers from
// them, and a start with WORKFLOW_ID_CONFLICT_POLICY_FAIL fails while the id runs.
type serverFake struct {
	*fakeClient
	runs  map[string]*workflowpb.WorkflowExecutionInfo
	clock time.Time
	// rival, when set for a slot id, takes that slot for its incident just before our start.
	rival map[string]string
}

func newServerFake() *serverFake {
	return &serverFake{fakeClient: &fakeClient{answer: contract.Event{Outcome: "accepted"}},
		runs: map[string]*workflowpb.WorkflowExecutionInfo{}, rival: map[string]string{},
		clock: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
}

// run records id as running (an incident, or a slot holding incident).
func (s *serverFake) run(id, holds string) {
	s.clock = s.clock.Add(time.Minute)
	info := &workflowpb.WorkflowExecutionInfo{Status: enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, FirstRunId: "first-" + id,
		StartTime: timestamppb.New(s.clock)}
	if holds != "" {
		p, err := converter.GetDefaultDataConverter().ToPayload(holds)
		if err != nil {
			panic(err)
		}
		info.Memo = &commonpb.Memo{Fields: map[string]*commonpb.Payload{contract.MemoAlertIncident: p}}
	}
	s.runs[id] = info
}

func (s *serverFake) close(id string) {
	s.runs[id].Status = enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED
}

func (s *serverFake) DescribeWorkflow(_ context.Context, id, _ string) (*client.WorkflowExecutionDescription, error) {
	info, ok := s.runs[id]
	if !ok {
		return nil, serviceerror.NewNotFound("workflow not found for ID: " + id)
	}
	return &client.WorkflowExecutionDescription{RawResponse: &workflowservice.DescribeWorkflowExecutionResponse{WorkflowExecutionInfo: info}}, nil
}

func (s *serverFake) ExecuteWorkflow(ctx context.Context, o client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	if holds, ok := s.rival[o.ID]; ok {
		delete(s.rival, o.ID)
		s.run(o.ID, holds)
	}
	if r, ok := s.runs[o.ID]; ok && r.Status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING &&
		o.WorkflowIDConflictPolicy == enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL {
		return nil, serviceerror.NewWorkflowExecutionAlreadyStarted("running", "", r.FirstRunId)
	}
	run, err := s.fakeClient.ExecuteWorkflow(ctx, o, wf, args...)
	if err == nil {
		s.run(o.ID, o.Memo[contract.MemoAlertIncident].(string))
	}
	return run, err
}

func alertFixture(t *testing.T, maxOpen int) (*gatewayFixture, *serverFake) {
	f := newGatewayFixture(t)
	sf := newServerFake()
	f.cfg.Alerts.MaxOpen = maxOpen
	f.serve(sf)
	return f, sf
}

func firing(group string, targets ...string) gateway.Alert {
	return gateway.Alert{IncidentID: gateway.AlertIncidentID(group), Targets: targets, Trigger: "credential-stuffing",
		Severity: "critical", Summary: "LoginFailuresHigh: " + group, Note: "alert still firing: " + group}
}

// TestGatewayAlertSlots: a new group takes a free slot, whose run starts the group's incident
// for the alert's targets; a repeat is a note on it; past alerts.max_open an alert is a note on
// the newest open alert incident; a closed slot is free again; a closed incident stays closed.
func TestGatewayAlertSlots(t *testing.T) {
	f, sf := alertFixture(t, 2)
	ctx := context.Background()

	g1 := firing("g1", "demo")
	res, err := f.runs.Alert(ctx, g1)
	require.NoError(t, err)
	require.Equal(t, gateway.AlertDeclared, res.Outcome, res.Text)
	require.Equal(t, g1.IncidentID, res.Incident)
	require.Len(t, sf.starts, 1)
	o := sf.starts[0]
	require.Equal(t, contract.AlertSlotID(1), o.ID)
	require.Equal(t, enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL, o.WorkflowIDConflictPolicy, "the bound holds on the server")
	require.Equal(t, enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE, o.WorkflowIDReusePolicy, "a closed slot is free")
	require.Equal(t, g1.IncidentID, o.Memo[contract.MemoAlertIncident])
	slot := sf.startArgs[0].(contract.AlertSlotInput)
	require.Equal(t, g1.IncidentID, slot.Incident)
	require.Equal(t, []string{"demo"}, slot.Input.Targets, "the alert's targets, and only those")
	require.Equal(t, gateway.AlertActor, slot.Input.Reporter)
	v := f.verify(t, slot.Input.Statement, statement.Expect{Namespace: "default", WorkflowID: g1.IncidentID,
		Action: contract.ActionStartIncident, Comment: slot.Input.Summary, Args: slot.Input.StartArgs()})
	require.Equal(t, statement.ViaAlert, v.Via)
	sf.run(g1.IncidentID, "") // the slot's run started it

	// A repeat of the group: a note on its incident, signed for its first run; no start.
	res, err = f.runs.Alert(ctx, g1)
	require.NoError(t, err)
	require.Equal(t, gateway.AlertNoted, res.Outcome)
	require.Len(t, sf.starts, 1)
	require.Len(t, sf.updates, 1)
	u := sf.updates[0]
	require.Equal(t, g1.IncidentID, u.WorkflowID)
	require.Equal(t, "first-"+g1.IncidentID, u.FirstExecutionRunID)
	require.Equal(t, contract.UpdateNote, u.UpdateName)
	require.Equal(t, g1.Note, u.Args[0].(contract.Decision).Comment)

	// A second group, with no target: the second slot, an incident for no target.
	g2 := firing("g2")
	res, err = f.runs.Alert(ctx, g2)
	require.NoError(t, err)
	require.Equal(t, gateway.AlertDeclared, res.Outcome)
	require.Equal(t, contract.AlertSlotID(2), sf.starts[1].ID)
	require.Empty(t, sf.startArgs[1].(contract.AlertSlotInput).Input.Targets, "no target: the incident freezes nothing")
	sf.run(g2.IncidentID, "")

	// Both slots taken: a third group is a note on the newest open alert incident.
	g3 := firing("g3", "demo")
	res, err = f.runs.Alert(ctx, g3)
	require.NoError(t, err)
	require.Equal(t, gateway.AlertOverMaxOpen, res.Outcome)
	require.Equal(t, g2.IncidentID, res.Incident, "the newest")
	require.Len(t, sf.starts, 2, "nothing started past max_open")
	d := sf.updates[len(sf.updates)-1].Args[0].(contract.Decision)
	require.Equal(t, g2.IncidentID, sf.updates[len(sf.updates)-1].WorkflowID)
	require.Contains(t, d.Comment, "alerts.max_open (2) alert incidents are open")
	require.Contains(t, d.Comment, g3.Summary)

	// The first incident closes, and its slot with it: the third group takes slot 1.
	sf.close(g1.IncidentID)
	sf.close(contract.AlertSlotID(1))
	res, err = f.runs.Alert(ctx, g3)
	require.NoError(t, err)
	require.Equal(t, gateway.AlertDeclared, res.Outcome)
	require.Equal(t, contract.AlertSlotID(1), sf.starts[2].ID)

	// The first group fires again: its incident is closed for good.
	res, err = f.runs.Alert(ctx, g1)
	require.NoError(t, err)
	require.Equal(t, gateway.AlertNothing, res.Outcome)
	require.Contains(t, res.Text, "is closed")
	require.Len(t, sf.starts, 3)

	// A resolved alert of a group with no incident declares nothing.
	resolved := firing("g4", "demo")
	resolved.Resolved = true
	res, err = f.runs.Alert(ctx, resolved)
	require.NoError(t, err)
	require.Equal(t, gateway.AlertNothing, res.Outcome)
	require.Len(t, sf.starts, 3)
}

// TestGatewayAlertSlotTakenMeanwhile: a slot another gateway took between the describe and the
// start is not taken twice: the alert looks again and takes the next, or, when the other took it
// for the same group, adds nothing.
func TestGatewayAlertSlotTakenMeanwhile(t *testing.T) {
	f, sf := alertFixture(t, 2)
	ctx := context.Background()
	sf.rival[contract.AlertSlotID(1)] = gateway.AlertIncidentID("other")
	res, err := f.runs.Alert(ctx, firing("g1", "demo"))
	require.NoError(t, err)
	require.Equal(t, gateway.AlertDeclared, res.Outcome)
	require.Len(t, sf.starts, 1)
	require.Equal(t, contract.AlertSlotID(2), sf.starts[0].ID)

	f, sf = alertFixture(t, 2)
	g := firing("g1", "demo")
	sf.rival[contract.AlertSlotID(1)] = g.IncidentID
	res, err = f.runs.Alert(ctx, g)
	require.NoError(t, err)
	require.Equal(t, gateway.AlertNothing, res.Outcome)
	require.Contains(t, res.Text, "being declared")
	require.Empty(t, sf.starts, "one incident per group")
}

// TestGatewayAlertDefaultMaxOpen: with no alerts.max_open, three slots.
func TestGatewayAlertDefaultMaxOpen(t *testing.T) {
	f, sf := alertFixture(t, 0)
	for _, g := range []string{"a", "b", "c", "d"} {
		res, err := f.runs.Alert(context.Background(), firing(g))
		require.NoError(t, err)
		if g == "d" {
			require.Equal(t, gateway.AlertOverMaxOpen, res.Outcome)
			continue
		}
		require.Equal(t, gateway.AlertDeclared, res.Outcome)
		sf.run(gateway.AlertIncidentID(g), "")
	}
	require.Len(t, sf.starts, 3)
}
