package activities

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/config"
	"github.com/authops/authops/internal/testenv"
)

// newEdgeFixture is the real demo backend behind a real nginx, with controls.edge set on the
// target: base_url stays the backend (the control API), the edge's url is nginx.
func newEdgeFixture(t *testing.T) (*fixture, *testenv.Nginx) {
	t.Helper()
	testenv.RequireNginx(t)
	var n *testenv.Nginx
	f := newRealFixture(t, func(backend string) string {
		// /static/ is the proxy's own location: restricting /static would define it twice.
		n = testenv.StartNginx(t, backend, "location ^~ /static/ { return 200 'static'; }")
		return backend
	})
	f.cfg.Targets["demo"].Controls.Edge = &config.Edge{Kind: "nginx", Include: n.Include, Test: n.TestArgv(), Reload: n.ReloadArgv(),
		URL: n.URL, Timeout: config.Duration(30 * time.Second), Readback: config.Duration(60 * time.Second)}
	return f, n
}

// awaitStatus polls until url answers want through c: nginx reloads asynchronously.
func awaitStatus(t *testing.T, c *http.Client, url string, want int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	got := 0
	for time.Now().Before(deadline) {
		if resp, err := c.Get(url); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if got = resp.StatusCode; got == want {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("GET %s: want %d, last got %d", url, want, got)
}

func TestEdge_DenyCIDRThroughNginx(t *testing.T) {
	f, n := newEdgeFixture(t)
	inside, outside := testenv.ClientFrom("127.0.0.2"), testenv.ClientFrom("127.0.0.1")
	in := measure(contract.ContainDenyCIDR, func(r *contract.ContainRequest) { r.CIDRs = []string{"127.0.0.2/32"} })
	var res contract.MeasureResult
	require.NoError(t, f.run(&res, f.incidents.ApplyMeasure, in))
	require.Contains(t, res.Detail, "backend denies: 127.0.0.2/32")
	require.Contains(t, res.Detail, "edge denies: 127.0.0.2/32 (read back through the proxy: 127.0.0.2/32 from 127.0.0.2: 403)")
	awaitStatus(t, inside, n.URL+"/healthz", http.StatusForbidden)
	awaitStatus(t, outside, n.URL+"/healthz", http.StatusOK)
	before, err := os.ReadFile(n.Include)
	require.NoError(t, err)
	require.NoError(t, f.run(&res, f.incidents.ApplyMeasure, in), "applied again, it changes nothing")
	after, err := os.ReadFile(n.Include)
	require.NoError(t, err)
	require.Equal(t, before, after)

	require.NoError(t, f.run(&res, f.incidents.UndoMeasure, in))
	require.Contains(t, res.Detail, "edge denies: none (read back through the proxy: 127.0.0.2/32 from 127.0.0.2: 200)")
	awaitStatus(t, inside, n.URL+"/healthz", http.StatusOK)
	require.Empty(t, f.state().DeniedCIDRs)
}

func TestEdge_RestrictRoutesThroughNginx(t *testing.T) {
	f, n := newEdgeFixture(t)
	outside := testenv.ClientFrom("127.0.0.1")
	in := contract.RoutesInput{Target: "demo", Prefixes: []string{"/admin"}, Status: http.StatusServiceUnavailable}
	require.NoError(t, f.run(nil, f.probes.RestrictRoutes, in))
	awaitStatus(t, outside, n.URL+"/admin/users", http.StatusServiceUnavailable)
	require.Len(t, f.state().RestrictedRoutes, 1, "the backend's own restriction stays")

	var rs contract.ProbeResults
	require.NoError(t, f.run(&rs, f.probes.LiftRoutes, in))
	require.True(t, rs.OK(), "%+v", rs)
	var atEdge bool
	for _, r := range rs {
		if r.Name == "restriction_lifted_at_edge" {
			atEdge = true
			require.NotZero(t, r.Got)
			require.NotEqual(t, http.StatusServiceUnavailable, r.Got, "the backend answers /admin itself again")
		}
	}
	require.True(t, atEdge, "the lift is read back through the edge: %+v", rs)
	require.Empty(t, f.state().RestrictedRoutes)
	awaitStatus(t, outside, n.URL+"/admin/users", http.StatusUnauthorized)
}

// A route the include cannot hold, or one nginx -t refuses, changes nothing anywhere: not the
// edge, not the backend.
func TestEdge_RefusedRoutesChangeNothing(t *testing.T) {
	f, n := newEdgeFixture(t)
	before, err := os.ReadFile(n.Include)
	require.NoError(t, err)

	err = f.run(nil, f.probes.RestrictRoutes, contract.RoutesInput{Target: "demo", Prefixes: []string{"/a{return"}, Status: 503})
	requireNonRetryable(t, err, "cannot go into an nginx location")

	err = f.run(nil, f.probes.RestrictRoutes, contract.RoutesInput{Target: "demo", Prefixes: []string{"/static"}, Status: 503})
	requireNonRetryable(t, err, "the previous include is back in place")
	require.Contains(t, err.Error(), "duplicate location")

	after, err := os.ReadFile(n.Include)
	require.NoError(t, err)
	require.Equal(t, before, after)
	require.Empty(t, f.state().RestrictedRoutes)
	awaitStatus(t, testenv.ClientFrom("127.0.0.1"), n.URL+"/static/x", http.StatusOK)

	// A restriction the backend has and the include cannot (made before the target had an
	// edge) is still lifted: the edge skips it rather than failing the lift.
	require.NoError(t, f.controls().RestrictRoutes(context.Background(), []string{"/a{b"}, 503))
	var rs contract.ProbeResults
	require.NoError(t, f.run(&rs, f.probes.LiftRoutes, contract.RoutesInput{Target: "demo", Prefixes: []string{"/a{b"}, Status: 503}))
	require.Empty(t, f.state().RestrictedRoutes)
	after, err = os.ReadFile(n.Include)
	require.NoError(t, err)
	require.Equal(t, before, after)
}

// A proxy that never answers the restriction (a reload it did not act on) fails the step, which
// a retry may repeat, and forgets the reload so the retry reloads again.
func TestEdge_ReadBackFailureIsAnError(t *testing.T) {
	f := newFixture(t)
	stale := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	t.Cleanup(stale.Close)
	include := filepath.Join(f.dir, "edge.conf")
	f.cfg.Targets["demo"].Controls.Edge = &config.Edge{Kind: "nginx", Include: include, Test: []string{"true"}, Reload: []string{"true"},
		URL: stale.URL, Timeout: config.Duration(10 * time.Second), Readback: config.Duration(time.Second)}
	err := f.run(nil, f.probes.RestrictRoutes, contract.RoutesInput{Target: "demo", Prefixes: []string{"/admin"}, Status: 503})
	require.ErrorContains(t, err, "edge: /admin does not answer 503")
	require.NoFileExists(t, include+".loaded", "the next attempt reloads again")
	b, err := os.ReadFile(include)
	require.NoError(t, err)
	require.Contains(t, string(b), "location ^~ /admin/ {")
}
