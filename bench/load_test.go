package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/ssh"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/demoenv"
	"github.com/authops/authops/internal/statement"
	"github.com/authops/authops/internal/supervise"
	"github.com/authops/authops/internal/testenv"
)

// The load figures of issue 8. Sizes come from env vars with the sizes as defaults, so
// that a smaller machine can run them: AUTHOPS_BENCH_ROTATIONS (50 concurrent rotations, each
// on its own target and backend), AUTHOPS_BENCH_EMERGENCIES (20 emergency runs under load),
// AUTHOPS_BENCH_STARTS (1,000 runs started), AUTHOPS_BENCH_STARTER_SAMPLE (50 starts through
// bin/starter), AUTHOPS_BENCH_DECISIONS_OPEN (100 decisions among the open runs). They print
// figures and assert nothing about speed.

func size(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func skipUnlessBench(t *testing.T) {
	if os.Getenv("AUTHOPS_BENCH") != "1" {
		t.Skip("benchmark: run with `make bench`")
	}
}

// backend is one extra demo backend with its own files, run by the bench.
type backend struct {
	name  string
	paths demoenv.Paths
	url   string
}

// startBackends starts n demo backends, each its own process and files, and returns them once
// healthy. They outlive the stacks started on them (the test's cleanup stops them).
func startBackends(t *testing.T, bin string, n int) []backend {
	t.Helper()
	dir := t.TempDir()
	bs := make([]backend, n)
	for i := range bs {
		p, err := demoenv.Prepare(filepath.Join(dir, fmt.Sprintf("b%03d", i)))
		if err != nil {
			t.Fatal(err)
		}
		addr := testenv.FreeAddr(t)
		// Supervised as testenv and the stack run it: the deployer's restart stops the process
		// and the supervisor starts it again on the new secret.
		proc := &supervise.Process{
			Name: "authbackend",
			Argv: []string{filepath.Join(bin, "authbackend"), "--addr", addr, "--users", p.UsersFile,
				"--env-file", p.EnvFile, "--admin-token-file", p.AdminTokenFile, "--state-file", p.StateFile, "--pid-file", p.PidFile,
				// bcrypt's lowest cost: fifty backends restarting at the default cost (155 ms of
				// CPU per hash here) would measure bcrypt, not the runbooks.
				"--bcrypt-cost", "4"},
			Env:        cleanEnv(),
			MinBackoff: 50 * time.Millisecond,
			MaxBackoff: 500 * time.Millisecond,
			StopGrace:  5 * time.Second,
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = proc.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
		bs[i] = backend{name: fmt.Sprintf("load%03d", i), paths: p, url: "http://" + addr}
	}
	for _, b := range bs {
		waitHealthy(t, b.url)
	}
	return bs
}

// targetYAML is b's target entry, the demo target's settings with a 2 s observation window.
func (b backend) targetYAML(bin string) string {
	ab := filepath.Join(bin, "authbackend")
	return fmt.Sprintf(`base_url: %s
channel: "#auth-ops"
secret_store: {kind: file, dir: %s, name: demo-jwt-secret}
env_sink: {kind: dotenv, path: %s, key: JWT_SECRET}
deployer:
  kind: exec
  argv: [%s, restart, --pid-file, %s, --timeout, 15s]
  dry_run_argv: [%s, --help]
  timeout: 60s
  readiness_timeout: 30s
admin: {token: {file: %s}}
probe:
  username: %s
  password: {file: %s}
  admin_username: %s
  admin_password: {file: %s}
claims: {issuer: authbackend-demo, role: user, ttl: 15m}
approvers: [alice, bob, carol]
rotation: {approval_timeout: 1h, reminder_interval: 1h, observation_window: 2s}
critical_endpoints:
  - {method: GET, path: /healthz, expected_status: 200}
  - {method: GET, path: /auth/me, expected_status: 401}
`, b.url, b.paths.SecretsDir, b.paths.EnvFile, ab, b.paths.PidFile, ab, b.paths.AdminTokenFile,
		demoenv.UserProbe, b.paths.PasswordFile(demoenv.UserProbe), demoenv.UserProbeAdmin, b.paths.PasswordFile(demoenv.UserProbeAdmin))
}

// rotateOnce starts a rotation of target, has bob approve it once it waits, and waits for the
// run to close; it returns the time from the approval to the close and the outcome.
func rotateOnce(ctx context.Context, t *testing.T, env *testenv.Env, target string) (time.Duration, string, error) {
	id, err := startRotation(ctx, t, env, target, time.Time{})
	if err != nil {
		return 0, "", err
	}
	// Asked twice a second, as an operator's `starter status` refresh would: fifty runs polled
	// at 20 Hz put a thousand queries a second on the server, a load of the bench's own making.
	if err := waitPhaseEvery(env, id, "waiting for approval", 5*time.Minute, operatorPoll); err != nil {
		return 0, "", err
	}
	d, first := signedApproval(t, env, id, "bob")
	start := time.Now()
	if _, err := env.Client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: id, FirstExecutionRunID: first, UpdateName: contract.DecisionApprove, Args: []any{d},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	}); err != nil {
		return 0, "", err
	}
	var res contract.RotationResult
	// A run that escalates waits for a person; the bench ends it instead of waiting.
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if err = env.Client.GetWorkflow(wctx, id, "").Get(wctx, &res); wctx.Err() != nil {
		_ = env.Client.TerminateWorkflow(ctx, id, "", "bench: not closed in 3 minutes")
		time.Sleep(time.Second)
	}
	return time.Since(start), res.Outcome, err
}

