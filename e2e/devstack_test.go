package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/testenv"
)

// TestLocalStack runs bin/devstack (what `make up` runs) on free ports: the Web UI answers 200,
// the backend is healthy, the worker completes a rotation through bin/starter, and Ctrl-C
// (SIGINT) leaves no process behind.
func TestLocalStack(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	bin := testenv.BinDir(t)
	dir := t.TempDir()
	fe, ui, be := freePort(t), freePort(t), freePort(t)
	backend := "127.0.0.1:" + strconv.Itoa(be)
	cfg := filepath.Join(dir, "runbook.yaml")
	ab := filepath.Join(bin, "authbackend")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`targets:
  demo:
    base_url: http://%s
    channel: "#auth-ops"
    secret_store: {kind: file, dir: var/demo/secrets, name: demo-jwt-secret}
    env_sink: {kind: dotenv, path: var/demo/backend.env}
    deployer: {kind: exec, argv: [%s, restart, --pid-file, var/demo/authbackend.pid], dry_run_argv: [%s, --help]}
    admin: {token: {file: var/demo/admin.token}}
    probe: {username: probe, password: {file: var/demo/passwords/probe}}
    claims: {issuer: authbackend-demo}
    approvers: [alice, bob]
    rotation: {observation_window: 1s}
people:
  alice: {keys: [{file: var/demo/keys/alice.pub}]}
  bob: {keys: [{file: var/demo/keys/bob.pub}]}
`, backend, ab, ab)), 0o600))

	cmd := exec.Command(filepath.Join(bin, "devstack"), "--var", filepath.Join(dir, "var"), "--bin", bin,
		"--config", cfg, "--temporal-port", strconv.Itoa(fe), "--ui-port", strconv.Itoa(ui), "--backend-addr", backend)
	cmd.Dir = dir
	log := &testenv.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGKILL)
	})

	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/", ui), log)
	waitHTTP(t, "http://"+backend+"/healthz", log)

	starter := func(args ...string) (string, error) {
		c := exec.Command(filepath.Join(bin, "starter"), args...)
		c.Env = append(os.Environ(), "TEMPORAL_ADDRESS=127.0.0.1:"+strconv.Itoa(fe), "AUTHOPS_CONFIG="+cfg)
		out, err := c.CombinedOutput()
		return string(out), err
	}
	out, err := starter("rotate", "--target", "demo", "--requested-by", "alice")
	require.NoError(t, err, out)
	id := strings.TrimSpace(out)
	deadline := time.Now().Add(90 * time.Second)
	for {
		out, err = starter("approve", id, "--as", "bob")
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond) // the worker may still be connecting
	}
	require.NoError(t, err, out)
	for time.Now().Before(deadline) {
		out, _ = starter("status", id)
		if strings.Contains(out, "outcome "+contract.OutcomeCompleted) {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	require.Contains(t, out, "outcome completed", "rotation through the local stack: %s\n%s", out, log.String())

	// Ctrl-C stops everything. (First prove the process check sees the running stack.)
	require.NotEmpty(t, processesMentioning(t, dir), "the check must see the stack's processes while they run")
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	select {
	case err := <-exited:
		require.NoError(t, err, log.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("devstack did not stop on SIGINT:\n%s", log.String())
	}
	for _, port := range []int{fe, ui, be} {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 200*time.Millisecond)
		if err == nil {
			_ = c.Close()
			t.Errorf("port %d still served after Ctrl-C", port)
		}
	}
	require.Empty(t, processesMentioning(t, dir), "processes left behind")

	// Nothing the stack printed or Temporal stored holds a secret: not the rotated secret, the
	// admin token, a password or a private key.
	scan := testenv.NewLeakScan()
	scan.DemoDir(filepath.Join(dir, "var", "demo"))
	scan.Place("devstack output", log.String())
	scan.Database("dev server database", filepath.Join(dir, "var", "temporal.db"))
	scan.Check(t)
}

func waitHTTP(t *testing.T, url string, log *testenv.SyncBuffer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s never answered 200:\n%s", url, log.String())
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// processesMentioning lists live processes whose command line names dir (no pgrep needed).
func processesMentioning(t *testing.T, dir string) []string {
	t.Helper()
	cmdlines, err := filepath.Glob("/proc/[0-9]*/cmdline")
	require.NoError(t, err)
	require.NotEmpty(t, cmdlines, "/proc is needed to look for leftover processes")
	var found []string
	for _, f := range cmdlines {
		b, err := os.ReadFile(f)
		if err != nil || len(b) == 0 { // gone, or a zombie
			continue
		}
		if cmd := strings.ReplaceAll(string(b), "\x00", " "); strings.Contains(cmd, dir) {
			found = append(found, cmd)
		}
	}
	return found
}
