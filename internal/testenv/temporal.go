package testenv

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/authops/authops/contract"
)

// Temporal runs the Temporal CLI against this stack and returns its combined output.
func (e *Env) Temporal(t testing.TB, args ...string) (string, error) {
	t.Helper()
	out, err := e.temporalCmd(context.Background(), args...).CombinedOutput()
	return string(out), err
}

// temporalCmd is the Temporal CLI with the flags that point it at this stack's dev server.
func (e *Env) temporalCmd(ctx context.Context, args ...string) *exec.Cmd {
	args = slices.Concat(args, []string{"--address", e.server.FrontendHostPort(), "--namespace", "default"})
	return exec.CommandContext(ctx, filepath.Join(e.Bin, "temporal"), args...)
}

// History exports a run's history as JSON with the Temporal CLI, as an operator would.
func (e *Env) History(t testing.TB, workflowID string) string {
	t.Helper()
	out, err := e.Temporal(t, "workflow", "show", "--workflow-id", workflowID, "--output", "json")
	if err != nil {
		t.Fatalf("temporal workflow show %s: %v\n%s", workflowID, err, out)
	}
	return out
}

// CheckReplay replays a finished run's exported history against the current workflow code, and
// with AUTHOPS_UPDATE_HISTORIES=1 saves it under workflows/testdata/histories/NAME.json, where the
// workflows package's replay test guards future changes against non-determinism.
func (e *Env) CheckReplay(t testing.TB, workflowID, runID, name string) {
	t.Helper()
	args := []string{"workflow", "show", "--workflow-id", workflowID, "--output", "json"}
	if runID != "" {
		args = append(args, "--run-id", runID)
	}
	out, err := e.temporalCmd(context.Background(), args...).Output()
	if err != nil {
		t.Fatalf("export history of %s: %v", workflowID, err)
	}
	hist, err := client.HistoryFromJSON(bytes.NewReader(out), client.HistoryJSONOptions{})
	if err != nil {
		t.Fatalf("parse history of %s: %v", workflowID, err)
	}
	if e.workflows == nil {
		t.Fatal("testenv.Options.Workflows is required to check a replay")
	}
	r := worker.NewWorkflowReplayer()
	e.workflows(r)
	if err := r.ReplayWorkflowHistory(nil, hist); err != nil {
		t.Fatalf("replay %s: %v", workflowID, err)
	}
	if os.Getenv("AUTHOPS_UPDATE_HISTORIES") == "1" {
		dst := filepath.Join(filepath.Dir(e.Bin), "workflows", "testdata", "histories", name+".json")
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// serverOptions are the dev server's: on hostPort ("" for a free port), with its database on
// disk, so that the leak scan can search what Temporal stored and a restart finds its runs.
func (e *Env) serverOptions(hostPort string) testsuite.DevServerOptions {
	// Temporal 1.29 honours task priority (emergency work first) only with the new matcher.
	matcher := "matching.useNewMatcher=" + strconv.FormatBool(!e.legacy)
	return testsuite.DevServerOptions{
		ExtraArgs:        []string{"--dynamic-config-value", matcher},
		ExistingPath:     filepath.Join(e.Bin, "temporal"),
		LogLevel:         "error",
		SearchAttributes: contract.SearchAttributes(),
		ClientOptions:    &client.Options{HostPort: hostPort, Namespace: "default", Logger: e.sdkLogger()},
		DBFilename:       e.TemporalDB(),
		Stdout:           e.ServerLog,
		Stderr:           e.ServerLog,
	}
}

// KillServer kills the dev server with SIGKILL, as a crash would, and starts it again on the same
// port and database. Clients and workers reconnect on their own.
func (e *Env) KillServer(t testing.TB) {
	t.Helper()
	db := e.TemporalDB()
	pid := 0
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), db) && strings.Contains(string(b), "start-dev") {
			pid, _ = strconv.Atoi(filepath.Base(filepath.Dir(p)))
		}
	}
	if pid == 0 {
		t.Fatal("kill server: no dev server process found for " + db)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill server: %v", err)
	}
	hostPort := e.server.FrontendHostPort()
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.DialTimeout("tcp", hostPort, 100*time.Millisecond)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("kill server: the port is still served")
		}
		time.Sleep(50 * time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	srv, err := testsuite.StartDevServer(ctx, e.serverOptions(hostPort))
	if err != nil {
		t.Fatalf("restart dev server on %s: %v", hostPort, err)
	}
	e.server = srv
	t.Cleanup(func() { _ = srv.Stop() })
}

// TemporalDB is the dev server's SQLite database file.
func (e *Env) TemporalDB() string { return filepath.Join(e.Dir, "temporal.db") }

// sdkLogger is the SDK logger of the test's client and in-process worker: it prints where the
// SDK's default logger does and keeps a copy in WorkerLog, a place the leak scan searches.
func (e *Env) sdkLogger() log.Logger {
	w := io.MultiWriter(os.Stdout, e.WorkerLog)
	return log.NewStructuredLogger(slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})))
}
