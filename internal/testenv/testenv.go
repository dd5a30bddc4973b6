// Package testenv starts the real parts for integration tests: a Temporal dev server (the
// pinned CLI in bin/), the demo auth backend as a supervised process, and a worker in the test
// process with the same registrations as bin/worker.
package testenv

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"golang.org/x/crypto/bcrypt"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/config"
	"github.com/authops/authops/internal/demoenv"
	"github.com/authops/authops/internal/notify"
	"github.com/authops/authops/internal/supervise"
)

// Options tune an environment.
type Options struct {
	// ObservationWindow of the demo target (default 2s, so runs close quickly).
	ObservationWindow time.Duration
	// ApprovalTimeout of the demo target (default 2m).
	ApprovalTimeout time.Duration
	// ExtraTargetYAML is appended inside the demo target (indented by 4 spaces).
	ExtraTargetYAML string
	// ExtraYAML is appended at the top level of the config (an incident: section, say).
	ExtraYAML string
	// Timeouts is the config's timeouts: mapping (default seconds, not the production
	// minutes, so a kill case waits seconds).
	Timeouts string
	// Notifier overrides the recording notifier.
	Notifier notify.Notifier
	// NoWorker skips the in-process worker; the test runs bin/worker processes itself.
	NoWorker bool
	// Register adds the workflows and activities of the in-process worker (worker/register's
	// Register for the real ones), with the worker's client c, and Workflows the workflows a
	// replay checks against. testenv links no workflow code itself, so that the activities' own
	// tests can use it.
	Register  func(r worker.Registry, c client.Client, cfg *config.Config, n notify.Notifier)
	Workflows func(r WorkflowRegistry)
	// DeployDelay makes every redeploy wait this long first, to act in the middle of one.
	DeployDelay time.Duration
	// DeployCommand replaces the redeploy with a shell command, e.g. "exit 1" for a broken deploy path.
	DeployCommand string
	// DeployFailures makes the first that many redeploys fail (exit 7); later ones work (after
	// DeployDelay): a deploy path that is broken for the rotation and fixed for its rollback.
	DeployFailures int
	// ProbeDelay puts a proxy in front of the backend for the worker (base_url) that delays every
	// request by this much, so a test can act in the middle of a validation.
	ProbeDelay time.Duration
	// DeployTimeout and ReadinessTimeout of the demo target's deployer (default 30s and 20s):
	// short ones make a hanging deploy, or a backend that never gets healthy, fail in seconds.
	DeployTimeout, ReadinessTimeout time.Duration
	// ExtraTargets adds targets to the config: name -> the target's YAML (unindented), for
	// load runs with one backend per target.
	ExtraTargets map[string]string
	// LegacyMatcher runs the dev server with Temporal's old task matcher, which ignores task
	// priority, to measure what priority buys.
	LegacyMatcher bool
	// BcryptCost is the demo backend's bcrypt cost (its hidden --bcrypt-cost). Zero is bcrypt's
	// lowest, 4: a hash at the production default costs 155 ms of CPU here, and the tests log
	// in and restart the backend often on a 2-core machine; the behaviour is the same. Benches
	// that time logins ask for bcrypt.DefaultCost.
	BcryptCost int
}

// Env is one running stack.
type Env struct {
	Client     client.Client
	Config     *config.Config
	Paths      demoenv.Paths
	BackendURL string
	Bin        string
	Dir        string
	Notes      *Recorder
	// BackendLog and WorkerLog hold everything the backend and worker processes printed
	// (WorkerLog also the SDK log of the test's client and in-process worker).
	BackendLog *SyncBuffer
	WorkerLog  *SyncBuffer
	// ServerLog holds what the dev server printed; its database is TemporalDB().
	ServerLog *SyncBuffer
	server    *testsuite.DevServer
	probeURL  string
	leak      *LeakScan
	workflows func(r WorkflowRegistry)
	legacy    bool
}

// WorkflowRegistry is what registering workflows needs: a worker or a replayer.
type WorkflowRegistry interface {
	RegisterWorkflow(w any)
}

