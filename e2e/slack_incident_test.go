package e2e

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/authops/authops/activities"
	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/config"
	"github.com/authops/authops/internal/controls"
	"github.com/authops/authops/internal/notify"
	"github.com/authops/authops/internal/notify/slackfake"
	"github.com/authops/authops/internal/slackui"
	"github.com/authops/authops/internal/testenv"
	"github.com/authops/authops/starter/gateway"
	"github.com/authops/authops/worker/register"
)

// TestSlackIncidentChannel: with incident.dedicated_channel on, alice declares an incident from
// the modal (a signed `/runbook incident declare` opens it with views.open, then a signed
// view_submission), contains it with a signed `/runbook incident contain … deny-cidr` that the
// backend really applies, and resolves it with a signed `/runbook incident resolve`. The
// declaration created #inc-<id> once, invited the reporter (also the owner) and the approvers,
// and linked it from the target's channel; the incident's messages were posted in it, and the
// run closed resolved, with the backend's deny lifted.
func TestSlackIncidentChannel(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	fake := slackfake.New("auth-ops")
	t.Cleanup(fake.Close)
	keyFile, keys := testenv.GatewayKey(t)
	env := testenv.Start(t, testenv.Options{
		ObservationWindow: 2 * time.Second,
		ExtraYAML:         keys + "incident:\n  dedicated_channel: true\n",
		Register: func(r worker.Registry, c client.Client, cfg *config.Config, n notify.Notifier) {
			register.Register(r, register.Deps{Config: cfg, Notifier: n, Runs: c, Slack: &activities.SlackNotifier{
				Slack: notify.NewSlack(slackBotToken, fake.APIURL(), nil), Refresh: 500 * time.Millisecond, RetryMax: 2 * time.Second}})
		},
		Workflows: func(r testenv.WorkflowRegistry) { register.RegisterWorkflows(r) },
	})
	base := env.StartGateway(t, keyFile, "SLACK_SIGNING_SECRET="+slackSecret,
		"SLACK_BOT_TOKEN="+slackBotToken, "SLACK_API_URL="+fake.APIURL())
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	ctl := controls.Client{BaseURL: env.BackendURL, Token: env.AdminToken(t)}

	inbox := &slackInbox{}
	hook := httptest.NewServer(inbox)
	defer hook.Close()
	send := func(path, body string) { t.Helper(); slackPost(t, base+path, body) }
	command := func(user, text, trigger string) {
		t.Helper()
		send("/slack/commands", url.Values{"team_id": {"T1"}, "user_id": {user}, "command": {"/runbook"},
			"text": {text}, "trigger_id": {trigger}, "response_url": {hook.URL}}.Encode())
	}

	// The modal: /runbook incident declare with no arguments opens it at once.
	command("UALICE", "incident declare", "trig-modal")
	require.Len(t, fake.Views(), 1, "views.open was called before the ack")
	var view struct {
		CallbackID string `json:"callback_id"`
	}
	require.NoError(t, json.Unmarshal(fake.Views()[0], &view))
	require.Equal(t, slackui.CallbackDeclare, view.CallbackID)

	// Alice submits it.
	const summary = "credential stuffing on /auth/token from 198.51.100.0/24"
	select_ := func(v string) map[string]any {
		return map[string]any{"value": map[string]any{"type": "static_select", "selected_option": map[string]any{"value": v}}}
	}
	input := func(v string) map[string]any {
		return map[string]any{"value": map[string]any{"type": "plain_text_input", "value": v}}
	}
	payload, err := json.Marshal(map[string]any{
		"type": "view_submission", "team": map[string]string{"id": "T1"}, "user": map[string]string{"id": "UALICE"},
		"trigger_id": "trig-submit",
		"view": map[string]any{"id": "V1", "callback_id": slackui.CallbackDeclare, "state": map[string]any{"values": map[string]any{
			"trigger": select_("credential-stuffing"), "severity": select_("high"), "summary": input(summary), "targets": input("demo"),
		}}},
	})
	require.NoError(t, err)
	send("/slack/interactions", url.Values{"payload": {string(payload)}}.Encode())
	id := gateway.IncidentIDFor("trig-submit")

	// The declaration opened the incident's channel; the status shows it.
	st := waitIncident(t, env, id, func(st contract.IncidentStatus) bool { return st.Channel != nil })
	name := contract.IncidentChannelName(id)
	chID := fake.ChannelID(name)
	require.NotEmpty(t, chID, "#%s exists", name)
	require.Equal(t, contract.IncidentChannel{Name: name, ID: chID, Invited: []string{"alice", "bob", "carol"}, LinkedFrom: "#auth-ops"},
		*st.Channel, "the reporter (the owner) and the approvers, all with a slack_id")
	require.Equal(t, "alice", st.Reporter)
	require.Equal(t, "alice", st.Owner)
	var creates []string
	for _, c := range fake.Calls() {
		if c.Method == "conversations.create" {
			creates = append(creates, c.Form.Get("name"))
		}
	}
	require.Equal(t, []string{name}, creates, "one conversations.create, for inc-<id>")
	members := fake.Members(chID)
	slices.Sort(members)
	require.Equal(t, []string{"UALICE", "UBOB", "UCAROL"}, members)

	// The link in the target's channel.
	ops := fake.ChannelID("auth-ops")
	link := waitSlackMessage(t, fake, "link in #auth-ops", func(m slackfake.Message) bool {
		return m.Channel == ops && strings.Contains(m.Text, "<#"+chID+">")
	})
	require.Contains(t, link.Text, id)

	// Contain from a slash command: the owner denies a range; the backend really applies it.
	waitPhase(t, env, id, "contain")
	command("UALICE", "incident contain "+id+" deny-cidr 198.51.100.0/24 --ttl 2h source of the stuffing", "trig-contain")
	require.Contains(t, inbox.wait(t, 1), "contain")
	waitIncident(t, env, id, func(st contract.IncidentStatus) bool { return len(st.Measures) == 1 })
	cs, err := ctl.State(ctx)
	require.NoError(t, err)
	require.Contains(t, cs.DeniedCIDRs, "198.51.100.0/24", "the backend denies the range")

	// Resolve from a slash command.
	command("UALICE", "incident resolve "+id+" range denied, stuffing stopped", "trig-resolve")
	rep := waitResult[contract.Report](t, env, id)
	require.Equal(t, contract.OutcomeResolved, rep.Outcome)
	require.Equal(t, "range denied, stuffing stopped", rep.Summary)
	cs, err = ctl.State(ctx)
	require.NoError(t, err)
	require.NotContains(t, cs.DeniedCIDRs, "198.51.100.0/24", "the temporary deny is lifted at resolve")
	evs := timelineOf(t, env, id)
	for _, action := range []string{contract.UpdateContain, contract.DecisionResolve} {
		require.Equal(t, 1, countEvents(evs, "alice", action, "accepted"), action)
	}
	for _, e := range evs {
		if e.Actor == "alice" && (e.Action == contract.UpdateContain || e.Action == contract.DecisionResolve) {
			require.Equal(t, "update via slack (UALICE)", e.Via)
		}
	}
	require.Equal(t, 1, countEvents(evs, "authops", "incident channel", "opened"))

	// The incident's messages are in its channel: the parent, brought to the end, and its thread
	// from the declaration to the resolution. The target's channel holds the link only.
	parent := waitSlackMessage(t, fake, "the incident's parent at the end", func(m slackfake.Message) bool {
		return m.Channel == chID && m.ThreadTS == "" && strings.Contains(m.Text, "resolved")
	})
	waitSlackMessage(t, fake, "the resolution in the thread", func(m slackfake.Message) bool {
		return m.Channel == chID && m.ThreadTS == parent.TS && strings.HasPrefix(m.Text, "*resolved*")
	})
	var replies []slackfake.Message
	for _, m := range fake.Messages() {
		switch {
		case m.Channel == chID && m.ThreadTS == parent.TS:
			replies = append(replies, m)
		case m.Channel == chID:
			require.Equal(t, parent.TS, m.TS, "one parent message in the incident's channel")
		case m.Channel == ops:
			require.Equal(t, link.TS, m.TS, "the target's channel has the link and nothing else")
		}
	}
	kinds := slackReplyKinds(replies)
	require.Equal(t, "declared", kinds[0])
	require.Contains(t, kinds, "resolved")
	require.Contains(t, replies[0].Text, summary)
	require.Contains(t, replies[0].Text, "<@UBOB>", "the approvers are mentioned")

	// Nothing sent to Slack holds a secret or the bot token (outside its own form field).
	scan := env.LeakScan(t)
	scan.Value("jwt secret", env.Secret(t))
	scan.Value("slack bot token", slackBotToken)
	var bodies strings.Builder
	for _, c := range fake.Calls() {
		f := c.Form
		if f == nil {
			bodies.WriteString(c.Body + "\n")
			continue
		}
		f.Del("token")
		bodies.WriteString(f.Encode() + "\n")
	}
	scan.Place("slack bodies", bodies.String())
	scan.History(id)
	scan.Check(t)

	env.CheckReplay(t, id, "", "incident-dedicated-channel")
}
