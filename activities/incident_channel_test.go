package activities

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/notify"
	"github.com/authops/authops/internal/notify/slackfake"
)

// OpenIncidentChannel creates #inc-<id>, invites the people with a Slack id and links the
// channel from the target's. Each attempt is safe to repeat: a create whose answer was lost
// finds its channel by name (name_taken), invites and the link are not repeated.
func TestOpenIncidentChannel(t *testing.T) {
	f := newFixture(t, func(doc string) string {
		return strings.Replace(doc, "  alice: {keys:", "  alice: {slack_id: UALICE, keys:", 1) + "incident: {dedicated_channel: true}\n"
	})
	fake := slackfake.New("auth-ops")
	defer fake.Close()
	f.notes.Slack = &SlackNotifier{Slack: notify.NewSlack("xoxb-test", fake.APIURL(), nil)}
	in := contract.IncidentChannelInput{Incident: "incident-42", Severity: "high", Summary: "stuffing <!channel>",
		People: []string{"alice", "alice", "bob", "mallory"}, LinkFrom: "#auth-ops"}

	// The create happens, but its answer is lost: the attempt fails and is retried.
	fake.SetLoseReply(func(method string) bool { return method == "conversations.create" })
	_, err := f.env.ExecuteActivity(f.notes.OpenIncidentChannel, in)
	require.Error(t, err)
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr))
	require.False(t, appErr.NonRetryable(), "an outage is retried")
	fake.SetLoseReply(nil)

	var chs []contract.IncidentChannel
	for range 2 { // the retry, and one more as if its answer were lost too
		v, err := f.env.ExecuteActivity(f.notes.OpenIncidentChannel, in)
		require.NoError(t, err)
		var ch contract.IncidentChannel
		require.NoError(t, v.Get(&ch))
		chs = append(chs, ch)
	}
	id := fake.ChannelID("inc-incident-42")
	require.NotEmpty(t, id)
	want := contract.IncidentChannel{Name: "inc-incident-42", ID: id, Invited: []string{"alice"},
		Skipped: []string{"bob: no slack_id", "mallory: no slack_id"}, LinkedFrom: "#auth-ops"}
	require.Equal(t, []contract.IncidentChannel{want, want}, chs)
	require.Equal(t, []string{"UALICE"}, fake.Members(id), "invited once")

	var creates, links int
	for _, c := range fake.Calls() {
		if c.Method == "conversations.create" {
			creates++
			require.Equal(t, "inc-incident-42", c.Form.Get("name"))
		}
	}
	require.Equal(t, 3, creates, "each attempt asks; the later ones find the name taken")
	for _, m := range fake.Messages() {
		require.NotEqual(t, id, m.Channel, "nothing is posted in the new channel by this activity")
		if m.Channel == fake.ChannelID("auth-ops") {
			links++
			require.Contains(t, m.Text, "<#"+id+">", "a link to the new channel")
			require.Contains(t, m.Text, "stuffing &lt;!channel&gt;", "the summary is escaped")
		}
	}
	require.Equal(t, 1, links, "one link in the target's channel")

	// A new owner is invited the same way; someone already in is fine.
	v, err := f.env.ExecuteActivity(f.notes.InviteToIncidentChannel, contract.IncidentInviteInput{ChannelID: id, People: []string{"alice", "bob"}})
	require.NoError(t, err)
	var res contract.IncidentInviteResult
	require.NoError(t, v.Get(&res))
	require.Equal(t, contract.IncidentInviteResult{Invited: []string{"alice"}, Skipped: []string{"bob: no slack_id"}}, res)
	require.Equal(t, []string{"UALICE"}, fake.Members(id))
}

func TestOpenIncidentChannel_Failures(t *testing.T) {
	f := newFixture(t)
	in := contract.IncidentChannelInput{Incident: "incident-42", Severity: "high", Summary: "s", People: []string{"alice"}, LinkFrom: "#auth-ops"}
	var appErr *temporal.ApplicationError

	// No Slack on this worker: given up at once, the incident goes on without its channel.
	_, err := f.env.ExecuteActivity(f.notes.OpenIncidentChannel, in)
	require.True(t, errors.As(err, &appErr))
	require.True(t, appErr.NonRetryable())
	require.Equal(t, contract.ErrTypeSlackPermanent, appErr.Type())

	fake := slackfake.New("auth-ops")
	defer fake.Close()
	f.notes.Slack = &SlackNotifier{Slack: notify.NewSlack("xoxb-test", fake.APIURL(), nil)}

	// Rate limited: retried after Slack's Retry-After.
	fake.SetFault(func(string) (int, int) { return http.StatusTooManyRequests, 7 })
	_, err = f.env.ExecuteActivity(f.notes.OpenIncidentChannel, in)
	require.True(t, errors.As(err, &appErr))
	require.Equal(t, contract.ErrTypeSlackRateLimited, appErr.Type())
	require.Equal(t, 7*time.Second, appErr.NextRetryDelay())

	// A bad id never reaches Slack.
	fake.SetFault(nil)
	in.Incident = "incident-#general"
	_, err = f.env.ExecuteActivity(f.notes.OpenIncidentChannel, in)
	require.True(t, errors.As(err, &appErr))
	require.True(t, appErr.NonRetryable())
	for _, c := range fake.Calls() {
		require.NotEqual(t, "incident-#general", c.Form.Get("name"))
	}
}
