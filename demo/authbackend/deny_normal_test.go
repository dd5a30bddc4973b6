package main

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// An IPv4-mapped range is stored in its IPv4 form and denies the clients it names, whichever
// form their address arrives in.
func TestDenyMappedRange(t *testing.T) {
	f := newFixture(t)
	body := f.controlOK(http.MethodPost, "/_control/cidrs/deny", map[string]any{"cidrs": []string{"::ffff:192.0.2.0/120", "::ffff:127.0.0.2/128"}})
	require.Equal(t, []any{"127.0.0.2/32", "192.0.2.0/24"}, body["denied_cidrs"], "stored in the IPv4 form")
	require.Equal(t, []any{"127.0.0.2/32", "192.0.2.0/24"}, f.state()["denied_cidrs"])

	// Denying the same range in the other form adds nothing.
	body = f.controlOK(http.MethodPost, "/_control/cidrs/deny", map[string]any{"cidrs": []string{"192.0.2.0/24"}})
	require.Equal(t, []any{"127.0.0.2/32", "192.0.2.0/24"}, body["denied_cidrs"])

	from := func(remote string) int {
		req := httptest.NewRequest(http.MethodGet, "/auth/me", nil)
		req.RemoteAddr = remote
		rec := httptest.NewRecorder()
		f.srv.ServeHTTP(rec, req)
		return rec.Code
	}
	for _, remote := range []string{"192.0.2.7:4000", "[::ffff:192.0.2.7]:4000", "127.0.0.2:4000", "[::ffff:127.0.0.2]:4000"} {
		require.Equal(t, http.StatusForbidden, from(remote), remote)
	}
	for _, remote := range []string{"192.0.3.1:4000", "[::ffff:192.0.3.1]:4000", "127.0.0.1:4000", "[::ffff:127.0.0.1]:4000"} {
		require.Equal(t, http.StatusUnauthorized, from(remote), "%s is let through (then has no token)", remote)
	}

	// Allowing the mapped form lifts the IPv4 range it stands for.
	body = f.controlOK(http.MethodPost, "/_control/cidrs/allow", map[string]any{"cidrs": []string{"::ffff:192.0.2.0/120"}})
	require.Equal(t, []any{"127.0.0.2/32"}, body["denied_cidrs"])
	require.Equal(t, http.StatusUnauthorized, from("[::ffff:192.0.2.7]:4000"))
}

// A mapped range shorter than /96 is not a whole IPv4 range: refused, and nothing changes.
func TestDenyPartialMappedRangeRefused(t *testing.T) {
	f := newFixture(t)
	f.controlOK(http.MethodPost, "/_control/cidrs/deny", map[string]any{"cidrs": []string{"10.0.0.0/8"}})
	before := f.state()
	r := f.control(http.MethodPost, "/_control/cidrs/deny", map[string]any{"cidrs": []string{"203.0.113.0/24", "::ffff:0:0/95"}})
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Contains(t, r.errorCode(t), "not a whole IPv4 range")
	require.Equal(t, before, f.state())
}

// A state file written before the normal form lists a mapped range as written: it is loaded in
// the IPv4 form, matches, and can be lifted in either form.
func TestStateFileMappedRangeNormalised(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	p := filepath.Join(t.TempDir(), "state.json")
	require.NoError(t, os.WriteFile(p, []byte(`{"denied_cidrs":["::ffff:192.0.2.0/120","192.0.2.0/24","10.0.0.0/8"]}`), 0o600))
	s, err := openStateStore(p, now)
	require.NoError(t, err)
	s.view(func(st *controlState, denied []netip.Prefix) {
		require.Equal(t, []string{"10.0.0.0/8", "192.0.2.0/24"}, st.DeniedCIDRs)
		require.True(t, denied[0].Contains(netip.MustParseAddr("192.0.2.7")), "%v", denied)
	})
}

func TestParseCIDRsNormalForm(t *testing.T) {
	got, err := parseCIDRs([]string{"::ffff:192.0.2.1/120", "::ffff:0:0/96", "::ffff:10.0.0.1/128"})
	require.NoError(t, err)
	var s []string
	for _, p := range got {
		s = append(s, p.String())
	}
	require.Equal(t, []string{"192.0.2.0/24", "0.0.0.0/0", "10.0.0.1/32"}, s)
	for _, bad := range []string{"::ffff:0:0/95", "::ffff:192.0.2.0/64"} {
		_, err := parseCIDRs([]string{bad})
		require.ErrorContains(t, err, "not a whole IPv4 range", bad)
	}
}
