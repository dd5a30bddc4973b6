// Package freeze reads the deploy freezes that running incidents hold. A freeze lives in
// Temporal, as the incident's AuthopsFrozenTargets search attribute, so rotations, the starter
// and the gateway's /freeze all read the same record and no worker's disk holds it.
package freeze

import (
	"context"
	"fmt"
	"slices"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"

	"github.com/authops/authops/contract"
)

// Lister lists workflow runs; a Temporal client is one.
type Lister interface {
	ListWorkflow(ctx context.Context, req *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error)
}

// Freeze is one running incident and the targets it freezes.
type Freeze struct {
	Incident string   `json:"incident"`
	Targets  []string `json:"targets"`
}

// List returns the running incidents that freeze target, or every freeze when target is "".
func List(ctx context.Context, c Lister, namespace, target string) ([]Freeze, error) {
	key := contract.AttrFrozenTargets.GetName()
	q := fmt.Sprintf("ExecutionStatus = 'Running' AND WorkflowType = '%s' AND %s IS NOT NULL", contract.WorkflowAuthIncident, key)
	if target != "" {
		if strings.ContainsAny(target, `'"\`) {
			return nil, fmt.Errorf("target %q is not a target name", contract.CleanText(target))
		}
		q = fmt.Sprintf("ExecutionStatus = 'Running' AND WorkflowType = '%s' AND %s = '%s'", contract.WorkflowAuthIncident, key, target)
	}
	var out []Freeze
	var token []byte
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: namespace, Query: q, NextPageToken: token, PageSize: 100,
		})
		if err != nil {
			return nil, fmt.Errorf("list freezes: %w", err)
		}
		for _, e := range resp.GetExecutions() {
			targets := decode(e.GetSearchAttributes().GetIndexedFields()[key])
			if len(targets) == 0 || (target != "" && !slices.Contains(targets, target)) {
				continue
			}
			out = append(out, Freeze{Incident: e.GetExecution().GetWorkflowId(), Targets: targets})
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	slices.SortFunc(out, func(a, b Freeze) int { return strings.Compare(a.Incident, b.Incident) })
	return out, nil
}

func decode(p *commonpb.Payload) []string {
	var v []string
	if p == nil || converter.GetDefaultDataConverter().FromPayload(p, &v) != nil {
		return nil
	}
	return v
}
