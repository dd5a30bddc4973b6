package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/notify"
	"github.com/authops/authops/internal/notify/slackfake"
	"github.com/authops/authops/internal/slackui"
)

func TestEscape(t *testing.T) {
	cases := map[string]string{
		"plain reason":              "plain reason",
		"<!channel> wake up":        "&lt;!channel&gt; wake up",
		"ping <@U123ABC>":           "ping &lt;@U123ABC&gt;",
		"<https://evil|click here>": "&lt;https://evil|click here&gt;",
		"a & b &amp; c":             "a &amp; b &amp;amp; c",
		"line\nforged":              `line\u000aforged`,
		"bidi \u202e override":      `bidi \u202e override`,
		"bad \xff byte":             `bad \xff byte`,
	}
	for in, want := range cases {
		require.Equal(t, want, notify.Escape(in), "Escape(%q)", in)
	}
}

// FuzzEscape: whatever people type, the escaped text holds no markup Slack would act on (no <,
// >, or & that does not start one of the three entities) and no control character.
func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "<!here>", "<@U1>", "&lt;", "a\x00b", "\u202e", "\xff<", "<<>>&&"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := notify.Escape(s)
		if strings.ContainsAny(out, "<>") {
			t.Fatalf("Escape(%q) = %q holds < or >", s, out)
		}
		for i := strings.IndexByte(out, '&'); i >= 0; i = strings.IndexByte(out, '&') {
			rest := out[i:]
			if !strings.HasPrefix(rest, "&amp;") && !strings.HasPrefix(rest, "&lt;") && !strings.HasPrefix(rest, "&gt;") {
				t.Fatalf("Escape(%q) = %q holds a bare &", s, out)
			}
			out = rest[1:]
		}
		if strings.ContainsFunc(notify.Escape(s), func(r rune) bool { return unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) }) {
			t.Fatalf("Escape(%q) holds a control character", s)
		}
	})
}

func TestMention(t *testing.T) {
	require.Equal(t, "<@UBOB>", notify.Mention("UBOB"))
	require.Empty(t, notify.Mention("!channel"))
	require.Empty(t, notify.Mention("UBOB> <!channel"))
	require.Empty(t, notify.Mention(""))
}

func TestPostFindUpdate(t *testing.T) {
	fake := slackfake.New("auth-ops")
	defer fake.Close()
	s := notify.NewSlack("xoxb-test", fake.APIURL(), nil)
	ctx := context.Background()

	p, err := s.Post(ctx, notify.Post{Channel: "#auth-ops", Text: "parent", Key: "parent/rotation-demo/r1"}, false)
	require.NoError(t, err)
	require.Equal(t, fake.ChannelID("auth-ops"), p.ChannelID)
	require.NotEmpty(t, p.TS)

	// A retry finds the message an earlier attempt posted, by name (resolved) or by id.
	again, err := s.Post(ctx, notify.Post{Channel: "#auth-ops", Text: "parent", Key: "parent/rotation-demo/r1"}, true)
	require.NoError(t, err)
	require.True(t, again.Found)
	require.Equal(t, p.TS, again.TS)
	require.Len(t, fake.Messages(), 1, "a retried post must not post twice")

	// Thread replies are found in the thread.
	r, err := s.Post(ctx, notify.Post{Channel: p.ChannelID, ThreadTS: p.TS, Text: "reply", Key: "reply/1"}, false)
	require.NoError(t, err)
	r2, err := s.Post(ctx, notify.Post{Channel: p.ChannelID, ThreadTS: p.TS, Text: "reply", Key: "reply/1"}, true)
	require.NoError(t, err)
	require.Equal(t, r.TS, r2.TS)
	// A retry of a reply nobody posted yet does post.
	r3, err := s.Post(ctx, notify.Post{Channel: p.ChannelID, ThreadTS: p.TS, Text: "reply 2", Key: "reply/2"}, true)
	require.NoError(t, err)
	require.False(t, r3.Found)
	require.Len(t, fake.Messages(), 3)

	require.NoError(t, s.Update(ctx, p.ChannelID, p.TS, "parent v2", nil))
	msgs := fake.Messages()
	require.Equal(t, "parent v2", msgs[0].Text)
	require.Equal(t, 1, msgs[0].Updates)

	var md slack.SlackMetadata
	require.NoError(t, json.Unmarshal(msgs[0].Metadata, &md))
	require.Equal(t, slackui.MetadataEventType, md.EventType)
	require.Equal(t, "parent/rotation-demo/r1", md.EventPayload["key"])

	dm, err := s.OpenDM(ctx, "UALICE")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(dm, "D"))
}

