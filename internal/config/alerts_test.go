package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAlerts_Defaults(t *testing.T) {
	c := parseMinimal(t, "/x")
	require.Equal(t, DefaultAlertsMaxOpen, c.Alerts.MaxOpen)
	require.Empty(t, c.Alerts.DefaultTargets, "no default targets: an alert without a target label freezes nothing")
}

func TestAlerts_Settings(t *testing.T) {
	c, err := Parse([]byte(minimal+"alerts:\n  default_targets: [demo]\n  max_open: 5\n"), "/x")
	require.NoError(t, err)
	require.Equal(t, []string{"demo"}, c.Alerts.DefaultTargets)
	require.Equal(t, 5, c.Alerts.MaxOpen)
}

func TestAlerts_BadSettings(t *testing.T) {
	for name, tc := range map[string]struct{ section, want string }{
		"unknown default target": {"  default_targets: [prod]\n", `alerts.default_targets[0]: unknown target "prod" (known: demo)`},
		"default target twice":   {"  default_targets: [demo, demo]\n", "alerts.default_targets[1]: demo is listed twice"},
		"max_open negative":      {"  max_open: -1\n", "alerts.max_open: must be between 1 and 50, got -1"},
		"max_open too high":      {"  max_open: 51\n", "alerts.max_open: must be between 1 and 50, got 51"},
		"unknown key":            {"  max_opn: 2\n", "alerts.max_opn: unknown key (known: default_targets, max_open)"},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := Parse([]byte(minimal+"alerts:\n"+tc.section), "/x")
			require.Error(t, err)
			require.Nil(t, c)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}