// BinDir finds the repo's bin/ (AUTHOPS_BIN, else next to go.mod).
func BinDir(t testing.TB) string {
	if b := os.Getenv("AUTHOPS_BIN"); b != "" {
		return b
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "bin")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// Start brings up the whole stack for one test and tears it down in t.Cleanup.
func Start(t testing.TB, o Options) *Env {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs the dev server (run without -short)")
	}
	if o.ObservationWindow == 0 {
		o.ObservationWindow = 2 * time.Second
	}
	if o.ApprovalTimeout == 0 {
		o.ApprovalTimeout = 2 * time.Minute
	}
	if o.Timeouts == "" {
		o.Timeouts = "{activity: 5s, heartbeat: 4s}"
	}
	if o.DeployTimeout == 0 {
		o.DeployTimeout = 30 * time.Second
	}
	if o.ReadinessTimeout == 0 {
		o.ReadinessTimeout = 20 * time.Second
	}
	e := &Env{Bin: BinDir(t), Dir: t.TempDir(), Notes: &Recorder{}, BackendLog: &SyncBuffer{}, WorkerLog: &SyncBuffer{},
		ServerLog: &SyncBuffer{}, workflows: o.Workflows, legacy: o.LegacyMatcher}
	for _, b := range []string{"temporal", "authbackend"} {
		if _, err := os.Stat(filepath.Join(e.Bin, b)); err != nil {
			t.Fatalf("%s missing in %s: run `make tools build` (make test does)", b, e.Bin)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	srv, err := testsuite.StartDevServer(ctx, e.serverOptions(""))
	if err != nil {
		t.Fatalf("start dev server: %v", err)
	}
	e.server = srv
	t.Cleanup(func() { _ = srv.Stop() })
	e.Client = srv.Client()

	e.Paths, err = demoenv.Prepare(filepath.Join(e.Dir, "demo"))
	if err != nil {
		t.Fatal(err)
	}
	addr := FreeAddr(t)
	e.BackendURL = "http://" + addr
	backend := &supervise.Process{
		Name: "authbackend",
		Argv: []string{filepath.Join(e.Bin, "authbackend"), "--addr", addr, "--users", e.Paths.UsersFile,
			"--env-file", e.Paths.EnvFile, "--admin-token-file", e.Paths.AdminTokenFile,
			"--state-file", e.Paths.StateFile, "--pid-file", e.Paths.PidFile,
			"--bcrypt-cost", strconv.Itoa(cmp.Or(o.BcryptCost, bcrypt.MinCost))},
		Env:        filteredEnv(),
		Stdout:     e.BackendLog,
		Stderr:     e.BackendLog,
		MinBackoff: 50 * time.Millisecond,
		MaxBackoff: 500 * time.Millisecond,
		StopGrace:  5 * time.Second,
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = backend.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	e.WaitHealthy(t, 20*time.Second)
	if o.ProbeDelay > 0 {
		e.probeURL = slowProxy(t, e.BackendURL, o.ProbeDelay)
	}

	cfgPath := filepath.Join(e.Dir, "runbook.yaml")
	if err := os.WriteFile(cfgPath, []byte(e.configYAML(o)), 0o600); err != nil {
		t.Fatal(err)
	}
	e.Config, err = config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if o.NoWorker {
		return e
	}
	var n notify.Notifier = e.Notes
	if o.Notifier != nil {
		n = o.Notifier
	}
	if o.Register == nil {
		t.Fatal("testenv.Options.Register is required for the in-process worker (or set NoWorker)")
	}
	// Both queues, as bin/worker polls them.
	for _, q := range []string{contract.TaskQueue, contract.EmergencyTaskQueue} {
		w := worker.New(e.Client, q, worker.Options{})
		o.Register(w, e.Client, e.Config, n)
		if err := w.Start(); err != nil {
			t.Fatalf("start worker: %v", err)
		}
		t.Cleanup(w.Stop)
	}
	return e
}

func (e *Env) configYAML(o Options) string {
	bin := filepath.Join(e.Bin, "authbackend")
	baseURL := e.BackendURL
	if e.probeURL != "" {
		baseURL = e.probeURL
	}
	// The demo people sign with the keys demoenv.Prepare generated in this test's demo dir.
	var people strings.Builder
	for _, name := range demoenv.People() {
		fmt.Fprintf(&people, "  %s:\n    slack_id: U%s\n    keys: [{file: %s}]\n",
			name, strings.ToUpper(name), e.Paths.PublicKeyFile(name))
	}
	return fmt.Sprintf(`people:
%stargets:
  demo:
    base_url: %s
    channel: "#auth-ops"
    secret_store: {kind: file, dir: %s, name: demo-jwt-secret}
    env_sink: {kind: dotenv, path: %s, key: JWT_SECRET}
    deployer:
      kind: exec
      argv: %s
      dry_run_argv: [%s, --help]
      timeout: %s
      readiness_timeout: %s
    admin: {token: {file: %s}}
    probe:
      username: %s
      password: {file: %s}
      admin_username: %s
      admin_password: {file: %s}
    claims: {issuer: authbackend-demo, role: user, ttl: 15m}
    approvers: [%s, %s, %s]
    rotation:
      approval_timeout: %s
      reminder_interval: 1h
      observation_window: %s
    emergency:
      approval_timeout: %s
    critical_endpoints:
      - {method: GET, path: /healthz, expected_status: 200}
      - {method: GET, path: /auth/me, expected_status: 401}
      - {method: GET, path: /admin/users, as: user, expected_status: 403}
      - {method: GET, path: /admin/users, as: admin, expected_status: 200}
%s
timeouts: %s
%s`, people.String(), baseURL, e.Paths.SecretsDir, e.Paths.EnvFile, deployArgv(bin, e.Paths.PidFile, o), bin, o.DeployTimeout, o.ReadinessTimeout, e.Paths.AdminTokenFile,
		demoenv.UserProbe, e.Paths.PasswordFile(demoenv.UserProbe),
		demoenv.UserProbeAdmin, e.Paths.PasswordFile(demoenv.UserProbeAdmin),
		demoenv.PersonAlice, demoenv.PersonBob, demoenv.PersonCarol,
		o.ApprovalTimeout, o.ObservationWindow, o.ApprovalTimeout, indent(o.ExtraTargetYAML)+extraTargets(o.ExtraTargets), o.Timeouts, o.ExtraYAML)
}

func deployArgv(bin, pidFile string, o Options) string {
	restart := fmt.Sprintf("%s restart --pid-file %s --timeout 15s", bin, pidFile)
	switch {
	case o.DeployCommand != "":
		return fmt.Sprintf("[/bin/sh, -c, %q]", o.DeployCommand)
	case o.DeployFailures > 0:
		count := pidFile + ".deploys"
		return fmt.Sprintf("[/bin/sh, -c, %q]", fmt.Sprintf(
			"n=$(cat %[1]s 2>/dev/null || echo 0); n=$((n+1)); echo $n > %[1]s; "+
				"if [ $n -le %[2]d ]; then echo deploy %[3]s broken >&2; exit 7; fi; sleep %[4]g; exec %[5]s",
			count, o.DeployFailures, "$n", o.DeployDelay.Seconds(), restart))
	case o.DeployDelay > 0:
		return fmt.Sprintf("[/bin/sh, -c, %q]", fmt.Sprintf("sleep %g; exec %s", o.DeployDelay.Seconds(), restart))
	}
	return "[" + strings.ReplaceAll(restart, " ", ", ") + "]"
}

// slowProxy serves backend behind a proxy that waits delay before every request.
func slowProxy(t testing.TB, backend string, delay time.Duration) string {
	u, err := url.Parse(backend)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay)
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// StartWorkerProcess runs bin/worker against this stack, as `make up` does, and returns it so a
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

// WaitHealthy polls /healthz until it answers 200.
func (e *Env) WaitHealthy(t testing.TB, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		resp, err := http.Get(e.BackendURL + "/healthz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("backend not healthy after %s; log:\n%s", timeout, e.BackendLog.String())
}

// Secret reads the JWT secret the backend's env file holds now.
func (e *Env) Secret(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(e.Paths.EnvFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "JWT_SECRET="); ok {
			return strings.Trim(v, `"'`)
		}
	}
	t.Fatal("no JWT_SECRET in env file")
	return ""
}

// Password reads a demo user's password.
func (e *Env) Password(t testing.TB, user string) string {
	t.Helper()
	b, err := os.ReadFile(e.Paths.PasswordFile(user))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// AdminToken reads the backend's control API token.
func (e *Env) AdminToken(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(e.Paths.AdminTokenFile)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// FreeAddr returns a loopback address nothing listens on.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// filteredEnv keeps the backend from picking up a secret from the test's environment.
func filteredEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "JWT_SECRET=") && !strings.HasPrefix(kv, "AUTHBACKEND_ADMIN_TOKEN=") {
			env = append(env, kv)
		}
	}
	return env
}

// extraTargets renders more entries of targets:, sorted by name.
func extraTargets(ts map[string]string) string {
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(ts)) {
		fmt.Fprintf(&b, "  %s:\n%s", name, indent(ts[name]))
	}
	return b.String()
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "    " + l
	}
	return strings.Join(lines, "\n") + "\n"
}

