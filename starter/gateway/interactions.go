package gateway

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/slack-go/slack"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/slackui"
)

// Block and action ids of the modals' inputs.
const (
	blockReason   = "reason"
	blockTrigger  = "trigger"
	blockSeverity = "severity"
	blockSummary  = "summary"
	blockTargets  = "targets"
	inputAction   = "value"
)

// interactions serves POST /slack/interactions: approval buttons and modal submissions. The
// signature and the form are HTTP's, the rest is interaction's.
func (s *Server) interactions(w http.ResponseWriter, r *http.Request) {
	body, ok := s.verified(w, r)
	if !ok {
		return
	}
	cb, err := decodeInteraction(body)
	if err != nil {
		http.Error(w, "malformed interaction: "+err.Error(), http.StatusBadRequest)
		return
	}
	s.writeAnswer(w, s.interaction(r.Context(), cb))
}

// interaction decides what an interaction gets, over HTTP or Socket Mode.
func (s *Server) interaction(ctx context.Context, cb slack.InteractionCallback) answer {
	switch cb.Type {
	case slack.InteractionTypeBlockActions:
		return s.blockActions(ctx, cb)
	case slack.InteractionTypeViewSubmission:
		return s.viewSubmission(cb)
	}
	return answer{}
}

// blockActions handles a click on Approve or Reject.
func (s *Server) blockActions(ctx context.Context, cb slack.InteractionCallback) answer {
	var act *slack.BlockAction
	for _, a := range cb.ActionCallback.BlockActions {
		if a != nil && (a.ActionID == slackui.ActionApprove || a.ActionID == slackui.ActionReject) {
			act = a
			break
		}
	}
	if act == nil {
		return answer{} // not one of ours
	}
	button, err := slackui.DecodeButton(act.Value)
	if err != nil {
		return answer{malformed: "malformed button: " + err.Error()}
	}
	a := answer{notify: s.toResponseURL(cb.ResponseURL)}
	who := s.who(cb.User.ID)
	if who.Person == "" {
		a.text = notAPerson(cb.User.ID)
		return a
	}
	if act.ActionID == slackui.ActionReject {
		// A reject needs a reason: ask for it in a modal, now, while the trigger_id is valid.
		if err := s.openView(ctx, cb.TriggerID, rejectModal(act.Value, button)); err != nil {
			a.text = escape("Could not open the reject form: " + err.Error() + ". Reject with /runbook reject " + button.WorkflowID + " <reason>")
		}
		return a
	}
	actionTs := act.ActionTs
	if actionTs == "" {
		actionTs = cb.ActionTs
	}
	if actionTs == "" {
		actionTs = cb.TriggerID
	}
	d := Decision{Name: contract.DecisionApprove, Button: button, UpdateID: UpdateID(cb.Team.ID, cb.User.ID, actionTs)}
	what := "approve " + button.WorkflowID
	if button.Action != "" {
		what += " (action " + button.Action + ")"
	}
	a.work = &handoff{what: "approve", title: what,
		call: func(ctx context.Context) (string, error) { return s.o.Runs.Decide(ctx, who, d) }}
	return a
}

