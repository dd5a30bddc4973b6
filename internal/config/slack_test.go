package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// withNotify puts a notify: section (indented lines) into the minimal config's demo target.
func withNotify(lines string) string {
	return strings.Replace(minimal, "    approvers: [alice, bob]\n", "    approvers: [alice, bob]\n    notify:\n"+lines, 1)
}

func TestNotify(t *testing.T) {
	c := parseMinimal(t, "/x")
	require.Equal(t, Notify{}, c.Targets["demo"].Notify, "notify is optional")

	c, err := Parse([]byte(withNotify("      users_channel: \"#status\"\n      status_webhook: {env: STATUS_WEBHOOK_URL}\n")), "/x")
	require.NoError(t, err)
	n := c.Targets["demo"].Notify
	require.Equal(t, "#status", n.UsersChannel)
	require.Equal(t, &Ref{Env: "STATUS_WEBHOOK_URL"}, n.StatusWebhook)

	t.Setenv("STATUS_WEBHOOK_URL", "https://hooks.example/T/B/x")
	v, err := c.Resolve("targets.demo.notify.status_webhook", *n.StatusWebhook)
	require.NoError(t, err)
	require.Equal(t, "https://hooks.example/T/B/x", v)
}

func TestNotify_Refused(t *testing.T) {
	cases := []struct{ name, lines, want string }{
		{"unknown key", "      user_channel: \"#status\"\n", "targets.demo.notify.user_channel: unknown key (known: users_channel, status_webhook)"},
		{"inline webhook", "      status_webhook: https://hooks.example/T/B/secret\n", "targets.demo.notify.status_webhook: must be a reference"},
		{"empty reference", "      status_webhook: {}\n", "targets.demo.notify.status_webhook: a reference"},
		{"bad channel", "      users_channel: \"status page\"\n", "targets.demo.notify.users_channel: must be a Slack channel"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(withNotify(c.lines)), "/x")
			require.Error(t, err)
			require.Contains(t, err.Error(), c.want)
			require.NotContains(t, err.Error(), "secret", "an inline value is never quoted")
		})
	}
}
