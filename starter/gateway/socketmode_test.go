package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authops/authops/internal/notify/slackfake"
	"github.com/authops/authops/internal/slackui"
)

const appToken = "xapp-1-A1-test"

// timedRuns is a fakeRuns whose calls take latency, as a real Temporal call does, and which
// notes when each call returned.
type timedRuns struct {
	fakeRuns
	latency  time.Duration
	tmu      sync.Mutex
	returned []time.Time
}

func (r *timedRuns) mark() {
	r.tmu.Lock()
	defer r.tmu.Unlock()
	r.returned = append(r.returned, time.Now())
}

func (r *timedRuns) Run(ctx context.Context, who Actor, cmd Command) (string, error) {
	time.Sleep(r.latency)
	defer r.mark()
	return r.fakeRuns.Run(ctx, who, cmd)
}

func (r *timedRuns) Decide(ctx context.Context, who Actor, d Decision) (string, error) {
	time.Sleep(r.latency)
	defer r.mark()
	return r.fakeRuns.Decide(ctx, who, d)
}

// seen returns the commands, decisions and actors the runs got so far.
func (r *timedRuns) seen() ([]Command, []Decision, []Actor) {
	r.fakeRuns.mu.Lock()
	defer r.fakeRuns.mu.Unlock()
	return append([]Command(nil), r.cmds...), append([]Decision(nil), r.decides...), append([]Actor(nil), r.whos...)
}

func (r *timedRuns) returns() []time.Time {
	r.tmu.Lock()
	defer r.tmu.Unlock()
	return append([]time.Time(nil), r.returned...)
}

// socketHarness is a gateway in Socket Mode only (no signing secret: the HTTP Slack routes are
// off), connected to a fake Slack speaking the Socket Mode protocol.
type socketHarness struct {
	t     *testing.T
	fake  *slackfake.SocketMode
	slack *recorder
	srv   *Server
}

func newSocketHarness(t *testing.T, runs Runs, handoff time.Duration) *socketHarness {
	h := &socketHarness{t: t, slack: newRecorder(t)}
	// Web API calls other than apps.connections.open (views.open, chat.postMessage) go to the
	// recorder.
	h.fake = slackfake.NewSocketMode(appToken, h.slack.srv.Config.Handler)
	t.Cleanup(h.fake.Close)
	h.srv = New(Options{
		BotToken:    "xoxb-test",
		APIURL:      h.fake.APIURL(),
		People:      map[string]string{"UALICE": "alice", "UBOB": "bob"},
		Runs:        runs,
		WorkTimeout: 10 * time.Second,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.srv.SocketMode(ctx, SocketOptions{AppToken: appToken, Handoff: handoff}) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		h.srv.Close()
	})
	require.NoError(t, h.fake.WaitConnected(10*time.Second))
	return h
}

func (h *socketHarness) command(user, text, trigger string) string {
	h.t.Helper()
	id, err := h.fake.SlashCommand(map[string]string{"team_id": "T1", "user_id": user, "command": "/runbook",
		"text": text, "trigger_id": trigger, "response_url": h.slack.responseURL(), "api_app_id": "A1"})
	require.NoError(h.t, err)
	return id
}

func (h *socketHarness) click(user, actionID string, v slackui.ButtonValue, actionTs string) string {
	h.t.Helper()
	id, err := h.fake.Interactive(map[string]any{
		"type": "block_actions", "team": map[string]string{"id": "T1"}, "user": map[string]string{"id": user},
		"trigger_id": "trig-" + actionTs, "response_url": h.slack.responseURL(),
		"actions": []map[string]string{{"action_id": actionID, "block_id": "b", "type": "button", "value": v.Encode(), "action_ts": actionTs}},
	})
	require.NoError(h.t, err)
	return id
}

func (h *socketHarness) ack(id string) slackfake.Ack {
	h.t.Helper()
	a, err := h.fake.WaitAck(id, 30*time.Second)
	require.NoError(h.t, err)
	return a
}

// ackText is the ephemeral text an ack carries ("" for none).
func ackText(t *testing.T, a slackfake.Ack) string {
	t.Helper()
	if len(a.Payload) == 0 {
		return ""
	}
	var p struct {
		ResponseType string `json:"response_type"`
		Text         string `json:"text"`
	}
	require.NoError(t, json.Unmarshal(a.Payload, &p))
	require.Equal(t, "ephemeral", p.ResponseType)
	return p.Text
}

// waitTexts waits until the fake response_url got n messages.
func (h *socketHarness) waitTexts(n int) []string {
	h.t.Helper()
	require.Eventually(h.t, func() bool { return len(h.slack.texts()) >= n }, 30*time.Second, 10*time.Millisecond,
		"want %d response_url messages, have %v", n, h.slack.texts())
	return h.slack.texts()
}

