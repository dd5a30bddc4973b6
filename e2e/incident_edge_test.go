package e2e

import (
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/edge"
	"github.com/authops/authops/internal/testenv"
)

// TestIncidentDenyAtTheEdge: the demo target behind a real nginx (controls.edge). An incident's
// deny-cidr of 127.0.0.2/32 reaches the edge: through the proxy a client from 127.0.0.2 is
// refused (403) while 127.0.0.1 is served, the timeline shows the edge's read-back, and resolve
// takes the deny out of the include so 127.0.0.2 is served again.
func TestIncidentDenyAtTheEdge(t *testing.T) {
	// The backend's address is chosen by the stack; the proxy starts first, for the config.
	n := testenv.StartNginx(t, "http://127.0.0.1:9", "")
	env := startStack(t, testenv.Options{ExtraTargetYAML: n.EdgeYAML()})
	n.Retarget(t, env.BackendURL)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	inside, outside := testenv.ClientFrom("127.0.0.2"), testenv.ClientFrom("127.0.0.1")
	health := n.URL + "/healthz"
	awaitEdge(t, inside, health, http.StatusOK)

	const id = "incident-e2e-edge-deny"
	out, err := env.Starter(t, "incident", "declare", "--id", id, "--trigger", "credential-stuffing", "--severity", "high",
		"--summary", "login failures from 127.0.0.2", "--reporter", "alice")
	require.NoError(t, err, out)
	waitPhase(t, env, id, "contain")
	out, err = env.Starter(t, "incident", "owner", id, "--as", "bob")
	require.NoError(t, err, out)

	out, err = env.Starter(t, "incident", "contain", id, "--as", "bob", "deny-cidr", "127.0.0.2/32")
	require.NoError(t, err, out)
	waitIncident(t, env, id, func(s contract.IncidentStatus) bool { return len(s.Measures) == 1 })
	awaitEdge(t, inside, health, http.StatusForbidden)
	awaitEdge(t, outside, health, http.StatusOK)
	st := edgeState(t, n)
	require.Equal(t, []string{"127.0.0.2/32"}, st.Denied)

	v, err := env.Client.QueryWorkflow(ctx, id, "", contract.QueryTimeline)
	require.NoError(t, err)
	var tl []contract.Event
	require.NoError(t, v.Get(&tl))
	var applied bool
	for _, ev := range tl {
		if strings.Contains(ev.Detail, "edge denies: 127.0.0.2/32 (read back through the proxy: 127.0.0.2/32 from 127.0.0.2: 403)") {
			applied = true
		}
	}
	require.True(t, applied, "the timeline shows the edge's read-back: %+v", tl)

	out, err = env.Starter(t, "incident", "resolve", id, "--as", "bob", "--summary", "one host denied at the edge, then lifted")
	require.NoError(t, err, out)
	rep := waitResult[contract.Report](t, env, id)
	require.Equal(t, contract.OutcomeResolved, rep.Outcome)
	require.Empty(t, edgeState(t, n).Denied, "resolve takes the deny out of the include")
	awaitEdge(t, inside, health, http.StatusOK)
	awaitEdge(t, outside, health, http.StatusOK)
	env.CheckReplay(t, id, "", "incident-edge-deny")
}

// awaitEdge polls until url answers want through c: nginx reloads asynchronously.
func awaitEdge(t *testing.T, c *http.Client, url string, want int) {
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
	t.Fatalf("GET %s through the edge: want %d, last got %d", url, want, got)
}

func edgeState(t *testing.T, n *testenv.Nginx) edge.State {
	t.Helper()
	b, err := os.ReadFile(n.Include)
	require.NoError(t, err)
	st, err := edge.Parse(b)
	require.NoError(t, err)
	return st
}
