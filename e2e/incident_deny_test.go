package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/controls"
	"github.com/authops/authops/internal/demoenv"
	"github.com/authops/authops/internal/testenv"
)

// TestIncidentDenyMappedRange: a deny of an IPv4-mapped range denies the IPv4 client it names.
// The run stores the range in its IPv4 form, the backend refuses a login from 127.0.0.2 (and
// still serves 127.0.0.1), the verification on the timeline shows the login it sent from
// 127.0.0.2, and a second range that locks everyone out together with the first is refused.
func TestIncidentDenyMappedRange(t *testing.T) {
	env := startStack(t, testenv.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ctl := controls.Client{BaseURL: env.BackendURL, Token: env.AdminToken(t)}
	u := newUser(t, env, demoenv.UserDemo)

	const id = "incident-e2e-mapped-deny"
	out, err := env.Starter(t, "incident", "declare", "--id", id, "--trigger", "credential-stuffing", "--severity", "high",
		"--summary", "login failures from ::ffff:127.0.0.2", "--reporter", "alice")
	require.NoError(t, err, out)
	waitPhase(t, env, id, "contain")
	out, err = env.Starter(t, "incident", "owner", id, "--as", "bob")
	require.NoError(t, err, out)

	out, err = env.Starter(t, "incident", "contain", id, "--as", "bob", "deny-cidr", "::ffff:127.0.0.2/128")
	require.NoError(t, err, out)
	st, err := ctl.State(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"127.0.0.2/32"}, st.DeniedCIDRs, "the backend denies the IPv4 form")
	require.Equal(t, http.StatusForbidden, loginFrom(t, env, "127.0.0.2", u), "a login from inside the range is refused")
	require.Equal(t, http.StatusOK, loginFrom(t, env, "127.0.0.1", u), "a login from outside it is served")
	inc := waitIncident(t, env, id, func(s contract.IncidentStatus) bool { return len(s.Measures) == 1 })
	require.Equal(t, []string{"127.0.0.2/32"}, inc.Measures[0].Request.CIDRs, "the run stores the normal form")

	// Half of IPv4 waits for a second person; the other half next to it would lock everyone out,
	// and is refused by the run, which alone knows the ranges in force.
	out, err = env.Starter(t, "incident", "contain", id, "--as", "bob", "deny-cidr", "128.0.0.0/1")
	require.NoError(t, err, out)
	inc = waitIncident(t, env, id, func(s contract.IncidentStatus) bool { return len(s.Pending) == 2 })
	half := inc.Pending[1]
	require.Equal(t, "pending", half.State, "a /1 needs a second person: %+v", half)
	out, err = env.Starter(t, "incident", "contain", id, "--as", "bob", "deny-cidr", "0.0.0.0/1")
	require.Error(t, err, out)
	require.Contains(t, out, "CIDR 0.0.0.0/1 with the ranges already denied (127.0.0.2/32, 128.0.0.0/1) would lock everyone out")
	inc = waitIncident(t, env, id, func(s contract.IncidentStatus) bool { return true })
	require.Len(t, inc.Pending, 2, "the refused deny registered no action")
	out, err = env.Starter(t, "reject", id, "--action", half.ID, "--as", "bob")
	require.NoError(t, err, out)
	st, err = ctl.State(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"127.0.0.2/32"}, st.DeniedCIDRs, "nothing else was denied")

	out, err = env.Starter(t, "incident", "verify", id, "--as", "bob")
	require.NoError(t, err, out)
	v, err := env.Client.QueryWorkflow(ctx, id, "", contract.QueryTimeline)
	require.NoError(t, err)
	var tl []contract.Event
	require.NoError(t, v.Get(&tl))
	var verified string
	for _, ev := range tl {
		if ev.Action == contract.StepVerify && strings.HasPrefix(ev.Detail, "verify 1") {
			verified = ev.Detail
		}
	}
	require.Contains(t, verified, "probed: denied_range_refused 127.0.0.2/32: 403: cidr_denied; from 127.0.0.2", "timeline: %+v", tl)
	require.NotContains(t, verified, "not probed")

	out, err = env.Starter(t, "incident", "resolve", id, "--as", "bob", "--summary", "one host denied, then lifted")
	require.NoError(t, err, out)
	rep := waitResult[contract.Report](t, env, id)
	require.Equal(t, contract.OutcomeResolved, rep.Outcome)
	var probed bool
	for _, val := range rep.Validations {
		for _, r := range val.Results {
			if r.Name == "denied_range_refused 127.0.0.2/32" && r.OK && r.Got == http.StatusForbidden && strings.Contains(r.Detail, "from 127.0.0.2") {
				probed = true
			}
		}
	}
	require.True(t, probed, "the report holds the probe from 127.0.0.2: %+v", rep.Validations)
	st, err = ctl.State(ctx)
	require.NoError(t, err)
	require.Empty(t, st.DeniedCIDRs, "resolve lifts the deny")
	require.Equal(t, http.StatusOK, loginFrom(t, env, "127.0.0.2", u))
	env.CheckReplay(t, id, "", "incident-deny-mapped")
}
