package main

import (
	"bytes"
	"context"
	"encoding/json"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/authops/authops/contract"
)

// incidentFake adds to fakeClient what the incident, report and freeze commands use: the
// incident query, a closed run's result and the visibility list.
type incidentFake struct {
	*fakeClient

	incident contract.IncidentStatus
	queryErr error
	queries  []string

	// result is a closed run's result, resultErr its error (a failed run's).
	result    any
	resultErr error

	list *workflowservice.ListWorkflowExecutionsResponse
}

func newIncidentFake() *incidentFake { return &incidentFake{fakeClient: &fakeClient{}} }

func (f *incidentFake) QueryWorkflow(ctx context.Context, id, runID, name string, args ...any) (converter.EncodedValue, error) {
	f.queries = append(f.queries, name)
	if f.queryErr != nil {
		return nil, f.queryErr
	}
	if name == contract.QueryIncident {
		return jsonValue{f.incident}, nil
	}
	return f.fakeClient.QueryWorkflow(ctx, id, runID, name, args...)
}

func (f *incidentFake) GetWorkflow(_ context.Context, id, _ string) client.WorkflowRun {
	return resultRun{fakeRun: fakeRun{id: id}, f: f}
}

func (f *incidentFake) ListWorkflow(context.Context, *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	if f.list == nil {
		return &workflowservice.ListWorkflowExecutionsResponse{}, nil
	}
	return f.list, nil
}

type resultRun struct {
	fakeRun
	f *incidentFake
}

func (r resultRun) Get(_ context.Context, ptr any) error {
	if r.f.resultErr != nil {
		return r.f.resultErr
	}
	b, err := json.Marshal(r.f.result)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, ptr)
}

// runWith runs starter commands against c.
func (h *harness) runWith(c client.Client, args ...string) (string, error) {
	a := &app{
		dial: func() (client.Client, error) {
			h.dials++
			return c, nil
		},
		namespace: func() (string, error) { return "default", nil },
		identity:  func() string { return "test-client" },
	}
	root := newRootFor(a)
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{"--config", h.f.config}, args...))
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}
