package gateway

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"

	"github.com/authops/authops/internal/freeze"
	"github.com/authops/authops/internal/slackui"
)

const secret = "test-signing-secret"

// fakeRuns records what the gateway asks of Temporal. When block is set, every call waits on it
// (a Temporal that hangs).
type fakeRuns struct {
	mu      sync.Mutex
	block   chan struct{}
	cmds    []Command
	whos    []Actor
	decides []Decision
	// deciders[i] is who sent decides[i]: whos also holds the commands' senders, which run in
	// the background in any order with the decisions.
	deciders []Actor
	alerts   []Alert
	// alertOutcome is what Alert answers (default AlertDeclared).
	alertOutcome string
	out          string
	err          error
	freezes      []freeze.Freeze
	// inflight and peak count the calls going on at once.
	inflight, peak int
}

func (f *fakeRuns) wait(ctx context.Context) error {
	f.mu.Lock()
	f.inflight++
	f.peak = max(f.peak, f.inflight)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inflight--
		f.mu.Unlock()
	}()
	if f.block == nil {
		return nil
	}
	select {
	case <-f.block:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *fakeRuns) Run(ctx context.Context, who Actor, cmd Command) (string, error) {
	if err := f.wait(ctx); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cmds = append(f.cmds, cmd)
	f.whos = append(f.whos, who)
	return f.out, f.err
}

func (f *fakeRuns) Decide(ctx context.Context, who Actor, d Decision) (string, error) {
	if err := f.wait(ctx); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.decides = append(f.decides, d)
	f.deciders = append(f.deciders, who)
	f.whos = append(f.whos, who)
	return f.out, f.err
}

func (f *fakeRuns) Freezes(ctx context.Context) ([]freeze.Freeze, error) {
	if err := f.wait(ctx); err != nil {
		return nil, err
	}
	return f.freezes, f.err
}

func (f *fakeRuns) Alert(ctx context.Context, a Alert) (AlertResult, error) {
	if err := f.wait(ctx); err != nil {
		return AlertResult{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.alerts = append(f.alerts, a)
	return AlertResult{Outcome: cmp.Or(f.alertOutcome, AlertDeclared), Incident: a.IncidentID, Text: "ok"}, f.err
}

func (f *fakeRuns) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.cmds) + len(f.decides) + len(f.alerts)
}

// recorder is a fake Slack: response_url and the Web API methods the gateway calls.
type recorder struct {
	mu    sync.Mutex
	posts []map[string]any // response_url bodies
	calls map[string][]url.Values
	srv   *httptest.Server
}

