package testenv

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/authops/authops/internal/config"
)

// test can kill it like a crash would.
func (e *Env) StartWorkerProcess(t testing.TB) *exec.Cmd {
	t.Helper()
	return e.StartWorkerBinary(t, filepath.Join(e.Bin, "worker"), filepath.Join(e.Dir, "runbook.yaml"))
}

// StartWorkerBinary runs a given worker binary with a given config against this stack: an
// older build, for upgrade tests.
func (e *Env) StartWorkerBinary(t testing.TB, bin, configPath string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = append(filteredEnv(), "TEMPORAL_ADDRESS="+e.server.FrontendHostPort(), "TEMPORAL_NAMESPACE=default",
		config.EnvVar+"="+configPath)
	cmd.Stdout, cmd.Stderr = e.WorkerLog, e.WorkerLog
	if err := cmd.Start(); err != nil {
		t.Fatalf("start worker: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

// Starter runs bin/starter against this stack and returns its combined output.
func (e *Env) Starter(t testing.TB, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(filepath.Join(e.Bin, "starter"), args...)
	// No ssh-agent of the developer's: the CLI signs with the test's own demo keys.
	cmd.Env = append(filteredEnv(), "SSH_AUTH_SOCK=", "TEMPORAL_ADDRESS="+e.server.FrontendHostPort(),
		"TEMPORAL_NAMESPACE=default", config.EnvVar+"="+filepath.Join(e.Dir, "runbook.yaml"))
	out, err := cmd.CombinedOutput()
	return string(out), err
}
