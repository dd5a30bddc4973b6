package edge_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authops/authops/internal/edge"
	"github.com/authops/authops/internal/testenv"
)

// eventually polls until get answers want. nginx reloads asynchronously (the old workers
// finish their requests), so a change is awaited with a generous deadline, never timed.
func eventually(t *testing.T, what string, c *http.Client, url string, want int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	last := "no answer"
	for {
		got, err := status(c, url)
		if err == nil && got == want {
			return
		}
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("status %d", got)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: GET %s never answered %d within 60s; last: %s", what, url, want, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func status(c *http.Client, url string) (int, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// TestNginx drives a real nginx in front of the demo backend: a deny of 127.0.0.2/32 refuses
// a client sent from 127.0.0.2 and not one from 127.0.0.1, a restricted route answers its
// status, a lift and an allow undo them, and an include nginx -t refuses is rolled back while
// nginx keeps serving the config before it.
func TestNginx(t *testing.T) {
	backend, _ := testenv.StartBackend(t)
	// /static/ is the proxy's own location: restricting /static would define it twice.
	n := testenv.StartNginx(t, backend, "location ^~ /static/ { return 200 'static'; }")
	p := &edge.Proxy{Include: n.Include, Test: n.TestArgv(), Reload: n.ReloadArgv()}
	ctx := context.Background()
	inside, outside := testenv.ClientFrom("127.0.0.2"), testenv.ClientFrom("127.0.0.1")
	health := n.URL + "/healthz"

	eventually(t, "before any change", inside, health, http.StatusOK)

	_, err := p.Deny(ctx, []string{"127.0.0.2/32"})
	require.NoError(t, err)
	eventually(t, "denied client", inside, health, http.StatusForbidden)
	eventually(t, "other client", outside, health, http.StatusOK)

	_, err = p.Restrict(ctx, []string{"/admin"}, http.StatusServiceUnavailable)
	require.NoError(t, err)
	eventually(t, "restricted route", outside, n.URL+"/admin/users", http.StatusServiceUnavailable)
	eventually(t, "restricted prefix itself", outside, n.URL+"/admin", http.StatusServiceUnavailable)
	eventually(t, "other route", outside, health, http.StatusOK)

	// A broken include: nginx -t refuses the duplicate location, the previous include comes
	// back, and the running nginx still serves the previous config.
	before, err := os.ReadFile(n.Include)
	require.NoError(t, err)
	_, err = p.Restrict(ctx, []string{"/static"}, http.StatusServiceUnavailable)
	require.ErrorContains(t, err, "the previous include is back in place")
	require.ErrorContains(t, err, "duplicate location")
	after, err := os.ReadFile(n.Include)
	require.NoError(t, err)
	require.Equal(t, string(before), string(after))
	// A reload now must keep the same config: the include on disk is the previous one.
	c, err := p.Restrict(ctx, []string{"/admin"}, http.StatusServiceUnavailable)
	require.NoError(t, err)
	require.False(t, c.Reloaded, "the state is the one nginx already loaded")
	eventually(t, "still denied after the rollback", inside, health, http.StatusForbidden)
	eventually(t, "still restricted after the rollback", outside, n.URL+"/admin/users", http.StatusServiceUnavailable)
	eventually(t, "the proxy's own location still served", outside, n.URL+"/static/x", http.StatusOK)

	_, err = p.Lift(ctx, []string{"/admin"})
	require.NoError(t, err)
	// The backend answers /admin/users itself again: no token, 401.
	eventually(t, "lifted route", outside, n.URL+"/admin/users", http.StatusUnauthorized)

	_, err = p.Allow(ctx, []string{"127.0.0.2/32"})
	require.NoError(t, err)
	eventually(t, "allowed client", inside, health, http.StatusOK)
	eventually(t, "other client", outside, health, http.StatusOK)
}
