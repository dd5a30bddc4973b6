package config

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestParseLight_AgreesWithParse: what the light parse reads is what the full parse reads.
func TestParseLight_AgreesWithParse(t *testing.T) {
	b := []byte(manyTargets(3) + "    rotation: {max_window_ahead: 48h}\n" + minimalPeople)
	full, err := Parse(b, "/cfg")
	require.NoError(t, err)
	light, err := ParseLight(b, "/cfg", full.TargetNames()...)
	require.NoError(t, err)
	require.Equal(t, full.TargetNames(), light.TargetNames())
	for _, name := range full.TargetNames() {
		ft, _ := full.Target(name)
		lt, err := light.Target(name)
		require.NoError(t, err)
		require.Equal(t, ft.Approvers, lt.Approvers, name)
		require.Equal(t, ft.Rotation.MaxWindowAhead, lt.Rotation.MaxWindowAhead, name)
	}
	require.Equal(t, full.PeopleByName, light.PeopleByName)
	require.Equal(t, full.KeyFiles("alice"), light.KeyFiles("alice"))
	_, err = light.Target("nope")
	require.ErrorContains(t, err, `unknown target "nope" (known: t0000, t0001, t0002)`)

	// The same in flow style, which the light parse leaves to the YAML parser.
	flow := []byte(`{targets: {t0: {approvers: [alice, bob], rotation: {max_window_ahead: 1h}}}, people: {alice: {keys: [{file: a.pub}]}}}`)
	light, err = ParseLight(flow, "/cfg", "t0")
	require.NoError(t, err)
	lt, err := light.Target("t0")
	require.NoError(t, err)
	require.Equal(t, []string{"alice", "bob"}, lt.Approvers)
	require.Equal(t, Duration(time.Hour), lt.Rotation.MaxWindowAhead)
	require.Equal(t, []string{"/cfg/a.pub"}, light.KeyFiles("alice"))
}

// TestParseLight_CutsAroundOneLineSections: a section the light parse does not read may sit on
// one line (as testenv writes timeouts:); the targets are still cut, not parsed whole. A value
// that goes on to the next line, or a section the light parse reads, goes to the parser.
func TestParseLight_CutsAroundOneLineSections(t *testing.T) {
	base := manyTargets(2) + minimalPeople
	for _, tc := range []struct {
		extra string
		cut   bool
	}{
		{"timeouts: {activity: 5s, check: 10s}\n", true},
		{"timeouts: {activity: 5s, # a comment\n  check: 10s}\n", false},
		{"incident: {channel: \"#inc\"}\n", false},
		{"gateway: {listen: \":8080\"}\n", false},
		{"timeouts: [\n", false},
	} {
		b := []byte(base + tc.extra)
		_, ok := cutBlocks(b)
		require.Equal(t, tc.cut, ok, tc.extra)
		if !tc.cut {
			continue
		}
		light, err := ParseLight(b, "/cfg", "t0001")
		require.NoError(t, err)
		require.Equal(t, []string{"t0000", "t0001"}, light.TargetNames())
	}
}

// TestParseLight_ChecksPeople: the people a CLI call signs as are checked as Load checks them.
func TestParseLight_ChecksPeople(t *testing.T) {
	for _, tc := range []struct{ people, want string }{
		{"people:\n  Alice: {keys: [{file: a.pub}]}\n", "must match"},
		{"people:\n  alice: {keys: []}\n", "at least one key"},
		{"", ""},
	} {
		_, err := ParseLight([]byte(minimalTarget+tc.people), "/cfg")
		if tc.want == "" {
			require.NoError(t, err)
			continue
		}
		require.ErrorContains(t, err, tc.want)
	}
	_, err := ParseLight([]byte(minimalPeople), "/cfg")
	require.ErrorContains(t, err, "at least one target")
}

// BenchmarkParse1000 compares the full parse with the light one at 1,000 targets.
func BenchmarkParse1000(b *testing.B) {
	cfg := []byte(manyTargets(1000) + minimalPeople)
	b.Run("full", func(b *testing.B) {
		for range b.N {
			if _, err := Parse(cfg, "/cfg"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("light", func(b *testing.B) {
		for range b.N {
			if _, err := ParseLight(cfg, "/cfg", "t0500"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// manyTargets is a targets: section of n copies of the minimal target.
func manyTargets(n int) string {
	body := strings.SplitN(minimalTarget, "  demo:\n", 2)[1]
	var sb strings.Builder
	sb.WriteString("targets:\n")
	for i := range n {
		fmt.Fprintf(&sb, "  t%04d:\n%s", i, body)
	}
	return sb.String()
}