// viewSubmission handles the reject-reason and the incident declaration modals. Their outcome
// goes by direct message: a view submission has no response_url.
func (s *Server) viewSubmission(cb slack.InteractionCallback) answer {
	who := s.who(cb.User.ID)
	values := map[string]string{}
	if cb.View.State != nil {
		for block, actions := range cb.View.State.Values {
			if a, ok := actions[inputAction]; ok {
				v := a.Value
				if a.SelectedOption.Value != "" {
					v = a.SelectedOption.Value
				}
				values[block] = strings.TrimSpace(v)
			}
		}
	}
	dm := func(ctx context.Context, text string) { s.direct(ctx, cb.User.ID, text) }
	switch cb.View.CallbackID {
	case slackui.CallbackRejectModal:
		button, err := slackui.DecodeButton(cb.View.PrivateMetadata)
		if err != nil {
			return answer{malformed: "malformed reject form: " + err.Error()}
		}
		switch reason := values[blockReason]; {
		case who.Person == "":
			return answer{errors: map[string]string{blockReason: "Your Slack user is not in people: of the runbook config; the gateway cannot sign for you."}}
		case reason == "":
			return answer{errors: map[string]string{blockReason: "A reject needs a reason."}}
		case contract.CheckText("reason", reason) != nil:
			return answer{errors: map[string]string{blockReason: "Plain text only: no control characters."}}
		}
		d := Decision{Name: contract.DecisionReject, Button: button, Comment: values[blockReason],
			UpdateID: UpdateID(cb.Team.ID, cb.User.ID, cb.TriggerID)}
		return answer{notify: dm, work: &handoff{what: "reject", title: "reject " + button.WorkflowID,
			call: func(ctx context.Context) (string, error) { return s.o.Runs.Decide(ctx, who, d) }}}
	case slackui.CallbackDeclare:
		if who.Person == "" {
			return answer{errors: map[string]string{blockSummary: "Your Slack user is not in people: of the runbook config; the gateway cannot sign for you."}}
		}
		cmd := Command{Verb: "declare", Trigger: values[blockTrigger], Severity: values[blockSeverity], Text: values[blockSummary],
			ID: IncidentIDFor(cb.TriggerID), UpdateID: UpdateID(cb.Team.ID, cb.User.ID, cb.TriggerID)}
		for t := range strings.SplitSeq(values[blockTargets], ",") {
			if t = strings.TrimSpace(t); t != "" {
				cmd.Targets = append(cmd.Targets, t)
			}
		}
		errs := map[string]string{}
		if !slices.Contains(contract.IncidentTriggers, cmd.Trigger) {
			errs[blockTrigger] = "Pick a trigger."
		}
		if !slices.Contains(contract.Severities, cmd.Severity) {
			errs[blockSeverity] = "Pick a severity."
		}
		if cmd.Text == "" || contract.CheckNote(cmd.Text) != nil {
			errs[blockSummary] = "A summary is required: plain text, at most 4 KiB."
		}
		if contract.CheckText("targets", values[blockTargets]) != nil {
			errs[blockTargets] = "Plain text only."
		}
		if len(errs) > 0 {
			return answer{errors: errs}
		}
		return answer{notify: dm, work: &handoff{what: "declare", title: "declare " + cmd.ID,
			call: func(ctx context.Context) (string, error) { return s.o.Runs.Run(ctx, who, cmd) }}}
	}
	return answer{}
}

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
}

// rejectModal asks for a reject's reason; its private metadata is the button's value.
func rejectModal(value string, b slackui.ButtonValue) slack.ModalViewRequest {
	title := "Reject " + b.WorkflowID
	if b.Action != "" {
		title = "Reject action " + b.Action
	}
	input := slack.NewPlainTextInputBlockElement(plain("Why?"), inputAction)
	input.Multiline = true
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		Title:           plain(truncate(title, 24)),
		Submit:          plain("Reject"),
		Close:           plain("Cancel"),
		CallbackID:      slackui.CallbackRejectModal,
		PrivateMetadata: value,
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "Rejecting *"+escape(b.WorkflowID)+"*. The reason is signed with the decision and goes on the timeline.", false, false), nil, nil),
			slack.NewInputBlock(blockReason, plain("Reason"), nil, input),
		}},
	}
}

// declareModal is the incident declaration form.
func declareModal() slack.ModalViewRequest {
	options := func(values []string) []*slack.OptionBlockObject {
		out := make([]*slack.OptionBlockObject, len(values))
		for i, v := range values {
			out[i] = slack.NewOptionBlockObject(v, plain(v), nil)
		}
		return out
	}
	summary := slack.NewPlainTextInputBlockElement(plain("What is happening?"), inputAction)
	summary.Multiline = true
	targets := slack.NewInputBlock(blockTargets, plain("Targets (comma-separated; empty: every target)"), nil,
		slack.NewPlainTextInputBlockElement(plain("demo"), inputAction))
	targets.Optional = true
	return slack.ModalViewRequest{
		Type:       slack.VTModal,
		Title:      plain("Declare an incident"),
		Submit:     plain("Declare"),
		Close:      plain("Cancel"),
		CallbackID: slackui.CallbackDeclare,
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewInputBlock(blockTrigger, plain("Trigger"), nil,
				slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Pick one"), inputAction, options(contract.IncidentTriggers)...)),
			slack.NewInputBlock(blockSeverity, plain("Severity"), nil,
				slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Pick one"), inputAction, options(contract.Severities)...)),
			slack.NewInputBlock(blockSummary, plain("Summary"), nil, summary),
			targets,
		}},
	}
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