// startRotation starts a rotation through the SDK client with alice's signed start, as
// `starter rotate` does, without the process.
func startRotation(ctx context.Context, t *testing.T, env *testenv.Env, target string, window time.Time) (string, error) {
	id := contract.RotationID(target)
	in := contract.RotationInput{Target: target, Reason: "bench load", RequestedBy: "alice", Mode: contract.ModeManual, WindowStart: window}
	in.Statement = signStart(t, env, "alice", id, contract.ActionStartRotation, in.Reason)
	_, err := env.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: id, TaskQueue: contract.TaskQueue,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
	}, contract.WorkflowSecretRotation, in)
	return id, err
}

var (
	signersMu sync.Mutex
	signers   = map[string]ssh.Signer{}
)

func signStart(t *testing.T, env *testenv.Env, actor, id, action, comment string) *contract.SignedStatement {
	signersMu.Lock()
	key := env.Paths.KeyFile(actor)
	s, ok := signers[key]
	if !ok {
		b, err := os.ReadFile(key)
		if err != nil {
			t.Error(err)
		}
		if s, err = ssh.ParsePrivateKey(b); err != nil {
			t.Error(err)
		}
		signers[key] = s
	}
	signersMu.Unlock()
	nonce, err := statement.NewNonce()
	if err != nil {
		t.Error(err)
	}
	st, err := statement.Sign(rand.Reader, s, contract.Statement{
		Namespace: "default", WorkflowID: id, Action: action, Actor: actor,
		CommentHash: statement.HashComment(comment), IssuedAt: time.Now().UTC(), Nonce: nonce, Client: "bench",
	})
	if err != nil {
		t.Error(err)
	}
	return &st
}

