package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/authops/authops/activities"
	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/config"
	"github.com/authops/authops/internal/notify"
	"github.com/authops/authops/internal/notify/slackfake"
	"github.com/authops/authops/internal/slackui"
	"github.com/authops/authops/internal/testenv"
	"github.com/authops/authops/worker/register"
)

const slackBotToken = "xoxb-e2e-0000-not-a-real-token"

// TestFaultSlackOutage runs a rotation with the worker's Slack notifier pointed at a fake
// Slack API. The parent message carries the buttons while the run waits; Slack then answers
// 500 and later 429 for a while: the rotation completes anyway, and the notifications catch up
// (the parent updated to the end, who approved and when, the thread, the requester's DM, the
// users' notices), each posted once. Nothing posted holds a secret or a token.
func TestFaultSlackOutage(t *testing.T) {
	reportFault(t, "Slack answers 500, then 429, while a rotation runs", contract.OutcomeCompleted,
		"rotation completes during the outage", "parent message updated to the end", "thread, DM and users' notices caught up",
		"each posted once", "429 Retry-After honoured", "no secret in any Slack body")
	fake := slackfake.New("auth-ops", "status")
	t.Cleanup(fake.Close)
	t.Setenv("AUTHOPS_E2E_STATUS_WEBHOOK", fake.WebhookURL())
	env := testenv.Start(t, testenv.Options{
		ObservationWindow: 3 * time.Second,
		ExtraTargetYAML:   "notify:\n  users_channel: \"#status\"\n  status_webhook: {env: AUTHOPS_E2E_STATUS_WEBHOOK}\n",
		Register: func(r worker.Registry, c client.Client, cfg *config.Config, n notify.Notifier) {
			register.Register(r, register.Deps{Config: cfg, Notifier: n, Runs: c, Slack: &activities.SlackNotifier{
				Slack: notify.NewSlack(slackBotToken, fake.APIURL(), nil), Refresh: 500 * time.Millisecond, RetryMax: 2 * time.Second}})
		},
		Workflows: func(r testenv.WorkflowRegistry) { register.RegisterWorkflows(r) },
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	oldSecret := env.Secret(t)
	ops := fake.ChannelID("auth-ops")

	out, err := env.Starter(t, "rotate", "--target", "demo", "--requested-by", "alice", "--reason", "hygiene <!channel> <@UBOB>")
	require.NoError(t, err, out)
	id := strings.TrimSpace(out)
	waitPhase(t, env, id, "waiting for approval")
	desc, err := env.Client.DescribeWorkflow(ctx, id, "")
	require.NoError(t, err)
	firstRun := desc.RawResponse.GetWorkflowExecutionInfo().GetFirstRunId()

	// The parent message, with the buttons, while the run waits.
	parent := waitSlackMessage(t, fake, "parent with buttons", func(m slackfake.Message) bool {
		return m.Channel == ops && m.ThreadTS == "" && strings.Contains(string(m.Blocks), slackui.ActionApprove)
	})
	values := slackButtons(t, parent)
	require.Len(t, values, 2)
	for _, v := range values {
		require.Equal(t, slackui.ButtonValue{WorkflowID: id, FirstRunID: firstRun}, v)
	}
	require.Contains(t, string(parent.Blocks), "waiting for approval")

	// Slack goes down: 500 for everything.
	var mu sync.Mutex
	mode := "down"
	var rateLimited int
	fake.SetFault(func(string) (int, int) {
		mu.Lock()
		defer mu.Unlock()
		switch mode {
		case "down":
			return http.StatusInternalServerError, 0
		case "limited":
			if rateLimited++; rateLimited <= 3 {
				return http.StatusTooManyRequests, 1
			}
		}
		return 0, 0
	})
	outageFrom := time.Now()
	out, err = env.Starter(t, "approve", id, "--as", "bob")
	require.NoError(t, err, out)
	var res contract.RotationResult
	require.NoError(t, env.Client.GetWorkflow(ctx, id, "").Get(ctx, &res))
	require.Equal(t, contract.OutcomeCompleted, res.Outcome, res.Summary)
	runTook := time.Since(outageFrom)
	t.Logf("the rotation completed %s after the approval, with Slack down", runTook.Round(time.Millisecond))
	for _, c := range fake.Calls() {
		if c.At.After(outageFrom) {
			require.Equal(t, http.StatusInternalServerError, c.Status, "Slack was down for the whole run")
		}
	}
	// Down a little longer, then rate limited (Retry-After: 1), then back.
	time.Sleep(2 * time.Second)
	mu.Lock()
	mode = "limited"
	mu.Unlock()
	healedAt := time.Now()

	final := waitSlackMessage(t, fake, "parent at the end", func(m slackfake.Message) bool {
		return m.TS == parent.TS && strings.Contains(m.Text, "closed: completed")
	})
	caughtUp := time.Since(healedAt)
	t.Logf("notifications caught up %s after Slack came back", caughtUp.Round(time.Millisecond))
	require.NotContains(t, string(final.Blocks), slackui.ActionApprove, "the buttons are gone")
	require.NotContains(t, string(final.Blocks), slackui.ActionReject)
	require.Regexp(t, `Approved by bob at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC`, string(final.Blocks))
	require.GreaterOrEqual(t, final.Updates, 1, "the parent is updated in place")

	// The requester's DM and the thread, up to the completion (also shown in the channel).
	dm := waitSlackMessage(t, fake, "DM to alice", func(m slackfake.Message) bool { return m.Channel == "DUALICE" })
	require.Contains(t, dm.Text, "completed")
	waitSlackMessage(t, fake, "completion in the channel", func(m slackfake.Message) bool {
		return m.Channel == ops && m.Broadcast && strings.HasPrefix(m.Text, "*completed*")
	})
	caughtUp = time.Since(healedAt)
	t.Logf("every notification delivered %s after Slack came back", caughtUp.Round(time.Millisecond))
	var replies, broadcast, status, parents []slackfake.Message
	keys := map[string]int{}
	for _, m := range fake.Messages() {
		var md slack.SlackMetadata
		require.NoError(t, json.Unmarshal(m.Metadata, &md))
		require.Equal(t, slackui.MetadataEventType, md.EventType)
		key, _ := md.EventPayload["key"].(string)
		keys[key]++
		switch {
		case m.Channel == ops && m.ThreadTS == "":
			parents = append(parents, m)
		case m.Channel == ops:
			require.Equal(t, parent.TS, m.ThreadTS)
			replies = append(replies, m)
			if m.Broadcast {
				broadcast = append(broadcast, m)
			}
		case m.Channel == fake.ChannelID("status"):
			status = append(status, m)
		}
	}
	for key, n := range keys {
		require.Equal(t, 1, n, "message %s posted %d times", key, n)
	}
	require.Len(t, parents, 1, "one parent message per run")
	kinds := slackReplyKinds(replies)
	require.Contains(t, kinds, "planned")
	require.Contains(t, kinds, "completed")
	require.Len(t, broadcast, 1, "completion is also shown in the channel")
	require.Contains(t, broadcast[0].Text, "*completed*")
	planned := replies[0].Text
	require.Contains(t, planned, "hygiene &lt;!channel&gt; &lt;@UBOB&gt;", "the reason is escaped")
	require.Contains(t, planned, "<@UBOB>", "approvers are mentioned")

	// The users hear what they will see, in their channel and on the status webhook.
	require.Len(t, status, 1)
	require.Contains(t, status[0].Text, "sign in again")
	var hooks []string
	for _, c := range fake.Calls() {
		if c.Method == "webhook" && c.Status == http.StatusOK {
			hooks = append(hooks, c.Body)
		}
	}
	require.Len(t, hooks, 1)
	require.Contains(t, hooks[0], "sign in again")
	for _, notice := range append(hooks, status[0].Text) {
		for _, internal := range []string{"alice", "hygiene", id, res.New.Fingerprint, "JWT"} {
			require.NotContains(t, notice, internal, "a user notice holds no internals")
		}
	}

	// The rate limit was honoured: after a 429, the next call waited Retry-After.
	calls := fake.Calls()
	var limited int
	for i, c := range calls {
		if c.Status != http.StatusTooManyRequests || i+1 >= len(calls) {
			continue
		}
		limited++
		gap := calls[i+1].At.Sub(c.At)
		require.GreaterOrEqual(t, gap, 900*time.Millisecond, "a call %s after a 429 with Retry-After: 1", gap)
	}
	require.Equal(t, 3, limited)
	t.Logf("slack calls: %d (%d answered 500, %d answered 429)", len(calls), slackCallsWithStatus(calls, 500), limited)

	// Nothing posted to Slack holds a secret, a token or a password. The bot token travels in
	// each request's token field, as Slack's form API wants; it is taken out, and must then
	// appear nowhere else.
	scan := env.LeakScan(t)
	scan.Value("old secret", oldSecret)
	scan.Value("new secret", env.Secret(t))
	scan.Value("slack bot token", slackBotToken)
	scan.Value("status webhook URL", fake.WebhookURL())
	var bodies strings.Builder
	for _, c := range calls {
		if c.Form != nil {
			require.Equal(t, slackBotToken, c.Form.Get("token"), "positive control: the token is where it belongs")
			f := c.Form
			f.Del("token")
			bodies.WriteString(f.Encode())
		} else {
			bodies.WriteString(c.Body)
		}
		bodies.WriteString("\n")
	}
	scan.Place("slack bodies", bodies.String())

	// The notification run's history (still running) replays against the current code.
	env.CheckReplay(t, contract.NotifyChannelID("#auth-ops"), "", "notify-channel-open")
	scan.History(id, contract.NotifyChannelID("#auth-ops"))
	scan.Check(t)
}

// waitMessage waits for a message the fake holds.
func waitSlackMessage(t *testing.T, fake *slackfake.Server, what string, ok func(slackfake.Message) bool) slackfake.Message {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range fake.Messages() {
			if ok(m) {
				return m
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	var b strings.Builder
	for _, m := range fake.Messages() {
		b.WriteString(m.Channel + " " + m.TS + " " + m.Text + "\n")
	}
	t.Fatalf("no %s in the fake Slack after 60s; it holds:\n%s", what, b.String())
	return slackfake.Message{}
}

func slackButtons(t *testing.T, m slackfake.Message) []slackui.ButtonValue {
	t.Helper()
	var blocks slack.Blocks
	require.NoError(t, json.Unmarshal(m.Blocks, &blocks))
	var out []slackui.ButtonValue
	for _, b := range blocks.BlockSet {
		a, ok := b.(*slack.ActionBlock)
		if !ok {
			continue
		}
		for _, e := range a.Elements.ElementSet {
			btn, ok := e.(*slack.ButtonBlockElement)
			require.True(t, ok)
			require.Contains(t, []string{slackui.ActionApprove, slackui.ActionReject}, btn.ActionID)
			v, err := slackui.DecodeButton(btn.Value)
			require.NoError(t, err)
			out = append(out, v)
		}
	}
	return out
}

func slackReplyKinds(replies []slackfake.Message) []string {
	var kinds []string
	for _, r := range replies {
		if k, _, ok := strings.Cut(strings.TrimPrefix(r.Text, "*"), "*"); ok {
			kinds = append(kinds, k)
		}
	}
	return kinds
}

func slackCallsWithStatus(calls []slackfake.Call, status int) int {
	n := 0
	for _, c := range calls {
		if c.Status == status {
			n++
		}
	}
	return n
}
