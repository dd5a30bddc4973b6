package runs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/config"
)

// Outcomes of an alert.
const (
	AlertDeclared    = "declared"
	AlertNoted       = "noted"
	AlertOverMaxOpen = "over_max_open"
	AlertNothing     = "nothing"
)

// AlertRequest is what an Alertmanager notification asks for: declare the incident IncidentID
// (or add a note to it when it is open), or, when Resolved, add a note.
type AlertRequest struct {
	IncidentID string
	// Actor is the alert requester the statements name (alert:alertmanager).
	Actor    string
	Targets  []string
	Trigger  string
	Severity string
	Summary  string
	// Note is the timeline note for a repeat or a resolved alert.
	Note     string
	Resolved bool
}

// AlertAnswer is what became of an alert.
type AlertAnswer struct {
	// Outcome is one of AlertDeclared, AlertNoted, AlertOverMaxOpen, AlertNothing.
	Outcome string
	// Incident is the incident declared or noted on, if any.
	Incident string
	// Text says it for people.
	Text string
}

// Alert handles an alert, signed through s (an Alert signer).
//
// Every read is a describe by id, which the server answers from the run's own record (strongly
// consistent), never the visibility list:
//   - the group's incident (its id derives from the groupKey) is open: the alert is a note on it;
//     it is closed: nothing changes, one incident per group for good;
//   - else, a firing alert takes a free slot alert-slot-1..alerts.max_open: the slot's run starts
//     the incident as its child and holds the slot until it closes. A slot is started with a
//     conflict policy that fails while it runs, so two gateways, or two notifications, never
//     hold more than max_open incidents open, and the incident id keeps one per group;
//   - every slot is taken: the alert becomes a note on the newest open alert incident.
func (c *Client) Alert(ctx context.Context, s Signer, al AlertRequest) (AlertAnswer, error) {
	cfg, err := c.config()
	if err != nil {
		return AlertAnswer{}, err
	}
	in := contract.IncidentInput{Trigger: al.Trigger, Severity: al.Severity, Summary: al.Summary,
		Reporter: al.Actor, Source: "alert", Targets: al.Targets}
	sg, err := c.signingFor(cfg, s, "alert", al.Actor)
	if err != nil {
		return AlertAnswer{}, err
	}
	defer sg.close()
	if err := in.Validate(); err != nil {
		return AlertAnswer{}, fmt.Errorf("alert refused, nothing was started: %w", err)
	}
	tc, err := c.temporal()
	if err != nil {
		return AlertAnswer{}, err
	}
	nothing := func(format string, a ...any) (AlertAnswer, error) {
		return AlertAnswer{Outcome: AlertNothing, Text: fmt.Sprintf(format, a...)}, nil
	}
	for range 3 {
		desc, err := tc.DescribeWorkflow(ctx, al.IncidentID, "")
		var notFound *serviceerror.NotFound
		switch {
		case errors.As(err, &notFound):
		case err != nil:
			return AlertAnswer{}, fmt.Errorf("describe %s: %w", al.IncidentID, err)
		case desc.RawResponse.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
			return noteAlert(ctx, tc, sg, al.IncidentID, al.Note, AlertNoted)
		default:
			return nothing("incident %s is closed (%s); nothing changed", al.IncidentID, desc.RawResponse.GetWorkflowExecutionInfo().GetStatus())
		}
		if al.Resolved {
			return nothing("no incident %s: a resolved alert declares nothing", al.IncidentID)
		}
		slots, err := alertSlots(ctx, tc, maxOpen(cfg))
		if err != nil {
			return AlertAnswer{}, err
		}
		free := 0
		var newest *alertSlot
		for n := range slots {
			s := &slots[n]
			switch {
			case !s.running && free == 0:
				free = s.n
			case s.running && s.incident == al.IncidentID:
				return nothing("incident %s is being declared (%s) by another notification of its group", al.IncidentID, s.id)
			case s.running && s.incident != "" && (newest == nil || s.started.After(newest.started)):
				newest = s
			}
		}
		if free == 0 {
			if newest == nil {
				return AlertAnswer{}, errors.New("every alert slot is taken, but none names its incident; try again")
			}
			note := fmt.Sprintf("another alert, not declared: alerts.max_open (%d) alert incidents are open; %s", len(slots), al.Summary)
			return noteAlert(ctx, tc, sg, newest.incident, plainNote(note), AlertOverMaxOpen)
		}
		taken, err := takeSlot(ctx, tc, sg, free, al.IncidentID, in)
		if err != nil {
			return AlertAnswer{}, err
		}
		if taken {
			return AlertAnswer{Outcome: AlertDeclared, Incident: al.IncidentID,
				Text: fmt.Sprintf("declared %s (%s) for %s", al.IncidentID, contract.AlertSlotID(free), alertTargets(al.Targets))}, nil
		}
		// Another notification took the slot meanwhile: look again.
	}
	return AlertAnswer{}, fmt.Errorf("incident %s: the alert slots changed while it was declared; try again", al.IncidentID)
}