// TestLoadRotationsAndEmergency: N rotations on N targets, each with its own backend, approved
// at once (time until all verified); then the emergency runbook on the demo target, run E
// times while the N targets keep rotating, with task priority (the new matcher) and without
// it (the old matcher, which ignores priority).
func TestLoadRotationsAndEmergency(t *testing.T) {
	skipUnlessBench(t)
	n := size("AUTHOPS_BENCH_ROTATIONS", 50)
	runs := size("AUTHOPS_BENCH_EMERGENCIES", 20)
	bin := testenv.BinDir(t)
	bs := startBackends(t, bin, n)
	extra := map[string]string{}
	for _, b := range bs {
		extra[b.name] = b.targetYAML(bin)
	}
	fmt.Printf("\nauthops load: %d rotations on %d targets with their own backends, %d emergency runs, on %s (%d CPUs; others may be using it)\n",
		n, n, runs, hostname(), numCPU())
	// The starter puts the emergency run on its own task queue (queue ""); the other modes start
	// it on the routine queue, to compare with task priority alone and with neither.
	modes := []struct {
		short, name string
		legacy      bool
		queue       string
	}{
		{"dedicated", "dedicated queue + priority (new matcher)", false, ""},
		{"priority", "shared queue + priority (new matcher)", false, contract.TaskQueue},
		{"neither", "shared queue, no priority (old matcher)", true, contract.TaskQueue},
	}
	if os.Getenv("AUTHOPS_BENCH_PRIORITY_ONLY") == "1" {
		modes = modes[:1]
	}
	for i, mode := range modes {
		t.Run(mode.short, func(t *testing.T) {
			env := testenv.Start(t, testenv.Options{NoWorker: true, ExtraTargets: extra, LegacyMatcher: mode.legacy,
				BcryptCost: bcrypt.DefaultCost})
			w := env.StartWorkerProcess(t)
			server := serverPid(t, env)
			ctx := context.Background()
			cpu0, wcpu0, own0 := procCPU(server), procCPU(w.Process.Pid), ownCPU()
			wall0 := time.Now()

			if i == 0 {
				// All N at once, each on its own backend.
				start := time.Now()
				var wg sync.WaitGroup
				var mu sync.Mutex
				var took []time.Duration
				outcomes := map[string]int{}
				for _, b := range bs {
					wg.Add(1)
					go func() {
						defer wg.Done()
						d, outcome, err := rotateOnce(ctx, t, env, b.name)
						mu.Lock()
						defer mu.Unlock()
						if err != nil {
							outcome = "error: " + err.Error()
						} else {
							took = append(took, d)
						}
						outcomes[outcome]++
					}()
				}
				wg.Wait()
				fmt.Printf("  %d rotations at once: all closed %s after the first start; approval -> closed %s; outcomes %v\n",
					n, time.Since(start).Round(10*time.Millisecond), stats(took), outcomes)
				fmt.Printf("    (each run includes its 2 s observation window)\n")
			}

			// Background load: every extra target rotates again and again until the emergency runs are done.
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var loadMu sync.Mutex
			loadRuns, loadFail := 0, 0
			for _, b := range bs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-stop:
							return
						default:
						}
						_, outcome, err := rotateOnce(ctx, t, env, b.name)
						loadMu.Lock()
						loadRuns++
						if err != nil || outcome != "completed" {
							loadFail++
						}
						loadMu.Unlock()
					}
				}()
			}
			time.Sleep(3 * time.Second) // let the load build up
			var exposure, verified []time.Duration
			for r := 0; r < runs; r++ {
				e, v, err := emergencyOnce(ctx, t, env, mode.queue)
				if err != nil {
					t.Errorf("emergency run %d: %v", r, err)
					continue
				}
				exposure = append(exposure, e)
				verified = append(verified, v)
			}
			close(stop)
			wg.Wait()
			cpu, wcpu, own := procCPU(server)-cpu0, procCPU(w.Process.Pid)-wcpu0, ownCPU()-own0
			fmt.Printf("  emergency under load, %s: %d runs while %d targets rotate (%d load rotations, %d not rotated)\n",
				mode.name, len(exposure), n, loadRuns, loadFail)
			if len(exposure) > 0 {
				fmt.Printf("    exposure window (go-ahead -> old token refused): %s\n", pcts(exposure))
				fmt.Printf("    time to verified (go-ahead -> run completed):    %s\n", pcts(verified))
			}
			fmt.Printf("    worker peak RSS %s, server RSS %s (peak %s)\n",
				mib(procStatus(w.Process.Pid, "VmHWM")), mib(procStatus(server, "VmRSS")), mib(procStatus(server, "VmHWM")))
			fmt.Printf("    CPU over %s: server %.1f s, worker %.1f s, bench and its reaped children (backends, starters) %.1f s\n",
				time.Since(wall0).Round(time.Second), cpu, wcpu, own)
		})
	}
}

