package bench

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"

	"github.com/authops/authops/internal/testenv"
)

// printBreakdown prints where the time of one run went after from: every history event of the
// run and of its children, with its offset, so that a slow step shows by name.
func printBreakdown(ctx context.Context, t *testing.T, env *testenv.Env, id, runID string, from time.Time) {
	t.Helper()
	type row struct {
		at   time.Time
		what string
	}
	var rows []row
	var read func(id, runID, indent string)
	read = func(id, runID, indent string) {
		it := env.Client.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Logf("history of %s: %v", id, err)
				return
			}
			at := ev.GetEventTime().AsTime()
			if at.Before(from) {
				continue
			}
			rows = append(rows, row{at, indent + id + " " + describe(ev)})
			if a := ev.GetChildWorkflowExecutionStartedEventAttributes(); a != nil {
				read(a.GetWorkflowExecution().GetWorkflowId(), a.GetWorkflowExecution().GetRunId(), indent+"  ")
			}
		}
	}
	read(id, runID, "")
	slices.SortStableFunc(rows, func(a, b row) int { return a.at.Compare(b.at) })
	fmt.Printf("    where the time went in %s (event times after the go-ahead was sent):\n", id)
	for _, r := range rows {
		fmt.Printf("      %+7.1f ms  %s\n", float64(r.at.Sub(from).Microseconds())/1000, r.what)
	}
}

func describe(ev *historypb.HistoryEvent) string {
	s := strings.TrimPrefix(ev.GetEventType().String(), "EVENT_TYPE_")
	switch {
	case ev.GetActivityTaskScheduledEventAttributes() != nil:
		s += " " + ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()
	case ev.GetMarkerRecordedEventAttributes() != nil:
		if p, ok := ev.GetMarkerRecordedEventAttributes().GetDetails()["activityType"]; ok && len(p.GetPayloads()) > 0 {
			s += " " + string(p.GetPayloads()[0].GetData())
		}
	case ev.GetSignalExternalWorkflowExecutionInitiatedEventAttributes() != nil:
		s += " " + ev.GetSignalExternalWorkflowExecutionInitiatedEventAttributes().GetSignalName()
	}
	return s
}