// alertSlot is what the server says of one slot.
type alertSlot struct {
	n        int
	id       string
	running  bool
	incident string
	started  time.Time
}

// maxOpen is alerts.max_open.
func maxOpen(cfg *config.Config) int {
	if cfg.Alerts.MaxOpen > 0 {
		return cfg.Alerts.MaxOpen
	}
	return config.DefaultAlertsMaxOpen
}

// describer is what reading the slots needs of a Temporal client.
type describer interface {
	DescribeWorkflow(ctx context.Context, workflowID, runID string) (*client.WorkflowExecutionDescription, error)
}

// alertSlots describes every slot.
func alertSlots(ctx context.Context, c describer, n int) ([]alertSlot, error) {
	slots := make([]alertSlot, n)
	for n := range slots {
		s := alertSlot{n: n + 1, id: contract.AlertSlotID(n + 1)}
		desc, err := c.DescribeWorkflow(ctx, s.id, "")
		var notFound *serviceerror.NotFound
		switch {
		case errors.As(err, &notFound):
		case err != nil:
			return nil, fmt.Errorf("describe %s: %w", s.id, err)
		default:
			info := desc.RawResponse.GetWorkflowExecutionInfo()
			s.running = info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
			s.started = info.GetStartTime().AsTime()
			if p := info.GetMemo().GetFields()[contract.MemoAlertIncident]; p != nil {
				_ = converter.GetDefaultDataConverter().FromPayload(p, &s.incident)
			}
		}
		slots[n] = s
	}
	return slots, nil
}

// takeSlot starts slot n for the incident; taken is false when the slot is running already.
func takeSlot(ctx context.Context, c starterClient, sg *signing, n int, incident string, in contract.IncidentInput) (bool, error) {
	var err error
	if in.Statement, err = sg.sign(incident, "", contract.ActionStartIncident, in.Summary, in.StartArgs()); err != nil {
		return false, err
	}
	id := contract.AlertSlotID(n)
	_, err = c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:            id,
		TaskQueue:     contract.TaskQueue,
		StaticSummary: fmt.Sprintf("Alert slot %d of alerts.max_open: holds %s while it runs", n, incident),
		Memo:          map[string]any{contract.MemoAlertIncident: incident},
		// The bound: a running slot cannot be started again. A closed one is free.
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
	}, contract.WorkflowAlertSlot, contract.AlertSlotInput{Incident: incident, Input: in})
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &already) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("declare %s in %s: %w", incident, id, err)
	}
	return true, nil
}

// noteAlert adds a note to an open incident, signed for its first run (and sent only to that
// chain of runs); it starts nothing.
func noteAlert(ctx context.Context, c decisionClient, sg *signing, id, note, outcome string) (AlertAnswer, error) {
	ans, err := sendDecision(ctx, c, sg.sign, Run{WorkflowID: id}, contract.UpdateNote, contract.Decision{Actor: sg.key.Actor, Comment: note})
	if err != nil {
		return AlertAnswer{}, fmt.Errorf("note on %s: %w", id, err)
	}
	res := AlertAnswer{Outcome: outcome, Incident: id, Text: "noted on " + id}
	if ans.Denied {
		res.Text = fmt.Sprintf("note on %s denied: %s", id, contract.CleanText(ans.Event.Detail))
	}
	return res, nil
}

// plainNote cuts a note to what a note takes.
func plainNote(s string) string {
	if len(s) <= contract.MaxNote {
		return s
	}
	return strings.ToValidUTF8(s[:contract.MaxNote], "")
}

func alertTargets(ts []string) string {
	if len(ts) == 0 {
		return "no target: the owner names them with starter incident targets"
	}
	return strings.Join(ts, ", ")
}