// emergencyOnce runs the emergency runbook on demo; bob's go-ahead starts the clock. With queue
// "" bin/starter starts it (on the emergency queue); else the bench starts it on queue.
func emergencyOnce(ctx context.Context, t *testing.T, env *testenv.Env, queue string) (exposure, verified time.Duration, err error) {
	tok := login(t, env)
	p := watch(env.BackendURL, tok)
	id := contract.InvalidationID("demo")
	if queue == "" {
		out, err := env.Starter(t, "invalidate", "--target", "demo", "--reason", "bench", "--requested-by", "alice")
		if err != nil {
			return 0, 0, fmt.Errorf("start: %v %s", err, out)
		}
		id = strings.TrimSpace(out)
	} else {
		in := contract.InvalidationInput{Target: "demo", Trigger: contract.TriggerTokenAbuse, Reason: "bench", RequestedBy: "alice"}
		in.Statement = signStart(t, env, "alice", id, in.StartAction(), in.Reason)
		if _, err := env.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: queue,
			Priority: contract.EmergencyPriority}, contract.WorkflowEmergencyInvalidation, in); err != nil {
			return 0, 0, fmt.Errorf("start: %w", err)
		}
	}
	if err := waitPhaseErr(env, id, "waiting for go-ahead", 5*time.Minute); err != nil {
		return 0, 0, err
	}
	d, first := signedApproval(t, env, id, "bob")
	goAhead := time.Now()
	if _, err := env.Client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: id, FirstExecutionRunID: first, UpdateName: contract.DecisionApprove, Args: []any{d},
		WaitForStage: client.WorkflowUpdateStageAccepted,
	}); err != nil {
		return 0, 0, err
	}
	var res contract.InvalidationResult
	if err := env.Client.GetWorkflow(ctx, id, "").Get(ctx, &res); err != nil {
		return 0, 0, fmt.Errorf("run %s: %w", id, err)
	}
	done := time.Now()
	if os.Getenv("AUTHOPS_BENCH_BREAKDOWN") == "1" {
		printBreakdown(ctx, t, env, id, "", goAhead)
	}
	refused := p.stop()
	if refused.IsZero() {
		return 0, 0, fmt.Errorf("run %s: old token never refused", id)
	}
	return refused.Sub(goAhead), done.Sub(goAhead), nil
}

