package e2e

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/notify/slackfake"
	"github.com/authops/authops/internal/slackui"
	"github.com/authops/authops/internal/testenv"
)

// TestSlackSocketMode: the gateway, given only SLACK_APP_TOKEN (no signing secret, no public
// URL), opens a websocket to a fake Slack that speaks the Socket Mode protocol. alice's
// `/runbook rotate demo` arrives as an envelope and starts the rotation; it is acked within
// Slack's 3 s, once, and when the ack carries the outcome the run already exists. bob's click
// arrives as an envelope too and approves it; the run completes with bob's approval, via Slack.
func TestSlackSocketMode(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	const appToken = "xapp-1-A1-e2e"
	keyFile, extraYAML := testenv.GatewayKey(t)
	env := startStack(t, testenv.Options{ObservationWindow: 2 * time.Second, ExtraYAML: extraYAML})
	fake := slackfake.NewSocketMode(appToken, nil)
	defer fake.Close()
	env.StartGateway(t, keyFile, "SLACK_APP_TOKEN="+appToken, "SLACK_API_URL="+fake.APIURL())
	require.NoError(t, fake.WaitConnected(30*time.Second), env.WorkerLog.String())
	require.Contains(t, env.WorkerLog.String(), "Slack is on: Socket Mode")

	inbox := &slackInbox{}
	hook := httptest.NewServer(inbox)
	defer hook.Close()

	// ack waits for an envelope's ack, checks it came within Slack's 3 s, and returns its
	// ephemeral text ("" for none).
	ack := func(id string, sent time.Time) string {
		t.Helper()
		a, err := fake.WaitAck(id, 30*time.Second)
		require.NoError(t, err, env.WorkerLog.String())
		require.Less(t, a.At.Sub(sent), 3*time.Second, "Slack's 3 s")
		if len(a.Payload) == 0 {
			return ""
		}
		var p struct{ Text string }
		require.NoError(t, json.Unmarshal(a.Payload, &p))
		return p.Text
	}
	click := func(user, actionTs string, v slackui.ButtonValue) string {
		t.Helper()
		sent := time.Now()
		id, err := fake.Interactive(map[string]any{
			"type": "block_actions", "team": map[string]string{"id": "T1"}, "user": map[string]string{"id": user},
			"trigger_id": "trig-" + actionTs, "response_url": hook.URL,
			"actions": []map[string]string{{"action_id": slackui.ActionApprove, "block_id": "b", "type": "button", "value": v.Encode(), "action_ts": actionTs}},
		})
		require.NoError(t, err)
		require.Empty(t, ack(id, sent), "a click's ack carries no message")
		return id
	}

	id := contract.RotationID("demo")
	sent := time.Now()
	cmd, err := fake.SlashCommand(map[string]string{"team_id": "T1", "user_id": "UALICE", "command": "/runbook",
		"text": "rotate demo key hygiene over Socket Mode", "trigger_id": "trig-1", "response_url": hook.URL})
	require.NoError(t, err)
	text := ack(cmd, sent)
	answers := 0
	if strings.Contains(text, "the outcome follows") {
		// Temporal took longer than the hand-off bound: the call goes on, its outcome follows.
		answers++
		require.Contains(t, inbox.wait(t, answers), id)
	} else {
		// Acked after the hand-off: the run exists as the ack arrives.
		require.Contains(t, text, id)
		_, err := env.Client.DescribeWorkflow(context.Background(), id, "")
		require.NoError(t, err, "acked before the run was started")
	}
	waitPhase(t, env, id, "waiting for approval")
	desc, err := env.Client.DescribeWorkflow(context.Background(), id, "")
	require.NoError(t, err)
	v := slackui.ButtonValue{WorkflowID: id, FirstRunID: desc.RawResponse.GetWorkflowExecutionInfo().GetFirstRunId()}

	denied := click("UALICE", "1.1", v)
	answers++
	require.Contains(t, inbox.wait(t, answers), "denied", "the requester's click is refused by the run")
	approved := click("UBOB", "1.2", v)
	answers++
	require.Contains(t, inbox.wait(t, answers), "approve accepted by bob")

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	require.NoError(t, env.Client.GetWorkflow(ctx, id, "").Get(ctx, nil), env.WorkerLog.String())
	evs := timelineOf(t, env, id)
	require.Equal(t, 1, countEvents(evs, "bob", contract.DecisionApprove, "accepted"))
	require.Equal(t, 1, countEvents(evs, "alice", contract.DecisionApprove, "denied"))
	for _, e := range evs {
		if e.Actor == "bob" && e.Action == contract.DecisionApprove {
			require.Equal(t, "update via slack (UBOB)", e.Via)
			require.True(t, e.Verified)
		}
	}
	acks := map[string]int{}
	for _, a := range fake.Acks() {
		acks[a.EnvelopeID]++
	}
	require.Equal(t, map[string]int{cmd: 1, denied: 1, approved: 1}, acks, "each envelope acked once")
}
