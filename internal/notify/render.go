package notify

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/slackui"
)

// RunView is what a run's parent message shows, read from the run's status query.
type RunView struct {
	WorkflowID string
	FirstRunID string
	Status     contract.Status
	// Incident is set for an auth incident (its pending actions get their own buttons).
	Incident *contract.IncidentStatus
	// Decisions are the accepted approve and reject events of the timeline.
	Decisions []contract.Event
	// Closed says the run has ended: no buttons, whatever the status says.
	Closed bool
	// Requester is the requester's mention, when they have a Slack id.
	Requester string
}

var runbookTitles = map[string]string{
	"secret-rotation":        "JWT secret rotation",
	"emergency-invalidation": "Emergency token invalidation",
	"auth-incident":          "Auth incident",
	"secret-settle":          "Secret settle",
}

// Waiting says the run waits for a decision the parent message's buttons can give.
func (v RunView) Waiting() bool {
	p := v.Status.Phase
	return !v.Closed && (strings.HasPrefix(p, "waiting for approval") || strings.HasPrefix(p, "waiting for go-ahead"))
}

// Parent renders the parent message: a fallback text and its blocks.
func Parent(v RunView) (string, []slack.Block) {
	st := v.Status
	title := runbookTitles[st.Runbook]
	if title == "" {
		title = Escape(st.Runbook)
	}
	requester := Escape(st.RequestedBy)
	if v.Requester != "" {
		requester += " (" + v.Requester + ")"
	}
	text := fmt.Sprintf("%s of %s: %s", title, Escape(st.Target), Escape(st.Phase))
	head := fmt.Sprintf("*%s* on `%s`\nRequested by %s · run `%s`", title, Escape(st.Target), requester, Escape(v.WorkflowID))
	if v.Incident != nil {
		in := v.Incident
		head += fmt.Sprintf("\n*%s* severity · owner %s · %s", Escape(in.Severity), Escape(in.Owner), Escape(in.Summary))
	}
	phase := "*Phase:* " + Escape(st.Phase)
	if st.Approvals != "" {
		phase += "\n" + Escape(st.Approvals)
	}
	if st.BreakGlass {
		phase += "\n:rotating_light: *break glass*"
	}
	blocks := []slack.Block{
		section("parent_head", head),
		section("parent_phase", phase),
	}
	if len(st.Checklist) > 0 {
		var b strings.Builder
		for _, s := range st.Checklist {
			fmt.Fprintf(&b, "%s %s\n", stateMark(s.State), Escape(s.Name))
		}
		blocks = append(blocks, section("parent_checklist", strings.TrimSuffix(b.String(), "\n")))
	}
	var decided []string
	for _, d := range v.Decisions {
		verb := "Approved"
		if d.Action == contract.DecisionReject {
			verb = "Rejected"
		}
		decided = append(decided, fmt.Sprintf("%s by %s at %s", verb, Escape(d.Actor), d.At.UTC().Format("2006-01-02 15:04:05 UTC")))
	}
	if len(decided) > 0 {
		blocks = append(blocks, section("parent_decisions", strings.Join(decided, "\n")))
	}
	if v.Waiting() {
		blocks = append(blocks, buttons("parent_approval", slackui.ButtonValue{WorkflowID: v.WorkflowID, FirstRunID: v.FirstRunID}))
	}
	if v.Incident != nil && !v.Closed {
		for _, p := range v.Incident.Pending {
			if p.State != "pending" {
				continue
			}
			// The button's message names exactly what it approves: ranges, users, target.
			what := Escape(slackui.Approves(p.Request, v.Incident.Targets))
			blocks = append(blocks, section("action_"+p.ID, fmt.Sprintf("*%s*: %s asked by %s (%d of %d approvals)",
				Escape(p.ID), what, Escape(p.Asker), len(p.Approvals), p.Quorum)))
			blocks = append(blocks, buttons("action_buttons_"+p.ID, slackui.ButtonValue{WorkflowID: v.WorkflowID, FirstRunID: v.FirstRunID, Action: p.ID}))
		}
	}
	if st.Outcome != "" {
		blocks = append(blocks, section("parent_outcome", "*Outcome:* "+Escape(st.Outcome)))
	}
	return text, blocks
}

// Hash identifies what a message shows, so that an unchanged parent is not updated.
func Hash(text string, blocks []slack.Block) string {
	b, _ := json.Marshal(struct {
		T string
		B []slack.Block
	}{text, blocks})
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:12])
}

// Decisions picks the accepted approvals and rejections from a timeline.
func Decisions(timeline []contract.Event) []contract.Event {
	var out []contract.Event
	for _, e := range timeline {
		if (e.Action == contract.DecisionApprove || e.Action == contract.DecisionReject) && e.Outcome == "accepted" {
			out = append(out, e)
		}
	}
	return out
}

// Reply is a thread reply for an announcement, with the mentions of the people who must act.
func Reply(m contract.Message, mentions []string) string {
	text := fmt.Sprintf("*%s* · %s", Escape(m.Kind), Escape(m.Text))
	var ms []string
	for _, id := range mentions {
		if s := Mention(id); s != "" {
			ms = append(ms, s)
		}
	}
	if len(ms) > 0 {
		text += "\n" + strings.Join(ms, " ")
	}
	return text
}

// Outcome is the direct message a requester gets when the run closes.
func Outcome(v RunView) string {
	title := runbookTitles[v.Status.Runbook]
	if title == "" {
		title = Escape(v.Status.Runbook)
	}
	outcome := v.Status.Outcome
	if outcome == "" {
		outcome = strings.TrimPrefix(v.Status.Phase, "closed: ")
	}
	return fmt.Sprintf("Your %s of `%s` (run `%s`) has ended: *%s*.", title,
		Escape(v.Status.Target), Escape(v.WorkflowID), Escape(outcome))
}

func section(id, mrkdwn string) slack.Block {
	// Slack limits a section's text to 3000 characters.
	if len(mrkdwn) > 2900 {
		mrkdwn = truncate(mrkdwn, 2900) + "…"
	}
	return slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, mrkdwn, false, false), nil, nil, slack.SectionBlockOptionBlockID(id))
}

func buttons(blockID string, v slackui.ButtonValue) slack.Block {
	value := v.Encode()
	approve := slack.NewButtonBlockElement(slackui.ActionApprove, value, slack.NewTextBlockObject(slack.PlainTextType, "Approve", false, false))
	approve.Style = slack.StylePrimary
	reject := slack.NewButtonBlockElement(slackui.ActionReject, value, slack.NewTextBlockObject(slack.PlainTextType, "Reject", false, false))
	reject.Style = slack.StyleDanger
	return slack.NewActionBlock(blockID, approve, reject)
}

func stateMark(state string) string {
	switch state {
	case contract.StateDone:
		return ":white_check_mark:"
	case contract.StateRunning:
		return ":hourglass_flowing_sand:"
	case contract.StateFailed:
		return ":x:"
	case contract.StateSkipped:
		return ":heavy_minus_sign:"
	}
	return ":white_circle:"
}

// truncate cuts s to at most n bytes without splitting a rune or an entity.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = strings.ToValidUTF8(s[:n], "")
	if i := strings.LastIndexByte(s, '&'); i >= 0 && !strings.Contains(s[i:], ";") {
		s = s[:i]
	}
	return s
}
