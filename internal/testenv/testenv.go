// Package testenv starts the real parts for integration tests: a Temporal dev server (the
// pinned CLI in bin/), the demo auth backend as a supervised process, and a worker in the test
// process with the same registrations as bin/worker.
package testenv

import (
	"cmp"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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
	// DeployHoldAt holds the redeploy of that number (counted from 1, failed ones included) once
	// it has started, until ReleaseDeploy: a fault then lands in the middle of it, however slow
	// or fast the machine (DeployHeld).
	DeployHoldAt int
	// ProbeDelay puts a proxy in front of the backend for the worker (base_url) that delays every
	// request by this much, so a test can act in the middle of a validation.
	ProbeDelay time.Duration
	// ProxyHold puts that proxy in front even with no delay, so that Env.HoldNext can hold a
	// request in flight.
	ProxyHold bool
	// DeployTimeout and ReadinessTimeout of the demo target's deployer (default 30s and 20s):
	// short ones make a hanging deploy, or a backend that never gets healthy, fail in seconds.
	DeployTimeout, ReadinessTimeout time.Duration
	// ExtraTargets adds targets to the config: name -> the target's YAML (unindented), for
	// load runs with one backend per target.
	ExtraTargets map[string]string
	// LegacyMatcher runs the dev server with Temporal's old task matcher, which ignores task
	// priority, to measure what priority buys.
	LegacyMatcher bool
	// SecretStore is the demo target's secret_store mapping, e.g. a Vault store on a fake
	// (default the file store in the demo dir).
	SecretStore string
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
	hold      *holdProxy
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
	if o.ProbeDelay > 0 || o.ProxyHold {
		e.hold = &holdProxy{}
		e.probeURL = e.hold.serve(t, e.BackendURL, o.ProbeDelay)
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

// holdProxy is the proxy in front of the backend for the worker: it waits a delay before every
// request, and holds the one request HoldNext names until ReleaseHeld.
type holdProxy struct {
	mu      sync.Mutex
	pattern string // "METHOD /path" of the next request to hold; "" for none
	held    bool
	release chan struct{}
}

// serve starts the proxy for backend and returns its URL.
func (p *holdProxy) serve(t testing.TB, backend string, delay time.Duration) string {
	u, err := url.Parse(backend)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ch := p.take(r.Method + " " + r.URL.Path); ch != nil {
			select {
			case <-ch:
			case <-r.Context().Done():
				// The caller died (a killed worker): the request never reaches the backend.
				return
			case <-time.After(10 * time.Minute):
			}
		}
		time.Sleep(delay)
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// take returns the release channel if req is the request to hold, and disarms the hold.
func (p *holdProxy) take(req string) chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pattern == "" || p.pattern != req {
		return nil
	}
	p.pattern, p.held = "", true
	return p.release
}

// HoldNext makes the proxy hold the next request to the backend that matches pattern ("PUT
// /_control/log-level"), so that a fault lands while it is in flight, however slow or fast the
// machine. The stack needs Options.ProxyHold (or a ProbeDelay).
func (e *Env) HoldNext(t testing.TB, pattern string) {
	t.Helper()
	if e.hold == nil {
		t.Fatal("HoldNext needs testenv.Options.ProxyHold")
	}
	e.hold.mu.Lock()
	defer e.hold.mu.Unlock()
	e.hold.pattern, e.hold.held, e.hold.release = pattern, false, make(chan struct{})
}

// Held reports that the request HoldNext named has arrived and is held.
func (e *Env) Held() bool {
	if e.hold == nil {
		return false
	}
	e.hold.mu.Lock()
	defer e.hold.mu.Unlock()
	return e.hold.held
}

// ReleaseHeld lets the held request go on to the backend.
func (e *Env) ReleaseHeld() {
	if e.hold == nil {
		return
	}
	e.hold.mu.Lock()
	defer e.hold.mu.Unlock()
	if e.hold.release != nil {
		close(e.hold.release)
		e.hold.release = nil
	}
}

// StartWorkerProcess runs bin/worker against this stack, as `make up` does, and returns it so a
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

// DeployHeld reports that the redeploy Options.DeployHoldAt names has started and is held.
func (e *Env) DeployHeld() bool {
	_, err := os.Stat(heldFile(e.Paths.PidFile))
	return err == nil
}

// ReleaseDeploy lets the held redeploy go on (and any later run of it pass at once).
func (e *Env) ReleaseDeploy(t testing.TB) {
	t.Helper()
	if err := os.WriteFile(releaseFile(e.Paths.PidFile), nil, 0o600); err != nil {
		t.Fatalf("release the held deploy: %v", err)
	}
}
