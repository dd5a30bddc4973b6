package gateway

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseCommand(t *testing.T) {
	at := time.Date(2026, 11, 28, 22, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		text string
		want Command
	}{
		{"", Command{Verb: "help"}},
		{"help", Command{Verb: "help"}},
		{"rotate demo", Command{Verb: "rotate", Target: "demo"}},
		{"rotate demo in 2h key hygiene", Command{Verb: "rotate", Target: "demo", In: 2 * time.Hour, Text: "key hygiene"}},
		{"rotate demo at 22:00", Command{Verb: "rotate", Target: "demo", AtClock: "22:00"}},
		{"rotate demo at 2026-11-28T22:00:00Z quarterly", Command{Verb: "rotate", Target: "demo", At: at, Text: "quarterly"}},
		{"invalidate demo token leaked in logs --restrict /admin,/billing --break-glass",
			Command{Verb: "invalidate", Target: "demo", Text: "token leaked in logs", Restrict: []string{"/admin", "/billing"}, BreakGlass: true}},
		{"incident declare", Command{Verb: "declare", Modal: true}},
		{"incident declare high stuffing from 10.0.0.0/8 --trigger credential-stuffing --target demo",
			Command{Verb: "declare", Severity: "high", Text: "stuffing from 10.0.0.0/8", Trigger: "credential-stuffing", Targets: []string{"demo"}}},
		{"incident declare low odd", Command{Verb: "declare", Severity: "low", Text: "odd", Trigger: "other"}},
		{"incident owner incident-x", Command{Verb: "owner", ID: "incident-x"}},
		{"incident note incident-x --status all quiet", Command{Verb: "note", ID: "incident-x", Text: "all quiet", Status: true}},
		{"incident contain incident-x deny-cidr 10.0.0.0/8 --ttl 2h", Command{Verb: "contain", ID: "incident-x", Kind: "deny-cidr", Arg: "10.0.0.0/8", TTL: 2 * time.Hour}},
		{"incident contain incident-x logout-all", Command{Verb: "contain", ID: "incident-x", Kind: "logout-all"}},
		{"incident contain incident-x invalidate leaked --restrict /admin --target demo",
			Command{Verb: "contain", ID: "incident-x", Kind: "invalidate", Text: "leaked", Restrict: []string{"/admin"}, Target: "demo"}},
		{"incident verify incident-x", Command{Verb: "verify", ID: "incident-x"}},
		{"incident resolve incident-x contained --keep deny-cidr", Command{Verb: "resolve", ID: "incident-x", Text: "contained", Keep: []string{"deny-cidr"}}},
		{"status rotation-demo", Command{Verb: "status", ID: "rotation-demo"}},
		{"approve rotation-demo lgtm", Command{Verb: "approve", ID: "rotation-demo", Text: "lgtm"}},
		{"reject incident-x --action a2 too broad", Command{Verb: "reject", ID: "incident-x", Action: "a2", Text: "too broad"}},
		{"freeze", Command{Verb: "freeze"}},
	} {
		got, err := ParseCommand(c.text)
		require.NoError(t, err, c.text)
		require.Equal(t, c.want, got, c.text)
	}
}

func TestParseCommandUsage(t *testing.T) {
	for text, usage := range map[string]string{
		"rotate":                                           "/runbook rotate",
		"rotate demo in soon":                              "/runbook rotate",
		"rotate demo at tomorrow":                          "/runbook rotate",
		"rotate demo --as bob":                             "/runbook rotate",
		"invalidate demo":                                  "/runbook invalidate",
		"invalidate demo x --restrict /a,":                 "/runbook invalidate",
		"invalidate demo x --key f":                        "/runbook invalidate",
		"incident declare urgent x":                        "/runbook incident declare",
		"incident declare high":                            "/runbook incident declare",
		"incident note incident-x":                         "/runbook incident note",
		"incident contain incident-x nuke":                 "/runbook incident contain",
		"incident contain incident-x deny-cidr":            "/runbook incident contain",
		"incident contain incident-x logout-all --ttl -1h": "/runbook incident contain",
		"incident resolve incident-x":                      "/runbook incident resolve",
		"incident owner incident-x --as bob":               "/runbook incident owner",
		"status":                                           "/runbook status",
		"approve":                                          "/runbook approve",
		"approve x --action drop":                          "/runbook approve",
		"freeze now":                                       "/runbook freeze",
		"launch":                                           "/runbook help",
	} {
		_, err := ParseCommand(text)
		var ue *UsageError
		require.True(t, errors.As(err, &ue), text)
		require.Contains(t, err.Error(), "usage: "+usage, text)
	}
	_, err := ParseCommand("approve x \x1b[31m")
	require.Error(t, err)
	_, err = ParseCommand(strings.Repeat("a", maxCommand+1))
	require.Error(t, err)
}

// FuzzParseCommand: the parser never panics, and what it accepts holds no flag the sender could
// smuggle and no control character.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"help", "rotate demo in 2h x", "invalidate demo r --restrict /a --break-glass",
		"incident declare high x --trigger other", "incident contain incident-x deny-cidr 10.0.0.0/8 --ttl 1h",
		"approve rotation-demo --action a1 ok", "reject x --action=a2 no", "status x", "freeze", "incident note i --status t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := ParseCommand(text)
		if err != nil {
			return
		}
		for _, s := range []string{c.ID, c.Target, c.Kind, c.Arg, c.Action, c.Severity, c.Trigger} {
			require.False(t, strings.HasPrefix(s, "--"), "%q became a value %q", text, s)
			require.NotContains(t, s, " ")
		}
		require.NotContains(t, c.Text, "\n")
	})
}