func newRecorder(t *testing.T) *recorder {
	r := &recorder{calls: map[string][]url.Values{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if req.URL.Path == "/response" {
			var m map[string]any
			_ = json.Unmarshal(body, &m)
			r.posts = append(r.posts, m)
			w.WriteHeader(http.StatusOK)
			return
		}
		// Web API: form or JSON.
		vals, _ := url.ParseQuery(string(body))
		if strings.HasPrefix(req.Header.Get("Content-Type"), "application/json") {
			vals = url.Values{"json": {string(body)}}
		}
		method := strings.TrimPrefix(req.URL.Path, "/api/")
		r.calls[method] = append(r.calls[method], vals)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true,"channel":"D1","ts":"1.1"}`))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *recorder) responseURL() string { return r.srv.URL + "/response" }

func (r *recorder) texts() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, p := range r.posts {
		s, _ := p["text"].(string)
		out = append(out, s)
	}
	return out
}

func (r *recorder) method(name string) []url.Values {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[name]
}

type harness struct {
	t     *testing.T
	runs  *fakeRuns
	slack *recorder
	srv   *Server
	http  *httptest.Server
}

func newHarness(t *testing.T, tune ...func(*Options)) *harness {
	h := &harness{t: t, runs: &fakeRuns{}, slack: newRecorder(t)}
	o := Options{
		SigningSecret: secret,
		BotToken:      "xoxb-test",
		APIURL:        h.slack.srv.URL + "/api/",
		AlertToken:    "am-token",
		Targets:       []string{"demo", "staging"},
		People:        map[string]string{"UALICE": "alice", "UBOB": "bob"},
		Runs:          h.runs,
		WorkTimeout:   5 * time.Second,
	}
	for _, f := range tune {
		f(&o)
	}
	h.srv = New(o)
	h.http = httptest.NewServer(h.srv.Handler())
	t.Cleanup(func() { h.http.Close(); h.srv.Close() })
	return h
}

// signed returns the headers of a request Slack signed at ts.
func signed(body string, ts time.Time) http.Header {
	stamp := strconv.FormatInt(ts.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + stamp + ":" + body))
	h := http.Header{}
	h.Set("X-Slack-Request-Timestamp", stamp)
	h.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	return h
}

type reply struct {
	code    int
	body    string
	elapsed time.Duration
}

func (h *harness) post(path, body string, hdr http.Header) reply {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.http.URL+path, strings.NewReader(body))
	require.NoError(h.t, err)
	for k, v := range hdr {
		req.Header[k] = v
	}
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(h.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{code: resp.StatusCode, body: string(b), elapsed: time.Since(start)}
}

func (h *harness) command(user, text, trigger string) reply {
	body := url.Values{"team_id": {"T1"}, "user_id": {user}, "command": {"/runbook"}, "text": {text},
		"trigger_id": {trigger}, "response_url": {h.slack.responseURL()}}.Encode()
	return h.post("/slack/commands", body, signed(body, time.Now()))
}

func clickBody(t *testing.T, user, actionID, value, actionTs, responseURL string) string {
	payload := map[string]any{
		"type":         "block_actions",
		"team":         map[string]string{"id": "T1"},
		"user":         map[string]string{"id": user},
		"trigger_id":   "trig-" + actionTs,
		"response_url": responseURL,
		"actions": []map[string]string{{
			"action_id": actionID, "block_id": "b", "type": "button", "value": value, "action_ts": actionTs,
		}},
	}
	b, err := json.Marshal(payload)
	require.NoError(t, err)
	return url.Values{"payload": {string(b)}}.Encode()
}

func (h *harness) click(user, actionID string, v slackui.ButtonValue, actionTs string, retry int) reply {
	body := clickBody(h.t, user, actionID, v.Encode(), actionTs, h.slack.responseURL())
	hdr := signed(body, time.Now())
	if retry > 0 {
		hdr.Set("X-Slack-Retry-Num", strconv.Itoa(retry))
	}
	return h.post("/slack/interactions", body, hdr)
}

func submissionBody(t *testing.T, user, callback, metadata, trigger string, values map[string]string) string {
	state := map[string]map[string]map[string]any{}
	for block, v := range values {
		action := map[string]any{"type": "plain_text_input", "value": v}
		if block == blockTrigger || block == blockSeverity {
			action = map[string]any{"type": "static_select", "selected_option": map[string]any{"value": v}}
		}
		state[block] = map[string]map[string]any{inputAction: action}
	}
	payload := map[string]any{
		"type":       "view_submission",
		"team":       map[string]string{"id": "T1"},
		"user":       map[string]string{"id": user},
		"trigger_id": trigger,
		"view": map[string]any{"id": "V1", "callback_id": callback, "private_metadata": metadata,
			"state": map[string]any{"values": state}},
	}
	b, err := json.Marshal(payload)
	require.NoError(t, err)
	return url.Values{"payload": {string(b)}}.Encode()
}

func (h *harness) submit(user, callback, metadata, trigger string, values map[string]string) reply {
	body := submissionBody(h.t, user, callback, metadata, trigger, values)
	return h.post("/slack/interactions", body, signed(body, time.Now()))
}

var button = slackui.ButtonValue{WorkflowID: "rotation-demo", FirstRunID: "run-1"}

// TestSignatures: a bad signature, a stale timestamp, a missing one, a replayed body under a new
// timestamp and an oversize body are refused and start or decide nothing.
func TestSignatures(t *testing.T) {
	h := newHarness(t)
	body := url.Values{"team_id": {"T1"}, "user_id": {"UALICE"}, "text": {"rotate demo"}, "trigger_id": {"t1"},
		"response_url": {h.slack.responseURL()}}.Encode()
	click := clickBody(t, "UBOB", slackui.ActionApprove, button.Encode(), "1.1", h.slack.responseURL())

	bad := signed(body, time.Now())
	bad.Set("X-Slack-Signature", "v0="+strings.Repeat("0", 64))
	stale := signed(body, time.Now().Add(-6*time.Minute))
	future := signed(body, time.Now().Add(6*time.Minute))
	replayed := signed(body, time.Now().Add(-time.Minute))
	replayed.Set("X-Slack-Request-Timestamp", strconv.FormatInt(time.Now().Unix(), 10)) // old signature, new time
	otherBody := signed(body, time.Now())
	oversize := strings.Repeat("a", MaxBody+1)

	for _, c := range []struct {
		name, path, body string
		hdr              http.Header
		code             int
	}{
		{"bad signature", "/slack/commands", body, bad, http.StatusUnauthorized},
		{"no signature", "/slack/commands", body, http.Header{}, http.StatusUnauthorized},
		{"stale timestamp", "/slack/commands", body, stale, http.StatusUnauthorized},
		{"future timestamp", "/slack/commands", body, future, http.StatusUnauthorized},
		{"replayed under a new timestamp", "/slack/commands", body, replayed, http.StatusUnauthorized},
		{"signature of another body", "/slack/interactions", click, otherBody, http.StatusUnauthorized},
		{"bad signature click", "/slack/interactions", click, bad, http.StatusUnauthorized},
		{"oversize", "/slack/commands", oversize, signed(oversize, time.Now()), http.StatusRequestEntityTooLarge},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := h.post(c.path, c.body, c.hdr)
			require.Equal(t, c.code, r.code, r.body)
		})
	}
	h.srv.Wait()
	require.Zero(t, h.runs.calls(), "a refused request reached Temporal")
	require.Empty(t, h.slack.texts())
	require.Empty(t, h.slack.method("views.open"))
}

// TestEveryHandlerAcksWhileTemporalBlocks: with a Temporal client that hangs, every Slack
// handler still answers well within Slack's 3 s.
func TestEveryHandlerAcksWhileTemporalBlocks(t *testing.T) {
	h := newHarness(t)
	h.runs.block = make(chan struct{})
	h.runs.out = "rotation-demo"
	replies := map[string]reply{
		"rotate":         h.command("UALICE", "rotate demo in 1h key hygiene", "t1"),
		"invalidate":     h.command("UALICE", "invalidate demo leaked secret --restrict /admin", "t2"),
		"declare":        h.command("UALICE", "incident declare high stuffing from 10.0.0.0/8", "t3"),
		"declare modal":  h.command("UALICE", "incident declare", "t4"),
		"status":         h.command("UCAROL", "status rotation-demo", "t5"),
		"approve":        h.command("UBOB", "approve rotation-demo looks fine", "t6"),
		"freeze":         h.command("UBOB", "freeze", "t7"),
		"click approve":  h.click("UBOB", slackui.ActionApprove, button, "1.1", 0),
		"click reject":   h.click("UBOB", slackui.ActionReject, button, "1.2", 0),
		"reject reason":  h.submit("UBOB", slackui.CallbackRejectModal, button.Encode(), "t8", map[string]string{blockReason: "not now"}),
		"declare submit": h.submit("UBOB", slackui.CallbackDeclare, "", "t9", map[string]string{blockTrigger: "unusual-login", blockSeverity: "high", blockSummary: "odd logins"}),
	}
	for name, r := range replies {
		require.Equal(t, http.StatusOK, r.code, "%s: %s", name, r.body)
		require.Less(t, r.elapsed, time.Second, "%s acked in %s", name, r.elapsed)
	}
	require.Zero(t, h.runs.calls(), "nothing reached Temporal yet")
	close(h.runs.block)
	h.srv.Wait()
	require.Equal(t, 9, h.runs.calls())
	require.Len(t, h.slack.method("views.open"), 2, "the declare form and the reject reason")
	require.Len(t, h.slack.texts(), 7, "one outcome per command and click")
	require.Len(t, h.slack.method("chat.postMessage"), 2, "the modals' outcomes by direct message")
}

// TestBackgroundWorkBounded: a burst of commands is acked at once, and at most MaxWork of their
// Temporal calls run at the same time; the rest wait their turn and all are done in the end.
func TestBackgroundWorkBounded(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.MaxWork = 2 })
	h.runs.block = make(chan struct{})
	for i := range 6 {
		r := h.command("UCAROL", "status rotation-demo", fmt.Sprintf("burst-%d", i))
		require.Equal(t, http.StatusOK, r.code, r.body)
	}
	require.Eventually(t, func() bool {
		h.runs.mu.Lock()
		defer h.runs.mu.Unlock()
		return h.runs.inflight == 2
	}, 5*time.Second, 5*time.Millisecond)
	close(h.runs.block)
	h.srv.Wait()
	require.Equal(t, 6, h.runs.calls())
	require.Equal(t, 2, h.runs.peak, "never more than MaxWork calls at once")
}

// TestRetryAndDoubleClickDecideOnce: a retried delivery and a second click of the same action
// carry the same Update id, which Temporal runs once; another click gets another id.
func TestRetryAndDoubleClickDecideOnce(t *testing.T) {
	h := newHarness(t)
	for retry := range 3 {
		require.Equal(t, http.StatusOK, h.click("UBOB", slackui.ActionApprove, button, "1700000000.1", retry).code)
	}
	require.Equal(t, http.StatusOK, h.click("UALICE", slackui.ActionApprove, button, "1700000000.1", 0).code)
	require.Equal(t, http.StatusOK, h.command("UBOB", "approve rotation-demo", "trig-7").code)
	require.Equal(t, http.StatusOK, h.command("UBOB", "approve rotation-demo", "trig-7").code)
	h.srv.Wait()
	require.Len(t, h.runs.decides, 4)
	ids := map[string][]string{}
	for i, d := range h.runs.decides {
		require.Equal(t, button, d.Button)
		ids[h.runs.deciders[i].SlackUser] = append(ids[h.runs.deciders[i].SlackUser], d.UpdateID)
	}
	id := UpdateID("T1", "UBOB", "1700000000.1")
	require.Equal(t, []string{id, id, id}, ids["UBOB"], "a retry and a double click carry one Update id")
	require.Len(t, ids["UALICE"], 1)
	require.NotEqual(t, id, ids["UALICE"][0], "another user's click is another decision")
	require.Len(t, h.runs.cmds, 2)
	require.Equal(t, h.runs.cmds[0].UpdateID, h.runs.cmds[1].UpdateID)
	require.Equal(t, UpdateID("T1", "UBOB", "trig-7"), h.runs.cmds[0].UpdateID)
}

// TestUnknownSlackUserRefused: a Slack user who is not in people: may read status, but starts and
// decisions are refused before anything is sent.
func TestUnknownSlackUserRefused(t *testing.T) {
	h := newHarness(t)
	for _, text := range []string{"rotate demo", "approve rotation-demo", "incident declare", "incident note incident-x hi"} {
		r := h.command("UMALLORY", text, "t1")
		require.Equal(t, http.StatusOK, r.code)
		require.Contains(t, r.body, "not in people:", text)
	}
	require.Equal(t, http.StatusOK, h.click("UMALLORY", slackui.ActionApprove, button, "1.1", 0).code)
	require.Equal(t, http.StatusOK, h.click("UMALLORY", slackui.ActionReject, button, "1.2", 0).code)
	r := h.submit("UMALLORY", slackui.CallbackRejectModal, button.Encode(), "t2", map[string]string{blockReason: "no"})
	require.Contains(t, r.body, `"response_action":"errors"`)
	h.srv.Wait()
	require.Zero(t, h.runs.calls())
	require.Empty(t, h.slack.method("views.open"))
	require.Len(t, h.slack.texts(), 2)
	for _, s := range h.slack.texts() {
		require.Contains(t, s, "not in people:")
	}

	h.runs.out = "rotation-demo  secret-rotation  phase=awaiting-approval"
	require.Equal(t, http.StatusOK, h.command("UMALLORY", "status rotation-demo", "t3").code)
	h.srv.Wait()
	require.Len(t, h.runs.cmds, 1)
	require.Equal(t, Actor{SlackUser: "UMALLORY"}, h.runs.whos[0])
}

// TestRefusedDecisionRelayed: the run's refusal (the requester approving) reaches the clicker.
func TestRefusedDecisionRelayed(t *testing.T) {
	h := newHarness(t)
	h.runs.out = "approve denied for alice at 2026-12-01T10:00:00Z: alice requested this run and cannot approve it\n"
	h.runs.err = errors.New("approve denied")
	require.Equal(t, http.StatusOK, h.click("UALICE", slackui.ActionApprove, button, "1.1", 0).code)
	h.srv.Wait()
	require.Equal(t, Actor{Person: "alice", SlackUser: "UALICE"}, h.runs.whos[0])
	texts := h.slack.texts()
	require.Len(t, texts, 1)
	require.Contains(t, texts[0], "alice requested this run and cannot approve it")
	require.Equal(t, "ephemeral", h.slack.posts[0]["response_type"])
}

// TestTemporalUnreachable: when the call fails because Temporal is down, the sender is told to
// try again.
func TestTemporalUnreachable(t *testing.T) {
	h := newHarness(t)
	h.runs.err = serviceerror.NewUnavailable("connection refused")
	require.Equal(t, http.StatusOK, h.command("UALICE", "rotate demo", "t1").code)
	require.Equal(t, http.StatusOK, h.click("UBOB", slackui.ActionApprove, button, "1.1", 0).code)
	h.srv.Wait()
	for _, s := range h.slack.texts() {
		require.Contains(t, s, "Temporal is unreachable, try again")
	}
	r, err := http.Get(h.http.URL + "/freeze")
	require.NoError(t, err)
	r.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, r.StatusCode)
}

// TestRejectAsksForAReason: Reject opens a modal whose private metadata is the button's value;
// its submission sends the reject with the reason; an empty reason is refused in the form.
func TestRejectAsksForAReason(t *testing.T) {
	h := newHarness(t)
	v := slackui.ButtonValue{WorkflowID: "incident-x", FirstRunID: "run-9", Action: "a2"}
	require.Equal(t, http.StatusOK, h.click("UBOB", slackui.ActionReject, v, "1.1", 0).code)
	opens := h.slack.method("views.open")
	require.Len(t, opens, 1)
	require.Contains(t, opens[0].Get("json"), slackui.CallbackRejectModal)
	var req struct {
		TriggerID string `json:"trigger_id"`
		View      struct {
			PrivateMetadata string `json:"private_metadata"`
		} `json:"view"`
	}
	require.NoError(t, json.Unmarshal([]byte(opens[0].Get("json")), &req))
	require.Equal(t, v.Encode(), req.View.PrivateMetadata)
	require.Equal(t, "trig-1.1", req.TriggerID)

	r := h.submit("UBOB", slackui.CallbackRejectModal, v.Encode(), "t2", map[string]string{blockReason: "  "})
	require.Contains(t, r.body, "A reject needs a reason")
	r = h.submit("UBOB", slackui.CallbackRejectModal, v.Encode(), "t2", map[string]string{blockReason: "too broad"})
	require.Equal(t, http.StatusOK, r.code)
	require.Empty(t, r.body)
	h.srv.Wait()
	require.Len(t, h.runs.decides, 1)
	require.Equal(t, Decision{Name: "reject", Button: v, Comment: "too broad", UpdateID: UpdateID("T1", "UBOB", "t2")}, h.runs.decides[0])
	dm := h.slack.method("chat.postMessage")
	require.Len(t, dm, 1)
	require.Equal(t, "UBOB", dm[0].Get("channel"))
}

// TestDeclareForm: `incident declare` alone opens the form at once; its submission declares
// under an id derived from the trigger id.
func TestDeclareForm(t *testing.T) {
	h := newHarness(t)
	r := h.command("UALICE", "incident declare", "t1")
	require.Equal(t, http.StatusOK, r.code)
	require.Empty(t, r.body)
	opens := h.slack.method("views.open")
	require.Len(t, opens, 1)
	require.Contains(t, opens[0].Get("json"), `"trigger_id":"t1"`)
	require.Contains(t, opens[0].Get("json"), slackui.CallbackDeclare)
	require.Zero(t, h.runs.calls())

	r = h.submit("UALICE", slackui.CallbackDeclare, "", "t2", map[string]string{blockTrigger: "bogus", blockSeverity: "high"})
	require.Contains(t, r.body, blockTrigger)
	require.Contains(t, r.body, blockSummary)
	r = h.submit("UALICE", slackui.CallbackDeclare, "", "t2",
		map[string]string{blockTrigger: "credential-stuffing", blockSeverity: "high", blockSummary: "stuffing", blockTargets: "demo, other"})
	require.Equal(t, http.StatusOK, r.code)
	h.srv.Wait()
	require.Len(t, h.runs.cmds, 1)
	c := h.runs.cmds[0]
	require.Equal(t, "declare", c.Verb)
	require.Equal(t, IncidentIDFor("t2"), c.ID)
	require.Equal(t, []string{"demo", "other"}, c.Targets)
	require.Equal(t, "credential-stuffing", c.Trigger)
}

// TestUsageErrors: a malformed command gets the right usage, ephemeral, and nothing is sent.
func TestUsageErrors(t *testing.T) {
	h := newHarness(t)
	r := h.command("UALICE", "invalidate demo", "t1")
	require.Contains(t, r.body, "ephemeral")
	require.Contains(t, r.body, "usage: /runbook invalidate")
	r = h.command("UALICE", "rotate demo --as bob", "t1")
	require.Contains(t, r.body, "usage: /runbook rotate")
	r = h.command("UALICE", "help", "t1")
	require.Contains(t, r.body, "/runbook incident contain")
	h.srv.Wait()
	require.Zero(t, h.runs.calls())
}

// TestMalformedInteraction: an undecodable payload is 400 and changes nothing.
func TestMalformedInteraction(t *testing.T) {
	h := newHarness(t)
	for _, body := range []string{"payload=%7Bnot-json", "nothing=1", url.Values{"payload": {`{"type":"block_actions","user":{"id":"UBOB"},"actions":[{"action_id":"authops_approve","block_id":"b","type":"button","value":"{}"}]}`}}.Encode()} {
		require.Equal(t, http.StatusBadRequest, h.post("/slack/interactions", body, signed(body, time.Now())).code, body)
	}
	h.srv.Wait()
	require.Zero(t, h.runs.calls())
}

func TestSlackOff(t *testing.T) {
	runs := &fakeRuns{freezes: []freeze.Freeze{{Incident: "incident-x", Targets: []string{"demo"}}}}
	srv := New(Options{Runs: runs})
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	resp, err := http.Post(ts.URL+"/slack/commands", "application/x-www-form-urlencoded", strings.NewReader("text=rotate+demo"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, err = http.Get(ts.URL + "/freeze")
	require.NoError(t, err)
	var got struct {
		Frozen  bool            `json:"frozen"`
		Freezes []freeze.Freeze `json:"freezes"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
	resp.Body.Close()
	require.True(t, got.Frozen)
	require.Equal(t, runs.freezes, got.Freezes)
	resp, err = http.Get(ts.URL + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Zero(t, runs.calls())
}
