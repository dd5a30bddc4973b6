package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/slackui"
	"github.com/authops/authops/internal/testenv"
)

const slackSecret = "e2e-slack-signing-secret"

// slackInbox is a fake response_url: it keeps every message the gateway posts.
type slackInbox struct {
	mu   sync.Mutex
	msgs []string
}

func (s *slackInbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var m struct {
		Text string `json:"text"`
	}
	_ = json.NewDecoder(r.Body).Decode(&m)
	s.mu.Lock()
	s.msgs = append(s.msgs, m.Text)
	s.mu.Unlock()
}

func (s *slackInbox) wait(t *testing.T, n int) string {
	t.Helper()
	require.Eventually(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.msgs) >= n
	}, 90*time.Second, 50*time.Millisecond, "no answer %d from the gateway", n)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.msgs[n-1]
}

// TestSlackGatewayRotation: a signed `/runbook rotate demo` from alice's Slack user starts the
// rotation; alice's click on Approve is refused by the run (she requested it); bob's click
// approves it, and the run completes with bob's approval on the timeline, via Slack.
func TestSlackGatewayRotation(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	keyFile, keys := testenv.GatewayKey(t)
	env := startStack(t, testenv.Options{ObservationWindow: 2 * time.Second, ExtraYAML: keys})
	// The gateway posts only to a response_url on Slack's host or SLACK_API_URL's: the test's
	// inbox is on 127.0.0.1.
	base := env.StartGateway(t, keyFile, "SLACK_SIGNING_SECRET="+slackSecret, "SLACK_API_URL=http://127.0.0.1:1/api/")

	inbox := &slackInbox{}
	hook := httptest.NewServer(inbox)
	defer hook.Close()

	send := func(path, body string) { t.Helper(); slackPost(t, base+path, body) }
	click := func(user, actionTs string, v slackui.ButtonValue) {
		payload, err := json.Marshal(map[string]any{
			"type": "block_actions", "team": map[string]string{"id": "T1"}, "user": map[string]string{"id": user},
			"trigger_id": "trig-" + actionTs, "response_url": hook.URL,
			"actions": []map[string]string{{"action_id": slackui.ActionApprove, "block_id": "b", "type": "button", "value": v.Encode(), "action_ts": actionTs}},
		})
		require.NoError(t, err)
		send("/slack/interactions", url.Values{"payload": {string(payload)}}.Encode())
	}

	send("/slack/commands", url.Values{"team_id": {"T1"}, "user_id": {"UALICE"}, "command": {"/runbook"},
		"text": {"rotate demo key hygiene from Slack"}, "trigger_id": {"trig-1"}, "response_url": {hook.URL}}.Encode())
	require.Contains(t, inbox.wait(t, 1), "rotation-demo")
	id := contract.RotationID("demo")
	waitPhase(t, env, id, "waiting for approval")
	desc, err := env.Client.DescribeWorkflow(context.Background(), id, "")
	require.NoError(t, err)
	v := slackui.ButtonValue{WorkflowID: id, FirstRunID: desc.RawResponse.GetWorkflowExecutionInfo().GetFirstRunId()}

	click("UALICE", "1.1", v)
	require.Contains(t, inbox.wait(t, 2), "denied", "the requester's click is refused by the run")
	click("UBOB", "1.2", v)
	require.Contains(t, inbox.wait(t, 3), "approve accepted by bob")
	click("UBOB", "1.2", v) // a double click
	require.Contains(t, inbox.wait(t, 4), "approve accepted by bob", "the same Update, answered again")

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	require.NoError(t, env.Client.GetWorkflow(ctx, id, "").Get(ctx, nil), env.WorkerLog.String())
	evs := timelineOf(t, env, id)
	require.Equal(t, 1, countEvents(evs, "bob", contract.DecisionApprove, "accepted"), "one approval, not two")
	for _, e := range evs {
		if e.Actor == "bob" && e.Action == contract.DecisionApprove {
			require.Equal(t, "update via slack (UBOB)", e.Via)
			require.True(t, e.Verified)
		}
	}
	require.Equal(t, 1, countEvents(evs, "alice", contract.DecisionApprove, "denied"))
}

// slackPost posts body to the gateway at url, signed as Slack signs, and requires the ack: 200,
// within Slack's 3 s.
func slackPost(t *testing.T, url, body string) {
	t.Helper()
	start := time.Now()
	resp, err := http.DefaultClient.Do(testenv.SlackRequest(t, url, slackSecret, body))
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Less(t, time.Since(start), 3*time.Second, "Slack's 3 s")
}