// requireAckedOnce: every envelope sent got exactly one ack.
func (h *socketHarness) requireAckedOnce(ids ...string) {
	h.t.Helper()
	n := map[string]int{}
	for _, a := range h.fake.Acks() {
		n[a.EnvelopeID]++
	}
	for _, id := range ids {
		require.Equal(h.t, 1, n[id], "acks of %s", id)
	}
	require.Len(h.t, h.fake.Acks(), len(ids), "no ack for an envelope never sent")
}

// TestSocketModeAcksAfterTheHandOff: a slash command and a click arrive over the websocket; each
// is acked once, and only after its Temporal call returned. The command's ack carries the
// outcome; the click's outcome goes to its response_url. Nothing needed a signing secret.
func TestSocketModeAcksAfterTheHandOff(t *testing.T) {
	runs := &timedRuns{latency: 300 * time.Millisecond}
	runs.out = "rotation-demo"
	h := newSocketHarness(t, runs, 10*time.Second)

	cmd := h.command("UALICE", "rotate demo key hygiene", "trig-1")
	a := h.ack(cmd)
	require.Len(t, runs.returns(), 1, "acked before Temporal was called")
	require.True(t, a.At.After(runs.returns()[0]), "acked at %s, before the call returned at %s", a.At, runs.returns()[0])
	text := ackText(t, a)
	require.Contains(t, text, "/runbook rotate demo key hygiene")
	require.Contains(t, text, "rotation-demo", "the ack carries the outcome")
	cmds, _, whos := runs.seen()
	require.Len(t, cmds, 1)
	require.Equal(t, "rotate", cmds[0].Verb)
	require.Equal(t, "demo", cmds[0].Target)
	require.Equal(t, UpdateID("T1", "UALICE", "trig-1"), cmds[0].UpdateID, "the same ids as over HTTP")
	require.Equal(t, Actor{Person: "alice", SlackUser: "UALICE"}, whos[0])

	runs.fakeRuns.mu.Lock()
	runs.out = "approve accepted by bob"
	runs.fakeRuns.mu.Unlock()
	click := h.click("UBOB", slackui.ActionApprove, button, "1700000000.1")
	a = h.ack(click)
	require.Len(t, runs.returns(), 2)
	require.True(t, a.At.After(runs.returns()[1]), "acked at %s, before the call returned at %s", a.At, runs.returns()[1])
	require.Empty(t, a.Payload, "an interaction's ack carries no message")
	_, decides, _ := runs.seen()
	require.Len(t, decides, 1)
	require.Equal(t, Decision{Name: "approve", Button: button, UpdateID: UpdateID("T1", "UBOB", "1700000000.1")}, decides[0])
	require.Contains(t, h.waitTexts(1)[0], "approve accepted by bob")

	h.requireAckedOnce(cmd, click)
	require.Empty(t, h.slack.method("views.open"))
}

