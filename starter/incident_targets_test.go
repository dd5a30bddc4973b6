package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authops/authops/contract"
)

// TestIncidentTargets: `incident targets ID T1,T2` sends the signed targets decision; a target
// the config lacks, a target named twice or none at all is refused and nothing is sent.
func TestIncidentTargets(t *testing.T) {
	h, fc := incidentHarness(t)
	out, err := h.runWith(fc, "incident", "targets", "incident-x", "--as", "bob", " demo ")
	require.NoError(t, err, out)
	d := decisionOf(t, h, fc, contract.UpdateTargets, "bob")
	require.Equal(t, `{"targets":["demo"]}`, d.Args)

	for args, want := range map[string]string{
		"prod":      `targets refused, nothing was sent: unknown target "prod" (known: demo)`,
		"demo,prod": `unknown target "prod"`,
		"demo,demo": "target demo is named twice",
		",":         "name at least one target",
		"Demo":      `"Demo" is not a target name`,
	} {
		h, fc := incidentHarness(t)
		_, err := h.runWith(fc, "incident", "targets", "incident-x", "--as", "bob", args)
		require.ErrorContains(t, err, want, args)
		require.Empty(t, fc.updates, "nothing is sent")
		require.Empty(t, fc.signals, "nothing is sent")
	}
}

// TestIncidentDeclareWithoutTargetIsEveryTarget: a person who declares with no --target declares
// for every target, by name: the run takes none for a declaration that names none.
func TestIncidentDeclareWithoutTargetIsEveryTarget(t *testing.T) {
	h, fc := incidentHarness(t)
	out, err := h.runWith(fc, "incident", "declare", "--trigger", "other", "--severity", "low", "--summary", "s",
		"--reporter", "alice", "--key", h.f.aliceKey)
	require.NoError(t, err, out)
	require.Len(t, fc.startArgs, 1)
	require.Equal(t, []string{"demo"}, fc.startArgs[0].(contract.IncidentInput).Targets)
}