func TestErrors(t *testing.T) {
	fake := slackfake.New("auth-ops")
	defer fake.Close()
	s := notify.NewSlack("xoxb-test", fake.APIURL(), nil)
	ctx := context.Background()

	_, err := s.Post(ctx, notify.Post{Channel: "#nowhere", Text: "x", Key: "k"}, false)
	require.Error(t, err)
	require.True(t, notify.Permanent(err), "%v", err)

	fake.SetFault(func(string) (int, int) { return http.StatusTooManyRequests, 7 })
	_, err = s.Post(ctx, notify.Post{Channel: "#auth-ops", Text: "x", Key: "k"}, false)
	var rl *slack.RateLimitedError
	require.True(t, errors.As(err, &rl), "%v", err)
	require.Equal(t, 7*time.Second, rl.RetryAfter)
	require.False(t, notify.Permanent(err))

	fake.SetFault(func(string) (int, int) { return http.StatusInternalServerError, 0 })
	_, err = s.Post(ctx, notify.Post{Channel: "#auth-ops", Text: "x", Key: "k"}, false)
	require.Error(t, err)
	require.False(t, notify.Permanent(err))
	require.Empty(t, fake.Messages())
}

func TestParent(t *testing.T) {
	at := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	v := notify.RunView{WorkflowID: "rotation-demo", FirstRunID: "run-1", Requester: "<@UALICE>",
		Status: contract.Status{Runbook: "secret-rotation", Target: "demo", Phase: "waiting for approval", RequestedBy: "alice",
			Checklist: []contract.Step{{Name: "pre-checks", State: contract.StateDone}, {Name: "approval", State: contract.StateRunning}}}}
	text, blocks := notify.Parent(v)
	require.Contains(t, text, "waiting for approval")
	values := buttonValues(t, blocks)
	require.Equal(t, []slackui.ButtonValue{{WorkflowID: "rotation-demo", FirstRunID: "run-1"}, {WorkflowID: "rotation-demo", FirstRunID: "run-1"}}, values)
	raw := blocksJSON(blocks)
	require.Contains(t, raw, slackui.ActionApprove)
	require.Contains(t, raw, slackui.ActionReject)
	require.Contains(t, raw, "<@UALICE>")

	// Decided: who and when, and no buttons.
	v.Status.Phase = "rotating"
	v.Decisions = notify.Decisions([]contract.Event{
		{At: at, Actor: "alice", Action: "approve", Outcome: "denied"},
		{At: at, Actor: "bob", Action: "approve", Outcome: "accepted"},
	})
	_, blocks = notify.Parent(v)
	require.Empty(t, buttonValues(t, blocks))
	raw = blocksJSON(blocks)
	require.Contains(t, raw, "Approved by bob at 2025-03-04 05:06:07 UTC")
	require.NotContains(t, raw, "Approved by alice")

	// A closed run never shows buttons, whatever its phase says.
	v.Status.Phase, v.Closed = "waiting for approval", true
	_, blocks = notify.Parent(v)
	require.Empty(t, buttonValues(t, blocks))

	// An incident: one pair of buttons per pending action.
	inc := notify.RunView{WorkflowID: "incident-1", FirstRunID: "r0",
		Status: contract.Status{Runbook: "auth-incident", Target: "demo", Phase: "contain", RequestedBy: "alice"},
		Incident: &contract.IncidentStatus{Severity: "high", Owner: "bob", Summary: "<!channel> tokens leaked", Pending: []contract.PendingAction{
			{ID: "a1", Request: contract.ContainRequest{Kind: "logout-all"}, Asker: "bob", Quorum: 1, State: "pending"},
			{ID: "a2", Request: contract.ContainRequest{Kind: "deny-cidr"}, Asker: "bob", Quorum: 1, State: "applied"},
		}}}
	_, blocks = notify.Parent(inc)
	require.Equal(t, []slackui.ButtonValue{{WorkflowID: "incident-1", FirstRunID: "r0", Action: "a1"}, {WorkflowID: "incident-1", FirstRunID: "r0", Action: "a1"}},
		buttonValues(t, blocks))
	raw = blocksJSON(blocks)
	require.NotContains(t, raw, "<!channel>")
}

func blocksJSON(blocks []slack.Block) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(blocks)
	return b.String()
}

func buttonValues(t *testing.T, blocks []slack.Block) []slackui.ButtonValue {
	t.Helper()
	var out []slackui.ButtonValue
	for _, b := range blocks {
		a, ok := b.(*slack.ActionBlock)
		if !ok {
			continue
		}
		for _, e := range a.Elements.ElementSet {
			btn := e.(*slack.ButtonBlockElement)
			v, err := slackui.DecodeButton(btn.Value)
			require.NoError(t, err)
			out = append(out, v)
		}
	}
	return out
}

func TestUserNotice(t *testing.T) {
	for _, kind := range []string{"planned", "user-impact"} {
		require.True(t, contract.UserKind(kind))
		n := notify.UserNotice(kind, "demo")
		require.Contains(t, n, "sign in again")
	}
	require.False(t, contract.UserKind("completed"))
	require.Empty(t, notify.UserNotice("completed", "demo"))
}