// TestSocketModeRefusals: a command from a Slack user not in people:, a usage error and an
// unknown user's click are acked with the explanation and call nothing; so is a malformed
// envelope, and an Events API envelope nobody subscribed to is acked and ignored.
func TestSocketModeRefusals(t *testing.T) {
	runs := &timedRuns{}
	h := newSocketHarness(t, runs, 10*time.Second)

	stranger := h.command("UMALLORY", "rotate demo", "t1")
	require.Contains(t, ackText(t, h.ack(stranger)), "not in people:")
	usage := h.command("UALICE", "invalidate demo", "t2")
	require.Contains(t, ackText(t, h.ack(usage)), "usage: /runbook invalidate")
	help := h.command("UALICE", "help", "t3")
	require.Contains(t, ackText(t, h.ack(help)), "/runbook incident contain")

	click := h.click("UMALLORY", slackui.ActionApprove, button, "1.1")
	require.Empty(t, h.ack(click).Payload)
	require.Contains(t, h.waitTexts(1)[0], "not in people:", "a refused click is explained through response_url")

	bad, err := h.fake.Send("interactive", "not an object", false)
	require.NoError(t, err)
	require.Empty(t, h.ack(bad).Payload)
	noUser, err := h.fake.Interactive(map[string]any{"type": "block_actions", "actions": []any{}})
	require.NoError(t, err)
	require.Empty(t, h.ack(noUser).Payload)
	badButton, err := h.fake.Interactive(map[string]any{"type": "block_actions", "user": map[string]string{"id": "UBOB"},
		"actions": []map[string]string{{"action_id": slackui.ActionApprove, "block_id": "b", "type": "button", "value": "{}"}}})
	require.NoError(t, err)
	require.Empty(t, h.ack(badButton).Payload)
	noURL, err := h.fake.SlashCommand(map[string]string{"user_id": "UALICE", "text": "rotate demo"})
	require.NoError(t, err)
	require.Empty(t, h.ack(noURL).Payload)
	event, err := h.fake.Send("events_api", map[string]any{"type": "event_callback", "event": map[string]string{"type": "app_mention"}}, false)
	require.NoError(t, err)
	h.ack(event)

	// A view submission's errors are the ack's payload, as they are the HTTP response.
	form, err := h.fake.Interactive(map[string]any{"type": "view_submission", "team": map[string]string{"id": "T1"},
		"user": map[string]string{"id": "UBOB"}, "trigger_id": "t4",
		"view": map[string]any{"id": "V1", "callback_id": slackui.CallbackRejectModal, "private_metadata": button.Encode(),
			"state": map[string]any{"values": map[string]any{blockReason: map[string]any{inputAction: map[string]any{"type": "plain_text_input", "value": " "}}}}}})
	require.NoError(t, err)
	var errs struct {
		ResponseAction string            `json:"response_action"`
		Errors         map[string]string `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(h.ack(form).Payload, &errs))
	require.Equal(t, "errors", errs.ResponseAction)
	require.Contains(t, errs.Errors[blockReason], "A reject needs a reason")

	h.srv.Wait()
	require.Zero(t, runs.calls(), "a refused envelope reached Temporal")
	require.Len(t, h.slack.texts(), 1)
	h.requireAckedOnce(stranger, usage, help, click, bad, noUser, badButton, noURL, event, form)
}

// TestSocketModeSlowTemporal: when Temporal does not answer within the hand-off bound, the
// envelope is still acked in time, with the call made and going on; the outcome follows through
// response_url once it returns.
func TestSocketModeSlowTemporal(t *testing.T) {
	runs := &timedRuns{}
	runs.block = make(chan struct{})
	runs.out = "rotation-demo"
	h := newSocketHarness(t, runs, 200*time.Millisecond)

	sent := time.Now()
	cmd := h.command("UALICE", "rotate demo", "t1")
	a := h.ack(cmd)
	require.Less(t, a.At.Sub(sent), 3*time.Second, "Slack's 3 s")
	require.Contains(t, ackText(t, a), "Temporal is slow to answer; the outcome follows")
	click := h.click("UBOB", slackui.ActionApprove, button, "1.1")
	a = h.ack(click)
	require.Empty(t, a.Payload)
	require.Zero(t, runs.calls(), "the calls are still waiting on Temporal")
	require.Empty(t, h.slack.texts())

	close(runs.block)
	texts := h.waitTexts(2)
	require.Len(t, texts, 2)
	require.Equal(t, 2, runs.calls())
	for _, s := range texts {
		require.Contains(t, s, "rotation-demo")
	}
	h.requireAckedOnce(cmd, click)
}

// TestSocketModeModal: `incident declare` alone opens the form (views.open, with the envelope's
// trigger_id) before the ack, which carries nothing.
func TestSocketModeModal(t *testing.T) {
	runs := &timedRuns{}
	h := newSocketHarness(t, runs, 10*time.Second)
	id := h.command("UALICE", "incident declare", "trig-9")
	require.Empty(t, h.ack(id).Payload)
	opens := h.slack.method("views.open")
	require.Len(t, opens, 1, "views.open before the ack")
	require.Contains(t, opens[0].Get("json"), `"trigger_id":"trig-9"`)
	require.Zero(t, runs.calls())
}

// TestSocketModeAppToken: a token that is not an app-level token is refused before any call;
// one Slack refuses stops Socket Mode with an error.
func TestSocketModeAppToken(t *testing.T) {
	fake := slackfake.NewSocketMode(appToken, nil)
	defer fake.Close()
	srv := New(Options{APIURL: fake.APIURL(), Runs: &fakeRuns{}})
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := srv.SocketMode(ctx, SocketOptions{AppToken: "xoxb-a-bot-token"})
	require.ErrorContains(t, err, "xapp-")
	err = srv.SocketMode(ctx, SocketOptions{AppToken: "xapp-1-wrong"})
	require.ErrorContains(t, err, "invalid_auth")
	accepted, refused := fake.Opens()
	require.Zero(t, accepted)
	require.Equal(t, 1, refused)

	// The fake itself checks the token as Slack does: POST, Bearer app token.
	resp, err := http.Post(fake.APIURL()+"apps.connections.open", "application/json", strings.NewReader("{}"))
	require.NoError(t, err)
	var body struct{ OK bool }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	resp.Body.Close()
	require.False(t, body.OK)
}