// Recorder is a notifier that keeps every message, for assertions.
type Recorder struct {
	mu   sync.Mutex
	msgs []notify.Message
}

// Notify records m.
func (r *Recorder) Notify(_ context.Context, m notify.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	return nil
}

// Messages returns a copy of what was sent.
func (r *Recorder) Messages() []notify.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]notify.Message(nil), r.msgs...)
}

// SyncBuffer is a bytes.Buffer safe for concurrent writers.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
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

// Temporal runs the Temporal CLI against this stack and returns its combined output.
func (e *Env) Temporal(t testing.TB, args ...string) (string, error) {
	t.Helper()
	args = append(args, "--address", e.server.FrontendHostPort(), "--namespace", "default")
	out, err := exec.Command(filepath.Join(e.Bin, "temporal"), args...).CombinedOutput()
	return string(out), err
}

// History exports a run's history as JSON with the Temporal CLI, as an operator would.
func (e *Env) History(t testing.TB, workflowID string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(e.Bin, "temporal"), "workflow", "show", "--workflow-id", workflowID,
		"--output", "json", "--address", e.server.FrontendHostPort(), "--namespace", "default")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("temporal workflow show %s: %v\n%s", workflowID, err, out)
	}
	return string(out)
}

// CheckReplay replays a finished run's exported history against the current workflow code, and
// with AUTHOPS_UPDATE_HISTORIES=1 saves it under workflows/testdata/histories/NAME.json, where the
// workflows package's replay test guards future changes against non-determinism.
func (e *Env) CheckReplay(t testing.TB, workflowID, runID, name string) {
	t.Helper()
	args := []string{"workflow", "show", "--workflow-id", workflowID, "--output", "json",
		"--address", e.server.FrontendHostPort(), "--namespace", "default"}
	if runID != "" {
		args = append(args, "--run-id", runID)
	}
	out, err := exec.Command(filepath.Join(e.Bin, "temporal"), args...).Output()
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
