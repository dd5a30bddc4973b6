// Package bench measures the emergency runbook on the local machine: how long old tokens keep
// working after the go-ahead (the exposure window) and how long until the cutover is verified,
// beside a baseline that only rewrites the secret and restarts the backend.
//
// Run with `make bench`; it prints figures and asserts nothing about speed.
package bench

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"golang.org/x/crypto/bcrypt"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/config"
	"github.com/authops/authops/internal/demoenv"
	"github.com/authops/authops/internal/envfile"
	"github.com/authops/authops/internal/notify"
	"github.com/authops/authops/internal/testenv"
	"github.com/authops/authops/worker/register"
)

func TestExposureWindow(t *testing.T) {
	if os.Getenv("AUTHOPS_BENCH") != "1" {
		t.Skip("benchmark: run with `make bench`")
	}
	runs := 5
	if v, err := strconv.Atoi(os.Getenv("AUTHOPS_BENCH_RUNS")); err == nil && v > 0 {
		runs = v
	}
	env := startStack(t, testenv.Options{})
	ctx := context.Background()

	var exposure, verified, baseline []time.Duration
	for i := 0; i < runs; i++ {
		tok := login(t, env)
		p := watch(env.BackendURL, tok)
		out, err := env.Starter(t, "invalidate", "--target", "demo", "--reason", "bench", "--requested-by", "alice")
		if err != nil {
			t.Fatalf("start: %v %s", err, out)
		}
		id := strings.TrimSpace(out)
		waitPhase(t, env, id, "waiting for go-ahead")
		// The go-ahead is bob's signed approval, built before the clock starts.
		d, first := signedApproval(t, env, id, "bob")
		goAhead := time.Now()
		if _, err := env.Client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
			WorkflowID: id, FirstExecutionRunID: first, UpdateName: contract.DecisionApprove, Args: []any{d},
			WaitForStage: client.WorkflowUpdateStageAccepted,
		}); err != nil {
			t.Fatal(err)
		}
		var res contract.InvalidationResult
		if err := env.Client.GetWorkflow(ctx, id, "").Get(ctx, &res); err != nil {
			t.Fatalf("run %s: %v", id, err)
		}
		done := time.Now()
		refused := p.stop()
		if refused.IsZero() {
			t.Fatalf("run %d: old token never refused", i)
		}
		exposure = append(exposure, refused.Sub(goAhead))
		verified = append(verified, done.Sub(goAhead))

		// Baseline: only "rotate the secret, then restart", as a plain script would.
		tok = login(t, env)
		p = watch(env.BackendURL, tok)
		start := time.Now()
		if _, err := (envfile.Dotenv{Path: env.Paths.EnvFile}).Set("JWT_SECRET", randomSecret(t)); err != nil {
			t.Fatal(err)
		}
		restart := exec.Command(filepath.Join(env.Bin, "authbackend"), "restart", "--pid-file", env.Paths.PidFile)
		if out, err := restart.CombinedOutput(); err != nil {
			t.Fatalf("baseline restart: %v %s", err, out)
		}
		env.WaitHealthy(t, 30*time.Second)
		refused = p.waitRefused(10 * time.Second)
		if refused.IsZero() {
			t.Fatalf("baseline %d: old token never refused", i)
		}
		baseline = append(baseline, refused.Sub(start))
		// The store must follow the env file again before the next emergency run's pre-checks.
		resetStore(t, env)
	}
	fmt.Printf("\nauthops bench: %d runs on %s (medians; min..max)\n", runs, hostname())
	fmt.Printf("  exposure window, go-ahead -> old token first refused (outside prober): %s\n", stats(exposure))
	fmt.Printf("  time to verified cutover, go-ahead -> run completed:                 %s\n", stats(verified))
	fmt.Printf("  baseline, rotate secret + restart -> old token first refused:        %s\n", stats(baseline))
}

// statsP95 is stats with the 95th percentile (nearest rank).
func statsP95(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	p95 := s[(len(s)*95+99)/100-1]
	return fmt.Sprintf("p95 %s; median %s", p95.Round(100*time.Microsecond), stats(ds))
}

func stats(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	r := func(d time.Duration) string { return d.Round(100 * time.Microsecond).String() }
	return fmt.Sprintf("%s (%s..%s)", r(med), r(s[0]), r(s[len(s)-1]))
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

// resetStore re-adopts the baseline's hand-written secret: the emergency pre-checks would
// otherwise rightly refuse to rotate over a secret the store does not know.
func resetStore(t *testing.T, env *testenv.Env) {
	if err := os.RemoveAll(env.Paths.SecretsDir); err != nil {
		t.Fatal(err)
	}
}

func randomSecret(t *testing.T) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func login(t *testing.T, env *testenv.Env) string {
	body, _ := json.Marshal(map[string]string{"username": demoenv.UserDemo, "password": env.Password(t, demoenv.UserDemo)})
	resp, err := http.Post(env.BackendURL+"/auth/token", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("login: status %d", resp.StatusCode)
	}
	return tok.AccessToken
}

// watcher polls /auth/me with a token every 2 ms until refused.
type watcher struct {
	refused chan time.Time
	quit    chan struct{}
}

func watch(base, tok string) *watcher {
	w := &watcher{refused: make(chan time.Time, 1), quit: make(chan struct{})}
	go func() {
		c := &http.Client{Timeout: time.Second}
		deadline := time.Now().Add(5 * time.Minute)
		for time.Now().Before(deadline) {
			select {
			case <-w.quit:
				return
			default:
			}
			req, _ := http.NewRequest(http.MethodGet, base+"/auth/me", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			if resp, err := c.Do(req); err == nil {
				_ = resp.Body.Close()
				if resp.StatusCode == http.StatusUnauthorized {
					w.refused <- time.Now()
					return
				}
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	return w
}

func (w *watcher) waitRefused(d time.Duration) time.Time {
	select {
	case at := <-w.refused:
		return at
	case <-time.After(d):
		close(w.quit)
		return time.Time{}
	}
}

func (w *watcher) stop() time.Time { return w.waitRefused(5 * time.Second) }

func waitPhase(t *testing.T, env *testenv.Env, id, phase string) {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		v, err := env.Client.QueryWorkflow(context.Background(), id, "", contract.QueryStatus)
		var st contract.Status
		if err == nil && v.Get(&st) == nil && strings.HasPrefix(st.Phase, phase) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never reached %q", id, phase)
}

// startStack starts the stack with the real workflows and activities in process, and the demo
// backend hashing at bcrypt's production cost, since the figures include logins.
func startStack(t *testing.T, o testenv.Options) *testenv.Env {
	t.Helper()
	o.BcryptCost = cmp.Or(o.BcryptCost, bcrypt.DefaultCost)
	o.Register = func(r worker.Registry, c client.Client, cfg *config.Config, n notify.Notifier) {
		register.Register(r, register.Deps{Config: cfg, Notifier: n, Runs: c})
	}
	o.Workflows = func(r testenv.WorkflowRegistry) { register.RegisterWorkflows(r) }
	return testenv.Start(t, o)
}
