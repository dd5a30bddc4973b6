package activities

import (
	"context"
	"net"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authops/authops/contract"
)

// A mapped range is denied in its IPv4 form, the backend refuses a login from inside it, and the
// verification proves so with a login sent from there.
func TestMeasure_DenyMappedRange(t *testing.T) {
	f := newRealFixture(t)
	in := measure(contract.ContainDenyCIDR, func(r *contract.ContainRequest) { r.CIDRs = []string{"::ffff:127.0.0.2/128"} })
	var res contract.MeasureResult
	require.NoError(t, f.run(&res, f.incidents.ApplyMeasure, in))
	require.Equal(t, "denied 127.0.0.2/32; backend denies: 127.0.0.2/32", res.Detail)
	require.Equal(t, []string{"127.0.0.2/32"}, f.state().DeniedCIDRs)

	tgt := f.cfg.Targets["demo"]
	from := func(ip string) contract.ProbeResult {
		return f.incidents.loginCheck(context.Background(), tgt, &net.TCPAddr{IP: net.ParseIP(ip)}, "login", "probe", probePassword, http.StatusOK)
	}
	refused := from("127.0.0.2")
	require.Equal(t, http.StatusForbidden, refused.Got, "%+v", refused)
	require.Contains(t, refused.Detail, "cidr_denied")
	require.True(t, from("127.0.0.1").OK, "127.0.0.1 is not in the range")

	// The verification names the range in its normal form, whichever form the measure holds.
	var rs contract.ProbeResults
	require.NoError(t, f.run(&rs, f.incidents.VerifyIncident, contract.IncidentVerifyInput{Incident: "incident-abc", Target: "demo", DeniedCIDRs: in.Request.CIDRs}))
	r := resultByName(t, rs, "denied_range_refused 127.0.0.2/32")
	require.True(t, r.OK, "%+v", r)
	require.False(t, r.NotProbed)
	require.Equal(t, http.StatusForbidden, r.Got)
	require.Contains(t, r.Detail, "from 127.0.0.2")

	// Undone in the mapped form, the IPv4 range is gone.
	require.NoError(t, f.run(&res, f.incidents.UndoMeasure, in))
	require.Empty(t, f.state().DeniedCIDRs)
	require.True(t, from("127.0.0.2").OK)
}

// The last line refuses what the workflow refuses: ranges that lock everyone out together, and
// a mapped range that is not a whole IPv4 range; nothing reaches the backend.
func TestMeasure_DenyRefusesTheUnion(t *testing.T) {
	f := newRealFixture(t)
	for _, tc := range []struct {
		cidrs []string
		want  string
	}{
		{[]string{"0.0.0.0/1", "128.0.0.0/1"}, "together they cover all of IPv4"},
		{[]string{"::/1", "8000::/1"}, "together they cover all of IPv6"},
		{[]string{"::ffff:0:0/95"}, "not a whole IPv4 range"},
		{[]string{"::ffff:127.0.0.0/104"}, "the address the worker's probes come from"},
	} {
		err := f.run(nil, f.incidents.ApplyMeasure, measure(contract.ContainDenyCIDR, func(r *contract.ContainRequest) { r.CIDRs = tc.cidrs }))
		requireNonRetryable(t, err, tc.want)
	}
	require.Empty(t, f.state().DeniedCIDRs)
}

// A denied range with no local address in it is not probed: neither passed nor failed, and
// failed when the backend does not even list it.
func TestVerifyIncident_NotProbed(t *testing.T) {
	f := newRealFixture(t)
	require.NoError(t, f.controls().DenyCIDRs(context.Background(), []string{"203.0.113.0/24"}))
	in := contract.IncidentVerifyInput{Incident: "incident-abc", Target: "demo", DeniedCIDRs: []string{"203.0.113.0/24", "198.51.100.0/24"}}
	var rs contract.ProbeResults
	require.NoError(t, f.run(&rs, f.incidents.VerifyIncident, in))

	listed := resultByName(t, rs, "denied_range_refused 203.0.113.0/24")
	require.True(t, listed.NotProbed, "%+v", listed)
	require.False(t, listed.OK, "not probed is never a pass")
	require.Contains(t, listed.Detail, "not probed")
	require.NotContains(t, names(rs.Passed()), listed.Name)

	missing := resultByName(t, rs, "denied_range_refused 198.51.100.0/24")
	require.False(t, missing.NotProbed)
	require.False(t, missing.OK)
	require.Equal(t, []string{missing.Name}, names(rs.Failed()))
	require.Equal(t, []string{listed.Name}, names(rs.NotProbed()))
}