// TestLoadThousandRuns: N rotations started (SDK client in parallel, and bin/starter for a
// sample), left waiting for their window; worker and server memory with them open; then
// decisions answered among them.
func TestLoadThousandRuns(t *testing.T) {
	skipUnlessBench(t)
	n := size("AUTHOPS_BENCH_STARTS", 1000)
	sample := size("AUTHOPS_BENCH_STARTER_SAMPLE", 50)
	decisions := size("AUTHOPS_BENCH_DECISIONS_OPEN", 100)
	// N targets on the one demo backend: the runs wait for a window an hour ahead, so none
	// changes it; each needs its own target because a target has one rotation at a time.
	bin := testenv.BinDir(t)
	one := startBackends(t, bin, 1)[0]
	extra := map[string]string{}
	for i := 0; i < n+sample; i++ {
		extra[fmt.Sprintf("t%04d", i)] = one.targetYAML(bin)
	}
	env := testenv.Start(t, testenv.Options{NoWorker: true, ExtraTargets: extra})
	w := env.StartWorkerProcess(t)
	server := serverPid(t, env)
	ctx := context.Background()
	window := time.Now().Add(2 * time.Hour)
	fmt.Printf("\nauthops load: %d runs started, on %s (%d CPUs; others may be using it)\n", n, hostname(), numCPU())
	fmt.Printf("  config: %d targets (%d KiB)\n", len(extra)+1, fileSize(filepath.Join(env.Dir, "runbook.yaml"))/1024)

	// The starter binary, one call at a time, as an operator would.
	var perStarter []time.Duration
	for i := 0; i < sample; i++ {
		start := time.Now()
		out, err := env.Starter(t, "rotate", "--target", fmt.Sprintf("t%04d", n+i), "--requested-by", "alice",
			"--reason", "bench", "--window-start", window.UTC().Format(time.RFC3339))
		if err != nil {
			t.Fatalf("starter rotate: %v %s", err, out)
		}
		perStarter = append(perStarter, time.Since(start))
	}
	fmt.Printf("  bin/starter rotate, %d calls one after another: per call %s\n", sample, pcts(perStarter))

	cpu0 := procCPU(server)
	var mu sync.Mutex
	var per []time.Duration
	failed := 0
	jobs := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				s := time.Now()
				_, err := startRotation(ctx, t, env, fmt.Sprintf("t%04d", i), window)
				mu.Lock()
				if err != nil {
					failed++
				} else {
					per = append(per, time.Since(s))
				}
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	took := time.Since(start)
	fmt.Printf("  SDK client, 32 in parallel: %d started in %s (%d failed); per start %s\n", len(per), took.Round(10*time.Millisecond), failed, pcts(per))

	// Wait until every run has settled in its window wait.
	start = time.Now()
	waiting := 0
	var open, notWaiting []string
	for i := 0; i < n; i++ {
		id := contract.RotationID(fmt.Sprintf("t%04d", i))
		err := waitPhaseErr(env, id, "waiting for window", 10*time.Minute)
		if err == nil {
			waiting++
			open = append(open, id)
			continue
		}
		// Say why: a run that closed carries its cause.
		if cerr := env.Client.GetWorkflow(ctx, id, "").Get(ctx, nil); cerr != nil {
			err = fmt.Errorf("%w: %v", err, cerr)
		}
		notWaiting = append(notWaiting, err.Error())
	}
	fmt.Printf("  %d of %d runs waiting for their window %s after the last start (pre-checks done)\n", waiting, n, time.Since(start).Round(10*time.Millisecond))
	for _, e := range notWaiting[:min(len(notWaiting), 5)] {
		fmt.Printf("    not waiting: %s\n", e)
	}
	fmt.Printf("  with %d open runs: worker RSS %s (peak %s), server RSS %s (peak %s), server CPU for the starts %.1f s\n",
		waiting+sample, mib(procStatus(w.Process.Pid, "VmRSS")), mib(procStatus(w.Process.Pid, "VmHWM")),
		mib(procStatus(server, "VmRSS")), mib(procStatus(server, "VmHWM")), procCPU(server)-cpu0)

	// Decisions among the open runs: the requester's own approval, which each run verifies,
	// judges (denied: a requester cannot approve) and records, leaving the run waiting.
	var lat []time.Duration
	for i := 0; i < decisions && len(open) > 0; i++ {
		id := open[(i*7919)%len(open)]
		d, first := signedApproval(t, env, id, "alice")
		s := time.Now()
		h, err := env.Client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
			WorkflowID: id, FirstExecutionRunID: first, UpdateName: contract.DecisionApprove, Args: []any{d},
			WaitForStage: client.WorkflowUpdateStageCompleted,
		})
		if err == nil {
			var ev contract.Event
			err = h.Get(ctx, &ev)
		}
		lat = append(lat, time.Since(s))
		if err == nil || !strings.Contains(err.Error(), "denied") {
			t.Errorf("want the run's denial, got %v", err)
		}
	}
	fmt.Printf("  %d decisions (signed Update, answer from the run) among %d open runs: %s\n", decisions, waiting+sample, pcts(lat))
	fmt.Printf("  worker peak RSS %s\n", mib(procStatus(w.Process.Pid, "VmHWM")))
}

// pcts is p50 and p99 (nearest rank) with min..max.
func pcts(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(p int) time.Duration { return s[max(0, (len(s)*p+99)/100-1)] }
	r := func(d time.Duration) string { return d.Round(100 * time.Microsecond).String() }
	return fmt.Sprintf("p50 %s, p99 %s (%s..%s, n=%d)", r(at(50)), r(at(99)), r(s[0]), r(s[len(s)-1]), len(s))
}

// operatorPoll is how often the load's own runs are asked for their status.
const operatorPoll = 500 * time.Millisecond

func waitPhaseErr(env *testenv.Env, id, phase string, timeout time.Duration) error {
	return waitPhaseEvery(env, id, phase, timeout, 50*time.Millisecond)
}

// waitPhaseEvery queries id's status every poll until its phase starts with phase.
func waitPhaseEvery(env *testenv.Env, id, phase string, timeout, poll time.Duration) error {
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		v, err := env.Client.QueryWorkflow(context.Background(), id, "", contract.QueryStatus)
		var st contract.Status
		if err == nil && v.Get(&st) == nil {
			if strings.HasPrefix(st.Phase, phase) {
				return nil
			}
			last = st.Phase
			if strings.HasPrefix(st.Phase, "closed") {
				break
			}
		}
		time.Sleep(poll)
	}
	return fmt.Errorf("%s never reached %q (last %q)", id, phase, last)
}
